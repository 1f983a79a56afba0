"""The OpenAI-compatible captioner against a local server that speaks the chat-completions API.

Fast tests use a hand-made output folder whose clips are real footage; the slow ones curate real footage first.
"""
from __future__ import annotations

import itertools
import json
import logging
import re
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from talkset.cli import app
from talkset.curate.captioner import (
    CaptionError,
    _ClipFailure,
    _retry_after_s,
    caption_clips,
    caption_path,
    parse_caption,
)
from talkset.testing import synthetic_manifest

from .openai_server import Behaviour, OpenAIServer

KEY = "sk-test-Zq7xK2vW9pLmN4rT8yB3"  # distinctive: grepped for in everything a run leaves
ENV = "TALKSET_TEST_CAPTION_KEY"
FAST = {"backoff_s": 0.01, "progress": False}


@pytest.fixture
def out(tmp_path, media):
    """An output folder with 4 kept clips (real 224×224 footage, two sources), a rejected one and a
    keypoints file with a known head pose for the first clip."""
    out = tmp_path / "out"
    (out / "clips").mkdir(parents=True)
    (out / "annotations").mkdir()
    records = synthetic_manifest(5, seed=3)
    sources = ["talking/vox_man_tv_224.mp4", "talking/vox_woman_hand_occlusion_224.mp4"]
    for i, rec in enumerate(records):
        rec["id"] = f"clip-{i:04d}"
        rec["video-path"] = f"clips/{rec['id']}.mp4"
        shutil.copy(media / sources[i % 2], out / rec["video-path"])
        rec["metadata"].update(resolution="224x224", duration=5.0, speaker_id=f"spk-{i % 2 + 1:04d}")
        rec["annotations"] = {"keypoints": None, "shot_type": "close-up",
                              "caption": f"A close-up of speaker {i}.", "caption_structured": None}
    np.savez_compressed(out / "annotations/clip-0000.npz",
                        head_pose=np.array([[4.0, -12.0, 1.0]] * 3 + [[np.nan] * 3], np.float32))
    records[0]["annotations"]["keypoints"] = "annotations/clip-0000.npz"
    records[4]["status"], records[4]["reasons"] = "rejected", ["sync: offset 9 frames > 3"]
    (out / "manifest.json").write_text(json.dumps(records))
    return out


@pytest.fixture(autouse=True)
def _restore_logging():
    """The CLI takes over the talkset logger (own handler, no propagation); later tests need caplog back."""
    log = logging.getLogger("talkset")
    saved = log.handlers[:], log.level, log.propagate
    yield
    log.handlers[:], log.level, log.propagate = saved[0], saved[1], saved[2]


@pytest.fixture
def key_env(monkeypatch):
    monkeypatch.setenv(ENV, KEY)
    return ENV


def flat(output: str) -> str:
    """CLI output without the error box's borders and line breaks."""
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", output).split())


def kept_ids(out: Path) -> list[str]:
    return [r["id"] for r in json.loads((out / "manifest.json").read_text()) if r["status"] == "kept"]


def test_captions_carry_the_measured_facts_and_frames(out, key_env):
    with OpenAIServer(Behaviour(key=KEY)) as srv:
        summary = caption_clips(out, base_url=srv.base_url, model="test-vision", api_key_env=key_env,
                                frames=4, **FAST)
    assert summary.failures == {} and summary.captioned == 4 and summary.clips == 4
    assert not caption_path(out, "clip-0004").exists(), "rejected clips are not captioned"
    assert sorted(c.facts["clip_id"] for c in srv.calls) == kept_ids(out)
    for call in srv.calls:
        assert call.status == 200 and call.image_sizes == [(224, 224)] * 4
    first = next(c for c in srv.calls if c.facts["clip_id"] == "clip-0000")
    assert first.facts["head_pose_deg"] == {"pitch": 4.0, "yaw": -12.0, "roll": 1.0}
    assert first.facts["template_caption"] == "A close-up of speaker 0." and first.facts["speaker_id"] == "spk-0001"
    cap = json.loads(caption_path(out, "clip-0001").read_text())
    assert cap["summary"] == "close-up clip clip-0001 of 5.0 s"
    assert cap["visual_style"] == "4 frames of 224x224 px"
    assert cap["model"] == "test-vision" and cap["base_url"] == srv.base_url and cap["frames"] == 4
    assert cap["created"].endswith("+00:00")


def test_frames_differ_across_the_clip(out):
    from talkset.curate.captioner import sample_frames

    jpegs = sample_frames(out / "clips/clip-0000.mp4", 3, max_side=128)
    import cv2

    imgs = [cv2.imdecode(np.frombuffer(j, np.uint8), cv2.IMREAD_GRAYSCALE).astype(float) for j in jpegs]
    assert all(i.shape == (128, 128) for i in imgs)
    assert min(np.abs(a - b).mean() for a, b in itertools.pairwise(imgs)) > 1.0, "the same frame sent twice"


def test_rerun_skips_captioned_clips_and_force_redoes_them(out, key_env):
    with OpenAIServer(Behaviour(key=KEY)) as srv:
        caption_clips(out, base_url=srv.base_url, model="m", api_key_env=key_env, **FAST)
        mtime = caption_path(out, "clip-0002").stat().st_mtime_ns
        again = caption_clips(out, base_url=srv.base_url, model="m", api_key_env=key_env, **FAST)
        assert (again.captioned, again.already, len(srv.calls)) == (0, 4, 4)
        assert caption_path(out, "clip-0002").stat().st_mtime_ns == mtime
        forced = caption_clips(out, base_url=srv.base_url, model="m", api_key_env=key_env, force=True, **FAST)
        assert (forced.captioned, len(srv.calls)) == (4, 8)


def test_500s_are_retried_until_the_answer_comes(out, key_env):
    with OpenAIServer(Behaviour(key=KEY, fail_first=2)) as srv:
        summary = caption_clips(out, base_url=srv.base_url, model="m", api_key_env=key_env, concurrency=1,
                                retries=3, **FAST)
    assert summary.failures == {} and summary.captioned == 4
    assert [c.status for c in srv.calls] == [500, 500, 200, 200, 200, 200]


def test_500s_beyond_the_retries_are_a_reason_and_the_next_run_retries(out, key_env, caplog):
    with OpenAIServer(Behaviour(key=KEY, fail_first=4)) as srv:
        first = caption_clips(out, base_url=srv.base_url, model="m", api_key_env=key_env, concurrency=1,
                              retries=1, **FAST)
        assert len(first.failures) == 2 and first.captioned == 2  # 500, 500 | 500, 500 | 200 | 200
        reasons = list(first.failures.values())
        assert all(r.startswith("HTTP 500 from") and r.endswith("(2 attempts)") for r in reasons), reasons
        assert all("\n" not in r for r in reasons)
        warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert sum("caption failed: HTTP 500" in m for m in warned) == 2
        second = caption_clips(out, base_url=srv.base_url, model="m", api_key_env=key_env, **FAST)
    assert (second.captioned, second.already, second.failures) == (2, 2, {})


def test_429_waits_for_retry_after(out, key_env):
    keep = kept_ids(out)[:1]
    (out / "manifest.json").write_text(json.dumps([r for r in json.loads((out / "manifest.json").read_text())
                                                   if r["id"] in keep]))
    with OpenAIServer(Behaviour(key=KEY, rate_limit_first=1, retry_after_s=1)) as srv:
        summary = caption_clips(out, base_url=srv.base_url, model="m", api_key_env=key_env, **FAST)
    assert summary.captioned == 1 and [c.status for c in srv.calls] == [429, 200]
    assert srv.calls[1].at - srv.calls[0].at >= 0.95, "Retry-After: 1 not honoured (backoff alone is 0.01 s)"


def test_slow_endpoint_gives_timeout_reasons_and_the_run_finishes(out, key_env):
    with OpenAIServer(Behaviour(key=KEY, delay_s=3.0)) as srv:
        t0 = time.perf_counter()
        summary = caption_clips(out, base_url=srv.base_url, model="m", api_key_env=key_env, timeout_s=0.3,
                                retries=1, **FAST)
        elapsed = time.perf_counter() - t0
    assert summary.captioned == 0 and sorted(summary.failures) == kept_ids(out)
    assert all(r.startswith("timed out after 0.3 s") and "(2 attempts)" in r for r in summary.failures.values())
    # Unbounded, each clip's two attempts would wait the server's 3 s each (≥ 6 s); bounded, about 0.6 s.
    assert elapsed < 5.0, f"4 clips × 2 attempts × 0.3 s in 4 threads took {elapsed:.1f} s"
    assert len(srv.calls) == 8
    assert not list((out / "annotations").glob("*.caption.json"))


def test_401_is_not_retried_and_stops_the_run(out, key_env, monkeypatch):
    monkeypatch.setenv(key_env, "sk-wrong-key")
    with OpenAIServer(Behaviour(key=KEY)) as srv:
        summary = caption_clips(out, base_url=srv.base_url, model="m", api_key_env=key_env, concurrency=1,
                                retries=5, **FAST)
    assert len(srv.calls) == 1, "a refused key must not be sent again"
    assert len(summary.failures) == 4 and summary.captioned == 0
    reasons = sorted(summary.failures.values())
    assert reasons[0].startswith("HTTP 401") and "<redacted>" in reasons[0] and "sk-wrong-key" not in reasons[0]
    assert all(r.startswith("not sent: the endpoint refused") for r in reasons[1:])


def test_redirects_are_not_followed_with_the_key(out, key_env):
    with OpenAIServer(Behaviour()) as elsewhere, \
            OpenAIServer(Behaviour(redirect_to=elsewhere.base_url + "/chat/completions")) as srv:
        summary = caption_clips(out, base_url=srv.base_url, model="m", api_key_env=key_env, **FAST)
    assert elsewhere.calls == [] and len(srv.calls) == 4 and summary.captioned == 0
    assert all(r.startswith("HTTP 307") and "redirects are not followed" in r for r in summary.failures.values())


@pytest.mark.parametrize("content", ["fenced", "invalid"])
def test_answers_in_fences_are_read_and_prose_is_a_reason(out, key_env, content):
    with OpenAIServer(Behaviour(key=KEY, content=content)) as srv:
        summary = caption_clips(out, base_url=srv.base_url, model="m", api_key_env=key_env, **FAST)
    if content == "fenced":
        assert summary.captioned == 4 and summary.failures == {}
    else:
        assert summary.captioned == 0 and len(srv.calls) == 4, "a bad answer is final, not retried"
        assert all(r == "the model's answer is not a JSON object: A man talks to the camera."
                   for r in summary.failures.values())


def test_a_broken_clip_is_a_reason_and_the_others_are_captioned(out, key_env):
    (out / "clips/clip-0001.mp4").write_bytes(b"not a video")
    (out / "clips/clip-0002.mp4").unlink()
    with OpenAIServer(Behaviour(key=KEY)) as srv:
        summary = caption_clips(out, base_url=srv.base_url, model="m", api_key_env=key_env, **FAST)
    assert summary.captioned == 2 and sorted(summary.failures) == ["clip-0001", "clip-0002"]
    assert "clip-0001.mp4" in summary.failures["clip-0001"]
    assert summary.failures["clip-0002"].endswith("clip-0002.mp4: clip file missing")


def test_the_key_never_leaves_the_environment_variable(out, key_env, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    texts = []
    # refused (the server echoes the key it got), failing, unreachable, then working
    for behaviour, url in [(Behaviour(key="another-key"), None), (Behaviour(fail_first=99), None),
                           (None, "http://127.0.0.1:9/v1"), (Behaviour(key=KEY), None)]:
        if behaviour is None:
            summary = caption_clips(out, base_url=url, model="m", api_key_env=key_env, retries=1, **FAST)
        else:
            with OpenAIServer(behaviour) as srv:
                summary = caption_clips(out, base_url=srv.base_url, model="m", api_key_env=key_env, retries=1,
                                        **FAST)
        texts += [repr(summary), summary.table(), *summary.failures.values()]
    assert summary.captioned == 4
    assert any("Incorrect API key provided: <redacted>" in t for t in texts), "the echo test did not run"
    result = CliRunner().invoke(app, ["caption", str(out), "--base-url", "http://127.0.0.1:9/v1", "--model", "m",
                                      "--api-key-env", key_env, "--force", "--retries", "0", "-v"],
                                env={key_env: KEY})
    assert result.exit_code == 0 and f"{'failed':<28}4" in result.output
    texts += [result.output, caplog.text, *capsys.readouterr()]
    texts += [p.read_text(errors="replace") for p in out.rglob("*") if p.is_file() and p.suffix != ".mp4"]
    assert len(texts) > 20 and not [t for t in texts if KEY in t]
    assert not [t for t in texts if KEY[5:15] in t], "part of the key leaked"


def test_missing_key_is_an_error_before_any_request(out, monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    with pytest.raises(CaptionError, match=f"environment variable {ENV} is not set"):
        caption_clips(out, base_url="https://api.example.invalid/v1", model="m", api_key_env=ENV, **FAST)
    with pytest.raises(CaptionError, match="must not carry credentials"):
        caption_clips(out, base_url="https://user:pw@api.example.invalid/v1", model="m", api_key_env=ENV)
    with pytest.raises(CaptionError, match="no manifest"):
        caption_clips(out / "nowhere", base_url="http://127.0.0.1:9/v1", model="m", api_key_env=ENV)


def test_a_local_server_may_need_no_key(out, monkeypatch, caplog):
    monkeypatch.delenv(ENV, raising=False)
    with OpenAIServer(Behaviour(key=None)) as srv:
        summary = caption_clips(out, base_url=srv.base_url + "/", model="m", api_key_env=ENV, **FAST)
    assert summary.captioned == 4
    assert any(r.levelno == logging.WARNING and f"{ENV} is not set" in r.getMessage() for r in caplog.records)


def test_parse_caption_finds_the_object():
    def resp(content):
        return {"choices": [{"message": {"content": content}}]}

    obj = {"visual_style": "v", "audio_style": "a", "summary": "s"}
    assert parse_caption(resp(json.dumps(obj))) == obj
    assert parse_caption(resp(f"Sure!\n```json\n{json.dumps(obj)}\n```")) == obj
    assert parse_caption(resp(f"Here: {json.dumps(obj)} done")) == obj
    assert parse_caption(resp([{"type": "text", "text": json.dumps(obj)}])) == obj
    nested = dict(obj, visual_style={"lighting": "soft"})
    assert parse_caption(resp(json.dumps(nested)))["visual_style"] == '{"lighting": "soft"}'
    with pytest.raises(_ClipFailure, match="lacks summary"):
        parse_caption(resp(json.dumps(dict(obj, summary=""))))
    with pytest.raises(_ClipFailure, match="no choices"):
        parse_caption({"error": "x"})


def test_retry_after_accepts_seconds_and_dates():
    import email.utils

    assert _retry_after_s("3") == 3.0 and _retry_after_s(None) is None and _retry_after_s("soon") is None
    later = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 28 <= _retry_after_s(later) <= 30


def test_cli_caption_counts_and_errors(out, key_env):
    runner = CliRunner()
    with OpenAIServer(Behaviour(key=KEY)) as srv:
        args = ["caption", str(out), "--base-url", srv.base_url, "--model", "m", "--api-key-env", key_env,
                "--no-progress"]
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        assert f"{'captioned now':<28}4" in result.output and f"{'failed':<28}0" in result.output
        result = runner.invoke(app, args)
        assert f"{'already captioned':<28}4" in result.output and len(srv.calls) == 4
    result = runner.invoke(app, ["caption", str(out), "--captioner", "clip", "--base-url", "http://x/v1",
                                 "--model", "m"])
    assert result.exit_code == 2 and "unknown captioner 'clip'" in flat(result.output)
    result = runner.invoke(app, ["caption", str(out), "--base-url", "https://api.example.invalid/v1", "--model",
                                 "m", "--api-key-env", "TALKSET_NO_SUCH_VAR"])
    assert result.exit_code == 2 and "TALKSET_NO_SUCH_VAR is not set" in flat(result.output)
    assert "Traceback" not in result.output


@pytest.fixture(scope="module")
def curated(tmp_path_factory, request):
    """A real curate output (keypoints, shot type and template caption by the annotate stage)."""
    from talkset.curate.run import curate

    media = Path(request.getfixturevalue("media"))
    out = tmp_path_factory.mktemp("caption_real") / "out"
    curate([media / "talking/vox_man_tv_224.mp4"], out, workers=1, progress=False)
    return out


@pytest.mark.slow
def test_captions_on_a_real_curated_output_land_in_the_manifest(curated, monkeypatch):
    monkeypatch.setenv(ENV, KEY)
    before = [r for r in json.loads((curated / "manifest.json").read_text()) if r["status"] == "kept"]
    assert before, "the fixture should keep a clip"
    with OpenAIServer(Behaviour(key=KEY)) as srv:
        summary = caption_clips(curated, base_url=srv.base_url, model="m", api_key_env=ENV, progress=False)
    assert summary.failures == {} and summary.captioned == len(before)
    by_id = {c.facts["clip_id"]: c.facts for c in srv.calls}
    after = {r["id"]: r for r in json.loads((curated / "manifest.json").read_text())}
    for rec in before:
        facts = by_id[rec["id"]]
        assert facts["shot_type"] == rec["annotations"]["shot_type"] is not None
        assert facts["template_caption"] == rec["annotations"]["caption"] is not None
        assert facts["sync"]["offset_frames"] == rec["scores"]["sync"]["offset_frames"]
        assert set(facts["head_pose_deg"]) == {"pitch", "yaw", "roll"}  # from the keypoints file
        rel = after[rec["id"]]["annotations"]["caption_structured"]
        assert rel == f"annotations/{rec['id']}.caption.json"
        cap = json.loads((curated / rel).read_text())
        assert cap["summary"] == f"{rec['annotations']['shot_type']} clip {rec['id']} of {rec['metadata']['duration']} s"
    import pyarrow.parquet as pq

    rows = pq.read_table(curated / "manifest.parquet").to_pylist()
    assert {r["id"]: r["annotations"]["caption_structured"] for r in rows if r["status"] == "kept"} == \
        {rid: f"annotations/{rid}.caption.json" for rid in by_id}


@pytest.mark.slow
def test_cli_curate_with_captioner(media, tmp_path, monkeypatch):
    monkeypatch.setenv(ENV, KEY)
    out = tmp_path / "out"
    with OpenAIServer(Behaviour(key=KEY, fail_first=1)) as srv:
        result = CliRunner().invoke(app, ["curate", str(media / "talking/vox_man_tv_224.mp4"), "-o", str(out),
                                          "-w", "1", "--no-progress", "--captioner", "openai", "--base-url",
                                          srv.base_url, "--model", "m", "--api-key-env", ENV])
    assert result.exit_code == 0, result.output
    kept = kept_ids(out)
    assert "clips kept" in result.output and f"{'captioned now':<28}{len(kept)}" in result.output
    assert [c.status for c in srv.calls] == [500] + [200] * len(kept)
    assert all(caption_path(out, k).is_file() for k in kept) and KEY not in result.output


def test_cli_curate_checks_caption_options_before_curating(tmp_path, monkeypatch):
    monkeypatch.delenv("TALKSET_NO_SUCH_VAR", raising=False)
    result = CliRunner().invoke(app, ["curate", str(tmp_path), "-o", str(tmp_path / "out"), "--captioner",
                                      "openai", "--base-url", "https://api.example.invalid/v1", "--model", "m",
                                      "--api-key-env", "TALKSET_NO_SUCH_VAR"])
    assert result.exit_code == 2 and "TALKSET_NO_SUCH_VAR is not set" in flat(result.output)
    assert not (tmp_path / "out").exists(), "nothing may be curated when the caption pass cannot run"
    result = CliRunner().invoke(app, ["curate", str(tmp_path), "-o", str(tmp_path / "out"), "--model", "m"])
    assert result.exit_code == 2 and "need --captioner openai" in flat(result.output)
