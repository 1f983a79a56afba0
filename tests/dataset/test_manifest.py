import copy
import json
from pathlib import Path

import pytest

from talkset.curate.config import Config
from talkset.curate.thresholds import apply, judge
from talkset.dataset.manifest import ManifestError, load_manifest, video_id_for, write_manifest
from talkset.dataset.records import SCHEMA_VERSION, UNUSABLE, Funnel, Metadata, Reason, Record, Scores, Span, SyncScore

# A record as talkset 0.1 wrote it: reasons are sentences, no schema, a sync score without scorer.
V01 = {
    "id": "v-0001", "video-id": "v", "source": {"path": "/x/v.mp4", "start": 1.5, "end": 6.0}, "type": "clip",
    "video-path": None, "audio-path": None, "description-path": None, "subtitle-path": None,
    "metadata": {"duration": 4.5, "resolution": "640x360", "fps": 25.0, "language": "en", "speaker_id": None,
                 "age_group": None, "gender": "female", "ethnicity": None, "quality_score": 61.2,
                 "video_codec": "h264", "audio_source": "/x/v.mp4", "channel": "a user's column"},
    "scores": {"sync": {"offset_frames": 7, "raw_offset_frames": 9, "confidence": 0.31, "offset_s": 0.28},
               "quality": {"score": 61.2, "face_sharpness": 40.0},
               "head_detail": {"movement": {"avg": 90.0, "min": 80.0}, "face_consistency": 100.0, "samples": 4}},
    "annotations": {"keypoints": None, "shot_type": None, "caption": None},
    "status": "rejected",
    "reasons": ["sync: offset +7 frames, |offset| > 3", "head orientation: avg 0.0 < 60"],
}


def _record():
    return Record(id="v-0001", video_id="v", source=Span("/x/v.mp4", 1.5, 6.0), video_path="clips/v-0001.mp4",
                  metadata=Metadata(duration=4.5), scores=Scores(sync=SyncScore(offset_frames=0)), status="kept")


def test_round_trip_and_talkvid_keys():
    rec = _record()
    d = rec.to_dict()
    assert d["video-id"] == "v" and d["video-path"] == "clips/v-0001.mp4" and d["type"] == "clip"
    assert d["schema"] == SCHEMA_VERSION
    frozen = copy.deepcopy(d)
    assert Record.from_dict(d) == rec
    assert d == frozen  # from_dict leaves its input alone
    json.dumps(d, allow_nan=False)


def test_a_talkset_0_1_record_loads_typed_and_keeps_what_the_model_does_not_know():
    frozen = copy.deepcopy(V01)
    rec = Record.from_dict(V01)
    assert V01 == frozen
    assert rec.reasons == [Reason("sync", "sync: offset +7 frames, |offset| > 3"),
                           Reason("head orientation", "head orientation: avg 0.0 < 60")]
    assert rec.reason_keys() == ["head orientation", "sync"]
    assert rec.scores.sync.offset_frames == 7 and rec.scores.sync.scorer is None
    assert rec.scores.sync.extra == {"raw_offset_frames": 9}
    assert rec.metadata.get("channel") == "a user's column" and rec.metadata.get("gender") == "female"
    again = Record.from_dict(rec.to_dict())
    assert again == rec
    # Nothing of the 0.1 record is lost on the way out: every key and value it had is still there.
    out = rec.to_dict()
    for part in ("metadata", "source"):
        assert out[part] == {**out[part], **V01[part]}
    assert out["scores"]["sync"]["raw_offset_frames"] == 9
    assert out["reasons"] == V01["reasons"]


def test_failed_source_reasons_count_as_unusable_input():
    d = {**V01, "type": "source", "status": "failed", "reasons": ["/x/v.mp4: no video stream"]}
    rec = Record.from_dict(d)
    assert rec.reasons == [Reason(UNUSABLE, "/x/v.mp4: no video stream")]
    f = Funnel.of([rec, Record.from_dict(V01), _record()])
    assert (f.sources, f.failed_sources, f.candidates, f.kept, f.rejected) == (1, 1, 2, 1, 1)
    assert f.rejections == {UNUSABLE: 1, "sync": 1, "head orientation": 1}
    assert f.failures == [("/x/v.mp4", "/x/v.mp4: no video stream")]


def test_judging_a_0_1_record_uses_its_own_confidence_scale():
    rec = apply(Record.from_dict(V01), Config.load().thresholds)
    assert "sync" in rec.reason_keys()
    assert all(isinstance(r, Reason) and r.text.startswith(r.key + ":") for r in rec.reasons)
    assert judge(Scores(), Config.load().thresholds)  # nothing measured: rejected, never a crash


def test_from_dict_rejects_what_is_not_a_record():
    with pytest.raises(ValueError, match="not a record"):
        Record.from_dict({"id": "x"})
    with pytest.raises(ValueError, match="unknown type"):
        Record.from_dict({**V01, "type": "shard"})
    with pytest.raises(ValueError, match="newer"):
        Record.from_dict({**V01, "schema": SCHEMA_VERSION + 1})


def test_manifest_files_round_trip_and_bad_files_are_named(tmp_path):
    recs = [_record(), Record.from_dict(V01)]
    write_manifest(recs, tmp_path)
    assert load_manifest(tmp_path) == recs
    assert load_manifest(tmp_path / "manifest.json") == recs
    import pyarrow.parquet as pq
    assert pq.read_table(tmp_path / "manifest.parquet").num_rows == 2
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "manifest.json").write_text('[{"id": "a"}]')
    with pytest.raises(ManifestError, match=r"bad/manifest.json: not a record"):
        load_manifest(tmp_path / "bad")
    with pytest.raises(ManifestError, match="no manifest"):
        load_manifest(tmp_path / "nowhere")
    (tmp_path / "bad" / "manifest.json").write_text("{")
    with pytest.raises(ManifestError, match="cannot read manifest"):
        load_manifest(tmp_path / "bad")


def test_video_ids_are_deterministic_and_distinct(tmp_path):
    a, b = tmp_path / "a b.mp4", tmp_path / "sub" / "a b.mp4"
    assert video_id_for(a) == video_id_for(Path(str(a)))
    assert video_id_for(a) != video_id_for(b)
    assert video_id_for(a).startswith("a_b-")
    weird = Path(b"caf\xe9-<img>.mp4".decode("utf-8", "surrogateescape"))
    assert video_id_for(weird).isascii()
