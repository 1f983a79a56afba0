"""Per-clip metrics: time alignment, fidelity, LMD centring, sharpness and jitter, on synthetic and real video."""
from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from talkset.bench import metrics
from talkset.bench.metrics import (
    aligned_frames,
    face_landmarks,
    fidelity,
    jitter,
    lmd,
    match_times,
    mouth_landmarks,
    sharpness,
)
from talkset.media.probe import probe

REAL = "generated/real_man_suit_700_vfr.mp4"
FAKE = "generated/fake_wav2lip_from_real_man_suit.mp4"
LOSSLESS = {"qp": "0"}


def write_video(path: Path, frames: Iterable[tuple[np.ndarray, int]], time_base: Fraction, *,
                rate: Fraction | int = 25, options: dict | None = None) -> int:
    """Encodes RGB frames at the given pts ticks with libx264 (streamed); returns the number written."""
    n = 0
    with av.open(str(path), "w", format="mp4") as out:
        vs = None
        for img, pts in frames:
            if vs is None:
                vs = out.add_stream("libx264", rate=rate)
                vs.height, vs.width = img.shape[:2]
                vs.pix_fmt = "yuv420p"
                vs.time_base = time_base
                vs.codec_context.time_base = time_base  # source ticks: VFR timing survives
                vs.codec_context.options = {"preset": "ultrafast", **(options or {"crf": "12"})}
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24").reformat(format="yuv420p")
            frame.pts, frame.time_base = pts, time_base
            out.mux(vs.encode(frame))
            n += 1
        out.mux(vs.encode(None))
    return n


def source_frames(path: Path):
    """(rgb, pts, time from the first frame, time base) of every frame."""
    with av.open(str(path)) as c:
        t0 = None
        for f in c.decode(video=0):
            t0 = f.time if t0 is None else t0
            yield f.to_ndarray(format="rgb24"), f.pts, f.time - t0, f.time_base


def frame_times(path: Path) -> np.ndarray:
    """Each frame's time from the first frame, as the metrics see it."""
    return np.asarray([v.t for v in metrics._views(path, max_side=64)])


def collect(gen) -> tuple[list, int]:
    items = []
    while True:
        try:
            items.append(next(gen))
        except StopIteration as stop:
            return items, stop.value


@pytest.fixture(scope="module")
def faces(media: Path) -> dict[str, metrics.Track]:
    """Face mesh of the real clip and the Wav2Lip fake, computed once (the expensive part)."""
    return {name: face_landmarks(media / name) for name in (REAL, FAKE)}


# --- synthetic, fast ---------------------------------------------------------------------------------------

def test_lip_set_is_mediapipes_outer_and_inner_contour():
    from mediapipe.python.solutions.face_mesh_connections import FACEMESH_LIPS

    assert sorted(metrics.LIPS) == sorted({i for edge in FACEMESH_LIPS for i in edge})
    assert len(metrics.LIPS) == 40 and len(set(metrics.LIPS)) == 40


def test_pairs_by_nearest_time_across_rates_and_sizes(tmp_path):
    # Reference: 10 fps, 1 s, flat frames whose grey level names the frame. Prediction: 25 fps, 1.2 s, twice
    # the size, each frame showing the level of the reference frame nearest in time (250 once past the end).
    levels = [20 + 20 * j for j in range(10)]
    ref, pred = tmp_path / "ref.mp4", tmp_path / "pred.mp4"
    write_video(ref, ((np.full((32, 32, 3), v, np.uint8), j) for j, v in enumerate(levels)), Fraction(1, 10),
                rate=10, options=LOSSLESS)
    nearest = [int(np.floor(0.4 * i + 0.5)) for i in range(30)]
    write_video(pred, ((np.full((64, 64, 3), levels[j] if j < 10 else 250, np.uint8), i)
                       for i, j in enumerate(nearest)), Fraction(1, 25), options=LOSSLESS)

    pairs, unmatched = collect(aligned_frames(pred, ref))
    # The last reference frame (0.9 s) covers up to 0.95 s: prediction frames 0.96 s … 1.16 s are skipped.
    assert len(pairs) == 24 and unmatched == 6
    for i, (t, p, r) in enumerate(pairs):
        assert t == pytest.approx(i / 25, abs=1e-6)
        assert p.shape == r.shape == (32, 32, 3) and p.dtype == r.dtype == np.uint8
        assert abs(float(r.mean()) - levels[nearest[i]]) < 2 and abs(float(p.mean()) - float(r.mean())) < 2
    assert list(match_times(np.arange(30) / 25, np.arange(10) / 10)) == nearest[:24] + [-1] * 6

    half = collect(aligned_frames(pred, ref, size=16))[0]
    assert half[0][1].shape == half[0][2].shape == (16, 16, 3)

    res = fidelity(pred, ref)
    assert res["frames_compared"] == 24 and res["pred_frames_unmatched"] == 6
    assert res["l1"] < 2 and res["ssim"] > 0.99


def test_lmd_is_mean_centred_a_shifted_copy_scores_near_zero(media, tmp_path):
    dx, dy = 8, 6  # even, so chroma shifts with luma
    shift = np.float32([[1, 0, dx], [0, 1, dy]])
    first = []
    for rgb, _, _, _ in source_frames(media / REAL):
        first.append(rgb)
        if len(first) == 15:
            break
    ref, pred = tmp_path / "ref.mp4", tmp_path / "shifted.mp4"
    write_video(ref, ((f, i) for i, f in enumerate(first)), Fraction(1, 25), options=LOSSLESS)
    write_video(pred, ((cv2.warpAffine(f, shift, f.shape[1::-1], borderMode=cv2.BORDER_REPLICATE), i)
                       for i, f in enumerate(first)), Fraction(1, 25), options=LOSSLESS)

    pm, rm = mouth_landmarks(pred), mouth_landmarks(ref)
    res = lmd(pred, ref, pred_mouth=pm, ref_mouth=rm)
    raw = float(np.nanmean(np.linalg.norm(pm[1] - rm[1], axis=-1)))  # the same distance without centring
    assert res["frames"] == 15
    assert raw == pytest.approx(np.hypot(dx, dy), abs=1.5)
    assert res["lmd_px"] < 1.0 and res["lmd_px"] < 0.1 * raw
    assert fidelity(pred, ref)["l1"] > 1


# --- real footage ------------------------------------------------------------------------------------------

def test_real_clip_against_itself_is_perfect(media, faces):
    real = media / REAL
    res = fidelity(real, real)
    n = len(faces[REAL][0])
    assert res["frames_compared"] == n and res["pred_frames_unmatched"] == 0
    assert res["ssim"] == pytest.approx(1.0, abs=1e-6)
    assert res["psnr_capped"] is True and res["psnr"] == metrics.PSNR_CAP_DB
    assert res["l1"] == 0.0
    marks = mouth_landmarks(real, face=faces[REAL])
    d = lmd(real, real, pred_mouth=marks, ref_mouth=marks)
    assert d["lmd_px"] == 0.0 and d["lmd_norm"] == 0.0 and d["frames"] == n


def test_dropped_frames_and_shorter_prediction_are_aligned_by_time(media, tmp_path):
    real = media / REAL
    keep_until = probe(real).duration_s - 2.0
    drop = []

    def frames():
        for rgb, pts, t, _tb in source_frames(real):
            if t >= keep_until:
                return
            # Three consecutive frames from the middle are left out; all others keep their own timestamps.
            if t >= keep_until / 2 and len(drop) < 3:
                drop.append(pts)
                continue
            yield rgb, pts

    with av.open(str(real)) as c:
        time_base = c.streams.video[0].time_base
    pred = tmp_path / "dropped.mp4"
    written = write_video(pred, frames(), time_base, rate=30)
    times = frame_times(pred)
    assert len(drop) == 3 and len(times) == written

    res = fidelity(pred, real)
    assert res["frames_compared"] == written and res["pred_frames_unmatched"] == 0
    assert res["ssim"] > 0.9 and res["psnr"] > 30 and not res["psnr_capped"]
    # Index pairing would compare every frame after the gap with one three frames later; time pairing does not.
    ref_times = frame_times(real)
    idx = match_times(times, ref_times)
    assert np.allclose(ref_times[idx], times, atol=1e-6)
    assert (np.diff(idx) >= 1).all() and (np.diff(idx) == 4).sum() == 1


def test_wav2lip_fake_differs_from_the_real_clip(media, faces):
    real, fake = media / REAL, media / FAKE
    res = fidelity(fake, real)
    assert 0 < res["ssim"] < 1 and np.isfinite(res["psnr"]) and not res["psnr_capped"] and res["l1"] > 0
    assert res["frames_compared"] == len(faces[FAKE][0])
    d = lmd(fake, real, pred_mouth=mouth_landmarks(fake, face=faces[FAKE]),
            ref_mouth=mouth_landmarks(real, face=faces[REAL]))
    assert np.isfinite(d["lmd_px"]) and d["lmd_px"] > 0 and 0 < d["lmd_norm"] < 1
    assert d["frames"] > 0.9 * len(faces[FAKE][0])


def test_jitter_still_image_near_zero_real_clip_not(media, faces, tmp_path):
    img = cv2.cvtColor(cv2.imread(str(media / "images/woman_frontal_624.jpg")), cv2.COLOR_BGR2RGB)
    still = tmp_path / "still.mp4"
    write_video(still, ((img, i) for i in range(20)), Fraction(1, 25), options=LOSSLESS)
    face = face_landmarks(still)
    assert np.isfinite(face[2]).all()
    still_j, real_j = jitter(still, face=face), jitter(media / REAL, face=faces[REAL])
    assert np.isfinite(real_j) and real_j > 0
    assert still_j < 1e-6  # the same frame always gives the same mesh (static mode): exactly 0 here

    blurred = tmp_path / "blurred.mp4"
    write_video(blurred, ((cv2.GaussianBlur(img, (0, 0), 3), i) for i in range(5)), Fraction(1, 25),
                options=LOSSLESS)
    sharp = sharpness(still)
    assert np.isfinite(sharp) and sharpness(blurred) < 0.5 * sharp


def test_the_mesh_box_sharpness_measures_in_is_where_blazeface_puts_the_face(media, tmp_path):
    from talkset.vision.face import FaceDetector, FaceMesher

    img = cv2.cvtColor(cv2.imread(str(media / "images/woman_frontal_624.jpg")), cv2.COLOR_BGR2RGB)
    video = tmp_path / "still_then_blank.mp4"
    write_video(video, [(img, 0), (np.zeros_like(img), 1)], Fraction(1, 25), options=LOSSLESS)
    detector = FaceDetector()
    mesh = metrics.FaceMesh(metrics.FaceFinder(detector), FaceMesher(tracking=False, refine=True))
    face, blank = list(metrics.decode_video(video))
    with pytest.raises(ValueError):
        mesh.box(face)  # not meshed yet
    mesh.process_frame(face)
    box, ref = mesh.box(face), detector(face.rgb(metrics.FULL_RES))[0]
    ix = max(0.0, min(box.x1, ref.x1) - max(box.x0, ref.x0))
    iy = max(0.0, min(box.y1, ref.y1) - max(box.y0, ref.y0))
    assert ix * iy / (box.area + ref.area - ix * iy) > 0.8
    mesh.process_frame(blank)
    assert mesh.box(blank) is None
