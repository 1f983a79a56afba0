"""Motion from a driving video: a real speaker's mouth, eyes, brows and head, measured for a portrait.

The face mesh runs on every frame of the driving video (``talkset.vision.kps.mesh_video``). Expression is
measured in the driving face's own frame (x along the eyes, unit D = outer-eye-corner distance) and normalised by
the driving face's own statistics over the video, so a closed mouth maps to jaw 0 whoever speaks:

* jaw: inner-lip gap above the video's 5th percentile (lips touching), in units of the gap the portrait rig
  opens at jaw 1;
* lip_width / lip_round: mouth-corner distance against its median over the frames with the mouth nearly closed;
  a wider mouth spreads (lip_width > 0), a narrower one rounds (lip_round), as in speech;
* blink: eye aspect ratio (lid gap / eye width) against its median (eyes are open most of the time);
* brow: brow-to-eye distance above its median; gaze: iris position in the eye, relative to its median;
* head: pitch, yaw, roll (``talkset.vision.face.head_pose``).

Head placement follows V-Express's retarget strategies on its keypoints (``retarget_kps``; tencent-ailab/V-Express,
``inference.py`` and ``pipelines/utils.py``), with upstream's bug fixed: its search for the driving frame closest
to the portrait updates ``ratio_delta = tgt_ratio`` where the difference ``|tgt_ratio - ref_ratio|`` is needed, so
after the first frame it keeps any later frame whose difference is below the previous frame's *ratio* (about 1):
in practice one of the last frames, not the closest one.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np

from talkset.animate.track import MotionTrack
from talkset.errors import TalksetError
from talkset.vision.face import (
    EYE_OUTER_L,
    EYE_OUTER_R,
    INNER_LIP_BOTTOM,
    INNER_LIP_TOP,
    MOUTH_CORNER_L,
    MOUTH_CORNER_R,
    head_pose,
)
from talkset.vision.kps import (
    KPS_SIZE,
    MeshTrack,
    fill_missing,
    kps_from_landmarks,
    mesh_video,
)

log = logging.getLogger(__name__)

STRATEGIES = ("fix_face", "no_retarget", "offset_retarget", "naive_retarget")

# What the portrait rig (talkset.animate.rig) does at 1, in D: jaw=1 opens the inner lips by JAW_TRAVEL plus
# UPPER_LIP_LIFT; lip_width=1 moves each corner out by SPREAD; lip_round=1 pulls each corner in by ROUND_IN.
JAW_GAP_D = 0.36
SPREAD_D = 0.10
ROUND_IN_D = 0.13
BROW_RAISE_D = 0.07
CLOSED_EYE_FRACTION = 0.25  # eye aspect ratio of a closed eye, as a fraction of the open one
EYE_START = 0.8  # ... and where closing starts
CLOSED_MOUTH_JAW = 0.15  # frames below this jaw give the neutral mouth width

# Subject's left eye first (the MotionTrack and rig order): (outer corner, inner corner, upper lid, lower lid).
EYES = ((263, 362, (386, 385, 387), (374, 380, 373)), (33, 133, (159, 158, 160), (145, 153, 144)))
IRIS_CENTRE = (473, 468)
BROWS = ((336, 296, 334, 293, 300), (107, 66, 105, 63, 70))  # subject's left, right
CHEEK_R, CHEEK_L = 234, 454  # the rig's face width: cheek to cheek


class DrivingError(TalksetError, ValueError):
    """A driving video that cannot drive; the message is one line naming the file and why."""


def compute_ratio(kps: np.ndarray) -> np.ndarray:
    """V-Express's pose cue: distance left eye–nose over right eye–nose, for (3, 2) or (n, 3, 2) keypoints."""
    k = np.asarray(kps, np.float64)
    return np.linalg.norm(k[..., 0, :] - k[..., 2, :], axis=-1) / (
        np.linalg.norm(k[..., 1, :] - k[..., 2, :], axis=-1) + 1e-6)


def closest_frame(ref_kps: np.ndarray, kps_seq: np.ndarray) -> int:
    """Index of the driving frame whose ``compute_ratio`` is nearest the reference's (the first on ties).

    This is what upstream's ``retarget_kps`` means to pick; its loop tracks the wrong running minimum.
    """
    return int(np.argmin(np.abs(compute_ratio(kps_seq) - compute_ratio(ref_kps))))


def _face_size(kps: np.ndarray) -> tuple[float, float]:
    """(eye distance, nose-to-eye-line distance) of (3, 2) keypoints, as upstream's ``get_face_size``."""
    a, b, c = np.asarray(kps, np.float64)
    ab = b - a
    t = np.clip(np.dot(c - a, ab) / max(np.dot(ab, ab), 1e-12), 0.0, 1.0)
    return float(np.linalg.norm(ab)), float(np.linalg.norm(c - (a + t * ab)))


def retarget_kps(ref_kps: np.ndarray, kps_seq: np.ndarray, strategy: str) -> np.ndarray:
    """A driving keypoint sequence placed on the reference face, by V-Express's four strategies.

    The driving frame ``r = closest_frame(ref_kps, kps_seq)`` anchors the relative strategies. Translation is
    that of the keypoints' centroid.

    * ``fix_face``: the reference keypoints on every frame.
    * ``no_retarget``: the driving keypoints as they are.
    * ``offset_retarget``: the reference keypoints moved by the driving centroid's motion since frame r.
      (Upstream moves them by *minus half* the nose's motion since frame 0, a choice we do not copy.)
    * ``naive_retarget``: the driving keypoints scaled per axis by the reference/frame-r face size (upstream's
      ``get_rescale_params``), then moved so frame r's centroid sits on the reference's (upstream aligns
      frame 0's nose).

    Args:
        ref_kps: (3, 2) keypoints of the reference (portrait), pixels of the square kps frame.
        kps_seq: (n, 3, 2) driving keypoints in the same frame.
        strategy: one of ``STRATEGIES``.

    Returns:
        (n, 3, 2) float32 keypoints.
    """
    ref = np.asarray(ref_kps, np.float64).reshape(3, 2)
    seq = np.asarray(kps_seq, np.float64).reshape(-1, 3, 2)
    if strategy == "fix_face":
        out = np.broadcast_to(ref, seq.shape)
    elif strategy == "no_retarget":
        out = seq
    elif strategy in ("offset_retarget", "naive_retarget"):
        r = closest_frame(ref, seq)
        centre = seq.mean(axis=1, keepdims=True)
        if strategy == "offset_retarget":
            out = ref + (centre - centre[r])
        else:
            (rw, rh), (tw, th) = _face_size(ref), _face_size(seq[r])
            s = np.array([rw / max(tw, 1e-6), rh / max(th, 1e-6)])
            out = ref.mean(axis=0) + (seq - centre[r]) * s
    else:
        raise ValueError(f"unknown retarget strategy {strategy!r} (choose one of {', '.join(STRATEGIES)})")
    return np.array(out, np.float32)


def _eye_frame(lm: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """(ex, ey, D): unit vectors along the eyes and down the face, and the outer-eye-corner distance, pixels."""
    ex = lm[EYE_OUTER_L, :2] - lm[EYE_OUTER_R, :2]
    d = float(np.linalg.norm(ex))
    ex = ex / max(d, 1e-9)
    return ex, np.array([-ex[1], ex[0]]), d


def _raw_features(lm: np.ndarray) -> np.ndarray:
    """Per-frame measures in units of D along the face's own axes (roll removed).

    Returns: [lip gap, mouth width, EAR left, EAR right, brow left, brow right, gaze x, gaze y, 3D eye distance]
    (the last in pixels).
    """
    ex, ey, d = _eye_frame(lm)
    p = lm[:, :2]
    gap = np.dot(p[INNER_LIP_BOTTOM] - p[INNER_LIP_TOP], ey) / d
    width = np.dot(p[MOUTH_CORNER_L] - p[MOUTH_CORNER_R], ex) / d
    ears, brows, gx, gy = [], [], [], []
    for (outer, inner, upper, lower), iris, brow in zip(EYES, IRIS_CENTRE, BROWS):
        eye_w = abs(np.dot(p[outer] - p[inner], ex))
        lid = np.mean([np.dot(p[lo] - p[up], ey) for up, lo in zip(upper, lower)])
        ears.append(lid / max(eye_w, 1e-9))
        centre = (p[outer] + p[inner]) / 2
        eye_line = np.dot(centre, ey)
        brows.append((eye_line - np.mean(p[list(brow)] @ ey)) / d)
        gx.append(np.dot(p[iris] - centre, ex) / max(eye_w / 2, 1e-9))
        gy.append(np.dot(p[iris] - (p[list(upper)].mean(0) + p[list(lower)].mean(0)) / 2, ey) / max(eye_w / 2, 1e-9))
    size3d = float(np.linalg.norm(lm[EYE_OUTER_L] - lm[EYE_OUTER_R]))
    return np.array([gap, width, *ears, *brows, np.mean(gx), np.mean(gy), size3d])


def expression(features: np.ndarray) -> dict[str, np.ndarray]:
    """MotionTrack expression fields from ``_raw_features`` rows of a whole video (its own neutral statistics)."""
    gap, width, ear, brow, gaze = features[:, 0], features[:, 1], features[:, 2:4], features[:, 4:6], features[:, 6:8]
    jaw = np.clip((gap - np.percentile(gap, 5)) / JAW_GAP_D, 0.0, 1.0)
    closed = jaw < CLOSED_MOUTH_JAW
    neutral_width = np.median(width[closed]) if closed.sum() >= 5 else np.median(width)
    dw = (width - neutral_width) / 2  # per corner
    ear_open = np.median(ear, axis=0)
    # Lids lowered a little (looking down, smiling) are not a blink: closure counts below EYE_START of open.
    blink = np.clip((EYE_START * ear_open - ear) / (ear_open * (EYE_START - CLOSED_EYE_FRACTION)), 0.0, 1.0)
    # People blink with both eyes; one eye reading "closed" alone is mostly mesh noise on a small or turned
    # face (one eye of a VoxCeleb face read closed in 13% of frames), so both take the lesser closure.
    blink = np.repeat(blink.min(axis=1, keepdims=True), 2, axis=1)
    return {"jaw": jaw, "lip_width": np.clip(dw / SPREAD_D, 0.0, 1.0), "lip_round": np.clip(-dw / ROUND_IN_D, 0.0, 1.0),
            "blink": blink, "brow": np.clip((brow - np.median(brow, axis=0)).mean(axis=1) / BROW_RAISE_D, 0.0, 1.0),
            "gaze": np.clip(gaze - np.median(gaze, axis=0), -1.0, 1.0)}


def _resample(times: np.ndarray, values: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Linear interpolation of each column of ``values`` (n, ...) from ``times`` onto ``grid`` (held at ends)."""
    flat = values.reshape(len(values), -1)
    out = np.stack([np.interp(grid, times, flat[:, j]) for j in range(flat.shape[1])], axis=1)
    return out.reshape((len(grid),) + values.shape[1:])


def _smooth(x: np.ndarray, width: int = 3) -> np.ndarray:
    """Centred moving average along axis 0 (edges held): takes the mesh's frame-to-frame jitter off the head."""
    if len(x) < width:
        return x
    pad = np.pad(x, [(width // 2, width // 2)] + [(0, 0)] * (x.ndim - 1), mode="edge")
    return np.stack([pad[i:i + len(x)] for i in range(width)]).mean(axis=0)


def placement(drv_kps: np.ndarray, drv_size: np.ndarray, drv_pose: np.ndarray, portrait_landmarks: np.ndarray,
              portrait_size: tuple[int, int], strategy: str, kps_size: int = KPS_SIZE
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Head offset, scale and rotation of each frame relative to the portrait, by a retarget strategy.

    Offsets follow ``retarget_kps``: the centroid of the retargeted keypoints against the portrait's, mapped from
    the square kps frame back to portrait pixels and divided by the portrait's face width (cheek to cheek, as the
    rig measures it). Scale uses the 3D outer-eye-corner distance, which does not shrink when the head turns
    (the rig rotates the head itself):

    * ``fix_face``: offset 0, scale 1, no rotation (V-Express keeps the reference kps on every frame).
    * ``no_retarget``: the head goes where the driving face is, at its size (driving size in portrait pixels
      over the portrait's), with the driving face's absolute pose minus the portrait's.
    * ``offset_retarget``: the driving motion since the closest frame r, unscaled; scale 1; rotation relative
      to frame r.
    * ``naive_retarget``: that motion scaled by the portrait/frame-r face size; scale = size / size at r;
      rotation relative to frame r.

    Args:
        drv_kps: (n, 3, 2) driving keypoints in the square kps frame.
        drv_size: (n,) driving 3D eye distance, in pixels of the kps frame (geometric mean of the axis scales).
        drv_pose: (n, 3) driving pitch, yaw, roll, degrees.
        portrait_landmarks: (478, 3) portrait mesh in pixels of the portrait (output) frame.
        portrait_size: (width, height) of the portrait frame, pixels.
        strategy: one of ``STRATEGIES``.
        kps_size: side of the square kps frame, pixels.

    Returns:
        offset (n, 2) in portrait face widths, scale (n,), head (n, 3) degrees.
    """
    n = len(drv_kps)
    w, h = portrait_size
    lm = np.asarray(portrait_landmarks, np.float64)
    ref = kps_from_landmarks(lm, w, h, kps_size)
    to_px = np.array([w / kps_size, h / kps_size])
    face_w = float(np.linalg.norm(lm[CHEEK_L, :2] - lm[CHEEK_R, :2]))
    p_size = float(np.linalg.norm(lm[EYE_OUTER_L] - lm[EYE_OUTER_R])) * kps_size / np.sqrt(w * h)
    placed = retarget_kps(ref, drv_kps, strategy)
    offset = (placed.mean(axis=1) - ref.mean(axis=0)) * to_px / face_w
    pose_p = np.array(head_pose(lm))
    if strategy == "fix_face":
        return np.zeros((n, 2)), np.ones(n), np.zeros((n, 3))
    if strategy == "no_retarget":
        return offset, drv_size / p_size, drv_pose - pose_p
    r = closest_frame(ref, drv_kps)
    scale = np.ones(n) if strategy == "offset_retarget" else drv_size / drv_size[r]
    return offset, scale, drv_pose - drv_pose[r]


def motion_from_video(path: str | Path, *, fps: float = 25.0, retarget: str = "fix_face",
                      portrait_landmarks: np.ndarray, portrait_size: tuple[int, int],
                      n_frames: int | None = None, start_s: float | None = None,
                      progress: Callable[[int], None] | None = None) -> MotionTrack:
    """The motion of a driving video's speaker, for a portrait, resampled to ``fps`` by time.

    Head rotation is the driving pose for every strategy but ``fix_face`` (which V-Express defines as a still
    head): relative to the driving frame closest to the portrait for ``offset_retarget`` and
    ``naive_retarget``, absolute (minus the portrait's own pose) for ``no_retarget``. Frames without a face hold
    the nearest earlier measurement (a warning says how many).

    Args:
        path: the driving video.
        fps: output frame rate, frames per second.
        retarget: head placement, one of ``STRATEGIES`` (see ``placement``).
        portrait_landmarks: (478, 3) portrait mesh in output-frame pixels (``Renderer.landmarks``).
        portrait_size: (width, height) of the output frame, pixels (``Renderer.frame_size``).
        n_frames: exact number of output frames (cut, or the last frame held); default: the video's duration.
        start_s: container time of output frame 0, seconds; default: the first video frame's time.
        progress: called with 1 after each decoded frame (e.g. ``tqdm.update``).

    Raises:
        DrivingError: unknown strategy, unreadable video or no face in it.
    """
    from talkset.media.probe import ProbeError

    if retarget not in STRATEGIES:
        raise DrivingError(f"unknown retarget strategy {retarget!r} (choose one of {', '.join(STRATEGIES)})")
    try:
        track = mesh_video(path, progress=progress)
    except ProbeError as e:
        raise DrivingError(str(e)) from None
    return motion_from_mesh(track, fps=fps, retarget=retarget, portrait_landmarks=portrait_landmarks,
                            portrait_size=portrait_size, n_frames=n_frames, start_s=start_s)


def motion_from_mesh(track: MeshTrack, *, fps: float = 25.0, retarget: str = "fix_face",
                     portrait_landmarks: np.ndarray, portrait_size: tuple[int, int], n_frames: int | None = None,
                     start_s: float | None = None) -> MotionTrack:
    """``motion_from_video`` on an already meshed video (one mesh pass serves several portraits/strategies)."""
    found = track.found
    if not found.any():
        raise DrivingError(f"{track.path}: no face found in any of its {len(found)} frames")
    if not found.all():
        log.warning("%s: no face on %d of %d driving frames; they hold the nearest earlier frame's motion",
                    track.path, int((~found).sum()), len(found))
    w, h = track.frame_size
    idx = np.flatnonzero(found)
    feats = np.stack([_raw_features(track.landmarks[i]) for i in idx])
    kps = np.stack([kps_from_landmarks(track.landmarks[i], w, h) for i in idx])
    pose = np.array([head_pose(track.landmarks[i]) for i in idx])
    full = np.zeros((len(found), feats.shape[1]))
    full[idx] = feats
    feats = fill_missing(full, found)
    kps = fill_missing(_scatter(kps, idx, len(found)), found)
    pose = fill_missing(_scatter(pose, idx, len(found)), found)

    t = track.times
    step = np.median(np.diff(t)) if len(t) > 1 else 1.0 / fps
    t0 = float(t[0]) if start_s is None else float(start_s)
    if n_frames is None:
        n_frames = max(1, int(round((t[-1] + step - t0) * fps)))
    grid = t0 + np.arange(n_frames) / fps
    expr = expression(feats)
    size = feats[:, 8] * KPS_SIZE / np.sqrt(w * h)
    offset, scale, head = placement(kps, size, pose, portrait_landmarks, portrait_size, retarget)
    g = {k: _resample(t, v, grid) for k, v in expr.items()}
    return MotionTrack(fps=fps, jaw=g["jaw"], lip_width=g["lip_width"], lip_round=g["lip_round"],
                       blink=g["blink"], brow=g["brow"], gaze=g["gaze"],
                       head=_smooth(_resample(t, head, grid)), offset=_smooth(_resample(t, offset, grid)),
                       scale=_smooth(_resample(t, scale, grid)))


def _scatter(values: np.ndarray, idx: np.ndarray, n: int) -> np.ndarray:
    out = np.zeros((n,) + values.shape[1:], values.dtype)
    out[idx] = values
    return out
