"""Dub quality on real footage: the issue's must-holds, measured on every real talking clip of the calibration set.

For each clip of ``calibration/talking`` (sorted by name), the next clip's speech (another speaker; cyclic) is cut
to the clip's length and dubbed on. Then:

* sync (curate's weight-free scorer, ``talkset.bench.sync``) of the dub with the new speech, of the dub with the
  clip's own audio (must be rejected), and of the untouched clip with its own audio: the lowest of the last over
  all clips is the "lowest real pair" the dubs' confidence is held to;
* PSNR outside the lower face and dlib identity distance dub-vs-source (``talkset.bench.dub.frame_scores``);
* with ``--lmd``: the clip dubbed with its own audio and ``talkset animate`` of its first frame (whole image)
  with the same audio, each scored by mouth LMD (``talkset.bench.metrics.lmd``) against the clip.

One JSON line per clip goes to ``--out`` as it finishes, then a table. Run from the project root::

    .venv/bin/python benchmarks/dub_quality.py --out /tmp/dub_quality.jsonl [--lmd] [--clips t08 t09]
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import soundfile as sf

MEDIA = Path(__file__).resolve().parents[1].parent / "shared" / "media"


def cut_speech(src: Path, seconds: float, dest: Path) -> Path:
    from talkset.audio.io import load_audio

    audio = load_audio(src)
    sf.write(dest, audio.samples[: int(seconds * audio.sr)], audio.sr)
    return dest


def first_frame(path: Path, dest: Path) -> Path:
    import av
    import cv2

    with av.open(str(path)) as c:
        rgb = next(c.decode(video=0)).to_ndarray(format="rgb24")
    cv2.imwrite(str(dest), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return dest


def score_clip(clip: Path, other: Path, tmp: Path, with_lmd: bool) -> dict:
    from talkset.animate.api import animate
    from talkset.animate.dub import dub
    from talkset.audio.io import load_audio
    from talkset.bench.dub import frame_scores, sync_scores
    from talkset.bench.metrics import lmd
    from talkset.bench.sync import weightfree_sync
    from talkset.media.probe import probe
    from talkset.vision.face import FaceDetector, FaceMesher

    duration = probe(clip).duration_s
    speech = cut_speech(other, duration, tmp / "speech.wav")
    out = tmp / "dub.mp4"
    t0 = time.perf_counter()
    dub(clip, speech, out, progress=False, overwrite=True)
    row = {"clip": clip.name, "speech_from": other.name, "dub_s": time.perf_counter() - t0}
    sync = sync_scores(out, speech, clip)
    det, mesh = FaceDetector(), FaceMesher()
    row["sync_source"] = weightfree_sync(clip, load_audio(clip), det, mesh)
    det.close()
    row["sync_new"], row["sync_original"] = sync["new"], sync["original"]
    row.update(frame_scores(clip, out))
    if with_lmd:
        own = tmp / "own.mp4"
        dub(clip, clip, own, progress=False, overwrite=True)
        anim = tmp / "anim.mp4"
        animate(first_frame(clip, tmp / "first.png"), clip, anim, crop=False, progress=False, overwrite=True)
        row["lmd_dub"] = lmd(own, clip)["lmd_norm"]
        row["lmd_animate"] = lmd(anim, clip)["lmd_norm"]
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--media", type=Path, default=MEDIA)
    parser.add_argument("--out", type=Path, required=True, help="JSON lines, one per clip")
    parser.add_argument("--clips", nargs="*", default=None, help="name prefixes (default: all)")
    parser.add_argument("--lmd", action="store_true", help="also the own-audio dub vs animate LMD")
    args = parser.parse_args()
    clips = sorted((args.media / "calibration" / "talking").glob("*.mp4"))
    todo = [c for c in clips if not args.clips or any(c.name.startswith(p) for p in args.clips)]
    rows = []
    with open(args.out, "a") as log, tempfile.TemporaryDirectory() as tmp:
        for clip in todo:
            other = clips[(clips.index(clip) + 1) % len(clips)]
            row = score_clip(clip, other, Path(tmp), args.lmd)
            rows.append(row)
            log.write(json.dumps(row) + "\n")
            log.flush()
            print(json.dumps(row), flush=True)
    table(rows)


def table(rows: list[dict]) -> None:
    lowest = min(r["sync_source"]["confidence"] for r in rows)
    print(f"lowest confidence of a source clip with its own audio: {lowest:.2f}")
    head = (f"{'clip':<44}{'off':>4}{'conf':>6}{'orig off':>9}{'orig conf':>10}{'psnr':>6}{'id mean':>8}"
            f"{'id max':>7}{'lmd dub':>8}{'lmd anim':>9}")
    print(head)
    for r in rows:
        n, o = r["sync_new"], r["sync_original"]
        print(f"{r['clip'][:43]:<44}{str(n['offset_frames']):>4}{n['confidence']:>6.2f}{str(o['offset_frames']):>9}"
              f"{o['confidence']:>10.2f}{r['psnr_outside_db']:>6.1f}{r['identity_mean']:>8.3f}"
              f"{r['identity_max']:>7.3f}{r.get('lmd_dub', float('nan')):>8.4f}"
              f"{r.get('lmd_animate', float('nan')):>9.4f}")


if __name__ == "__main__":
    main()
