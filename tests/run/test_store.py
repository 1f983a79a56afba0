"""OutputStore: atomic writes, the journal that tells talkset's files from a user's, completion markers."""
from __future__ import annotations

import json
import os

import pytest

from talkset.files import atomic_write_bytes, atomic_write_json
from talkset.run import store as store_mod
from talkset.run.store import OutputStore

VID = "clip_src-0123abcd"
PATHS = [f"clips/{VID}-0000.mp4", f"clips/{VID}-0000.wav"]


@pytest.fixture
def store(tmp_path):
    s = OutputStore(tmp_path / "out")
    s.create()
    return s


def _all_files(root):
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


# atomic writes -----------------------------------------------------------------------------------------------

def test_atomic_writes_leave_only_the_target(tmp_path):
    atomic_write_bytes(tmp_path / "a.bin", b"one")
    atomic_write_bytes(tmp_path / "a.bin", b"two")  # replacing an existing file
    atomic_write_json(tmp_path / "sub" / "b.json", {"x": [1, 2], "é": None})  # creates the folder
    assert _all_files(tmp_path) == ["a.bin", "sub/b.json"]
    assert (tmp_path / "a.bin").read_bytes() == b"two"
    assert json.loads((tmp_path / "sub" / "b.json").read_text(encoding="utf-8")) == {"x": [1, 2], "é": None}


def test_failed_atomic_write_keeps_old_bytes_and_no_temp(tmp_path, monkeypatch):
    target = tmp_path / "a.bin"
    atomic_write_bytes(target, b"old")

    def broken_replace(src, dst):
        raise OSError("disk went away")

    monkeypatch.setattr(store_mod.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk went away"):
        atomic_write_bytes(target, b"new")
    monkeypatch.undo()
    assert _all_files(tmp_path) == ["a.bin"]
    assert target.read_bytes() == b"old"


def test_atomic_write_json_refuses_nan_without_leaving_anything(tmp_path):
    with pytest.raises(ValueError):
        atomic_write_json(tmp_path / "x.json", {"v": float("nan")})
    assert _all_files(tmp_path) == []


def test_commit_leaves_no_temp_files(store):
    tmp = store.temp_path(VID, "c.mp4")
    tmp.write_bytes(b"clip")
    store.place(tmp, PATHS[0])
    store.commit(VID, {"video_id": VID, "records": []})
    files = _all_files(store.root)
    assert not [f for f in files if f.endswith(".tmp")], files
    assert not (store.tmp / VID).exists()
    assert sorted(files) == sorted([PATHS[0], f".talkset/done/{VID}", f".talkset/parts/{VID}.json"])


# claim / journal -----------------------------------------------------------------------------------------------

def test_claim_refuses_a_users_file_and_leaves_its_bytes(store):
    user = store.root / PATHS[0]
    user.write_bytes(b"my own video, not talkset's\x00\xff")
    before = os.stat(user)

    reason = store.claim(VID, PATHS)

    assert reason is not None
    assert str(user) in reason
    assert user.read_bytes() == b"my own video, not talkset's\x00\xff"
    after = os.stat(user)
    assert (after.st_mtime_ns, after.st_ino) == (before.st_mtime_ns, before.st_ino)
    # A refused claim records nothing, so a later claim still sees the file as a stranger's.
    assert store.owned(VID) == set()
    assert store.claim(VID, PATHS) is not None


def test_claim_refuses_another_videos_file(store):
    assert store.claim(VID, PATHS) is None
    (store.root / PATHS[0]).write_bytes(b"talkset made this for VID")
    reason = store.claim("other-99999999", [PATHS[0]])
    assert reason is not None and PATHS[0] in reason
    assert (store.root / PATHS[0]).read_bytes() == b"talkset made this for VID"


def test_second_claim_by_same_video_succeeds_after_a_crash(store):
    assert store.claim(VID, PATHS) is None
    assert store.owned(VID) == set(PATHS)
    # The first attempt placed its files, then died before committing.
    for i, rel in enumerate(PATHS):
        tmp = store.temp_path(VID, f"{i}.part")
        tmp.write_bytes(b"first attempt")
        store.place(tmp, rel)
    assert not store.is_done(VID)

    assert store.claim(VID, PATHS) is None  # the retry may overwrite its own files
    assert store.owned(VID) == set(PATHS)
    tmp = store.temp_path(VID, "retry.part")
    tmp.write_bytes(b"second attempt")
    store.place(tmp, PATHS[0])
    assert (store.root / PATHS[0]).read_bytes() == b"second attempt"


def test_claim_accumulates_paths_in_the_journal(store):
    assert store.claim(VID, PATHS[:1]) is None
    assert store.claim(VID, PATHS[1:]) is None
    assert store.owned(VID) == set(PATHS)
    assert json.loads((store.journal / f"{VID}.json").read_text()) == sorted(PATHS)


def test_claim_of_free_paths_succeeds_for_a_new_video(store):
    assert store.owned(VID) == set()
    assert store.claim(VID, PATHS) is None
    assert not any((store.root / p).exists() for p in PATHS)  # claim only records, it writes no clip


# completion ----------------------------------------------------------------------------------------------------

def test_is_done_needs_part_and_marker(store):
    assert not store.is_done(VID)
    atomic_write_bytes(store.done / VID, b"")
    assert not store.is_done(VID), "a marker without its part is not finished"
    (store.done / VID).unlink()
    atomic_write_json(store.parts / f"{VID}.json", {"video_id": VID, "records": []})
    assert not store.is_done(VID), "a part without its marker is not finished (killed before the marker)"
    atomic_write_bytes(store.done / VID, b"")
    assert store.is_done(VID)


def test_commit_makes_done_and_iter_parts_skips_unmarked(store):
    store.commit("b-2", {"video_id": "b-2", "records": [2]})
    store.commit("a-1", {"video_id": "a-1", "records": [1]})
    atomic_write_json(store.parts / "c-3.json", {"video_id": "c-3", "records": [3]})  # no marker
    assert store.is_done("a-1") and store.is_done("b-2") and not store.is_done("c-3")
    assert [p["video_id"] for p in store.iter_parts()] == ["a-1", "b-2"]
