"""Annotations of a kept clip, one entry per clip frame, made from what the video pass measured.

The pass (``curate.analyze``) meshes every frame inside speech and samples body pose, hands and identity there
(``PassAnnotation``); ``clip_annotation`` slices a clip's frames out of it, so no clip is decoded or meshed twice,
and a clip that is never written (``--clips none``) gets the same annotation. ``annotate_clip`` annotates a clip
file from its own pixels (the reference the single pass is checked against, and for clips made elsewhere).

``annotations/{clip_id}.npz`` (``np.savez_compressed``), N = frames of ``clips/{clip_id}.mp4``:

- ``t`` float64 (N,): frame times in seconds from the clip's first frame
- ``size`` int32 (2,): clip width, height in pixels
- ``face`` float16 (N, 478, 3): face mesh (refined), x and y in clip pixels, z in the scale of x; NaN: no face
- ``face_box`` float32 (N, 4): face box x, y, w, h in pixels: the detector's where it ran, between detections
  the detector's box carried by the mesh; NaN: none
- ``head_pose`` float32 (N, 3): pitch, yaw, roll in degrees; NaN: no face
- ``body`` float16 (N, 33, 4): pose points x, y (pixels), z, visibility; NaN: no person. Measured on the frames
  ``body_measured`` marks, linearly interpolated between two measured frames that both found a body
- ``body_measured`` bool (N,): the pose model ran on this frame
- ``hands`` float16 (N, 2, 21, 3): the person's left [0] and right [1] hand, x, y (pixels), z; NaN: absent.
  Measured with the body (where the pose shows a wrist), interpolated like it
- ``hand_score`` float16 (N, 2): handedness confidence, 0 where absent
"""
from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
import numpy as np

from talkset.media.frames import scaled_size
from talkset.vision.face import FaceBox, FaceDetector, FaceMesher, head_pose
from talkset.vision.pose import WRISTS, BodyPoser, HandPoser, clip_shot_type, frame_shot_type

FACE_POINTS, BODY_POINTS, HAND_POINTS = 478, 33, 21


@dataclass
class ClipAnnotation:
    """What annotating one clip gives: the keypoint arrays, the shot type, measured facts and an identity."""

    arrays: dict[str, np.ndarray]
    shot_type: str | None
    facts: dict[str, Any] = field(default_factory=dict)
    embedding: np.ndarray | None = None

    def npz_bytes(self) -> bytes:
        """The arrays as a compressed .npz (np.load reads it); fixed zip timestamps, so equal arrays give
        equal bytes (np.savez stamps the current time)."""
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for name, array in self.arrays.items():
                info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                with zf.open(info, "w") as f:
                    np.lib.format.write_array(f, np.ascontiguousarray(array), allow_pickle=False)
        return buf.getvalue()


@dataclass
class Annotators:
    """The models annotation uses; tracking models are reset for every clip (``annotate_clip``) or every
    speech region (the pass)."""

    detector: FaceDetector
    mesher: FaceMesher
    body: BodyPoser | None = None
    hands: HandPoser | None = None
    embedder: Any = None  # talkset.vision.identity.FaceEmbedder, loaded on first use


@dataclass
class PassAnnotation:
    """What the video pass keeps to annotate clips, in work-frame pixels.

    Per frame inside the regions (``t``): the mesh, the face box and the face's luminance sums; per pose sample
    (``pose_t``): body and hands; per identity sample (``identity_t``): an aligned face chip.
    """

    t: np.ndarray           # (n,) seconds on the source clock
    mesh: np.ndarray        # (n, 478, 3) float32; NaN: no face (read-only, mapped from a file for a long video)
    box: np.ndarray         # (n, 4) x, y, w, h; NaN: no face
    luma: np.ndarray        # (n, 3) pixel count, sum, sum of squares of the face box's luminance
    pose_t: np.ndarray      # (m,)
    body: np.ndarray        # (m, 33, 4); NaN: measured, no body found
    hands: np.ndarray       # (m, 2, 21, 3)
    hand_score: np.ndarray  # (m, 2)
    identity_t: np.ndarray      # (k,)
    identity_chips: np.ndarray  # (k, 150, 150, 3) uint8, FaceEmbedder.chip (read-only like mesh)
    work_size: tuple[int, int]
    full_size: tuple[int, int]  # upright source frame (w, h); the clip is this cropped to even sides


def clip_annotation(track: PassAnnotation, start: float, end: float, *, embedder=None,
                    embedding_frames: int = 3) -> ClipAnnotation:
    """The annotation of the clip ``[start, end)`` of a source: its frames are the pass's frames in that span,
    exactly the frames ``media.cut.write_clip`` writes.

    Args:
        track: what the pass measured.
        start, end: the clip's span in seconds on the source clock.
        embedder: a ``FaceEmbedder`` to describe the clip's chips with; None: no identity.
        embedding_frames: identity samples (evenly spread over the clip) whose descriptors are averaged.
    """
    idx = np.flatnonzero((track.t >= start) & (track.t < end))
    full_w, full_h = track.full_size
    width, height = full_w - full_w % 2, full_h - full_h % 2
    sx, sy = full_w / track.work_size[0], full_h / track.work_size[1]
    t = track.t[idx] - start
    if len(t):
        t[0] = 0.0  # write_clip pins the first frame to the clip's start
    face = track.mesh[idx] * np.array([sx, sy, sx], np.float32)
    box = track.box[idx] * np.array([sx, sy, sx, sy], np.float32)
    in_clip = (track.pose_t >= start) & (track.pose_t < end)
    scale_body = np.array([sx, sy, sx, 1.0], np.float32)
    scale_hand = np.array([sx, sy, sx], np.float32)
    body, body_measured = _interpolated(track.pose_t, track.body * scale_body, track.t[idx])
    hands = np.stack([_interpolated(track.pose_t, track.hands[:, k] * scale_hand, track.t[idx])[0]
                      for k in range(2)], axis=1)
    score = np.stack([_interpolated(track.pose_t, np.where(track.hand_score[:, k] > 0, track.hand_score[:, k],
                                                           np.nan), track.t[idx])[0] for k in range(2)], axis=1)
    shots = [frame_shot_type(b if np.isfinite(b[0, 0]) else None, width, height)
             for b in track.body[in_clip] * scale_body]
    chips = track.identity_chips[(track.identity_t >= start) & (track.identity_t < end)]
    if len(chips) > embedding_frames:
        chips = chips[np.linspace(0, len(chips) - 1, embedding_frames).round().astype(int)]
    ids = [embedder.describe(c) for c in chips] if embedder is not None else []
    return _annotation(t, (width, height), face, box, body, body_measured, hands, np.nan_to_num(score),
                       shots, track.luma[idx].sum(axis=0), ids)


def _interpolated(sample_t: np.ndarray, values: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``values`` (one row per sample) at times ``t``: a sample's own row on its frame, linear between two
    neighbouring samples that both have a value, NaN elsewhere; and which times are samples."""
    out = np.full((len(t), *values.shape[1:]), np.nan, np.float32)
    measured = np.zeros(len(t), bool)
    if not len(sample_t) or not len(t):
        return out, measured
    flat = values.reshape(len(values), -1)
    ok = np.isfinite(flat[:, 0])
    right = np.searchsorted(sample_t, t, side="left")
    for i, (ti, r) in enumerate(zip(t, right)):
        if r < len(sample_t) and sample_t[r] == ti:
            measured[i] = True
            out[i] = values[r]
        elif 0 < r < len(sample_t) and ok[r - 1] and ok[r]:
            w = (ti - sample_t[r - 1]) / (sample_t[r] - sample_t[r - 1])
            out[i] = ((1 - w) * flat[r - 1] + w * flat[r]).reshape(values.shape[1:])
    return out, measured


def _annotation(t, size, face, box, body, body_measured, hands, hand_score, shots, luma, descriptors
                ) -> ClipAnnotation:
    """The npz arrays, shot type and facts of a clip from its per-frame keypoints (clip pixels)."""
    n = len(t)
    face = np.asarray(face, np.float32).reshape(n, FACE_POINTS, 3)
    pose = np.full((n, 3), np.nan, np.float32)
    for i in np.flatnonzero(np.isfinite(face[:, 0, 0])):
        pose[i] = head_pose(face[i])
    arrays: dict[str, np.ndarray] = {
        "t": np.asarray(t, np.float64),
        "size": np.array(size, np.int32),
        "face": face.astype(np.float16),
        "face_box": np.asarray(box, np.float32).reshape(n, 4),
        "head_pose": pose,
        "body": np.asarray(body, np.float32).reshape(n, BODY_POINTS, 4).astype(np.float16),
        "body_measured": np.asarray(body_measured, bool).reshape(n),
        "hands": np.asarray(hands, np.float32).reshape(n, 2, HAND_POINTS, 3).astype(np.float16),
        "hand_score": np.asarray(hand_score, np.float32).reshape(n, 2).astype(np.float16),
    }
    shot = clip_shot_type(list(shots), int(np.isfinite(face[:, 0, 0]).sum()))
    facts = _visual_facts(arrays, np.asarray(luma, float), shot)
    embedding = np.mean(descriptors, axis=0).astype(np.float32) if len(descriptors) else None
    return ClipAnnotation(arrays, shot, facts, embedding)


def face_luma(rgb: np.ndarray, box: FaceBox) -> np.ndarray:
    """(pixel count, sum, sum of squares) of the luminance inside ``box``: the facts need its mean and spread."""
    x0, y0 = max(int(box.x0), 0), max(int(box.y0), 0)
    patch = rgb[y0:max(int(box.y1), y0 + 1), x0:max(int(box.x1), x0 + 1)]
    y = patch.reshape(-1, 3) @ np.array([0.299, 0.587, 0.114])
    return np.array([y.size, y.sum(), np.square(y).sum()])


def annotate_clip(clip_path: str | Path, annotators: Annotators, *, work_max_side: int = 640,
                  embedding_frames: int = 3) -> ClipAnnotation:
    """Keypoints, head pose, shot type, framing and lighting facts and a face identity for one clip file, from
    its own pixels: the detector, mesh and pose on every frame.

    Curate does not call this (``clip_annotation`` reuses its pass); it is the reference the single pass is
    measured against, and annotates clips made elsewhere.

    Args:
        clip_path: a clip (upright frames).
        annotators: the models (see ``Annotators``).
        work_max_side: longest side in pixels the models see.
        embedding_frames: frames (evenly spread) whose dlib descriptors are averaged into the identity.
    """
    mesher, body_model, hand_model = annotators.mesher, annotators.body, annotators.hands
    for model in (mesher, body_model, hand_model):
        if model is not None:
            model.reset()
    times: list[float] = []
    faces, boxes, bodies, hands, hand_scores = [], [], [], [], []
    luma = np.zeros(3)
    shots: list[str | None] = []
    with av.open(str(clip_path)) as container:
        stream = container.streams.video[0]
        assert stream.time_base is not None  # PyAV gives None only for a 0/0 time base, which no demuxer leaves
        width, height = stream.codec_context.width, stream.codec_context.height
        ww, wh = scaled_size(width, height, work_max_side)
        scale = np.float32(width / ww)
        first_pts = None
        for frame in container.decode(stream):
            if frame.pts is not None:
                t = float(frame.pts * stream.time_base)
            else:
                assert stream.average_rate is not None  # curate writes its clips at a constant frame rate
                t = len(times) / float(stream.average_rate)
            first_pts = t if first_pts is None else first_pts
            times.append(t - first_pts)
            rgb = frame.to_ndarray(format="rgb24", width=ww, height=wh)
            found = annotators.detector(rgb)
            box = found[0] if found else None
            mesh = mesher(rgb, box)  # None: the mesh tracks inside the last crop
            if mesh is not None and mesh.shape[0] == FACE_POINTS:
                faces.append(mesh * scale)
            else:
                faces.append(np.full((FACE_POINTS, 3), np.nan, np.float32))
            if box is not None:
                boxes.append(np.array([box.x0, box.y0, box.x1 - box.x0, box.y1 - box.y0], np.float32) * scale)
                luma += face_luma(rgb, box)
            else:
                boxes.append(np.full(4, np.nan, np.float32))
            pts = body_model(rgb) if body_model is not None else None
            if pts is not None:
                pts[:, :3] *= scale
                bodies.append(pts)
            else:
                bodies.append(np.full((BODY_POINTS, 4), np.nan, np.float32))
            shots.append(frame_shot_type(pts, width, height))
            # The hand model's palm detector is the costliest step; a frame whose pose shows no wrist has
            # no hand to find (close-ups), so it is skipped there.
            if hand_model is not None and pts is not None and wrist_in_view(pts, width, height):
                hp, hs = hand_model(rgb)
                hands.append(hp * scale)
                hand_scores.append(hs)
            else:
                hands.append(np.full((2, HAND_POINTS, 3), np.nan, np.float32))
                hand_scores.append(np.zeros(2, np.float32))
    n = len(times)
    descriptors = []
    if annotators.embedder is not None:
        descriptors = _identity(clip_path, np.array(boxes, np.float32).reshape(n, 4), annotators.embedder,
                                embedding_frames)
    return _annotation(times, (width, height), faces, boxes, bodies, np.full(n, body_model is not None), hands,
                       hand_scores, shots, luma, descriptors)


def wrist_in_view(body: np.ndarray, width: int, height: int, min_visibility: float = 0.3) -> bool:
    """A wrist of the pose lies inside the frame and is visible: only then can there be a hand to find."""
    wrists = body[list(WRISTS)]
    inside = (wrists[:, 0] >= 0) & (wrists[:, 0] < width) & (wrists[:, 1] >= 0) & (wrists[:, 1] < height)
    return bool(np.any(inside & (wrists[:, 3] >= min_visibility)))


def _visual_facts(arrays: dict[str, np.ndarray], luma: np.ndarray, shot: str | None) -> dict[str, Any]:
    """Framing, pose and lighting, as numbers a caption (or a user) can read."""
    width, height = (int(v) for v in arrays["size"])
    boxes = arrays["face_box"]
    ok = np.isfinite(boxes[:, 0])
    facts: dict[str, Any] = {"shot_type": shot, "face_frames": float(np.isfinite(arrays["face"][:, 0, 0]).mean())
                             if len(boxes) else 0.0}
    if ok.any():
        x, y, w, h = np.median(boxes[ok], axis=0)
        facts["face_area"] = float(w * h / (width * height))
        facts["face_center"] = [float((x + w / 2) / width), float((y + h / 2) / height)]
    pose = arrays["head_pose"]
    if np.isfinite(pose[:, 0]).any():
        facts["head_pose"] = [float(v) for v in np.nanmedian(pose, axis=0)]
        facts["head_pose_spread"] = [float(v) for v in np.nanstd(pose, axis=0)]
    n, total, squares = luma
    if n:
        mean = total / n
        facts["face_brightness"] = float(mean / 255)
        facts["face_contrast"] = float(np.sqrt(max(squares / n - mean**2, 0.0)) / 255)
    return facts


def _identity(clip_path: str | Path, boxes: np.ndarray, embedder, count: int) -> list[np.ndarray]:
    """dlib descriptors of ``count`` frames with a face, spread over the clip, at full resolution."""
    with_face = np.flatnonzero(np.isfinite(boxes[:, 0]))
    if not len(with_face):
        return []
    wanted = set(with_face[np.linspace(0, len(with_face) - 1, min(count, len(with_face))).round().astype(int)])
    descriptors = []
    with av.open(str(clip_path)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i in wanted:
                x, y, w, h = (float(v) for v in boxes[i])
                d = embedder.embed(frame.to_ndarray(format="rgb24"), FaceBox(x, y, x + w, y + h, 1.0))
                if d is not None:
                    descriptors.append(d)
            if i >= max(wanted):
                break
    return descriptors


def audio_facts(samples: np.ndarray, sr: int, speech: list[tuple[float, float]] | None = None) -> dict[str, Any]:
    """Loudness (dBFS of the speech) and speech rate (syllable-like energy peaks per second of speech).

    Args:
        samples: mono float samples of the clip.
        sr: sample rate in Hz.
        speech: (start, end) seconds of speech inside the clip; None: the whole clip.
    """
    from scipy.signal import butter, find_peaks, sosfiltfilt

    if not len(samples):
        return {}
    spans = speech or [(0.0, len(samples) / sr)]
    mask = np.zeros(len(samples), bool)
    for a, b in spans:
        mask[int(max(a, 0) * sr):int(b * sr)] = True
    voiced = samples[mask] if mask.any() else samples
    rms = float(np.sqrt(np.mean(voiced.astype(np.float64) ** 2)))
    facts: dict[str, Any] = {"loudness_dbfs": 20 * np.log10(rms) if rms > 0 else None}
    # Syllable nuclei: peaks of the 300–3000 Hz envelope smoothed at ~12 Hz, at least 0.1 s apart.
    band = sosfiltfilt(butter(4, [300, 3000], "bandpass", fs=sr, output="sos"), samples)
    hop = sr // 100
    env = np.sqrt(np.convolve(band**2, np.ones(hop) / hop, "same")[::hop])
    env = sosfiltfilt(butter(2, 6, fs=100, output="sos"), env) if len(env) > 15 else env
    env_mask = mask[::hop][:len(env)]
    peaks, _ = find_peaks(np.where(env_mask, env, 0), distance=10, prominence=0.1 * (env.max() or 1))
    speech_s = float(mask.sum() / sr)
    facts["speech_s"] = speech_s
    facts["speech_rate_sps"] = float(len(peaks) / speech_s) if speech_s > 0.5 else None
    return facts
