"""``talkset curate`` killed mid-run and rerun gives the uninterrupted result; a user's file is never replaced.

Runs the real command in a subprocess on three short real clips (about 10 s a run on two cores).
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

CLIPS = ["talking/vox_man_tv_224.mp4", "talking/vox_woman_hand_occlusion_224.mp4", "talking/man_worldmap_844.mp4"]
RUN_TIMEOUT_S = 300


def _cmd(media: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "talkset.cli", "curate", *[str(media / c) for c in CLIPS],
            "-o", str(out), "-w", "1", "--no-progress"]


def _run(media: Path, out: Path) -> subprocess.CompletedProcess:
    proc = subprocess.run(_cmd(media, out), capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    assert proc.returncode == 0, f"talkset curate failed ({proc.returncode}):\n{proc.stderr[-3000:]}"
    assert "talkset: error" not in proc.stderr, proc.stderr[-3000:]
    return proc


def _manifest(out: Path) -> list[dict]:
    return json.loads((out / "manifest.json").read_text(encoding="utf-8"))


def _markers(out: Path) -> set[str]:
    d = out / ".talkset" / "done"
    # Names starting with a dot are atomic_write_bytes temp files, not markers.
    return {p.name for p in d.iterdir() if not p.name.startswith(".")} if d.is_dir() else set()


def _journals(out: Path) -> set[str]:
    d = out / ".talkset" / "journal"
    return {p.stem for p in d.glob("*.json") if not p.name.startswith(".")} if d.is_dir() else set()


def _clip_files(out: Path) -> set[str]:
    return {p.name for p in (out / "clips").iterdir()}


@pytest.fixture(scope="module")
def reference(media, tmp_path_factory) -> Path:
    """The uninterrupted run (folder A)."""
    out = tmp_path_factory.mktemp("resume") / "A"
    _run(media, out)
    records = _manifest(out)
    assert sum(r["status"] == "kept" for r in records) >= 2, "the reference run should keep clips to compare"
    return out


def _differences(a, b, path="") -> list[str]:
    """Where two parsed manifests differ, as short lines (pytest's diff of long lists is truncated)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in sorted(a.keys() | b.keys()) for d in _differences(a.get(k), b.get(k), f"{path}.{k}")]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in _differences(x, y, f"{path}[{i}]")]
    return [] if a == b else [f"{path}: {a!r} != {b!r}"]


def _check_consistent(out: Path, records: list[dict]) -> None:
    ids = [r["id"] for r in records]
    assert len(ids) == len(set(ids)), f"a clip id appears twice: {ids}"
    for r in records:
        if r["status"] == "kept" and r["type"] == "clip":
            for key in ("video-path", "audio-path"):
                assert r[key] and (out / r[key]).is_file() and (out / r[key]).stat().st_size > 0, (r["id"], key)


def test_killed_run_resumes_to_the_uninterrupted_result(media, reference, tmp_path):
    out = tmp_path / "B"
    log = (tmp_path / "killed.log").open("w")
    proc = subprocess.Popen(_cmd(media, out), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    pgid = os.getpgid(proc.pid)
    killed_state = None
    try:
        deadline = time.monotonic() + RUN_TIMEOUT_S
        while time.monotonic() < deadline:
            done = _markers(out)
            in_flight = _journals(out) - done  # claimed its clip names, not committed yet
            writing = sorted(v for v in in_flight if any((out / ".talkset" / "tmp" / v).glob("*")))
            # Prefer killing while a video is writing its clips into .talkset/tmp; otherwise kill as soon as
            # two of three are done, so the run cannot finish first.
            if 1 <= len(done) < len(CLIPS) and (writing or len(done) == len(CLIPS) - 1):
                os.killpg(pgid, signal.SIGKILL)
                killed_state = {"done": sorted(done), "in_flight": sorted(in_flight), "writing": writing}
                break
            if proc.poll() is not None:
                break
            time.sleep(0.005)
    finally:
        if killed_state is None and proc.poll() is None:
            os.killpg(pgid, signal.SIGKILL)
        proc.wait(timeout=30)
        log.close()
    if killed_state is None:
        pytest.fail("the curate run was not caught with 1-2 of 3 videos finished (it finished, died or timed out "
                    f"first, exit code {proc.returncode}); cannot test resuming. Markers: {sorted(_markers(out))}; "
                    f"output:\n{(tmp_path / 'killed.log').read_text()[-3000:]}")
    assert proc.returncode == -signal.SIGKILL
    print(f"killed with {killed_state}")
    assert len(_markers(out)) < len(CLIPS)
    assert not (out / "manifest.json").exists()

    # Also a video killed after its clips and part were written but before its marker: the rerun must redo it,
    # replacing the clips it made itself (the journal lists them), not refuse them as a user's.
    placed = {v: {n: (out / "clips" / n).stat().st_mtime_ns for n in _clip_files(out) if n.startswith(v + "-")}
              for v in sorted(_markers(out))}
    redo = max(placed, key=lambda v: len(placed[v]))  # one with clip files, if any video kept a clip
    redo_clips = placed[redo]
    (out / ".talkset" / "done" / redo).unlink()
    assert (out / ".talkset" / "parts" / f"{redo}.json").exists()

    notes = out / "clips" / "notes.txt"
    notes_bytes = b"my notes about these clips\n\x00\xff"
    notes.write_bytes(notes_bytes)

    _run(media, out)

    a, b = _manifest(reference), _manifest(out)
    assert b == a, ("resumed manifest differs from the uninterrupted one (if only scores differ, check that src/ "
                    "did not change while the test ran):\n" + "\n".join(_differences(a, b)[:40]))
    assert _clip_files(out) == _clip_files(reference) | {"notes.txt"}
    assert notes.read_bytes() == notes_bytes
    _check_consistent(out, b)
    for r in b:
        if r["status"] == "kept":  # the audio cut is deterministic: same samples as the uninterrupted run
            assert (out / r["audio-path"]).read_bytes() == (reference / r["audio-path"]).read_bytes()
    assert _markers(out) == _markers(reference)
    assert all((out / "clips" / n).stat().st_mtime_ns != t for n, t in redo_clips.items()), "not redone"
    leftovers = sorted(p.relative_to(out).as_posix() for p in (out / ".talkset" / "tmp").rglob("*"))
    assert leftovers == [], f"temp files left after every video finished: {leftovers}"
    stray = sorted(p.name for p in (out / "clips").iterdir() if p.name.startswith(".") or p.suffix == ".tmp")
    assert stray == []


@pytest.mark.slow  # CI time: runs with the slow set
def test_users_file_where_a_clip_would_go_fails_that_video_only(media, reference, tmp_path):
    ref = _manifest(reference)
    victim = next(r for r in ref if r["status"] == "kept" and r["type"] == "clip")
    out = tmp_path / "C"
    user_file = out / "clips" / f"{victim['id']}.mp4"
    user_file.parent.mkdir(parents=True)
    user_bytes = b"a user's own file that happens to have a clip's name\n" * 10
    user_file.write_bytes(user_bytes)

    proc = _run(media, out)

    assert user_file.read_bytes() == user_bytes
    assert not (out / "clips" / f"{victim['id']}.wav").exists(), "nothing of the refused video is placed"
    got = _manifest(out)
    _check_consistent(out, got)
    mine = [r for r in got if r["video-id"] == victim["video-id"]]
    assert len(mine) == 1, mine
    failed = mine[0]
    assert failed["type"] == "source" and failed["status"] == "failed"
    assert any(str(user_file) in reason for reason in failed["reasons"]), failed["reasons"]
    assert str(user_file) in proc.stderr, "the failure is reported, not only recorded"
    assert "inference_feedback_manager" not in proc.stderr and "GetPrototype" not in proc.stderr
    others = [r for r in got if r["video-id"] != victim["video-id"]]
    assert others == [r for r in ref if r["video-id"] != victim["video-id"]]
    assert others and any(r["status"] == "kept" for r in others)
    expected = {n for n in _clip_files(reference) if not n.startswith(victim["id"] + ".")} | {user_file.name}
    assert _clip_files(out) == expected

    # Once the user moves the file away, the next run retries that video and finishes it.
    user_file.rename(tmp_path / "moved.mp4")
    _run(media, out)
    assert _manifest(out) == ref
    assert (tmp_path / "moved.mp4").read_bytes() == user_bytes


def test_parquet_has_the_json_ids_in_order(reference):
    import pyarrow.parquet as pq

    table = pq.read_table(reference / "manifest.parquet")
    json_ids = [r["id"] for r in _manifest(reference)]
    assert table.column("id").to_pylist() == json_ids
    assert json_ids == sorted(json_ids)
    assert table.num_rows == len(json_ids)


def test_manifest_of_only_failed_videos_is_written(tmp_path):
    from talkset.curate.config import Config
    from talkset.curate.pipeline import VideoJob, source_record
    from talkset.curate.run import merge
    from talkset.dataset.records import UNUSABLE, Reason
    from talkset.run.store import OutputStore

    store = OutputStore(tmp_path / "out")
    store.create()
    job = VideoJob(str(tmp_path / "broken.mp4"))
    store.commit(job.video_id, {"video_id": job.video_id, "path": job.path, "duration": 0.0,
                                "records": [source_record(job, "failed", Reason(UNUSABLE, "not a readable media file"))
                                            .to_dict()]})
    summary = merge(store, Config.load(None))
    assert summary.failed_videos == 1
    import pyarrow.parquet as pq

    assert pq.read_table(store.root / "manifest.parquet").column("id").to_pylist() == [job.video_id]
