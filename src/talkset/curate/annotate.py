"""Annotations of a kept clip, read back from the written clip so there is exactly one entry per clip frame.

``annotations/{clip_id}.npz`` (``np.savez_compressed``), N = frames of ``clips/{clip_id}.mp4``:

- ``t`` float64 (N,): frame times in seconds from the clip's first frame
- ``size`` int32 (2,): clip width, height in pixels
- ``face`` float16 (N, 478, 3): face mesh (refined), x and y in clip pixels, z in the scale of x; NaN: no face
- ``face_box`` float32 (N, 4): face detector box x, y, w, h in pixels; NaN: none
- ``head_pose`` float32 (N, 3): pitch, yaw, roll in degrees; NaN: no face
- ``body`` float16 (N, 33, 4): pose points x, y (pixels), z, visibility; NaN: no person
- ``hands`` float16 (N, 2, 21, 3): the person's left [0] and right [1] hand, x, y (pixels), z; NaN: absent
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
from talkset.vision.face import FaceDetector, FaceMesher, head_pose
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
    """The models annotation uses; tracking models are reset for every clip."""

    detector: FaceDetector
    mesher: FaceMesher
    body: BodyPoser | None = None
    hands: HandPoser | None = None
    embedder: Any = None  # talkset.vision.identity.FaceEmbedder, loaded on first use


def annotate_clip(clip_path: str | Path, annotators: Annotators, *, work_max_side: int = 640,
                  embedding_frames: int = 3) -> ClipAnnotation:
    """Keypoints, head pose, shot type, framing and lighting facts and a face identity for one clip file.

    Models run on frames scaled to ``work_max_side`` (mediapipe scales its input down further anyway);
    points are stored in the clip's own pixels.

    Args:
        clip_path: a clip written by curate (upright frames, constant frame rate).
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
    luma = np.zeros(3)  # count, sum, sum of squares of face-box luminance: the facts need mean and spread
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
                x0, y0 = max(int(box.x0), 0), max(int(box.y0), 0)
                patch = rgb[y0:max(int(box.y1), y0 + 1), x0:max(int(box.x1), x0 + 1)]
                y = patch.reshape(-1, 3) @ np.array([0.299, 0.587, 0.114])
                luma += (y.size, y.sum(), np.square(y).sum())
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
            if hand_model is not None and pts is not None and _wrist_in_view(pts, width, height):
                hp, hs = hand_model(rgb)
                hands.append(hp * scale)
                hand_scores.append(hs)
            else:
                hands.append(np.full((2, HAND_POINTS, 3), np.nan, np.float32))
                hand_scores.append(np.zeros(2, np.float32))
    n = len(times)
    face_arr = np.array(faces, np.float32).reshape(n, FACE_POINTS, 3)
    has_face = np.isfinite(face_arr[:, 0, 0])
    pose = np.full((n, 3), np.nan, np.float32)
    for i in np.flatnonzero(has_face):
        pose[i] = head_pose(face_arr[i])
    arrays: dict[str, np.ndarray] = {
        "t": np.array(times, np.float64),
        "size": np.array([width, height], np.int32),
        "face": face_arr.astype(np.float16),
        "face_box": np.array(boxes, np.float32).reshape(n, 4),
        "head_pose": pose,
        "body": np.array(bodies, np.float32).reshape(n, BODY_POINTS, 4).astype(np.float16),
        "hands": np.array(hands, np.float32).reshape(n, 2, HAND_POINTS, 3).astype(np.float16),
        "hand_score": np.array(hand_scores, np.float32).reshape(n, 2).astype(np.float16),
    }
    shot = clip_shot_type(shots, int(has_face.sum()))
    facts = _visual_facts(arrays, luma, shot)
    embedding = None
    if annotators.embedder is not None and has_face.any():
        embedding = _identity(clip_path, arrays, annotators.embedder, embedding_frames)
    return ClipAnnotation(arrays, shot, facts, embedding)


def _wrist_in_view(body: np.ndarray, width: int, height: int, min_visibility: float = 0.3) -> bool:
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


def _identity(clip_path: str | Path, arrays: dict[str, np.ndarray], embedder, count: int) -> np.ndarray | None:
    """Mean dlib descriptor over ``count`` frames with a face, spread over the clip, at full resolution."""
    boxes = arrays["face_box"]
    with_face = np.flatnonzero(np.isfinite(boxes[:, 0]))
    if not len(with_face):
        return None
    wanted = set(with_face[np.linspace(0, len(with_face) - 1, min(count, len(with_face))).round().astype(int)])
    from talkset.vision.face import FaceBox

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
    return np.mean(descriptors, axis=0).astype(np.float32) if descriptors else None


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
