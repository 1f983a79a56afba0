"""The single pass of ``bench eval`` gives what the per-metric functions give, each of which decodes and meshes
its video on its own: one decode per video changes no number."""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from talkset.audio.io import load_audio
from talkset.bench import metrics
from talkset.bench.clip_pass import Backends, ReferenceCache, score_pair
from talkset.bench.identity import identity_similarity
from talkset.bench.scoring import _first_frame_rgb, _Scorers, score_clip
from talkset.bench.sync import weightfree_sync
from talkset.media.probe import probe
from talkset.testing import write_rgb_video
from talkset.vision.face import FaceBox, FaceDetector

REAL = "generated/real_man_suit_700_vfr.mp4"   # variable frame rate (30 fps, 22.1 on average)
FAKE = "generated/fake_wav2lip_from_real_man_suit.mp4"  # 22.17 fps


def head(src: Path, dest: Path, seconds: float) -> Path:
    """The first ``seconds`` of ``src`` re-encoded with its own timestamps (VFR timing survives), no audio."""
    frames, pts = [], []
    with av.open(str(src)) as c:
        stream = c.streams.video[0]
        tb = stream.time_base
        for f in c.decode(stream):
            if f.time >= seconds:
                break
            frames.append(f.to_ndarray(format="rgb24"))
            pts.append(f.pts)
    write_rgb_video(dest, frames, fps=30, pts=pts, time_base=Fraction(tb.numerator, tb.denominator))
    return dest


def assert_tracks_equal(a: metrics.Track, b: metrics.Track) -> None:
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)


def check_pass(pred: Path, ref: Path, backends: Backends) -> None:
    """score_pair against each metric's own function."""
    shared = score_pair(pred, ref, probe(pred), probe(ref), backends)
    assert shared.fidelity == metrics.fidelity(pred, ref)
    assert shared.fidelity["frames_compared"] > 20
    assert_tracks_equal(shared.pred_face.track, metrics.face_landmarks(pred))
    assert_tracks_equal(shared.ref_face.track, metrics.face_landmarks(ref))
    assert shared.sharpness == metrics.sharpness(pred) and np.isfinite(shared.sharpness)
    assert shared.identity == identity_similarity(_first_frame_rgb(ref), pred)
    assert shared.identity["frames"] > 0


def test_a_clip_row_equals_the_per_metric_functions(media, tmp_path):
    """The first 2.5 s of the Wav2Lip fake against the first 2.5 s of its real clip; the fake has no audio of
    its own here, so both are scored against the real clip's audio (as bench eval does)."""
    pred, ref = head(media / FAKE, tmp_path / "fake.mp4", 2.5), head(media / REAL, tmp_path / "real.mp4", 2.5)
    row = score_clip(pred, ref, media / REAL, _Scorers(None))

    fid = metrics.fidelity(pred, ref)
    assert (row["ssim"], row["psnr"], row["l1"], row["frames_compared"]) == (
        fid["ssim"], fid["psnr"], fid["l1"], fid["frames_compared"])
    pred_face, ref_face = metrics.face_landmarks(pred), metrics.face_landmarks(ref)
    lmd = metrics.lmd(pred, ref, pred_mouth=metrics.mouth_landmarks(pred, face=pred_face),
                      ref_mouth=metrics.mouth_landmarks(ref, face=ref_face))
    assert (row["lmd_px"], row["lmd_norm"]) == (lmd["lmd_px"], lmd["lmd_norm"]) and lmd["frames"] > 40
    assert row["jitter"] == metrics.jitter(pred, face=pred_face)
    assert row["sharpness"] == metrics.sharpness(pred)
    ident = identity_similarity(_first_frame_rgb(ref), pred)
    assert row["identity_similarity"] == ident["mean_cosine_similarity"] and ident["frames"] > 5
    audio = load_audio(media / REAL)
    sync, ref_sync = weightfree_sync(pred, audio), weightfree_sync(ref, audio)
    assert row["sync_confidence"] == sync["confidence"] is not None
    assert row["sync_offset_frames"] == sync["offset_frames"]
    assert row["sync_offset_vs_reference"] == round((sync["offset_s"] - ref_sync["offset_s"]) * float(probe(pred).fps))


@pytest.mark.slow
def test_the_pass_equals_the_per_metric_functions_both_ways_with_models_reused(media):
    backends = Backends.create()
    check_pass(media / FAKE, media / REAL, backends)
    # Swapped (now the reference has the higher frame rate), with the same models: nothing carries over.
    check_pass(media / REAL, media / FAKE, backends)


def test_paired_views_feed_every_reference_frame_once_in_order(tmp_path):
    # Reference 10 fps for 1 s, prediction 25 fps for 0.4 s: the reference outlasts it and is read to its end.
    ref, pred = tmp_path / "ref.mp4", tmp_path / "pred.mp4"
    write_rgb_video(ref, [np.full((32, 32, 3), 20 * j, np.uint8) for j in range(10)], fps=10)
    write_rgb_video(pred, [np.zeros((32, 32, 3), np.uint8)] * 10, fps=25)

    def streams():
        return metrics.timed_views(metrics.decode_video(pred)), metrics.timed_views(metrics.decode_video(ref))

    seen: list[int] = []
    pairs = list(metrics.paired_views(*streams(), on_ref=lambda v: seen.append(v.index)))
    assert seen == list(range(10))
    assert [r.index for _, _, r in pairs] == list(metrics.match_times(np.arange(10) / 25, np.arange(10) / 10))
    assert [t for t, _, _ in pairs] == pytest.approx(np.arange(10) / 25, abs=1e-6)
    assert len(list(metrics.paired_views(*streams()))) == 10  # the same pairs without a consumer


def test_the_pass_detects_faces_only_to_place_the_mesh_and_for_identity(media, tmp_path):
    """Sharpness measures in the mesh's box and identity samples every 0.4 s, so the detector runs on a few
    frames, not on every prediction frame as it did when sharpness found its own faces."""
    pred, ref = head(media / FAKE, tmp_path / "fake.mp4", 1.0), head(media / REAL, tmp_path / "real.mp4", 1.0)
    backends = Backends.create()
    backends.detector = detector = CountingDetector()
    shared = score_pair(pred, ref, probe(pred), probe(ref), backends)
    n = len(shared.pred_face.t)
    assert n > 20 and np.isfinite(shared.sharpness) and shared.identity is not None
    assert shared.identity["frames"] == 3
    assert detector.calls <= 2 * (n // 10 + 1) + 3  # the mesh's every 10 frames, both streams, + identity's


class CountingDetector(FaceDetector):
    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def __call__(self, rgb: np.ndarray) -> list[FaceBox]:
        self.calls += 1
        return super().__call__(rgb)


def test_a_reference_is_measured_once_for_several_predictions(media, tmp_path):
    """Two models against one reference with a shared cache: the second row equals a fresh evaluation's, and
    the reference's mesh, portrait and sync came from the cache."""
    ref = head(media / REAL, tmp_path / "real.mp4", 1.0)
    preds = [head(media / FAKE, tmp_path / "wav2lip.mp4", 1.0),
             head(media / "generated/fake_retalking_from_real_man_suit.mp4", tmp_path / "retalking.mp4", 1.0)]
    cache = ReferenceCache()
    scorers = _Scorers(None, cache)
    rows = [score_clip(p, ref, media / REAL, scorers) for p in preds]
    assert cache.hits == 2  # the second prediction: the pass's reference side and the reference's sync
    np.testing.assert_equal(rows[1], score_clip(preds[1], ref, media / REAL, _Scorers(None)))
    assert rows[0]["lmd_px"] != rows[1]["lmd_px"]  # two different predictions were scored
