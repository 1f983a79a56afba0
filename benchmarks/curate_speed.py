"""How fast ``talkset curate`` is compared with plain decoding (issues 2 and 12).

What it measures, on every video under the ``--sets`` folders of the media folder (default ``talking``,
``edge`` and ``calibration``; a set is any folder under the media folder, searched recursively as curate
does, so ``calibration`` is its talking/, negatives/ and raw/ videos and inputs/' mp3 is left out):

* the baselines: ``ffmpeg -hide_banner -nostats -i X -f null -`` on each file one after another (one
  process per file), with ffmpeg's own thread choice (``-threads`` unset: several decoder threads) and
  with ``-threads 1`` (one core); and for each worker count N > 1, a pool of N ``ffmpeg -threads 1``
  processes running the same file list in parallel, to compare with ``workers=N``;
* ``talkset.curate.run.curate`` over the same files for each ``--modes`` entry and each ``--workers`` N.
  A mode is a clips mode and whether annotation runs: ``encode+ann``, ``encode``, ``none+ann``, ``none``
  (also ``fast``, ``fast+ann``). It reaches curate through a TOML config: ``[output] clips = "<mode>"``,
  and ``[annotate] keypoints = false`` without ``+ann``. A mode whose key this talkset does not know
  (``ConfigError`` "unknown setting") is skipped with a note, except ``encode``: a talkset without the
  ``clips`` key always encodes, so it runs without the key (the report says so).
  Each curate call runs in a fresh ``python -c`` child into a fresh output folder, so model loading and
  peak memory belong to that run. Its wall time is the whole child (interpreter start, imports, pool
  start, model loading); ``Summary.stage_seconds`` gives the per-stage split;
* per run: wall and CPU seconds (user + system of the child and every process it reaped: workers,
  decoder threads included), the ratios to the matching ffmpeg ``-threads 1`` baseline (1 worker:
  sequential; N workers: the pool of N), hours of video per core-hour (by wall: video hours /
  (wall hours x workers); by CPU: video hours / CPU hours), and peak RSS per worker: ``ru_maxrss`` of the
  child itself with 1 worker (curate runs in-process), of its largest reaped child (a pool worker) with
  more. Issue 2's ratio against ffmpeg with its own threads is kept in the table.

``--long`` benchmarks instead a ``--long-minutes`` (default 10) 1920x1080 input that
``long_input.build_long_input`` builds into ``--out`` from the talking clips: 1 worker runs the one file
(the memory target is about one worker holding a long video); N workers run the same file cut into
``--long-parts`` parts (``split_long_input``), since curate gives one file to one worker only.

Targets of issue 12 (checked in the report): one worker, ``encode+ann``: curate wall <= 10 x ffmpeg
``-threads 1``; one worker ``none``: <= 5 x and >= 4 hours of 1080p video per core-hour; peak RSS per
worker <= 1.5 GB on the 10-minute 1080p input.

A video without an audio stream gets the ``.wav`` with the same name next to it as its audio, as a
list file would give it (``woman_headset_256_noaudio.mp4``); a file that does not probe as a video is
left out with a note. The footage is only read; clips and manifests go under ``--out`` and are deleted
after each run unless ``--keep`` is given. Machine load distorts wall times: compare CPU seconds too.

ffmpeg is the one on PATH, else the static binary of the ``imageio-ffmpeg`` package
(``pip install -e '.[bench]'``).

Run it from the project root::

    python benchmarks/curate_speed.py --workers 1 2
    python benchmarks/curate_speed.py --sets edge --modes encode none --workers 1 --out /tmp/curate_speed
    python benchmarks/curate_speed.py --long --modes none --workers 1 --out /tmp/curate_speed

It prints a table and writes the numbers to ``<out>/curate_speed.json`` (``curate_speed_long.json``
with ``--long``).
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from long_input import build_long_input, media_info, split_long_input

from talkset.curate.config import Config, ConfigError
from talkset.curate.inputs import expand_inputs
from talkset.media.probe import ProbeError, probe

FOLDERS = ("talking", "edge", "calibration")
MODES = ("encode+ann", "encode", "none+ann", "none")
CLIPS_MODES = ("encode", "none", "fast")
STAGES = ("probe", "audio", "vad", "decode", "shots", "motion", "faces", "quality", "score", "write")
TARGET_RATIO = 3.0  # issue 2, against ffmpeg with its own threads
GOAL_RATIO = 2.0
TARGET_ANN_RATIO_1W = 10.0  # issue 12, against ffmpeg -threads 1, one worker, encode+ann
TARGET_NONE_RATIO_1W = 5.0  # issue 12, one worker, --clips none
TARGET_NONE_HOURS_PER_CORE_HOUR = 4.0  # issue 12, 1080p, one worker, --clips none
TARGET_RSS_MB = 1536  # issue 12, per worker on the 10-minute 1080p input
DEFAULT_MEDIA = Path(__file__).resolve().parents[2] / "shared" / "media"

# One curate call in a fresh interpreter: its ru_maxrss is this run's alone, models load inside it.
CHILD = """
import json, resource, sys, time
from talkset.curate.run import curate
list_file, out_dir, config, workers = sys.argv[1], sys.argv[2], sys.argv[3] or None, int(sys.argv[4])
tic = time.perf_counter()
s = curate([list_file], out_dir, config=config, workers=workers, progress=False)
wall = time.perf_counter() - tic
own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"call_wall_s": wall, "summary_wall_s": s.wall_seconds, "stage_seconds": dict(s.stage_seconds),
                  "videos": s.videos, "failed_videos": s.failed_videos, "candidates": s.candidates,
                  "clips_kept": s.clips_kept, "failures": list(s.failures), "hours_in": s.hours_in,
                  "self_maxrss_kb": own.ru_maxrss, "children_maxrss_kb": kids.ru_maxrss}))
"""


@dataclass
class Source:
    """One benchmark input: a video, its duration, and a separate audio file if it has no audio stream."""

    path: str
    duration_s: float
    audio_path: str | None = None


@dataclass
class FfmpegRun:
    """``ffmpeg -f null`` decodes of every source with one thread setting, by ``processes`` at a time."""

    threads: str
    wall_s: float
    per_file_s: dict[str, float] = field(default_factory=dict)
    cpu_s: float = 0.0
    processes: int = 1

    @property
    def label(self) -> str:
        if self.processes == 1:
            return f"ffmpeg -f null, threads {self.threads}"
        return f"ffmpeg -f null, threads {self.threads}, {self.processes} in parallel"


@dataclass
class CurateRun:
    """One ``curate`` call over every source, in its own child process."""

    workers: int
    wall_s: float
    summary_wall_s: float
    stage_seconds: dict[str, float]
    videos: int
    failed_videos: int
    candidates: int
    clips_kept: int
    failures: list[str]
    mode: str = "default"
    cpu_s: float = 0.0
    peak_rss_mb: float = 0.0  # per worker: the largest worker process
    main_rss_mb: float = 0.0  # the process that called curate (the worker itself with 1 worker)
    note: str = ""


@dataclass
class InputSet:
    """The files one group of runs is timed on, with their baselines and runs."""

    name: str
    sources: list[Source]
    ffmpeg_runs: list[FfmpegRun] = field(default_factory=list)
    curate_runs: list[CurateRun] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    long_1080p: bool = False  # the --long input: issue 12's 1080p targets apply

    @property
    def video_s(self) -> float:
        return sum(s.duration_s for s in self.sources)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Reads the command line."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--media", type=Path, default=DEFAULT_MEDIA, help=f"media folder (default: {DEFAULT_MEDIA})")
    p.add_argument("--sets", nargs="+", default=None,
                   help=f"folders under --media to time (default: {' '.join(FOLDERS)}; with --long: none)")
    p.add_argument("--modes", nargs="+", default=list(MODES),
                   help=f"clips mode, +ann for annotation on (default: {' '.join(MODES)})")
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="worker counts to run curate with")
    p.add_argument("--long", action="store_true", help="time the long 1080p input built by long_input.py")
    p.add_argument("--long-minutes", type=float, default=10.0, help="length of the --long input")
    p.add_argument("--long-parts", type=int, default=10, help="parts the --long input is cut into for N > 1 workers")
    p.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "curate_speed",
                   help="folder for the curate outputs, configs, the --long input and the JSON")
    p.add_argument("--ffmpeg", default=None, help="ffmpeg binary (default: PATH, else imageio-ffmpeg's)")
    p.add_argument("--keep", action="store_true", help="keep each run's clips and manifest")
    args = p.parse_args(argv)
    for mode in args.modes:
        clips, _, ann = mode.partition("+")
        if clips not in CLIPS_MODES or ann not in ("", "ann"):
            p.error(f"--modes: {mode!r} is not <{'|'.join(CLIPS_MODES)}>[+ann]")
    if args.sets is None:
        args.sets = [] if args.long else list(FOLDERS)
    return args


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


def cpu_seconds() -> float:
    """User + system CPU of this process and every child it has reaped."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def find_sources(media: Path, sets: list[str] | tuple[str, ...] = FOLDERS) -> tuple[list[Source], list[str]]:
    """Every video under ``media``'s ``sets`` folders, in curate's order, with durations, and the files left out.

    Raises:
        SystemExit: a folder is missing or holds no video.
    """
    folders = [media / name for name in sets]
    missing = [str(f) for f in folders if not f.is_dir()]
    if missing:
        raise SystemExit(f"missing media folder(s): {', '.join(missing)}")
    jobs, problems = expand_inputs(folders)
    if problems or not jobs:
        raise SystemExit("; ".join(problems) or f"no videos under {media}")
    sources, left_out = [], []
    for job in jobs:
        try:
            info = probe(job.path)
        except ProbeError as e:
            left_out.append(str(e))
            continue
        sidecar = Path(job.path).with_suffix(".wav")
        audio = str(sidecar) if not info.has_audio and sidecar.is_file() else None
        if not info.has_audio and audio is None:
            left_out.append(f"{job.path}: no audio stream and no sidecar .wav")
            continue
        sources.append(Source(job.path, info.duration_s, audio))
    if not sources:
        raise SystemExit(f"no usable videos under {', '.join(map(str, folders))}")
    return sources, left_out


def write_list_file(sources: list[Source], folder: Path, name: str = "inputs.jsonl") -> Path:
    """A JSONL list of ``sources`` (absolute paths) for curate, so sidecar audio files are used."""
    path = folder / name
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


def _decode(exe: str, source: Source, opts: list[str]) -> float:
    cmd = [exe, "-hide_banner", "-nostats", *opts, "-i", source.path, "-f", "null", "-"]
    tic = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"ffmpeg failed on {source.path}: {done.stderr.strip().splitlines()[-1:]}")
    return time.perf_counter() - tic


def time_ffmpeg(exe: str, sources: list[Source], threads: int | None, processes: int = 1) -> FfmpegRun:
    """Decodes each source to the null muxer, ``processes`` at a time, and times the whole list.

    Args:
        exe: ffmpeg binary.
        sources: the files to decode.
        threads: ``-threads`` for the decoders, or None for ffmpeg's own choice.
        processes: ffmpeg processes running at once (a pool working through the list).
    """
    opts = ["-threads", str(threads)] if threads else []
    cpu0 = cpu_seconds()
    tic = time.perf_counter()
    if processes == 1:
        per_file = {Path(s.path).name: _decode(exe, s, opts) for s in sources}
        wall = sum(per_file.values())  # as before: the decodes alone, without this loop's own time
    else:
        with ThreadPoolExecutor(processes) as pool:
            per_file = dict(zip((Path(s.path).name for s in sources), pool.map(lambda s: _decode(exe, s, opts), sources)))
        wall = time.perf_counter() - tic
    return FfmpegRun("auto" if threads is None else str(threads), wall, per_file, cpu_seconds() - cpu0, processes)


def mode_config(mode: str, folder: Path) -> tuple[Path | None, str]:
    """The TOML config of ``mode`` (written into ``folder``), or None and why the mode cannot run here."""
    clips, _, ann = mode.partition("+")
    annotate = "" if ann else "[annotate]\nkeypoints = false\n"
    path = folder / f"mode-{mode.replace('+', '-')}.toml"
    path.write_text(f'[output]\nclips = "{clips}"\n' + annotate)
    try:
        Config.load(path)
    except ConfigError as e:
        if "unknown setting 'output.clips'" in str(e) and clips == "encode":
            # Before [output] clips existed, curate always encoded its clips.
            path.write_text(annotate)
            Config.load(path)
            return path, "no [output] clips key in this talkset: run with its only behaviour (encode)"
        if "unknown setting" in str(e):
            return None, f"mode {mode} skipped: this talkset does not know its config ({e})"
        raise
    return path, ""


def time_curate(list_file: Path, out_root: Path, workers: int, keep: bool, mode: str = "default",
                config: Path | None = None, note: str = "") -> CurateRun:
    """One ``curate`` call with ``workers`` in a fresh child process into a fresh folder under ``out_root``."""
    run_dir = Path(tempfile.mkdtemp(prefix=f"curate_{mode.replace('+', '-')}_w{workers}_", dir=out_root))
    cpu0 = cpu_seconds()
    tic = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", CHILD, str(list_file), str(run_dir), str(config or ""), str(workers)],
                          capture_output=True, text=True)
    wall = time.perf_counter() - tic
    cpu = cpu_seconds() - cpu0
    if not keep:
        shutil.rmtree(run_dir, ignore_errors=True)
    if done.returncode:
        tail = "\n".join(done.stderr.strip().splitlines()[-5:])
        raise RuntimeError(f"curate child failed ({done.returncode}), mode {mode}, workers {workers}:\n{tail}")
    r = json.loads(done.stdout.strip().splitlines()[-1])
    own_mb, kids_mb = r["self_maxrss_kb"] / 1024, r["children_maxrss_kb"] / 1024
    return CurateRun(workers=workers, wall_s=wall, summary_wall_s=r["summary_wall_s"],
                     stage_seconds=r["stage_seconds"], videos=r["videos"], failed_videos=r["failed_videos"],
                     candidates=r["candidates"], clips_kept=r["clips_kept"], failures=r["failures"], mode=mode,
                     cpu_s=cpu, peak_rss_mb=own_mb if workers == 1 else kids_mb, main_rss_mb=own_mb, note=note)


def baseline_for(run: CurateRun, ffmpeg_runs: list[FfmpegRun]) -> FfmpegRun | None:
    """The ``-threads 1`` baseline with as many processes as the run has workers."""
    for f in ffmpeg_runs:
        if f.threads == "1" and f.processes == run.workers:
            return f
    return None


def verdict(ratio: float) -> str:
    """Where a ratio stands against issue 2's target and goal."""
    if ratio <= GOAL_RATIO:
        return "meets goal"
    return "meets target" if ratio <= TARGET_RATIO else "over target"


def issue12_checks(run: CurateRun, base: FfmpegRun | None, video_s: float, long_1080p: bool) -> list[str]:
    """Issue 12's targets that apply to ``run``, each with its measured value and pass/FAIL."""
    checks = []
    mark = lambda ok: "pass" if ok else "FAIL"
    ratio = run.wall_s / base.wall_s if base else None
    if run.workers == 1 and ratio is not None and run.mode == "encode+ann":
        checks.append(f"wall / ffmpeg -threads 1 {ratio:.2f} <= {TARGET_ANN_RATIO_1W:g}: {mark(ratio <= TARGET_ANN_RATIO_1W)}")
    if run.workers == 1 and ratio is not None and run.mode == "none":
        checks.append(f"wall / ffmpeg -threads 1 {ratio:.2f} <= {TARGET_NONE_RATIO_1W:g}: {mark(ratio <= TARGET_NONE_RATIO_1W)}")
        if long_1080p:
            h = video_s / run.wall_s
            checks.append(f"1080p video h per core-h {h:.2f} >= {TARGET_NONE_HOURS_PER_CORE_HOUR:g}: "
                          f"{mark(h >= TARGET_NONE_HOURS_PER_CORE_HOUR)}")
    if long_1080p and run.workers == 1:
        checks.append(f"peak RSS per worker {run.peak_rss_mb:.0f} MB <= {TARGET_RSS_MB} MB: "
                      f"{mark(run.peak_rss_mb <= TARGET_RSS_MB)}")
    return checks


def stage_table(stages: dict[str, float]) -> list[str]:
    """Lines of per-stage seconds and share of their total, largest first."""
    total = sum(stages.values()) or 1.0
    names = sorted(stages, key=lambda k: -stages[k])
    lines = [f"  {name:<10}{stages[name]:9.2f} s {100 * stages[name] / total:6.1f} %" for name in names]
    return lines + [f"  {'total':<10}{sum(stages.values()):9.2f} s  100.0 %"]


def report_set(s: InputSet) -> list[str]:
    """The printed table of one input set."""
    video_s = s.video_s
    auto = s.ffmpeg_runs[0].wall_s
    lines = [f"inputs    {s.name}: {len(s.sources)} videos, {video_s:.2f} s of video", "",
             f"{'run':<44}{'wall s':>8}{'CPU s':>8}{'x real':>7}{'/auto':>7}{'/base':>7}{'/base CPU':>10}"
             f"{'h/core-h':>9}{'h/CPU-h':>8}{'RSS/worker':>11}"]
    for f in s.ffmpeg_runs:
        lines.append(f"{f.label:<44}{f.wall_s:8.1f}{f.cpu_s:8.1f}{video_s / f.wall_s:7.1f}{f.wall_s / auto:7.2f}"
                     f"{'':>17}{video_s / (f.wall_s * f.processes):9.1f}{video_s / max(f.cpu_s, 1e-9):8.1f}")
    for r in s.curate_runs:
        base = baseline_for(r, s.ffmpeg_runs)
        rel = f"{r.wall_s / base.wall_s:7.2f}{r.cpu_s / max(base.cpu_s, 1e-9):10.2f}" if base else f"{'n/a':>17}"
        label = f"curate {r.mode}, workers {r.workers}"
        lines.append(f"{label:<44}{r.wall_s:8.1f}{r.cpu_s:8.1f}{video_s / r.wall_s:7.2f}{r.wall_s / auto:7.2f}{rel}"
                     f"{video_s / (r.wall_s * r.workers):9.2f}{video_s / max(r.cpu_s, 1e-9):8.2f}"
                     f"{r.peak_rss_mb:9.0f}MB")
    lines += ["",
              "/auto = wall / ffmpeg with its own threads, sequential (issue 2: target <= "
              f"{TARGET_RATIO:g}, goal {GOAL_RATIO:g}); /base = wall (CPU) / the matching ffmpeg -threads 1 baseline "
              "(1 worker: one process after another; N workers: a pool of N processes); h/core-h = video hours / "
              "(wall hours x workers); h/CPU-h = video hours / CPU hours. curate wall is the whole child process "
              "(interpreter, imports, pool start, model loading)."]
    for note in s.skipped:
        lines.append(f"note: {note}")
    for r in s.curate_runs:
        base = baseline_for(r, s.ffmpeg_runs)
        lines += ["", f"curate {r.mode}, workers {r.workers}: {r.videos} videos ({r.failed_videos} unusable), "
                      f"{r.candidates} candidates, {r.clips_kept} clips kept; Summary.wall_seconds "
                      f"{r.summary_wall_s:.2f}; RSS of the calling process {r.main_rss_mb:.0f} MB"]
        if r.note:
            lines.append(f"  note: {r.note}")
        lines += [f"  issue 12: {c}" for c in issue12_checks(r, base, video_s, s.long_1080p)]
        lines.append("  stage seconds (worker time summed over videos; with N workers this adds up to ~N x wall):")
        lines += stage_table(r.stage_seconds)
        lines += [f"  failure: {f}" for f in r.failures]
    return lines


def report(env: dict, sets: list[InputSet]) -> str:
    """The printed tables."""
    lines = [f"machine   nproc {env['nproc']} (os.cpu_count {env['cpu_count']}), CPU {env['cpu_model']}, "
             f"Python {env['python']}",
             f"ffmpeg    {env['ffmpeg']}",
             f"          {env['ffmpeg_path']}"]
    for s in sets:
        lines += [""] + report_set(s)
    return "\n".join(lines)


def to_json(env: dict, sets: list[InputSet]) -> dict:
    """The numbers as a JSON-ready dict."""
    out = []
    for s in sets:
        auto = s.ffmpeg_runs[0].wall_s
        runs = []
        for r in s.curate_runs:
            base = baseline_for(r, s.ffmpeg_runs)
            runs.append({**asdict(r), "ratio_vs_ffmpeg": r.wall_s / auto,
                         "ratio_vs_baseline_wall": r.wall_s / base.wall_s if base else None,
                         "ratio_vs_baseline_cpu": r.cpu_s / base.cpu_s if base and base.cpu_s else None,
                         "video_hours_per_core_hour_wall": s.video_s / (r.wall_s * r.workers),
                         "video_hours_per_cpu_hour": s.video_s / r.cpu_s if r.cpu_s else None,
                         "issue12": issue12_checks(r, base, s.video_s, s.long_1080p),
                         "stage_share": {k: v / (sum(r.stage_seconds.values()) or 1.0)
                                         for k, v in r.stage_seconds.items()}})
        out.append({"name": s.name, "video_seconds": s.video_s, "sources": [asdict(x) for x in s.sources],
                    "ffmpeg": [asdict(f) for f in s.ffmpeg_runs], "curate": runs, "notes": s.skipped})
    return {"machine": env, "sets": out, "target_ratio": TARGET_RATIO, "goal_ratio": GOAL_RATIO,
            "issue12_targets": {"encode_ann_ratio_1w": TARGET_ANN_RATIO_1W, "none_ratio_1w": TARGET_NONE_RATIO_1W,
                                "none_hours_per_core_hour": TARGET_NONE_HOURS_PER_CORE_HOUR,
                                "rss_mb_per_worker": TARGET_RSS_MB}}


def run_set(exe: str, s: InputSet, args, configs: dict[str, tuple[Path | None, str]], workers: list[int]) -> None:
    """Times the ffmpeg baselines and every (mode, worker count) curate run on one input set."""
    list_file = write_list_file(s.sources, args.out, f"inputs-{re.sub(r'[^A-Za-z0-9+]+', '_', s.name)}.jsonl")
    warm_page_cache(s.sources)
    print(f"[{s.name}] timing ffmpeg on {len(s.sources)} videos ({s.video_s:.0f} s) ...", file=sys.stderr)
    s.ffmpeg_runs = [time_ffmpeg(exe, s.sources, None), time_ffmpeg(exe, s.sources, 1)]
    s.ffmpeg_runs += [time_ffmpeg(exe, s.sources, 1, n) for n in sorted(set(workers)) if n > 1]
    for mode in args.modes:
        config, note = configs[mode]
        if config is None:
            print(f"note: {note}", file=sys.stderr)
            s.skipped.append(note)
            continue
        for n in workers:
            print(f"[{s.name}] timing curate {mode} with {n} worker(s) ...", file=sys.stderr)
            s.curate_runs.append(time_curate(list_file, args.out, n, args.keep, mode, config, note))
            r = s.curate_runs[-1]
            print(f"  wall {r.wall_s:.1f} s, CPU {r.cpu_s:.1f} s, peak RSS per worker {r.peak_rss_mb:.0f} MB",
                  file=sys.stderr)


def long_sets(args) -> list[InputSet]:
    """The --long input: the one file (1 worker) and its parts (more workers)."""
    dest = args.out / f"talkset_long{args.long_minutes:g}.mp4"
    long_file = build_long_input(dest, args.long_minutes, args.media, 1080, verbose=True)
    name = f"long {args.long_minutes:g} min 1080p"
    sets = []
    if 1 in args.workers:
        sets.append(InputSet(name, [Source(str(long_file), media_info(long_file)[0])], long_1080p=True))
    if any(n > 1 for n in args.workers):
        parts = split_long_input(long_file, args.long_parts, args.out / f"{long_file.stem}_split{args.long_parts}",
                                 verbose=True)
        sets.append(InputSet(f"{name} in {len(parts)} parts", [Source(str(p), media_info(p)[0]) for p in parts],
                             long_1080p=True))
    return sets


def main(argv: list[str] | None = None) -> int:
    """Runs the baselines and the curate runs, prints the tables, writes the JSON."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args.out.mkdir(parents=True, exist_ok=True)
    exe = find_ffmpeg(args.ffmpeg)
    env = {**machine(), "ffmpeg": ffmpeg_version(exe), "ffmpeg_path": exe}
    configs = {mode: mode_config(mode, args.out) for mode in args.modes}
    sets: list[tuple[InputSet, list[int]]] = []
    if args.sets:
        sources, left_out = find_sources(args.media, args.sets)
        s = InputSet("+".join(args.sets), sources, skipped=[f"left out: {x}" for x in left_out])
        sets.append((s, args.workers))
    if args.long:
        sets += [(s, [1] if len(s.sources) == 1 else [n for n in args.workers if n > 1]) for s in long_sets(args)]
    for s, workers in sets:
        run_set(exe, s, args, configs, workers)
    done = [s for s, _ in sets]
    print(report(env, done))
    out_json = args.out / ("curate_speed_long.json" if args.long else "curate_speed.json")
    out_json.write_text(json.dumps(to_json(env, done), indent=2) + "\n")
    print(f"\nnumbers written to {out_json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
