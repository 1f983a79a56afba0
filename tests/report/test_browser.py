"""The report in headless Chromium, on synthetic manifests with a real clip file: console, funnel, filters,
pagination, hover preview, keypoint overlay, hostile strings. Fast (no curate run)."""
from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from talkset.dataset.records import Record
from talkset.report import build_report
from talkset.testing import synthetic_manifest

HOSTILE = ["<img src=x onerror=alert(1)>", "</script><script>alert(2)</script>", '"><svg onload=alert(3)>']
SYNC = "sync: offset +9 frames, |offset| > 3"


def _records(media: Path, out: Path, n: int) -> list[dict]:
    """``n`` clip records (every 3rd rejected for sync, every 5th also for quality), three failed sources,
    hostile strings in paths, reasons and metadata; record 0 has a clip file and annotations, record 1
    (rejected) has only its real source."""
    real = media / "talking" / "vox_man_tv_224.mp4"
    recs = synthetic_manifest(n, seed=3)
    for i, r in enumerate(recs):
        reasons = ([SYNC] if i % 3 == 1 else []) + ([f"quality: {HOSTILE[0]} < 40"] if i % 5 == 2 else [])
        r.update(status="rejected" if reasons else "kept", reasons=reasons)
        r["metadata"]["language"] = HOSTILE[i % 3] if i < 3 else r["metadata"]["language"]
        r["metadata"]["speaker_id"] = f"spk-{i % 7:04d}"
    (out / "clips").mkdir(parents=True)
    shutil.copy(real, out / "clips" / f"{recs[0]['id']}.mp4")
    recs[0].update(status="kept", reasons=[])
    recs[0]["video-path"] = f"clips/{recs[0]['id']}.mp4"
    recs[0]["annotations"] = {"keypoints": f"annotations/{recs[0]['id']}.npz", "shot_type": "close-up",
                              "caption": f"A caption with {HOSTILE[1]} in it."}
    recs[1]["source"] = {"path": str(real), "start": 1.0, "end": 4.0}
    recs[2]["source"]["path"] = f"/data/{HOSTILE[0]}.mp4"
    for k, bad in enumerate(HOSTILE):
        path = f"/data/raw/{bad}-{k}.mp4"
        recs.append({"id": f"bad-{k}", "video-id": f"bad-{k}", "type": "source", "status": "failed",
                     "source": {"path": path, "start": 0.0, "end": 0.0}, "metadata": {}, "scores": {},
                     "annotations": {"keypoints": None, "shot_type": None, "caption": None},
                     "video-path": None, "audio-path": None, "reasons": [f"{path}: not a readable media file"]})
    return recs


@pytest.fixture(scope="module")
def synthetic_report(tmp_path_factory, media, rt):
    out = tmp_path_factory.mktemp("synthetic") / "out"
    recs = _records(media, out, 130)
    rt.write_manifest(out, recs)
    arrays = rt.write_annotations(out / recs[0]["annotations"]["keypoints"], n_frames=175, size=(224, 224))
    return out, recs, arrays, build_report(out, progress=False)


def test_loads_without_console_errors_and_funnel_matches(chrome, rt, synthetic_report):
    out, recs, _, index = synthetic_report
    log = rt.open_report(chrome, index)
    assert rt.errors_in(log) == []
    clips = [r for r in recs if r["type"] == "clip"]
    text = lambda i: chrome.find_element("id", i).text
    assert int(text("n-sources")) == len({r["video-id"] for r in recs})
    assert int(text("n-candidates")) == len(clips)
    assert int(text("n-kept")) == sum(r["status"] == "kept" for r in clips)
    assert int(text("n-failed")) == sum(r["status"] == "failed" for r in recs)
    shown = dict(chrome.execute_script(
        "return Array.from(document.querySelectorAll('#rejections tr')).slice(1)"
        ".map(r => [r.cells[0].textContent, parseInt(r.cells[1].textContent)])"))
    want = Counter(k for r in recs if r["status"] != "kept" for k in Record.from_dict(r).reason_keys())
    assert shown == dict(want)
    # The pictures of the first rows load (a thumbnail, a source frame, placeholders); the rest are lazy.
    chrome.execute_script("document.getElementById('clips').scrollIntoView()")
    first = "Array.from(document.querySelectorAll('#clips img')).slice(0, 4)"
    rt.wait_for(lambda: chrome.execute_script(f"return {first}.every(i => i.complete)"))
    assert chrome.execute_script(f"return {first}.map(i => i.naturalWidth > 0)") == [True] * 4


@pytest.mark.parametrize("element, value, expected", [
    ("status", "rejected", lambda r: r["status"] == "rejected"),
    ("status", "failed", lambda r: r["status"] == "failed"),
    ("reason", "quality", lambda r: any(x.startswith("quality:") for x in r["reasons"])),
    ("reason", "sync", lambda r: any(x.startswith("sync:") for x in r["reasons"])),
])
def test_filter_shows_exactly_the_matching_records(chrome, rt, synthetic_report, element, value, expected):
    _, recs, _, index = synthetic_report
    rt.open_report(chrome, index)
    rt.select(chrome, "page-size", "192")
    assert len(rt.card_ids(chrome)) == len(recs)
    rt.select(chrome, element, value)
    want = [r["id"] for r in recs if expected(r)]
    assert 0 < len(want) < len(recs)
    assert rt.matching(chrome) == len(want)
    assert rt.card_ids(chrome) == want


def test_pages_and_search(chrome, rt, synthetic_report):
    _, recs, _, index = synthetic_report
    rt.open_report(chrome, index)
    ids = [r["id"] for r in recs]
    assert rt.card_ids(chrome) == ids[:48]
    chrome.find_element("id", "next").click()
    assert rt.card_ids(chrome) == ids[48:96]
    chrome.find_element("id", "search").send_keys(HOSTILE[0])
    want = [r["id"] for r in recs if any(HOSTILE[0] in s for s in [r["source"]["path"], *r["reasons"],
                                                                    str(r["metadata"].get("language"))])]
    assert rt.card_ids(chrome) == want and len(want) > 3


def test_hover_plays_preview_and_source_frame_thumbnail(chrome, rt, synthetic_report):
    from selenium.webdriver.common.action_chains import ActionChains

    out, recs, _, index = synthetic_report
    rt.open_report(chrome, index)
    for rec in recs[:2]:  # a clip file, and a rejected clip cut from its source
        media = chrome.find_element("css selector", f'.card[data-id="{rec["id"]}"] .media')
        img = media.find_element("tag name", "img")
        assert img.get_attribute("src").endswith(".jpg")
        ActionChains(chrome).move_to_element(media).perform()
        assert img.get_attribute("src").endswith(".webp")
        frames = Image.open(out / "report" / img.get_attribute("src").split("/report/")[1])
        assert frames.n_frames >= 10 and frames.is_animated
        ActionChains(chrome).move_to_element(chrome.find_element("id", "count")).perform()
        assert img.get_attribute("src").endswith(".jpg")
    # The rejected record's thumbnail is the source frame at its middle time (2.5 s), not the clip's.
    thumb = chrome.find_element("css selector", f'.card[data-id="{recs[1]["id"]}"] img').get_attribute("src")
    assert Path(thumb.split("file://")[1]).is_file()


def test_overlay_draws_the_thumbnail_frames_points(chrome, rt, synthetic_report, tmp_path):
    out, recs, arrays, index = synthetic_report
    rt.open_report(chrome, index)
    card = f'.card[data-id="{recs[0]["id"]}"]'
    assert chrome.find_elements("css selector", f"{card} svg.overlay") == []
    chrome.find_element("id", "overlay").click()
    circles = rt.wait_for(lambda: chrome.find_elements("css selector", f"{card} svg.overlay circle"))
    finite = lambda a: int(np.isfinite(a.reshape(-1, a.shape[-1])[:, :2]).all(axis=1).sum())
    mid = int(np.argmin(np.abs(arrays["t"] - 3.5)))
    assert len(circles) == finite(arrays["face"][mid]) + finite(arrays["body"][mid]) + finite(arrays["hands"][mid])
    # The drawn frame is the thumbnail's (the clip's middle, within a frame): face point 0 is at x = 10 + i.
    cx = float(circles[0].get_attribute("cx"))
    assert abs(cx - (10 + mid)) <= 1
    # And it sits on the picture where that pixel is.
    img = chrome.find_element("css selector", f"{card} img")
    dot = chrome.execute_script("const b = arguments[0].getBoundingClientRect(); return [b.x + b.width / 2, "
                                "b.y + b.height / 2]", circles[0])
    box = chrome.execute_script("return arguments[0].getBoundingClientRect().toJSON()", img)
    assert abs(dot[0] - (box["x"] + cx / 224 * box["width"])) < 1.5
    assert abs(dot[1] - (box["y"] + 20 / 224 * box["height"])) < 1.5
    shot = tmp_path / "report_overlay.png"
    chrome.execute_script("arguments[0].scrollIntoView()", img)
    chrome.save_screenshot(str(shot))
    print(f"screenshot: {shot}")
    assert Image.open(shot).size[0] > 0
    chrome.find_element("id", "overlay").click()
    assert chrome.find_elements("css selector", f"{card} svg.overlay") == []


def test_hostile_strings_stay_text(chrome, rt, synthetic_report):
    from selenium.common.exceptions import NoAlertPresentException

    _, recs, _, index = synthetic_report
    log = rt.open_report(chrome, index)
    rt.select(chrome, "page-size", "192")
    with pytest.raises(NoAlertPresentException):
        chrome.switch_to.alert.accept()
    assert rt.errors_in(log + chrome.get_log("browser")) == []
    assert chrome.execute_script("return document.querySelectorAll('[onerror], [onload], img[src=x], "
                                 "script:not([src]):not([type])').length") == 0
    assert len(chrome.find_elements("css selector", "script")) == 2  # the data block and report.js
    page = chrome.find_element("tag name", "body").text
    for bad in HOSTILE:
        assert bad in page  # shown literally (a caption, a language, a path)
    assert f"A caption with {HOSTILE[1]} in it." in page
