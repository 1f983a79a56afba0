"""What TalkVid's training dataset (``src/dataset/talking_face_video.py``) does with one sample, rebuilt from its
contract without torchvision: the files it opens, the indexing, and the shapes it returns. The tests (and
``benchmarks/talkvid_loader.py``, which runs the real class) hold an export to it."""
from __future__ import annotations

import json
import math
import random
from pathlib import Path
from typing import cast

import av
import cv2
import numpy as np
import torch


def read_frames(path) -> torch.Tensor:
    """uint8 (T, 3, H, W) RGB, every decoded frame (``read_video(..., output_format="TCHW")``)."""
    with av.open(str(path)) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    return torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2)


def kps_image(h: int, w: int, kps) -> np.ndarray:
    """The 'v' keypoint image: two limbs (eyes to nose) and three dots on a black canvas."""
    kps = np.array(kps)
    colors = [(255, 0, 0), (0, 255, 0), (0, 0, 255)]
    canvas = np.zeros((h, w, 3), np.uint8)
    for a, b in ((0, 2), (1, 2)):
        (x0, y0), (x1, y1) = kps[a], kps[b]
        length = math.hypot(x0 - x1, y0 - y1)
        angle = int(math.degrees(math.atan2(y0 - y1, x0 - x1)))
        poly = cv2.ellipse2Poly((int((x0 + x1) / 2), int((y0 + y1) / 2)), (int(length / 2), 4), angle, 0, 360, 1)
        # opencv's stubs type ellipse2Poly's result as Sequence[Sequence[int]]; it returns an (n, 2) int32 array
        cv2.fillConvexPoly(canvas, cast(np.ndarray, poly), [int(c * 0.6) for c in colors[a]])
    for (x, y), color in zip(kps, colors):
        cv2.circle(canvas, (int(x), int(y)), 4, color, -1)
    return canvas


def box_mask(h: int, w: int, x1, y1, x2, y2) -> np.ndarray:
    m = np.zeros((h, w), np.uint8)
    m[int(y1):int(y2) + 1, int(x1):int(x2) + 1] = 255
    return m


def lip_box(lm106) -> tuple[float, float, float, float]:
    lips = lm106[52:72]
    x1, x2 = int(min(lips[:, 0])), int(max(lips[:, 0]))
    y1, y2 = int(min(lips[:, 1])), int(max(lips[:, 1]))
    cx, cy, w, h = (x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1
    return cx - w, cy - h, cx + w, cy + h  # scaled ×2 about the centre


def audio_windows(emb: torch.Tensor, ids: list[int], video_len: int, pad: int = 2) -> torch.Tensor:
    """(F, 2·(2·pad+1), dim): embeddings stretched to 2 per frame, zero-padded, 10 rows around each frame."""
    a = torch.nn.functional.interpolate(emb.permute(1, 2, 0), size=2 * video_len, mode="linear")[0].permute(1, 0)
    a = torch.cat([torch.zeros(2 * pad, a.shape[1]), a, torch.zeros(2 * pad, a.shape[1])])
    return torch.stack([a[2 * f:2 * (f + 2 * pad + 1)] for f in ids])


def resize(img: np.ndarray, size: int) -> np.ndarray:
    return cv2.resize(img, (size, size), interpolation=cv2.INTER_LINEAR)


def load_sample(entry: dict, num_frames: int = 8, margin: int = 30, size: int = 512, seed: int = 0) -> dict:
    """One training sample from one JSON entry, as the dataset's ``__getitem__`` builds it (no flip, and
    ``RandomResizedCrop(scale=(1, 1), ratio=(0.9, 1))`` on a square frame is a plain resize).

    Raises:
        LookupError: the clip is too short for ``num_frames`` and a reference frame ``margin`` frames away.
    """
    rng = random.Random(seed)
    if "info" in entry:
        entry["info"]["language"]  # read whenever info exists (KeyError without it)
    frames = read_frames(entry["video"])
    face_info = torch.load(entry["face_info"])  # torch's default: weights_only=True
    embeds = torch.load(entry["audio_embeds"], map_location="cpu")["global_embeds"].float()
    n = frames.shape[0]
    if n < num_frames:
        raise LookupError(f"{n} frames < {num_frames}")
    clip_len = min(n, num_frames)
    # The dataset draws a start and moves on to the next clip when no frame is ``margin`` away on either
    # side; here the draw is among the starts that leave one, so a clip that can ever train always loads.
    def room(s):
        return s - margin - 1 >= 0 or s + clip_len - 1 + margin + 1 <= n
    starts = [s for s in range(n - clip_len + 1) if room(s)]
    if not starts:
        raise LookupError(f"{n} frames leave no reference frame {margin} frames from {num_frames} targets")
    start = rng.choice(starts)
    ids = np.linspace(start, start + clip_len - 1, num_frames, dtype=int).tolist()
    left, right = min(ids) - margin - 1, max(ids) + margin + 1
    ref = rng.choice([i for i in range(n) if not left < i < right])
    h, w = frames.shape[2:]
    targets, kps, faces, lips = [], [], [], []
    for i in ids:
        face = face_info[i][0]
        targets.append(resize(frames[i].permute(1, 2, 0).numpy(), size))
        kps.append(resize(kps_image(h, w, face["kps"][:3]), size))
        faces.append(resize(box_mask(h, w, *face["bbox"]), size // 8))
        lips.append(resize(box_mask(h, w, *lip_box(face["landmark_2d_106"])), size // 8))

    def images(stack, normalise):
        t = torch.from_numpy(np.stack(stack)).float().div(255).permute(3, 0, 1, 2)
        return t * 2 - 1 if normalise else t

    return {
        "reference_image": images([resize(frames[ref].permute(1, 2, 0).numpy(), size)], True)[:, 0],
        "target_images": images(targets, True),
        "kps_images": images(kps, False),
        "audio_frame_embeddings": audio_windows(embeds, ids, n),
        "face_masks": torch.from_numpy(np.stack(faces)).float().div(255)[None],
        "lip_masks": torch.from_numpy(np.stack(lips)).float().div(255)[None],
        "frame_ids": ids,
    }


SHAPES = {"reference_image": (3, 512, 512), "target_images": (3, 8, 512, 512), "kps_images": (3, 8, 512, 512),
          "audio_frame_embeddings": (8, 10, 768), "face_masks": (1, 8, 64, 64), "lip_masks": (1, 8, 64, 64)}


def check_export(index: Path, num_frames: int = 8) -> list[dict]:
    """Loads every entry of a vexpress.json; asserts the shapes and no NaN; returns the samples."""
    samples = []
    for entry in json.loads(Path(index).read_text()):
        s = load_sample(entry, num_frames)
        for k, shape in SHAPES.items():
            assert tuple(s[k].shape) == shape, (entry["video"], k, tuple(s[k].shape))
            assert torch.isfinite(s[k]).all(), (entry["video"], k)
        assert s["lip_masks"].sum() > 0 and s["face_masks"].sum() > s["lip_masks"].sum(), entry["video"]
        samples.append(s)
    return samples
