"""Report test helpers: headless Chromium through selenium, manifests written by hand, annotation files."""
from __future__ import annotations

import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
HEADLESS_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--window-size=1400,1600")


@pytest.fixture(scope="module")
def chrome():
    """One headless Chromium per module; its console log is readable with ``get_log("browser")``."""
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.skip("Debian's chromium and chromium-driver are not installed (.ci/run installs them)")
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="talkset-chromium-")
    opts = Options()
    opts.binary_location = str(CHROMIUM)
    for flag in HEADLESS_FLAGS:
        opts.add_argument(flag)
    opts.add_argument(f"--user-data-dir={profile}")
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    opts.unhandled_prompt_behavior = "ignore"  # an alert must stay open for the XSS tests to see it
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=opts)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def open_report(driver, index: Path) -> list[dict]:
    """Loads a report and waits for the clip browser; returns the console messages of the load."""
    driver.get_log("browser")  # drop what earlier pages logged
    driver.get(index.resolve().as_uri())
    deadline = time.monotonic() + 10
    while not driver.execute_script("return !!document.querySelector('#count[data-matching]')"):
        if time.monotonic() > deadline:
            raise AssertionError(f"the clip browser of {index} did not render")
        time.sleep(0.05)
    return driver.get_log("browser")


def wait_for(fn, timeout_s: float = 5.0):
    """Polls ``fn`` until it returns something truthy; returns that."""
    deadline = time.monotonic() + timeout_s
    while not (value := fn()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s")
        time.sleep(0.05)
    return value


def errors_in(log: list[dict]) -> list[str]:
    return [e["message"] for e in log if e["level"] == "SEVERE"]


def card_ids(driver) -> list[str]:
    return driver.execute_script(
        "return Array.from(document.querySelectorAll('#clips .card')).map(c => c.getAttribute('data-id'))")


def matching(driver) -> int:
    return int(driver.execute_script("return document.getElementById('count').getAttribute('data-matching')"))


def select(driver, element_id: str, value: str) -> None:
    from selenium.webdriver.support.ui import Select

    Select(driver.find_element("id", element_id)).select_by_value(value)


def write_manifest(out: Path, records: list[dict]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "manifest.json").write_text(json.dumps(records, ensure_ascii=False))


def write_annotations(path: Path, n_frames: int, size: tuple[int, int], fps: float = 25.0) -> dict[str, np.ndarray]:
    """An annotation file following the contract (annot.md), with points that move one pixel per frame so a
    test can tell which frame was drawn; frame i has face point 0 at x = 10 + i. The body's last 3 points and
    the left hand are absent (NaN)."""
    w, h = size
    n = n_frames
    grid = np.stack(np.meshgrid(np.linspace(0.3, 0.7, 22), np.linspace(0.2, 0.6, 22)), -1).reshape(-1, 2)[:478]
    face = np.zeros((n, 478, 3), np.float32)
    face[:, :, 0] = grid[:, 0] * w
    face[:, :, 1] = grid[:, 1] * h
    face[:, 0, 0] = 10 + np.arange(n)
    face[:, 0, 1] = 20
    body = np.full((n, 33, 4), np.nan, np.float32)
    body[:, :30, 0] = np.linspace(0.1, 0.9, 30) * w
    body[:, :30, 1] = 0.8 * h
    body[:, :30, 3] = 0.9
    hands = np.full((n, 2, 21, 3), np.nan, np.float32)
    hands[:, 1, :, 0] = np.linspace(0.6, 0.9, 21) * w
    hands[:, 1, :, 1] = 0.9 * h
    arrays = {"t": np.arange(n) / fps, "size": np.array([w, h], np.int32), "face": face.astype(np.float16),
              "face_box": np.tile(np.array([0.3 * w, 0.2 * h, 0.4 * w, 0.4 * h], np.float32), (n, 1)),
              "head_pose": np.tile(np.array([1.0, -12.0, 3.0], np.float32), (n, 1)),
              "body": body.astype(np.float16), "hands": hands.astype(np.float16),
              "hand_score": np.tile(np.array([0.0, 0.9], np.float16), (n, 1))}
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **arrays)
    return arrays


@pytest.fixture(scope="session")
def rt():
    """These helpers, for test modules (conftest files cannot be imported under --import-mode=importlib)."""
    import sys

    return sys.modules[__name__]
