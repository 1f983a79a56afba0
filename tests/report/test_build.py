"""build_report without a browser: funnel counts, embedding, caching, what a rerun may touch, the CLI."""
from __future__ import annotations

import json
import re
import shutil
import time

import pytest
from typer.testing import CliRunner

from talkset.cli import app
from talkset.curate.config import Config
from talkset.curate.run import merge
from talkset.dataset.manifest import load_manifest
from talkset.dataset.records import UNUSABLE, Funnel, Reason, Record, Span
from talkset.report import ReportError, build_report
from talkset.report import build as build_mod
from talkset.report.build import embed_json
from talkset.run.store import OutputStore
from talkset.testing import synthetic_manifest, synthetic_part


def _data(index) -> dict:
    html = index.read_text(encoding="utf-8")
    m = re.search(r'<script type="application/json" id="talkset-data">(.*?)</script>', html, re.DOTALL)
    return json.loads(m.group(1))


def test_funnel_counts_like_curates_summary(tmp_path):
    store = OutputStore(tmp_path / "out")
    store.create()
    parts = [synthetic_part(v, 1 + v % 4, seed=7) for v in range(25)]
    bad = Record(id="bad-1", video_id="bad-1", type="source", status="failed", source=Span("/x/bad.mp4", 0, 0),
                 reasons=[Reason(UNUSABLE, "/x/bad.mp4: empty file (0 bytes)")]).to_dict()
    parts.append({"video_id": "bad-1", "path": "/x/bad.mp4", "duration": 0.0, "records": [bad]})
    for part in parts:
        (store.parts / f"{part['video_id']}.json").write_text(json.dumps(part))
        (store.done / part["video_id"]).touch()
    summary = merge(store, Config.load())
    f = Funnel.of(load_manifest(store.root))
    assert (f.sources, f.failed_sources, f.candidates, f.kept) == (summary.videos, summary.failed_videos,
                                                                     summary.candidates, summary.clips_kept)
    assert f.rejections == summary.rejections and len(f.rejections) >= 3
    assert f.failures == [("/x/bad.mp4", "/x/bad.mp4: empty file (0 bytes)")]


def test_embedded_json_cannot_close_its_script_element():
    text = embed_json({"a": "</script><script>alert(1)</script>", "b": "<!-- x & y -->"})
    assert "<" not in text and ">" not in text and "&" not in text
    assert json.loads(text) == {"a": "</script><script>alert(1)</script>", "b": "<!-- x & y -->"}


def _out_with_clips(tmp_path, media, n=6):
    """A manifest of ``n`` kept records; the first two have a real clip file."""
    out = tmp_path / "out"
    recs = synthetic_manifest(n, seed=1)
    (out / "clips").mkdir(parents=True)
    for r in recs[:2]:
        shutil.copy(media / "talking" / "vox_man_tv_224.mp4", out / "clips" / f"{r['id']}.mp4")
        r["video-path"] = f"clips/{r['id']}.mp4"
    (out / "manifest.json").write_text(json.dumps(recs))
    return out, recs


def test_report_tolerates_missing_annotations_and_files(tmp_path, media):
    out, recs = _out_with_clips(tmp_path, media)
    recs[3]["annotations"] = None
    recs[4]["metadata"] = {}
    recs[5]["video-path"] = "clips/missing.mp4"
    (out / "manifest.json").write_text(json.dumps(recs))
    index = build_report(out, progress=False)
    rows = {r["id"]: r for r in _data(index)["clips"]}
    assert [bool(rows[r["id"]]["thumb"]) for r in recs] == [True, True, False, False, False, False]
    assert rows[recs[5]["id"]]["note"] == "no clip file and the source is not found"
    assert all(rows[r["id"]]["kp"] is None and rows[r["id"]]["shot"] is None for r in recs)
    for r in recs[:2]:
        assert (index.parent / rows[r["id"]]["thumb"]).stat().st_size > 1000
        assert (index.parent / rows[r["id"]]["preview"]).stat().st_size > 1000


def test_rerun_reuses_cached_pictures_and_makes_only_new_ones(tmp_path, media, monkeypatch):
    out, recs = _out_with_clips(tmp_path, media)
    index = build_report(out, progress=False)
    thumbs = sorted((index.parent / "media").glob("*.jpg"))
    stamps = [p.stat().st_mtime_ns for p in thumbs]
    calls = []
    real_grab = build_mod.grab
    monkeypatch.setattr(build_mod, "grab", lambda *a, **k: calls.append(a[0]) or real_grab(*a, **k))
    build_report(out, progress=False)
    assert calls == [] and [p.stat().st_mtime_ns for p in thumbs] == stamps
    # One more clip: only it is decoded.
    extra = synthetic_manifest(7, seed=1)[6]
    shutil.copy(media / "talking" / "vox_man_tv_224.mp4", out / "clips" / f"{extra['id']}.mp4")
    extra["video-path"] = f"clips/{extra['id']}.mp4"
    (out / "manifest.json").write_text(json.dumps(recs + [extra]))
    build_report(out, progress=False)
    assert [c.name for c in calls] == [f"{extra['id']}.mp4"]
    # Without previews the preview files go (the report made them), the thumbnails stay.
    build_report(out, previews=False, progress=False)
    assert list((index.parent / "media").glob("*.webp")) == []
    assert len(list((index.parent / "media").glob("*.jpg"))) == 3
    assert all(r["preview"] is None for r in _data(index)["clips"])


def test_rerun_never_destroys_a_users_file(tmp_path, media):
    out, recs = _out_with_clips(tmp_path, media, n=3)
    index = build_report(out, progress=False)
    index.write_text("my notes")  # the user edited the page
    mine = index.parent / "media" / "notes.txt"
    mine.write_text("keep me")
    build_report(out, progress=False)
    backups = list(index.parent.glob("index.html.*.bak"))
    assert [b.read_text() for b in backups] == ["my notes"]
    assert mine.read_text() == "keep me"
    assert "talkset-data" in index.read_text()
    # Dropping a record removes its pictures (made by the report), not the user's file.
    (out / "manifest.json").write_text(json.dumps(recs[1:]))
    build_report(out, progress=False)
    assert len(list((index.parent / "media").glob("*.jpg"))) == 1 and mine.exists()


def test_refuses_a_folder_that_is_not_a_report(tmp_path, media):
    out, _ = _out_with_clips(tmp_path, media, n=2)
    dest = tmp_path / "docs"
    dest.mkdir()
    (dest / "index.html").write_text("<p>someone's page</p>")
    with pytest.raises(ReportError, match=r"docs: exists and is not a talkset report"):
        build_report(out, dest, progress=False)
    assert (dest / "index.html").read_text() == "<p>someone's page</p>"


def test_bad_manifest_is_one_line(tmp_path):
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(ReportError, match=r"manifest.json: cannot read manifest"):
        build_report(tmp_path, progress=False)
    (tmp_path / "manifest.json").write_text('{"a": 1}')
    with pytest.raises(ReportError, match=r"manifest.json: not a manifest"):
        build_report(tmp_path, progress=False)


def test_cli(tmp_path, media):
    out, _ = _out_with_clips(tmp_path, media, n=2)
    runner = CliRunner()
    res = runner.invoke(app, ["report", str(out), "--no-progress"])
    assert res.exit_code == 0, res.output
    assert res.output.strip() == f"report: {out / 'report' / 'index.html'}"
    res = runner.invoke(app, ["report", str(out), "-o", str(tmp_path / "r2"), "--no-previews", "--no-progress"])
    assert res.exit_code == 0 and not list((tmp_path / "r2" / "media").glob("*.webp"))
    res = runner.invoke(app, ["report", str(tmp_path / "nothing")])
    assert res.exit_code == 2 and "no manifest.json" in re.sub(r"[\s│]+", " ", res.output)
    res = runner.invoke(app, ["report", str(out), "-o", str(out / "clips")])
    assert res.exit_code == 1 and "is not a talkset report" in res.output


def test_a_thousand_records_render_one_page(tmp_path, chrome, rt):
    """Scale: 1 200 records without pictures build in seconds and the page shows one page of cards."""
    out = tmp_path / "big"
    rt.write_manifest(out, synthetic_manifest(1200))
    started = time.perf_counter()
    index = build_report(out, previews=False, progress=False)
    assert time.perf_counter() - started < 20
    log = rt.open_report(chrome, index)
    assert rt.errors_in(log) == []
    assert rt.matching(chrome) == 1200 and len(rt.card_ids(chrome)) == 48
    assert chrome.find_element("id", "page").text == "page 1 of 25"


def test_rejected_clip_without_file_shows_its_source_frame(tmp_path, media):
    """The thumbnail of a record with no clip file is the source's frame at the span's middle (2.5 s here)."""
    import av
    import numpy as np
    from PIL import Image

    src = media / "talking" / "vox_woman_hand_occlusion_224.mp4"  # the head turns: frames differ over time
    rec = synthetic_manifest(1)[0]
    rec.update(status="rejected", reasons=["quality: 10 < 40"], source={"path": str(src), "start": 1.0, "end": 4.0})
    (tmp_path / "manifest.json").write_text(json.dumps([rec]))
    index = build_report(tmp_path, progress=False)
    thumb = np.asarray(Image.open(index.parent / _data(index)["clips"][0]["thumb"]).convert("L"), dtype=float)
    with av.open(str(src)) as c:
        frames = {round(f.time, 2): f.to_ndarray(format="gray").astype(float) for f in c.decode(video=0)}
    diff = {t: np.abs(g - thumb).mean() for t, g in frames.items() if g.shape == thumb.shape}
    best = min(diff, key=diff.get)
    assert abs(best - 2.5) <= 0.04 and diff[best] < 3 < diff[min(diff, key=lambda t: abs(t - 1.0))]
