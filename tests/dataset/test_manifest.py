import copy
from pathlib import Path

from talkset.dataset.manifest import ClipRecord, Span, read_json, video_id_for, write_json


def _record():
    return ClipRecord(id="v-0001", video_id="v", source=Span("/x/v.mp4", 1.5, 6.0), video_path="clips/v-0001.mp4",
                      metadata={"duration": 4.5}, scores={"sync": {"offset_frames": 0}}, status="kept")


def test_round_trip_and_talkvid_keys():
    rec = _record()
    d = rec.to_dict()
    assert d["video-id"] == "v" and d["video-path"] == "clips/v-0001.mp4" and d["type"] == "clip"
    frozen = copy.deepcopy(d)
    assert ClipRecord.from_dict(d) == rec
    assert d == frozen  # from_dict leaves its input alone


def test_json_file_round_trip(tmp_path):
    recs = [_record().to_dict()]
    write_json(recs, tmp_path / "m.json")
    assert read_json(tmp_path / "m.json") == recs


def test_video_ids_are_deterministic_and_distinct(tmp_path):
    a, b = tmp_path / "a b.mp4", tmp_path / "sub" / "a b.mp4"
    assert video_id_for(a) == video_id_for(Path(str(a)))
    assert video_id_for(a) != video_id_for(b)
    assert video_id_for(a).startswith("a_b-")
    weird = Path(b"caf\xe9-<img>.mp4".decode("utf-8", "surrogateescape"))
    assert video_id_for(weird).isascii()
