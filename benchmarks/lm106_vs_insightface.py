"""How far the 478-mesh → 106 mapping (talkset.vision.lm106) lands from InsightFace's own 106 landmarks.

Input: a video and the face_info.pt InsightFace made for it, e.g. V-Express's sample
(tencent-ailab/V-Express ``scripts/prepare_dataset/RD_Radio10_0_clip_0.mp4`` and ``..._face_info.pt``, 61
frames, 512x512)::

    python benchmarks/lm106_vs_insightface.py --video RD_Radio10_0_clip_0.mp4 --face-info RD_..._face_info.pt

Meshes every ``--step``-th frame, maps it to 106 points and prints the error per face part, in pixels and as
a fraction of the inter-pupil distance (InsightFace's points 38 and 92).
"""
from __future__ import annotations

import argparse

import av
import numpy as np
import torch

from talkset.vision.face import FaceDetector, FaceMesher
from talkset.vision.lm106 import landmarks_106

PARTS = {"contour 0-32": range(0, 33), "eyes 33-42, 87-96": [*range(33, 43), *range(87, 97)],
         "brows 43-51, 97-105": [*range(43, 52), *range(97, 106)], "mouth 52-71": range(52, 72),
         "nose 72-86": range(72, 87), "all": range(106)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--video", required=True)
    parser.add_argument("--face-info", required=True)
    parser.add_argument("--step", type=int, default=3)
    args = parser.parse_args()
    info = torch.load(args.face_info, weights_only=False)  # InsightFace's numpy arrays
    with av.open(args.video) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    detector, mesher = FaceDetector(), FaceMesher(tracking=False)
    ours, theirs = [], []
    for i in range(0, min(len(frames), len(info)), args.step):
        boxes = detector(frames[i])
        lm = mesher(frames[i], boxes[0]) if boxes else None
        if lm is None or not info[i]:
            continue
        ours.append(landmarks_106(lm))
        theirs.append(np.asarray(info[i][0]["landmark_2d_106"], np.float32))
    ours, theirs = np.stack(ours), np.stack(theirs)
    err = np.linalg.norm(ours - theirs, axis=-1)
    iod = np.linalg.norm(theirs[:, 38] - theirs[:, 92], axis=1)[:, None]
    print(f"{len(ours)} frames; inter-pupil distance {np.median(iod):.1f} px")
    print(f"{'part':22s} {'median px':>9s} {'p90 px':>7s} {'median/IOD':>10s}")
    for name, idx in PARTS.items():
        e, r = err[:, list(idx)], (err / iod)[:, list(idx)]
        print(f"{name:22s} {np.median(e):9.2f} {np.percentile(e, 90):7.2f} {np.median(r):10.3f}")


if __name__ == "__main__":
    main()
