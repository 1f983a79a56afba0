"""Faults on real clips: the whole run killed at random moments (local and Ray), a worker killed mid-video,
a write that fails. Each time the rerun must give the uninterrupted run's manifest and clip files."""
from __future__ import annotations

import errno
import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

import pytest

from talkset.curate.run import curate
from talkset.run.executor import LocalExecutor
from talkset.testing import media_digests

CLIPS = ["talking/vox_man_tv_224.mp4", "talking/vox_woman_hand_occlusion_224.mp4", "talking/man_worldmap_844.mp4",
         "talking/hdtf_woman_flag_512_mpeg4.mp4"]
TIMEOUT_S = 300


def _inputs(media: Path) -> list[Path]:
    return [media / c for c in CLIPS]


def _cmd(media: Path, out: Path, executor: str) -> list[str]:
    return [sys.executable, "-m", "talkset.cli", "curate", *map(str, _inputs(media)), "-o", str(out),
            "-w", "2", "--no-progress", "--executor", executor]


def _same(got: tuple[list[dict], dict[str, dict]], want: tuple[list[dict], dict[str, dict]]) -> None:
    """Asserts two results are equal, naming what differs (pytest's diff of these is truncated)."""
    (m1, f1), (m2, f2) = got, want
    differing = sorted(k for k in f1.keys() | f2.keys() if f1.get(k) != f2.get(k))
    # Name the part that differs (pixels, audio packets, or only the container's bytes).
    parts = {k: sorted(p for p in ("video", "audio", "file") if (f1.get(k) or {}).get(p) != (f2.get(k) or {}).get(p))
             for k in differing}
    assert not differing, f"clip files differ: {parts}"
    for a, b in zip(m1, m2):
        assert a == b, f"record {a.get('id')} differs: " + ", ".join(
            f"{k}: {a.get(k)!r} != {b.get(k)!r}" for k in a.keys() | b.keys() if a.get(k) != b.get(k))
    assert len(m1) == len(m2)


def _result(out: Path) -> tuple[list[dict], dict[str, dict]]:
    """The manifest and a digest of every clip and annotation file: what must not depend on faults."""
    manifest = json.loads((out / "manifest.json").read_text())
    files = {p.name: media_digests(p) if p.suffix == ".mp4" else {"file": hashlib.sha1(p.read_bytes()).hexdigest()}
             for folder in ("clips", "annotations") for p in sorted((out / folder).glob("*"))}
    return manifest, files


@pytest.fixture(scope="module")
def reference(media, tmp_path_factory) -> dict:
    """Uninterrupted local run, its wall time, and the same inputs through Ray."""
    base = tmp_path_factory.mktemp("faults")
    runs = {}
    for executor in ("local", "ray"):
        tic = time.monotonic()
        proc = subprocess.run(_cmd(media, base / executor, executor), capture_output=True, text=True,
                              timeout=TIMEOUT_S)
        assert proc.returncode == 0, proc.stderr[-3000:]
        runs[executor] = {"seconds": time.monotonic() - tic, "result": _result(base / executor)}
    return runs


def test_ray_and_local_give_the_same_manifest_and_clips(reference):
    _same(reference["ray"]["result"], reference["local"]["result"])
    manifest, files = reference["local"]["result"]
    assert sum(r["status"] == "kept" for r in manifest) >= 3 and files


def _done(out: Path) -> int:
    d = out / ".talkset" / "done"
    return sum(not p.name.startswith(".") for p in d.iterdir()) if d.is_dir() else 0


@pytest.mark.parametrize("executor, seed", [("local", 1), pytest.param("local", 2, marks=pytest.mark.slow), pytest.param("ray", 3, marks=pytest.mark.slow)])
def test_run_killed_at_a_random_moment_then_rerun_is_identical(media, reference, tmp_path, executor, seed):
    out = tmp_path / "out"
    # A random moment: once a random number of videos (0 to all but one) is finished, a random pause more.
    rng = random.Random(seed)
    after_done, pause = rng.randrange(len(CLIPS) - 1), rng.uniform(0.0, 1.5)
    proc = subprocess.Popen(_cmd(media, out, executor), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.monotonic() + TIMEOUT_S
    while _done(out) < after_done and proc.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    if after_done == 0:
        time.sleep(2.0 if executor == "local" else 6.0)  # inside the first video (Ray starts slower)
    time.sleep(pause)
    finished_first = proc.poll() is not None
    if not finished_first:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    assert not finished_first and _done(out) < len(CLIPS), "the run ended before the kill"
    rerun = subprocess.run(_cmd(media, out, executor), capture_output=True, text=True, timeout=TIMEOUT_S)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    _same(_result(out), reference["local"]["result"])
    assert not [p for p in (out / ".talkset" / "tmp").rglob("*") if p.is_file()]


def _kill_worker_first_time(fn, marker_dir: str, victim: str, item):
    """Runs fn(item), but the first attempt at ``victim`` kills its own worker process mid-video."""
    job = item[0]
    marker = Path(marker_dir) / "killed-once"
    if job.path.endswith(victim) and not marker.exists():
        marker.touch()
        os.kill(os.getpid(), signal.SIGKILL)
    return fn(item)


class _KillingExecutor:
    def __init__(self, inner, marker_dir: Path, victim: str):
        self.inner, self.marker_dir, self.victim = inner, str(marker_dir), victim

    def map_unordered(self, fn, items):
        return self.inner.map_unordered(partial(_kill_worker_first_time, fn, self.marker_dir, self.victim), items)


@pytest.mark.parametrize("executor", ["local", pytest.param("ray", marks=pytest.mark.slow)])
def test_worker_killed_mid_video_is_redone_and_nothing_else_changes(media, reference, tmp_path, executor):
    if executor == "ray":
        from ray import cloudpickle

        from talkset.run.ray_executor import RayExecutor

        # Ray's workers cannot import this test module: ship the wrapper by value.
        cloudpickle.register_pickle_by_value(sys.modules[__name__])
        inner = RayExecutor(num_cpus=2, max_retries=2)
    else:
        inner = LocalExecutor(2)
    summary = curate(_inputs(media), tmp_path / "out", executor=_KillingExecutor(inner, tmp_path, CLIPS[1]),
                     progress=False)
    assert (tmp_path / "killed-once").exists(), "the victim's worker was never killed"
    assert not summary.failures
    _same(_result(tmp_path / "out"), reference["local"]["result"])


@pytest.mark.slow  # CI time: runs with the slow set
def test_failed_write_is_recorded_then_retried(media, reference, tmp_path, monkeypatch):
    from talkset.run.store import OutputStore

    victim = CLIPS[0].split("/")[-1].removesuffix(".mp4")
    real_place = OutputStore.place

    def place(self, tmp, relpath):
        if victim in relpath:
            raise OSError(errno.ENOSPC, "No space left on device", str(self.root / relpath))
        return real_place(self, tmp, relpath)

    expected = reference["local"]["result"]

    monkeypatch.setattr(OutputStore, "place", place)
    out = tmp_path / "out"
    curate(_inputs(media), out, workers=1, progress=False)
    manifest = json.loads((out / "manifest.json").read_text())
    failed = [r for r in manifest if r["status"] == "failed"]
    assert len(failed) == 1 and victim in failed[0]["id"]
    (reason,) = failed[0]["reasons"]
    assert isinstance(reason, str) and "No space left on device" in reason and "next run tries it again" in reason and "\n" not in reason
    others = [r for r in manifest if r["video-id"] != failed[0]["video-id"]]
    assert others == [r for r in expected[0] if r["video-id"] != failed[0]["video-id"]]

    monkeypatch.undo()
    curate(_inputs(media), out, workers=1, progress=False)
    _same(_result(out), expected)
