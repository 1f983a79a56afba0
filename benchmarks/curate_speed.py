"""How fast ``talkset curate`` is compared with plain decoding (issue 2).

What it measures, on every video under ``talking/`` and ``edge/`` of the media folder:

* the baseline: ``ffmpeg -hide_banner -nostats -i X -f null -`` run on each file one after another
  (one process per file), wall times summed. It is run twice: with ffmpeg's own thread choice
  (``-threads`` unset: ffmpeg decodes with several threads) and with ``-threads 1`` (one core);
* ``talkset.curate.run.curate`` over the same files with ``workers=N`` for each N asked for, each run into
  a fresh output folder. The wall time of the whole call (process-pool start and model loading
  included) is measured here; ``Summary.stage_seconds`` gives the per-stage split. With ``workers=1``
  curate runs inside this process, so a second 1-worker run would start with its models already loaded;
* the ratios curate wall / ffmpeg wall. Issue 2's target is a ratio of at most 3 against the default
  ffmpeg baseline; the goal is 2.

A video without an audio stream gets the ``.wav`` with the same name next to it as its audio, as a
list file would give it (``woman_headset_256_noaudio.mp4``). The footage is only read; clips and
manifests go under ``--out`` and are deleted after each run unless ``--keep`` is given.

ffmpeg is the one on PATH, else the static binary of the ``imageio-ffmpeg`` package
(``pip install -e '.[bench]'``).

Run it from the project root::

    python benchmarks/curate_speed.py --workers 1 2
    python benchmarks/curate_speed.py --media ../shared/media --workers 1 2 --out /tmp/curate_speed

It prints a table and writes the numbers to ``<out>/curate_speed.json``.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from talkset.curate.inputs import expand_inputs
from talkset.curate.run import curate
from talkset.media.probe import ProbeError, probe

FOLDERS = ("talking", "edge")
STAGES = ("probe", "audio", "vad", "decode", "shots", "motion", "faces", "quality", "score", "write")
TARGET_RATIO = 3.0
GOAL_RATIO = 2.0
DEFAULT_MEDIA = Path(__file__).resolve().parents[2] / "shared" / "media"


@dataclass
class Source:
    """One benchmark input: a video, its duration, and a separate audio file if it has no audio stream."""

    path: str
    duration_s: float
    audio_path: str | None = None


@dataclass
class FfmpegRun:
    """Sequential ``ffmpeg -f null`` decodes of every source with one thread setting."""

    threads: str
    wall_s: float
    per_file_s: dict[str, float] = field(default_factory=dict)


@dataclass
class CurateRun:
    """One ``curate`` call over every source."""

    workers: int
    wall_s: float
    summary_wall_s: float
    stage_seconds: dict[str, float]
    videos: int
    failed_videos: int
    candidates: int
    clips_kept: int
    failures: list[str]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Reads the command line."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--media", type=Path, default=DEFAULT_MEDIA,
                   help=f"media folder holding {' and '.join(FOLDERS)}/ (default: {DEFAULT_MEDIA})")
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="worker counts to run curate with")
    p.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "curate_speed",
                   help="folder for the curate outputs and curate_speed.json")
    p.add_argument("--ffmpeg", default=None, help="ffmpeg binary (default: PATH, else imageio-ffmpeg's)")
    p.add_argument("--keep", action="store_true", help="keep each run's clips and manifest")
    return p.parse_args(argv)


def find_ffmpeg(explicit: str | None) -> str:
    """The ffmpeg binary to time: ``explicit``, else the one on PATH, else imageio-ffmpeg's static build.

    Raises:
        SystemExit: none is available.
    """
    if explicit:
        return explicit
    on_path = shutil.which("ffmpeg")
    if on_path:
        return on_path
    try:
        import imageio_ffmpeg
    except ImportError:
        raise SystemExit("no ffmpeg: put one on PATH, pass --ffmpeg, or pip install -e '.[bench]'") from None
    return imageio_ffmpeg.get_ffmpeg_exe()


def ffmpeg_version(exe: str) -> str:
    """The first line of ``ffmpeg -version``."""
    out = subprocess.run([exe, "-hide_banner", "-version"], capture_output=True, text=True, check=True).stdout
    return out.splitlines()[0] if out else "unknown"


def machine() -> dict[str, str | int]:
    """nproc, the CPU model from /proc/cpuinfo, and the Python version."""
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"nproc": len(os.sched_getaffinity(0)), "cpu_count": os.cpu_count() or 0, "cpu_model": model,
            "python": platform.python_version()}


def find_sources(media: Path) -> list[Source]:
    """Every video under ``media``'s talking/ and edge/ folders, in curate's order, with durations.

    Raises:
        SystemExit: a folder is missing or holds no video.
    """
    folders = [media / name for name in FOLDERS]
    missing = [str(f) for f in folders if not f.is_dir()]
    if missing:
        raise SystemExit(f"missing media folder(s): {', '.join(missing)}")
    jobs, problems = expand_inputs(folders)
    if problems or not jobs:
        raise SystemExit("; ".join(problems) or f"no videos under {media}")
    sources = []
    for job in jobs:
        try:
            info = probe(job.path)
        except ProbeError as e:
            raise SystemExit(str(e)) from None
        sidecar = Path(job.path).with_suffix(".wav")
        audio = str(sidecar) if not info.has_audio and sidecar.is_file() else None
        sources.append(Source(job.path, info.duration_s, audio))
    return sources


def write_list_file(sources: list[Source], folder: Path) -> Path:
    """A JSONL list of ``sources`` (absolute paths) for curate, so sidecar audio files are used."""
    path = folder / "inputs.jsonl"
    rows = [{"path": str(Path(s.path).resolve()),
             **({"audio_path": str(Path(s.audio_path).resolve())} if s.audio_path else {})} for s in sources]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def warm_page_cache(sources: list[Source]) -> None:
    """Reads every input once so neither contender pays for the first read from disk."""
    for s in sources:
        for p in filter(None, (s.path, s.audio_path)):
            with open(p, "rb") as f:
                while f.read(1 << 22):
                    pass


def time_ffmpeg(exe: str, sources: list[Source], threads: int | None) -> FfmpegRun:
    """Decodes each source to the null muxer, one process after another, and sums the wall times.

    Args:
        exe: ffmpeg binary.
        sources: the files to decode.
        threads: ``-threads`` for the decoders, or None for ffmpeg's own choice.
    """
    opts = ["-threads", str(threads)] if threads else []
    per_file = {}
    for s in sources:
        cmd = [exe, "-hide_banner", "-nostats", *opts, "-i", s.path, "-f", "null", "-"]
        tic = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True)
        per_file[Path(s.path).name] = time.perf_counter() - tic
        if done.returncode:
            raise SystemExit(f"ffmpeg failed on {s.path}: {done.stderr.strip().splitlines()[-1:]}")
    return FfmpegRun("auto" if threads is None else str(threads), sum(per_file.values()), per_file)


def time_curate(list_file: Path, out_root: Path, workers: int, keep: bool) -> CurateRun:
    """One ``curate`` call with ``workers`` into a fresh folder under ``out_root``; its wall time and summary."""
    run_dir = Path(tempfile.mkdtemp(prefix=f"curate_w{workers}_", dir=out_root))
    tic = time.perf_counter()
    summary = curate([list_file], run_dir, workers=workers, progress=False)
    wall = time.perf_counter() - tic
    if not keep:
        shutil.rmtree(run_dir)
    return CurateRun(workers=workers, wall_s=wall, summary_wall_s=summary.wall_seconds,
                     stage_seconds=dict(summary.stage_seconds), videos=summary.videos,
                     failed_videos=summary.failed_videos, candidates=summary.candidates,
                     clips_kept=summary.clips_kept, failures=list(summary.failures))


def verdict(ratio: float) -> str:
    """Where a ratio stands against issue 2's target and goal."""
    if ratio <= GOAL_RATIO:
        return "meets goal"
    return "meets target" if ratio <= TARGET_RATIO else "over target"


def stage_table(stages: dict[str, float]) -> list[str]:
    """Lines of per-stage seconds and share of their total, largest first."""
    total = sum(stages.values()) or 1.0
    names = sorted(stages, key=lambda k: -stages[k])
    lines = [f"  {name:<10}{stages[name]:9.2f} s {100 * stages[name] / total:6.1f} %" for name in names]
    return lines + [f"  {'total':<10}{sum(stages.values()):9.2f} s  100.0 %"]


def report(env: dict, sources: list[Source], ffmpeg_runs: list[FfmpegRun], curate_runs: list[CurateRun]) -> str:
    """The printed table."""
    video_s = sum(s.duration_s for s in sources)
    base = ffmpeg_runs[0].wall_s
    one_core = ffmpeg_runs[1].wall_s
    lines = [
        f"machine   nproc {env['nproc']} (os.cpu_count {env['cpu_count']}), CPU {env['cpu_model']}, "
        f"Python {env['python']}",
        f"ffmpeg    {env['ffmpeg']}",
        f"          {env['ffmpeg_path']}",
        f"inputs    {len(sources)} videos under {', '.join(f + '/' for f in FOLDERS)}: {video_s:.2f} s of video",
        "",
        f"{'run':<34}{'wall s':>9}{'x realtime':>12}{'/ffmpeg':>9}{'/ffmpeg -threads 1':>20}",
    ]
    for run in ffmpeg_runs:
        label = f"ffmpeg -f null, threads {run.threads}"
        lines.append(f"{label:<34}{run.wall_s:9.2f}{video_s / run.wall_s:12.1f}{run.wall_s / base:9.2f}"
                     f"{run.wall_s / one_core:20.2f}")
    for run in curate_runs:
        label = f"curate, workers {run.workers}"
        lines.append(f"{label:<34}{run.wall_s:9.2f}{video_s / run.wall_s:12.1f}{run.wall_s / base:9.2f}"
                     f"{run.wall_s / one_core:20.2f}   {verdict(run.wall_s / base)}")
    lines += ["",
              "ffmpeg runs one process per file, sequentially; with threads auto each process picks its own "
              "decoder threads (several cores), with -threads 1 it uses one.",
              f"ratio = curate wall / ffmpeg wall; issue 2 target <= {TARGET_RATIO:g} against threads auto, "
              f"goal {GOAL_RATIO:g}. curate wall is the whole call (pool start and model loading included)."]
    for run in curate_runs:
        lines += ["", f"curate, workers {run.workers}: {run.videos} videos ({run.failed_videos} unusable), "
                      f"{run.candidates} candidates, {run.clips_kept} clips kept; "
                      f"Summary.wall_seconds {run.summary_wall_s:.2f}",
                  "  stage seconds (worker time summed over videos; with N workers this adds up to ~N x wall):"]
        lines += stage_table(run.stage_seconds)
        lines += [f"  failure: {f}" for f in run.failures]
    return "\n".join(lines)


def to_json(env: dict, sources: list[Source], ffmpeg_runs: list[FfmpegRun], curate_runs: list[CurateRun]) -> dict:
    """The numbers as a JSON-ready dict."""
    base, one_core = ffmpeg_runs[0].wall_s, ffmpeg_runs[1].wall_s
    return {
        "machine": env,
        "video_seconds": sum(s.duration_s for s in sources),
        "sources": [asdict(s) for s in sources],
        "ffmpeg": [asdict(r) for r in ffmpeg_runs],
        "curate": [{**asdict(r), "ratio_vs_ffmpeg": r.wall_s / base, "ratio_vs_ffmpeg_threads1": r.wall_s / one_core,
                    "stage_share": {k: v / (sum(r.stage_seconds.values()) or 1.0) for k, v in r.stage_seconds.items()}}
                   for r in curate_runs],
        "target_ratio": TARGET_RATIO,
        "goal_ratio": GOAL_RATIO,
    }


def main(argv: list[str] | None = None) -> int:
    """Runs the baseline and the curate runs, prints the table, writes curate_speed.json."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args.out.mkdir(parents=True, exist_ok=True)
    exe = find_ffmpeg(args.ffmpeg)
    env = {**machine(), "ffmpeg": ffmpeg_version(exe), "ffmpeg_path": exe}
    sources = find_sources(args.media)
    list_file = write_list_file(sources, args.out)
    warm_page_cache(sources)
    print(f"timing ffmpeg on {len(sources)} videos ...", file=sys.stderr)
    ffmpeg_runs = [time_ffmpeg(exe, sources, None), time_ffmpeg(exe, sources, 1)]
    curate_runs = []
    for n in args.workers:
        print(f"timing curate with {n} worker(s) ...", file=sys.stderr)
        curate_runs.append(time_curate(list_file, args.out, n, args.keep))
    print(report(env, sources, ffmpeg_runs, curate_runs))
    out_json = args.out / "curate_speed.json"
    out_json.write_text(json.dumps(to_json(env, sources, ffmpeg_runs, curate_runs), indent=2) + "\n")
    print(f"\nnumbers written to {out_json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
