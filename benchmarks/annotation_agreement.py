"""Do the single-pass annotations (issue 12) agree with annotating each written clip from its own pixels?

For every kept clip of a curate output folder (made with clip files, e.g. by ``benchmarks/truth.py``), the
face mesh in ``annotations/<id>.npz`` (from the video pass) is compared with ``curate.annotate.annotate_clip`` on
``clips/<id>.mp4`` (detector and mesh on every frame of the re-decoded clip, as curate annotated before): the
mean landmark distance in clip pixels over frames both found a face on, per clip and over all clips, plus how
often only one of them found a face. The issue's bound is a mean of at most 1 px.

    python benchmarks/annotation_agreement.py /tmp/talkset-truth/out
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from talkset.curate.annotate import Annotators, annotate_clip
from talkset.dataset.manifest import load_manifest
from talkset.errors import TalksetError
from talkset.vision.face import FaceDetector, FaceMesher


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("out", type=Path, help="a curate output folder with clip files")
    args = p.parse_args()
    try:
        records = load_manifest(args.out)
    except TalksetError as e:
        raise SystemExit(str(e)) from None
    reference = Annotators(FaceDetector(), FaceMesher())
    errors, frames, only_one = [], 0, 0
    print(f"{'clip':58} {'frames':>6} {'mean px':>8} {'p95 px':>7} {'one only':>8}")
    for rec in records:
        if not rec.kept or not rec.video_path or not rec.annotations.keypoints:
            continue
        z = np.load(args.out / rec.annotations.keypoints)
        ref = annotate_clip(args.out / rec.video_path, reference).arrays
        if len(ref["t"]) != len(z["t"]):
            print(f"{rec.id:58} frame counts differ: {len(z['t'])} in the npz, {len(ref['t'])} in the clip")
            continue
        a, b = z["face"][:, :, :2].astype(np.float32), ref["face"][:, :, :2].astype(np.float32)
        fa, fb = np.isfinite(a[:, 0, 0]), np.isfinite(b[:, 0, 0])
        d = np.linalg.norm(a[fa & fb] - b[fa & fb], axis=2).mean(axis=1)
        errors.append(d)
        frames += len(d)
        only_one += int((fa ^ fb).sum())
        print(f"{rec.id:58} {len(d):6d} {d.mean():8.2f} {np.percentile(d, 95):7.2f} {int((fa ^ fb).sum()):8d}")
    if errors:
        d = np.concatenate(errors)
        print(f"\n{len(errors)} clips, {frames} frames: mean {d.mean():.2f} px, p95 {np.percentile(d, 95):.2f} px, "
              f"worst clip mean {max(e.mean() for e in errors):.2f} px; frames with a face in only one: {only_one}")


if __name__ == "__main__":
    main()
