"""Speed of `talkset bench eval` (issue 5): frames per second of each metric on 512² clips on one core, and the
time to evaluate N clips of 5 s (default 100).

The 512² clips are made from shared/media/generated (the real clip and the Wav2Lip fake of the same man),
cut to 5 s and scaled to 512×512, into --work (never the repository). The process pins itself to one core
(and OpenCV / torch to one thread) for the per-metric numbers; the N-clip run uses the same single core.

    python benchmarks/bench_speed.py [--clips 100] [--work /tmp/talkset_bench_speed] [--skip-per-metric]
                                     [--baseline-src /tmp/before/src]

Issue 11 asks for bench eval at least twice as fast per clip as commit 9a41702; ``--baseline-src`` runs that
commit's code through the same N-clip command first and prints both. Measured 2026-12-01 on the shared 2-core
machine (``--clips 10 --skip-per-metric --baseline-src /tmp/before/src``), CPU seconds per clip, 9a41702 → now:
12.34 → 6.23 (1.98x, machine quiet), 11.64 → 6.00 (1.94x), 13.42 → 6.41 (2.09x, loaded); with
``--clips 5 --models 2`` (two models sharing a ``ReferenceCache``) 12.23 → 5.21 (2.35x).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import av


def make_512(src: Path, dest: Path, seconds: float = 5.0) -> Path:
    """The first ``seconds`` of ``src`` scaled to 512×512 at 25 fps, with its audio (H.264 + AAC)."""
    if dest.exists():
        return dest
    with av.open(str(src)) as inp, av.open(str(dest), "w") as out:
        vs = out.add_stream("libx264", rate=25)
        vs.width = vs.height = 512
        vs.pix_fmt = "yuv420p"
        as_ = out.add_stream("aac", rate=16000)
        as_.layout = "mono"
        resampler = av.AudioResampler(format="fltp", layout="mono", rate=16000)
        n = 0
        for frame in inp.decode(video=0):
            if frame.time >= seconds:
                break
            img = frame.to_ndarray(width=512, height=512, format="rgb24")
            vf = av.VideoFrame.from_ndarray(img, format="rgb24")
            vf.pts = n
            n += 1
            for p in vs.encode(vf):
                out.mux(p)
        for p in vs.encode():
            out.mux(p)
        inp.seek(0)
        for frame in inp.decode(audio=0):
            if frame.time is not None and frame.time >= seconds:
                break
            for rf in resampler.resample(frame):
                rf.pts = None
                for p in as_.encode(rf):
                    out.mux(p)
        for p in as_.encode():
            out.mux(p)
    return dest


def frames_of(path: Path) -> int:
    with av.open(str(path)) as c:
        return sum(1 for _ in c.decode(video=0))


def timed(fn, *args, **kwargs) -> tuple[float, object]:
    tic = time.perf_counter()
    out = fn(*args, **kwargs)
    return time.perf_counter() - tic, out


def cpu_timed(fn, *args, **kwargs) -> tuple[float, float, object]:
    """(wall seconds, CPU seconds of this process's threads, result): on a shared machine the CPU time is the
    steadier measure of work, since other processes' load stretches the wall time."""
    cpu = time.process_time()
    seconds, out = timed(fn, *args, **kwargs)
    return seconds, time.process_time() - cpu, out


def per_metric(real: Path, fake: Path) -> dict[str, float]:
    """Frames per second of each metric on the fake against the real clip, one core.

    Each metric alone decodes (and meshes) its videos itself; the last line is bench eval's single pass, which
    computes all of them (sync and LMD from its face tracks) from one decode and one mesh of each video.
    """
    from talkset.audio.io import load_audio
    from talkset.bench import metrics
    from talkset.bench.clip_pass import Backends, score_pair
    from talkset.bench.identity import identity_similarity
    from talkset.bench.scoring import _first_frame_rgb
    from talkset.bench.sync import weightfree_sync
    from talkset.media.probe import probe
    from talkset.vision.face import FaceDetector

    n = frames_of(fake)
    detector = FaceDetector()
    weightfree_sync(fake, load_audio(fake), detector)  # warm the models up
    audio = load_audio(fake)
    ref_rgb = _first_frame_rgb(real)
    backends = Backends.create()
    backends.embedder.embed(ref_rgb)  # loads the descriptor models once, as bench eval does per evaluation
    runs = {
        "sync (weight-free)": lambda: weightfree_sync(fake, audio, detector),
        "SSIM + PSNR + L1": lambda: metrics.fidelity(fake, real),
        "LMD (both clips meshed)": lambda: metrics.lmd(fake, real),
        "sharpness": lambda: metrics.sharpness(fake),
        "jitter": lambda: metrics.jitter(fake),
        "identity (every 0.4 s)": lambda: identity_similarity(ref_rgb, fake),
        "one pass (all, no audio)": lambda: score_pair(fake, real, probe(fake), probe(real), backends),
    }
    return {name: n / timed(fn)[0] for name, fn in runs.items()}


def total_time(real: Path, fake: Path, clips: int, work: Path, models: int = 1) -> tuple[float, float]:
    """(wall, CPU) seconds to evaluate ``clips`` benchmark clips (each the fake against the real) for each of
    ``models`` models, one core.

    Every clip has its own copy of the reference, as in a real benchmark (each clip is its own video), so
    nothing computed for one clip's reference can serve another's. With several models the evaluations share
    a ``ReferenceCache`` where the code has one, as a user scoring several models in one process would.
    """
    from talkset.bench import build, evaluate

    try:
        from talkset.bench.clip_pass import ReferenceCache
        options = {"references": ReferenceCache()} if models > 1 else {}
    except ImportError:  # before the cache
        options = {}

    try:
        from talkset.dataset.records import Record
        typed = Record.from_dict
    except ImportError:  # before the typed manifest model (commit 9a41702 and older): build takes dicts
        def typed(d):
            return d

    root = work / "root"
    pred = work / "pred"
    for d in (root, pred):
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)
    records = []
    for i in range(clips):
        cid = f"clip-{i:04d}"
        shutil.copy(real, root / f"{cid}.mp4")
        records.append(typed({"id": cid, "type": "clip", "status": "kept", "video-id": cid,
                              "video-path": f"{cid}.mp4", "audio-path": None,
                              "source": {"path": f"{cid}.mp4", "start": 0.0, "end": 5.0},
                              "metadata": {"language": ["en", "zh", "es"][i % 3]}}))
        os.symlink(fake, pred / f"{cid}.mp4")
    bench = build(records, dims=["language"], per_group=clips, root=str(root))
    seconds, cpu = 0.0, 0.0
    for _ in range(models):
        s, c, _ = cpu_timed(evaluate, bench, pred, progress=True, n_boot=2000, **options)
        seconds, cpu = seconds + s, cpu + c
    return seconds, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--media", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "media")
    parser.add_argument("--clips", type=int, default=100)
    parser.add_argument("--work", type=Path, default=Path("/tmp/talkset_bench_speed"))
    parser.add_argument("--skip-per-metric", action="store_true", help="only the N-clip bench eval run")
    parser.add_argument("--models", type=int, default=1,
                        help="score the N clips for this many models in one process (per clip is per model)")
    parser.add_argument("--baseline-src", type=Path, default=None,
                        help="another checkout's src/ (e.g. a worktree of 9a41702): its N-clip run goes first, in a "
                             "process of its own with that PYTHONPATH, and both are printed side by side")
    args = parser.parse_args()
    baseline = run_baseline(args) if args.baseline_src else None
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    import cv2
    import torch

    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    args.work.mkdir(parents=True, exist_ok=True)
    real = make_512(args.media / "generated/real_man_suit_700_vfr.mp4", args.work / "real_512.mp4")
    fake = make_512(args.media / "generated/fake_wav2lip_from_real_man_suit.mp4", args.work / "fake_512.mp4")
    fps = {} if args.skip_per_metric else per_metric(real, fake)
    if fps:
        print(f"per-metric speed on 512x512, 25 fps, 5 s clips, one core ({frames_of(fake)} frames):")
    for name, v in fps.items():
        print(f"  {name:<28} {v:8.1f} frames/s")
    seconds, cpu = total_time(real, fake, args.clips, args.work, args.models)
    n = args.clips * args.models
    print(f"bench eval of {args.clips} clips of 5 s x {args.models} model(s) on one core: {seconds:.0f} s "
          f"({seconds / n:.1f} s per clip; CPU {cpu / n:.1f} s per clip)")
    result = {"fps": fps, "clips": n, "models": args.models, "total_seconds": seconds, "cpu_seconds": cpu}
    (args.work / "bench_speed.json").write_text(json.dumps(result, indent=1))
    print(f"numbers written to {args.work / 'bench_speed.json'}")
    if baseline is not None:
        name, b = baseline
        print(f"per clip, {args.clips} clips x {args.models} model(s), one core: {'wall s':>8} {'CPU s':>8}")
        print(f"  baseline {name:<33} {b['total_seconds'] / b['clips']:8.2f} {b['cpu_seconds'] / b['clips']:8.2f}")
        print(f"  this checkout {'':<28} {seconds / n:8.2f} {cpu / n:8.2f}")
        print(f"  speed-up {'':<33} {b['total_seconds'] / seconds:7.2f}x {b['cpu_seconds'] / cpu:7.2f}x")


def run_baseline(args: argparse.Namespace) -> tuple[str, dict]:
    """(commit of the baseline checkout, its bench_speed.json) from the same command run on its src/."""
    src = args.baseline_src.resolve()
    work = args.work / "baseline"
    cmd = [sys.executable, __file__, "--skip-per-metric", "--clips", str(args.clips), "--work", str(work),
           "--media", str(args.media), "--models", str(args.models)]
    subprocess.run(cmd, env={**os.environ, "PYTHONPATH": str(src)}, check=True)
    commit = subprocess.run(["git", "-C", str(src), "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    return commit or str(src), json.loads((work / "bench_speed.json").read_text())


if __name__ == "__main__":
    main()
