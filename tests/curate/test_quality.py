"""Technical quality on a real clip degraded five ways at five levels: the score falls at every level."""
from __future__ import annotations

import os
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from talkset.curate.analyze import analyze
from talkset.curate.config import Config
from talkset.curate.pipeline import Backends
from talkset.curate.scores.quality import face_detail, noise_sigma, quality_score
from talkset.media.probe import probe

CLIP = "calibration/talking/t08_german_news_anchor_512_20s.mp4"  # the clip n09 (heavy blur) was made from


def _frames(path: Path, seconds: float = 4.0) -> tuple[list[np.ndarray], object]:
    with av.open(str(path)) as c:
        stream = c.streams.video[0]
        out = []
        for frame in c.decode(stream):
            if frame.time is not None and frame.time >= seconds:
                break
            out.append(frame.to_ndarray(format="rgb24"))
        return out, stream.average_rate


def _write(path: Path, frames: list[np.ndarray], rate, crf: int = 12) -> Path:
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=rate)
        s.width, s.height, s.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
        s.options = {"crf": str(crf), "preset": "veryfast"}
        for im in frames:
            c.mux(s.encode(av.VideoFrame.from_ndarray(im, format="rgb24")))
        c.mux(s.encode())
    return path


def _quality(path: Path) -> dict:
    """curate's quality score of the whole file (its analysis pass and scorer)."""
    backends, cfg = Backends.get(), Config.load()
    info = probe(path)
    a = analyze(path, rotation_deg=0, fps=float(info.fps), regions=[(0.0, info.duration_s + 1)],
                detector=backends.detector, mesher=backends.mesher, segment_cfg=cfg.segment, analysis_cfg=cfg.analysis)
    bpp = (info.bit_rate or os.path.getsize(path) * 8 / info.duration_s) / (info.width * info.height * float(info.avg_fps))
    return quality_score(a.quality, np.ones(len(a.quality["t"]), bool), bpp)


def _blur(sigma):
    return lambda im: cv2.GaussianBlur(im, (0, 0), sigma)


def _down_up(factor):
    def f(im):
        h, w = im.shape[:2]
        small = cv2.resize(im, (w // factor, h // factor), interpolation=cv2.INTER_AREA)
        return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    return f


def _noise(sigma):
    rng = np.random.default_rng(0)
    return lambda im: np.clip(im + rng.normal(0, sigma, im.shape), 0, 255).astype(np.uint8)


# Five increasing levels of each degradation; the 16x down-and-up is how calibration's n09 (rejected) was made.
DEGRADATIONS = {
    "down_up": [_down_up(k) for k in (2, 4, 8, 16, 32)],
    "blur": [_blur(s) for s in (1, 2, 4, 8, 16)],
    "noise": [_noise(s) for s in (4, 8, 12, 20, 28)],
}
CRFS = (30, 36, 42, 47, 51)


@pytest.fixture(scope="module")
def source(media, tmp_path_factory):
    frames, rate = _frames(media / CLIP)
    folder = tmp_path_factory.mktemp("quality")
    clean = _quality(_write(folder / "clean.mp4", frames, rate))
    return frames, rate, folder, clean


def _falls(scores: list[float]) -> bool:
    return all(b < a for a, b in zip(scores, scores[1:]))


@pytest.mark.parametrize("name", ["down_up", pytest.param("blur", marks=pytest.mark.slow),
                                  pytest.param("noise", marks=pytest.mark.slow)])
def test_quality_falls_at_every_level(source, name):
    frames, rate, folder, clean = source
    scores = [clean["score"]]
    for i, degrade in enumerate(DEGRADATIONS[name]):
        scores.append(_quality(_write(folder / f"{name}{i}.mp4", [degrade(f) for f in frames], rate))["score"])
    assert _falls(scores), scores
    threshold = Config.load().thresholds["quality"]["min_quality"]
    assert clean["score"] >= threshold + 20, clean
    if name == "down_up":
        assert scores[4] < threshold, scores  # 16x, as calibration's rejected n09 was made


@pytest.mark.slow
def test_quality_falls_with_compression(source):
    frames, rate, folder, clean = source
    scores = [clean["score"]] + [_quality(_write(folder / f"crf{c}.mp4", frames, rate, crf=c))["score"] for c in CRFS]
    assert _falls(scores), scores


def test_face_detail_falls_with_the_pixels_a_face_really_has():
    rng = np.random.default_rng(1)
    sharp = cv2.GaussianBlur(rng.uniform(0, 255, (200, 200)).astype(np.float32), (0, 0), 1.0)
    last = face_detail(sharp, 0.0)
    for width in (96, 64, 32, 16):
        small = cv2.resize(sharp, (width, width), interpolation=cv2.INTER_AREA)
        got = face_detail(cv2.resize(small, (200, 200), interpolation=cv2.INTER_CUBIC), 0.0)
        # A texture blown up from `width` pixels keeps under twice that many (a 1 % loss allows some slack).
        assert got < last and got <= 2 * width, (width, got)
        last = got


def test_noise_is_measured_in_grey_levels():
    rng = np.random.default_rng(2)
    flat = np.full((240, 320), 120, np.float32)
    for sigma in (2.0, 8.0):
        assert noise_sigma(np.clip(flat + rng.normal(0, sigma, flat.shape), 0, 255).astype(np.uint8)) == \
            pytest.approx(sigma, rel=0.2)
