"""The report of a real curate run over files with hostile names, in headless Chromium.

Two real talking clips are copied under names that are HTML (``<img src=x onerror=alert(1)>.mp4``, and a path
with ``</script>`` in it: a folder ``y<`` holding ``script><img src=y onerror=alert(2)>.mp4``), plus an empty
file; curated once for the module, then re-judged with a quality threshold between the two clips so one is
rejected.
"""
from __future__ import annotations

import json
import shutil
import tomllib

import numpy as np
import pytest

from talkset.curate.config import Config, default_config_text
from talkset.curate.run import curate, filter_manifest
from talkset.report import build_report

# Not marked slow: CI curates the hostile file names for real (about 45 s), the XSS check the issue asks for.

NAMES = ["<img src=x onerror=alert(1)>.mp4", "y</script><img src=y onerror=alert(2)>.mp4"]


@pytest.fixture(scope="module")
def real_report(tmp_path_factory, media):
    root = tmp_path_factory.mktemp("hostile")
    (root / "y<").mkdir()
    shutil.copy(media / "talking" / "vox_man_tv_224.mp4", root / NAMES[0])
    shutil.copy(media / "talking" / "vox_woman_hand_occlusion_224.mp4", root / NAMES[1])
    (root / "broken.mp4").write_bytes(b"")
    out = root / "out"
    curate([root / NAMES[0], root / NAMES[1], root / "broken.mp4"], out, workers=1, progress=False)
    recs = json.loads((out / "manifest.json").read_text())
    quality = sorted(r["scores"]["quality"]["score"] for r in recs if r["type"] == "clip")
    assert len(quality) == 2 and quality[0] < quality[1]
    cfg = tomllib.loads(default_config_text())
    cfg["thresholds"]["quality"]["min_quality"] = (quality[0] + quality[1]) / 2
    summary = filter_manifest(out, Config(cfg))
    recs = json.loads((out / "manifest.json").read_text())
    return out, recs, summary, build_report(out, progress=False)


def test_page_loads_clean_and_funnel_equals_the_manifest(chrome, rt, real_report, tmp_path):
    out, recs, summary, index = real_report
    log = rt.open_report(chrome, index)
    assert rt.errors_in(log) == []
    text = lambda i: int(chrome.find_element("id", i).text)
    assert (text("n-sources"), text("n-candidates"), text("n-kept"), text("n-failed")) == (
        summary.videos, summary.candidates, summary.clips_kept, summary.failed_videos) == (3, 2, 1, 1)
    shown = dict(chrome.execute_script("return Array.from(document.querySelectorAll('#rejections tr')).slice(1)"
                                       ".map(r => [r.cells[0].textContent, parseInt(r.cells[1].textContent)])"))
    assert shown == summary.rejections and "quality" in shown
    shot = tmp_path / "report_real.png"
    chrome.save_screenshot(str(shot))
    print(f"screenshot: {shot}")


def test_nothing_from_a_file_name_runs(chrome, rt, real_report):
    from selenium.common.exceptions import NoAlertPresentException

    _, recs, _, index = real_report
    rt.open_report(chrome, index)
    with pytest.raises(NoAlertPresentException):
        chrome.switch_to.alert.accept()
    assert chrome.execute_script("return document.querySelectorAll('[onerror], img[src=x], img[src=y]').length") == 0
    page = chrome.find_element("tag name", "body").text
    assert NAMES[0] in page and "script><img src=y onerror=alert(2)>.mp4" in page  # shown, as text
    paths = chrome.execute_script("return Array.from(document.querySelectorAll('.src')).map(e => e.title)")
    assert {r["source"]["path"] for r in recs} == set(paths)  # the full paths, </script> included


def test_status_filter_and_overlay_on_real_annotations(chrome, rt, real_report):
    out, recs, _, index = real_report
    rt.open_report(chrome, index)
    for status in ("kept", "rejected", "failed"):
        rt.select(chrome, "status", status)
        assert rt.card_ids(chrome) == [r["id"] for r in recs if r["status"] == status]
    rt.select(chrome, "status", "")
    annotated = [r for r in recs if (r.get("annotations") or {}).get("keypoints")]
    if not annotated:
        pytest.skip("this curate writes no keypoint annotations yet")
    chrome.find_element("id", "overlay").click()
    for r in annotated:
        circles = rt.wait_for(lambda rid=r["id"]: chrome.find_elements(
            "css selector", f'.card[data-id="{rid}"] svg.overlay circle.face'))
        with np.load(out / r["annotations"]["keypoints"]) as z:
            w, h = z["size"]
            faces = np.isfinite(z["face"][:, :, :2].astype(np.float32)).all(axis=2).sum(axis=1)
        assert len(circles) in set(faces.tolist()) and len(circles) > 400
        xy = np.array([[float(c.get_attribute("cx")), float(c.get_attribute("cy"))] for c in circles[:50]])
        assert (xy >= 0).all() and (xy[:, 0] <= w).all() and (xy[:, 1] <= h).all()
