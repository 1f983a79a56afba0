import pytest

from talkset.curate.config import Config, ConfigError
from talkset.curate.thresholds import apply, judge
from talkset.dataset.records import Reason, Record, Scores, Span


def test_defaults_carry_designs_numbers():
    c = Config.load()
    assert c.thresholds["head"]["movement_avg"] == 80 and c.thresholds["head"]["orientation_min"] == 30
    assert c.segment["min_clip_s"] == 3.0 and c.segment["max_clip_s"] == 30.0
    assert c.thresholds["sync"]["max_abs_offset_frames"] == 3


def test_user_file_overrides_only_what_it_names(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text("[thresholds.sync]\nmax_abs_offset_frames = 6\n")
    c = Config.load(f)
    assert c.thresholds["sync"]["max_abs_offset_frames"] == 6
    assert c.thresholds["sync"]["min_confidence"] == Config.load().thresholds["sync"]["min_confidence"]


@pytest.mark.parametrize("text, words", [("[thresholds.sync]\nmax_offset = 6\n", "unknown setting"),
                                         ("[segment]\nmin_clip_s = 'long'\n", "must be float"),
                                         ("not toml [", "cannot read")])
def test_bad_config_is_one_line_naming_the_file(tmp_path, text, words):
    f = tmp_path / "bad.toml"
    f.write_text(text)
    with pytest.raises(ConfigError) as e:
        Config.load(f)
    assert words in str(e.value) and str(f) in str(e.value) and "\n" not in str(e.value)


def _scores(offset=0, confidence=0.3, quality=80.0):
    good = {"avg": 100.0, "min": 100.0}
    return Scores.from_dict({"quality": {"score": quality}, "motion": {"track_survival": 90.0, "camera_motion": 1.0},
            "sync": {"offset_frames": offset, "confidence": confidence},
            "head_detail": {k: dict(good) for k in ("movement", "orientation", "completeness", "resolution",
                                                     "rotation")} | {"face_consistency": 100.0}})


def test_judge_names_each_failed_check():
    th = Config.load().thresholds
    assert judge(_scores(), th) == []
    reasons = judge(_scores(offset=9, quality=10.0), th)
    assert Reason("sync", "sync: offset +9 frames, |offset| > 3") in reasons
    assert any(r.key == "quality" and r.text.startswith("quality: 10.0") for r in reasons)


def test_apply_never_changes_scores():
    rec = Record(id="v-0000", video_id="v", source=Span("/x/v.mp4", 0.0, 5.0), scores=_scores(offset=5),
                 status="kept")
    out = apply(rec, Config.load().thresholds)
    assert out.status == "rejected" and out.scores == rec.scores and rec.status == "kept" and not rec.reasons
