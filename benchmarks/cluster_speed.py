"""Throughput per core and peak memory of ``talkset curate`` on long 1080p inputs (issue 3).

What it measures:

* **Throughput** on a ``--minutes``-long (default 10) 1920x1080 25 fps H.264 + AAC input that
  ``long_input.py`` builds from the real talking clips of the media folder, in two layouts:

  - ``single``: the one long file. It is one work item, so no executor can spread it over cores:
    curate sizes its pool to the job list, so "2 workers" runs it on one worker;
  - ``split``: the same file cut into ``--split`` (default 10) parts of about a minute, stream-copied.

  On each layout it runs ``talkset.curate.run.curate`` with the local executor for each ``--workers``
  count (default 1 and 2) and with ``talkset.run.ray_executor.RayExecutor(num_cpus=--ray-cpus)`` (default
  2). The Ray runs are skipped with a note when ``import ray`` or that module fails; their wall time
  includes starting Ray. Each run writes into a fresh folder (deleted unless ``--keep``). Per run:

  - hours of video per core-hour, core-hours = wall x cores given to the run (workers, or Ray's
    ``num_cpus``), which is what a cluster bills. For local runs the CPU time actually used (this
    process and its reaped children, user + system) is reported too: a 1-worker run also uses decoder
    and inference threads, a 2-worker run on one file leaves a core mostly idle;
  - the ratio curate wall / ``ffmpeg -hide_banner -nostats -i X -f null -`` wall on the same input
    (for ``split``: the parts decoded one after another, as in curate_speed.py). Goal: <= 2. The ratio
    against ``ffmpeg -threads 1`` is given too;
  - the CPU seconds the whole machine was busy beyond the run's own (/proc/stat): anything else on
    the cores inflates the wall time, so a run with a large ``others`` value should be repeated.

* **Peak memory** (``--rss-minutes M`` or ``--rss-hour`` = 60 minutes): ``python -m talkset.cli curate
  INPUT --out DIR -w 1 --no-progress`` runs as a subprocess on an M-minute input built the same way,
  while this process polls every 0.2 s the VmRSS of that process and all its descendants in /proc.
  Reported: the peak of the summed tree VmRSS (polled), the largest per-process VmHWM seen (the
  kernel's own peak, so no spike between polls is missed), the peak summed RssAnon (private memory,
  without shared library pages), and ``ru_maxrss`` from ``os.wait4`` on the child (the largest single
  process among the child and its reaped descendants). Goal: < 2 GB. Then it times ``ffmpeg -f null``
  on the same input, so the run also gives the 1-worker ratio on that length.

Inputs are built under ``--work`` (default /tmp) and reused when present: ``talkset_long<M>.mp4``,
``talkset_long<M>_split<N>/`` and the cached segments. Nothing goes into the repository.

Run it from the project root (``pip install -e '.[bench]'`` for the static ffmpeg)::

    python benchmarks/cluster_speed.py --minutes 10 --split 10 --workers 1 2 --out /tmp/cluster_speed.json
    python benchmarks/cluster_speed.py --no-throughput --rss-minutes 5 --out /tmp/cluster_rss5.json
    nohup python benchmarks/cluster_speed.py --no-throughput --rss-hour --out /tmp/cluster_rss_hour.json \\
        > /tmp/cluster_rss_hour.log 2>&1 &

It prints a table and writes the numbers to ``--out`` (JSON).
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from curate_speed import (
    DEFAULT_MEDIA,
    FfmpegRun,
    Source,
    cpu_seconds,
    ffmpeg_version,
    find_ffmpeg,
    machine,
    stage_table,
    time_ffmpeg,
    warm_page_cache,
)
from long_input import build_long_input, media_info, split_long_input

import talkset
from talkset.curate.run import curate

GOAL_RATIO = 2.0
GOAL_RSS_MB = 2048
POLL_S = 0.2
PROJECT = Path(__file__).resolve().parents[1]


@dataclass
class CurateRun:
    """One curate call on one input layout."""

    layout: str
    runner: str
    cores: int
    pool_workers: int
    wall_s: float
    video_s: float
    cpu_s: float | None
    ffmpeg_s: float
    ffmpeg_threads1_s: float
    videos: int
    failed_videos: int
    candidates: int
    clips_kept: int
    hours_in: float
    stage_seconds: dict[str, float]
    failures: list[str]
    machine_busy_s: float | None = None

    @property
    def others_cpu_s(self) -> float | None:
        """Busy CPU of the machine during the run that was not this run's (other users; unknown for Ray)."""
        if self.machine_busy_s is None or self.cpu_s is None:
            return None
        return max(0.0, self.machine_busy_s - self.cpu_s)

    @property
    def hours_per_core_hour(self) -> float:
        return (self.video_s / 3600) / (self.wall_s * self.cores / 3600)

    @property
    def hours_per_cpu_hour(self) -> float | None:
        return None if not self.cpu_s else (self.video_s / 3600) / (self.cpu_s / 3600)

    @property
    def ratio(self) -> float:
        return self.wall_s / self.ffmpeg_s

    @property
    def ratio_threads1(self) -> float:
        return self.wall_s / self.ffmpeg_threads1_s


@dataclass
class Skipped:
    layout: str
    runner: str
    reason: str


@dataclass
class RssRun:
    """Peak memory of one ``talkset curate -w 1`` subprocess."""

    input: str
    video_s: float
    command: list[str]
    returncode: int
    wall_s: float
    polls: int
    peak_tree_rss_mb: float
    peak_tree_anon_mb: float
    max_process_hwm_mb: float
    ru_maxrss_mb: float
    max_processes: int
    cpu_s: float = 0.0
    machine_busy_s: float | None = None
    ffmpeg_s: float | None = None
    summary: dict[str, str] = field(default_factory=dict)
    output_tail: list[str] = field(default_factory=list)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--media", type=Path, default=DEFAULT_MEDIA, help=f"media folder (default: {DEFAULT_MEDIA})")
    p.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()),
                   help="folder for the built inputs and curate outputs (default: the temp folder)")
    p.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "cluster_speed.json",
                   help="JSON file for the numbers")
    p.add_argument("--minutes", type=float, default=10.0, help="length of the throughput input")
    p.add_argument("--height", type=int, default=1080, help="frame height of the inputs (16:9)")
    p.add_argument("--split", type=int, default=10, help="parts of the split layout (0: single file only)")
    p.add_argument("--layouts", nargs="+", choices=("single", "split"), default=["single", "split"])
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="local executor worker counts")
    p.add_argument("--ray-cpus", type=int, default=2, help="num_cpus of the Ray executor (0: no Ray runs)")
    p.add_argument("--no-throughput", dest="throughput", action="store_false", help="skip the throughput runs")
    p.add_argument("--rss-minutes", type=float, default=0.0, help="measure peak RSS on an input this long")
    p.add_argument("--rss-hour", action="store_true", help="measure peak RSS on a 60-minute input")
    p.add_argument("--ffmpeg", default=None, help="ffmpeg binary to time (default: PATH, else imageio-ffmpeg's)")
    p.add_argument("--keep", action="store_true", help="keep each run's clips and manifest")
    args = p.parse_args(argv)
    if args.rss_hour:
        args.rss_minutes = 60.0
    if args.split < 2 and "split" in args.layouts:
        args.layouts = [x for x in args.layouts if x != "split"]
    return args


def machine_busy_seconds() -> float | None:
    """CPU seconds all cores of the machine have been busy since boot (/proc/stat), or None."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
        ticks = [int(x) for x in fields]
    except (OSError, ValueError, IndexError):
        return None
    # user nice system idle iowait irq softirq steal ...: busy = all but idle and iowait
    busy = sum(ticks[:8]) - ticks[3] - ticks[4]
    return busy / os.sysconf("SC_CLK_TCK")


def make_ray_executor(num_cpus: int):
    """A ``RayExecutor`` factory, or the reason there is none."""
    try:
        import ray  # noqa: F401
    except Exception as e:
        return None, f"import ray failed: {type(e).__name__}: {e}"
    try:
        from talkset.run.ray_executor import RayExecutor
    except Exception as e:
        return None, f"talkset.run.ray_executor not usable: {type(e).__name__}: {e}"
    return (lambda: RayExecutor(num_cpus=num_cpus)), ""


def close_executor(executor) -> None:
    """Shuts a Ray executor (and Ray) down, so the next run starts from nothing."""
    for name in ("shutdown", "close"):
        fn = getattr(executor, name, None)
        if callable(fn):
            fn()
            break
    try:
        import ray

        if ray.is_initialized():
            ray.shutdown()
    except ImportError:
        pass


def time_curate(layout: str, inputs: list[Path], video_s: float, base: FfmpegRun, base1: FfmpegRun,
                work: Path, keep: bool, workers: int | None = None, ray_factory=None,
                ray_cpus: int = 0) -> CurateRun:
    """One curate call over ``inputs`` with the local executor (``workers``) or a Ray executor."""
    runner = f"local, {workers} worker{'s' * (workers != 1)}" if ray_factory is None else f"ray, {ray_cpus} CPUs"
    run_dir = Path(tempfile.mkdtemp(prefix=f"cluster_{layout}_", dir=work))
    cpu0, busy0 = cpu_seconds(), machine_busy_seconds()
    tic = time.perf_counter()
    executor = None
    try:
        if ray_factory is not None:
            executor = ray_factory()
            summary = curate(inputs, run_dir, executor=executor, progress=False)
        else:
            summary = curate(inputs, run_dir, workers=workers, progress=False)
    finally:
        if executor is not None:
            close_executor(executor)
    wall = time.perf_counter() - tic
    cpu = None if ray_factory is not None else cpu_seconds() - cpu0
    busy1 = machine_busy_seconds()
    busy = busy1 - busy0 if busy0 is not None and busy1 is not None else None
    if not keep:
        shutil.rmtree(run_dir)
    cores = ray_cpus if ray_factory is not None else workers
    pool = min(cores, len(inputs))  # curate's local pool and Ray alike run at most one task per file
    return CurateRun(layout=layout, runner=runner, cores=cores, pool_workers=pool, wall_s=wall, video_s=video_s,
                     cpu_s=cpu, ffmpeg_s=base.wall_s, ffmpeg_threads1_s=base1.wall_s, videos=summary.videos,
                     failed_videos=summary.failed_videos, candidates=summary.candidates,
                     clips_kept=summary.clips_kept, hours_in=summary.hours_in,
                     stage_seconds=dict(summary.stage_seconds), failures=list(summary.failures),
                     machine_busy_s=busy)


def throughput(args, exe: str) -> tuple[dict, list[CurateRun], list[Skipped]]:
    """Builds the inputs, times ffmpeg and every curate run on each layout."""
    long_file = build_long_input(args.work / f"talkset_long{args.minutes:g}.mp4", args.minutes, args.media,
                                 args.height, verbose=True)
    layouts = {}
    if "single" in args.layouts:
        layouts["single"] = [long_file]
    if "split" in args.layouts:
        layouts["split"] = split_long_input(long_file, args.split,
                                            args.work / f"{long_file.stem}_split{args.split}", verbose=True)
    ray_factory, ray_note = make_ray_executor(args.ray_cpus) if args.ray_cpus else (None, "--ray-cpus 0")
    if ray_note:
        print(f"note: Ray runs skipped: {ray_note}", file=sys.stderr)
    runs: list[CurateRun] = []
    skipped: list[Skipped] = []
    info: dict = {"ray_note": ray_note}
    for layout, files in layouts.items():
        sources = [Source(str(f), media_info(f)[0]) for f in files]
        video_s = sum(s.duration_s for s in sources)
        warm_page_cache(sources)
        print(f"[{layout}] timing ffmpeg on {len(files)} file(s), {video_s:.1f} s ...", file=sys.stderr)
        base, base1 = time_ffmpeg(exe, sources, None), time_ffmpeg(exe, sources, 1)
        info[layout] = {"files": [asdict(s) for s in sources], "video_s": video_s,
                        "ffmpeg": asdict(base), "ffmpeg_threads1": asdict(base1)}
        for n in args.workers:
            print(f"[{layout}] timing curate, local executor, {n} worker(s) ...", file=sys.stderr)
            runs.append(time_curate(layout, files, video_s, base, base1, args.work, args.keep, workers=n))
            print(f"  wall {runs[-1].wall_s:.1f} s", file=sys.stderr)
        if ray_factory is not None:
            print(f"[{layout}] timing curate, Ray executor, {args.ray_cpus} CPUs ...", file=sys.stderr)
            try:
                runs.append(time_curate(layout, files, video_s, base, base1, args.work, args.keep,
                                        ray_factory=ray_factory, ray_cpus=args.ray_cpus))
                print(f"  wall {runs[-1].wall_s:.1f} s", file=sys.stderr)
            except Exception as e:
                skipped.append(Skipped(layout, f"ray, {args.ray_cpus} CPUs", f"{type(e).__name__}: {e}"))
                print(f"  failed: {skipped[-1].reason}", file=sys.stderr)
        elif args.ray_cpus:
            skipped.append(Skipped(layout, f"ray, {args.ray_cpus} CPUs", ray_note))
    return info, runs, skipped


def _children_map() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        # The command name is in parentheses and may hold spaces: the fields after the last ')' are fixed.
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        kids.setdefault(ppid, []).append(int(entry))
    return kids


def process_tree(root: int) -> list[int]:
    """``root`` and all its descendants alive now."""
    kids = _children_map()
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo += kids.get(pid, [])
    return tree


def memory_kb(pid: int) -> tuple[int, int, int]:
    """(VmRSS, VmHWM, RssAnon) of a process in kB; zeros if it is gone."""
    values = {"VmRSS": 0, "VmHWM": 0, "RssAnon": 0}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key = line.split(":", 1)[0]
            if key in values:
                values[key] = int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return values["VmRSS"], values["VmHWM"], values["RssAnon"]


def measure_rss(args, exe: str) -> RssRun:
    """Runs ``talkset curate -w 1`` on an ``--rss-minutes`` input in a subprocess and tracks its memory."""
    video = build_long_input(args.work / f"talkset_long{args.rss_minutes:g}.mp4", args.rss_minutes, args.media,
                             args.height, verbose=True)
    video_s = media_info(video)[0]
    run_dir = Path(tempfile.mkdtemp(prefix="cluster_rss_", dir=args.work))
    log_path = run_dir.with_name(run_dir.name + ".log")
    cmd = [sys.executable, "-m", "talkset.cli", "curate", str(video), "--out", str(run_dir / "out"), "-w", "1",
           "--no-progress"]
    warm_page_cache([Source(str(video), video_s)])
    print(f"[rss] {' '.join(cmd)}  (output in {log_path})", file=sys.stderr)
    peak_tree = peak_anon = max_hwm = polls = max_procs = 0
    busy0 = machine_busy_seconds()
    tic = time.perf_counter()
    with open(log_path, "w") as log:
        child = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=PROJECT)
        last_report = tic
        while True:
            pid, status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                break
            tree = process_tree(child.pid)
            mems = [memory_kb(p) for p in tree]
            peak_tree = max(peak_tree, sum(m[0] for m in mems))
            peak_anon = max(peak_anon, sum(m[2] for m in mems))
            max_hwm = max([max_hwm] + [m[1] for m in mems])
            max_procs = max(max_procs, sum(1 for m in mems if m[0]))
            polls += 1
            if time.perf_counter() - last_report > 60:
                last_report = time.perf_counter()
                print(f"[rss] {last_report - tic:7.0f} s: tree {sum(m[0] for m in mems) / 1024:.0f} MB now, "
                      f"peak {peak_tree / 1024:.0f} MB", file=sys.stderr, flush=True)
            time.sleep(POLL_S)
    wall = time.perf_counter() - tic
    busy1 = machine_busy_seconds()
    child.returncode = os.waitstatus_to_exitcode(status)  # reaped by wait4; tell Popen
    output = log_path.read_text(errors="replace").splitlines()
    summary = {}
    for line in output:
        m = re.match(r"^(videos|hours in|candidates|clips kept|hours kept)\s{2,}(.*)$", line)
        if m:
            summary[m.group(1)] = m.group(2).strip()
    print("[rss] timing ffmpeg on the same input ...", file=sys.stderr)
    ffmpeg_s = time_ffmpeg(exe, [Source(str(video), video_s)], None).wall_s
    if not args.keep:
        shutil.rmtree(run_dir)
    return RssRun(input=str(video), video_s=video_s, command=cmd, returncode=child.returncode, wall_s=wall,
                  polls=polls, peak_tree_rss_mb=peak_tree / 1024, peak_tree_anon_mb=peak_anon / 1024,
                  max_process_hwm_mb=max_hwm / 1024, ru_maxrss_mb=usage.ru_maxrss / 1024,
                  max_processes=max_procs, cpu_s=usage.ru_utime + usage.ru_stime,
                  machine_busy_s=busy1 - busy0 if busy0 is not None and busy1 is not None else None,
                  ffmpeg_s=ffmpeg_s, summary=summary, output_tail=output[-15:])


def report(env: dict, info: dict, runs: list[CurateRun], skipped: list[Skipped], rss: RssRun | None) -> str:
    """The printed tables."""
    lines = [f"machine   nproc {env['nproc']} (os.cpu_count {env['cpu_count']}), CPU {env['cpu_model']}, "
             f"Python {env['python']}",
             f"ffmpeg    {env['ffmpeg']}",
             f"          {env['ffmpeg_path']}",
             f"talkset   {env['talkset']}"]
    if runs or skipped:
        lines += [""]
        for layout in ("single", "split"):
            if layout in info:
                d = info[layout]
                lines.append(f"{layout:<7} {len(d['files'])} file(s), {d['video_s']:.1f} s of 1080p video; "
                             f"ffmpeg -f null {d['ffmpeg']['wall_s']:.1f} s (threads auto), "
                             f"{d['ffmpeg_threads1']['wall_s']:.1f} s (-threads 1)")
        head = (f"{'input':<8}{'runner':<18}{'cores':>6}{'pool':>5}{'wall s':>9}{'x rt':>7}{'h/core-h':>10}"
                f"{'CPU s':>9}{'h/CPU-h':>9}{'/ffmpeg':>9}{'/ff -t1':>9}{'kept':>6}{'others':>8}  goal <= 2")
        lines += ["", head, "-" * len(head)]
        for r in runs:
            cpu = f"{r.cpu_s:9.0f}" if r.cpu_s is not None else f"{'n/a':>9}"
            per_cpu = f"{r.hours_per_cpu_hour:9.2f}" if r.hours_per_cpu_hour else f"{'n/a':>9}"
            others = f"{r.others_cpu_s:8.0f}" if r.others_cpu_s is not None else f"{'n/a':>8}"
            lines.append(f"{r.layout:<8}{r.runner:<18}{r.cores:>6}{r.pool_workers:>5}{r.wall_s:9.1f}"
                         f"{r.video_s / r.wall_s:7.2f}{r.hours_per_core_hour:10.2f}{cpu}{per_cpu}"
                         f"{r.ratio:9.2f}{r.ratio_threads1:9.2f}{r.clips_kept:>6}{others}  "
                         f"{'yes' if r.ratio <= GOAL_RATIO else 'no'}")
        for s in skipped:
            lines.append(f"{s.layout:<8}{s.runner:<18}  skipped: {s.reason}")
        lines += ["",
                  "cores = cores given to the run (local workers, Ray num_cpus); pool = workers curate actually "
                  "ran (it never starts more than there are files);",
                  "x rt = video seconds per wall second; h/core-h = hours of video per (wall x cores); "
                  "CPU s = user+system CPU of this process and its reaped workers (n/a for Ray);",
                  "/ffmpeg = curate wall / `ffmpeg -i X -f null -` wall on the same files (threads auto), "
                  "/ff -t1 the same against `-threads 1`; kept = clips kept;",
                  "others = CPU seconds the machine was busy during the run beyond this run's own (other "
                  "users of the cores; large values mean the wall time is inflated)."]
        for r in runs:
            lines += ["", f"{r.layout}, {r.runner}: {r.videos} videos ({r.failed_videos} unusable), "
                          f"{r.candidates} candidates, {r.clips_kept} kept, hours in {r.hours_in:.4f}",
                      "  stage seconds (worker time summed over videos):"]
            lines += stage_table(r.stage_seconds)
            lines += [f"  failure: {f}" for f in r.failures[:5]]
    if rss is not None:
        ok = max(rss.peak_tree_rss_mb, rss.max_process_hwm_mb) < GOAL_RSS_MB
        lines += ["", f"peak memory: `talkset curate -w 1` on {rss.video_s / 60:.1f} min of 1080p "
                      f"({rss.input}), exit code {rss.returncode}",
                  f"  wall {rss.wall_s:.1f} s ({rss.video_s / rss.wall_s:.2f} x real time); "
                  f"ffmpeg -f null {rss.ffmpeg_s:.1f} s; ratio {rss.wall_s / rss.ffmpeg_s:.2f} "
                  "(includes interpreter start and imports)",
                  f"  CPU {rss.cpu_s:.0f} s ({rss.video_s / max(rss.cpu_s, 1e-9):.2f} video s per CPU s); machine busy "
                  + (f"{rss.machine_busy_s:.0f} s, others {max(0.0, rss.machine_busy_s - rss.cpu_s):.0f} s"
                     if rss.machine_busy_s is not None else "n/a"),
                  f"  peak summed VmRSS of the process tree (polled every {POLL_S} s, {rss.polls} polls, "
                  f"up to {rss.max_processes} processes): {rss.peak_tree_rss_mb:8.1f} MB",
                  f"  peak summed RssAnon of the tree (private memory only):            {rss.peak_tree_anon_mb:8.1f} MB",
                  f"  largest VmHWM of a single process (kernel peak):                    {rss.max_process_hwm_mb:8.1f} MB",
                  f"  ru_maxrss from wait4 (largest single process):                      {rss.ru_maxrss_mb:8.1f} MB",
                  f"  goal < {GOAL_RSS_MB} MB: {'met' if ok else 'NOT met'}",
                  "  curate summary: " + ", ".join(f"{k} {v}" for k, v in rss.summary.items())]
        if rss.returncode:
            lines += ["  output tail:"] + [f"    {x}" for x in rss.output_tail]
    return "\n".join(lines)


def run_json(r: CurateRun) -> dict:
    return {**asdict(r), "hours_per_core_hour": r.hours_per_core_hour, "hours_per_cpu_hour": r.hours_per_cpu_hour,
            "others_cpu_s": r.others_cpu_s,
            "ratio_vs_ffmpeg": r.ratio, "ratio_vs_ffmpeg_threads1": r.ratio_threads1,
            "x_realtime": r.video_s / r.wall_s}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args.work.mkdir(parents=True, exist_ok=True)
    exe = find_ffmpeg(args.ffmpeg)
    env = {**machine(), "ffmpeg": ffmpeg_version(exe), "ffmpeg_path": exe,
           "talkset": str(Path(talkset.__file__).resolve().parent)}
    info, runs, skipped, rss = {}, [], [], None
    # The memory run goes first: its subprocess should not share the machine with anything of ours.
    if args.rss_minutes:
        rss = measure_rss(args, exe)
    if args.throughput:
        info, runs, skipped = throughput(args, exe)
    print(report(env, info, runs, skipped, rss))
    out = {"machine": env, "goal_ratio": GOAL_RATIO, "goal_rss_mb": GOAL_RSS_MB,
           "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
           "inputs": info, "runs": [run_json(r) for r in runs], "skipped": [asdict(s) for s in skipped],
           "rss": asdict(rss) if rss else None}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    print(f"\nnumbers written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
