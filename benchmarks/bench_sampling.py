"""Do bench eval's shortcuts (talkset issue 11) move its numbers? Two checks on shared/media, one core.

* identity: the clip mean of the descriptor's cosine similarity to the reference portrait, scoring one frame
  every ``IDENTITY_INTERVAL_S`` seconds (``bench.identity.Identity``), against scoring every frame and every
  5th frame (the rule before issue 11), on the generated clips and the real one, each against the real
  clip's first frame. The gap between the models' every-frame means says what "noise" is small against.
* sharpness: the clip mean of the face's Laplacian variance measured in the mesh's square face box
  (``FaceMesh.box``, what bench eval does now) against full-range BlazeFace's box found at 640 px (before),
  on the same frames.

    python benchmarks/bench_sampling.py [--media ../shared/media] [--frames 150]
"""
from __future__ import annotations

import argparse
import itertools
import os
from pathlib import Path

import cv2
import numpy as np

GENERATED = ["fake_wav2lip_from_real_man_suit.mp4", "fake_retalking_from_real_man_suit.mp4",
             "fake_sadtalker_from_real_man_suit.mp4", "fake_sync_none_from_real_man_suit.mp4",
             "real_man_suit_700_vfr.mp4"]
TALKING = ["hdtf_woman_flag_512_mpeg4.mp4", "man_worldmap_844.mp4", "obama_450_20s.mp4", "vox_man_tv_224.mp4",
           "woman_blazer_1920x1080.mp4", "woman_outdoor_1080x1920_hevc.mp4"]
BLAZEFACE_MAX_SIDE = 640  # where the sharpness box was found before issue 11


def identity_series(reference: np.ndarray, path: Path, embedder) -> tuple[list[float], list[float | None]]:
    """(time from the first frame, cosine similarity or None without a face) of every frame."""
    from talkset.bench.identity import Identity
    from talkset.bench.metrics import FaceFinder, decode_video
    from talkset.vision.face import FaceDetector

    every = Identity(reference, embedder, interval_s=0, faces=FaceFinder(FaceDetector()))
    times: list[float] = []
    sims: list[float | None] = []
    t0 = None
    for view in decode_video(path):
        t0 = view.t if t0 is None else t0
        n = len(every.sims)
        every.process_frame(view)
        times.append(view.t - t0)
        sims.append(every.sims[-1] if len(every.sims) > n else None)
    return times, sims


def sampled_mean(times: list[float], sims: list[float | None], interval_s: float | None) -> tuple[float, int]:
    """Mean similarity over the frames a rule scores: ``Identity``'s time rule, or every 5th frame (None)."""
    from talkset.bench.identity import EveryInterval

    if interval_s is None:
        picked = [s for i, s in enumerate(sims) if i % 5 == 0]
    else:
        rule = EveryInterval(interval_s)
        picked = [s for t, s in zip(times, sims) if rule.due(t)]
    vals = [s for s in picked if s is not None]
    return float(np.mean(vals)), len(vals)


def check_identity(media: Path) -> None:
    from talkset.bench.identity import IDENTITY_INTERVAL_S, reference_embedding
    from talkset.bench.scoring import _first_frame_rgb
    from talkset.vision.identity import FaceEmbedder

    embedder = FaceEmbedder()
    reference = reference_embedding(_first_frame_rgb(media / "generated" / GENERATED[-1]), embedder)
    rules: list[tuple[str, float | None]] = [("every 5th frame", None)]
    rules += [(f"{s} s" + (" (now)" if s == IDENTITY_INTERVAL_S else ""), s)
              for s in sorted({0.25, IDENTITY_INTERVAL_S, 0.5, 1.0})]
    print("identity: mean cosine similarity to the real clip's first frame (n = frames scored)")
    print(f"  {'clip':<40} {'every frame':>16}" + "".join(f"{name:>24}" for name, _ in rules))
    fake_means = []
    for name in GENERATED:
        times, sims = identity_series(reference, media / "generated" / name, embedder)
        full, n = sampled_mean(times, sims, 0.0)
        if name.startswith("fake"):
            fake_means.append(full)
        cells = []
        for _, interval in rules:
            m, k = sampled_mean(times, sims, interval)
            cells.append(f"{m:.4f} ({m - full:+.4f}, n {k:3d})")
        print(f"  {name:<40} {full:.4f} (n {n:3d})" + "".join(f"{c:>24}" for c in cells), flush=True)
    gaps = np.diff(sorted(fake_means))
    print(f"  every-frame means of the four fakes: spread {max(fake_means) - min(fake_means):.4f}, "
          f"smallest gap between two {gaps.min():.4f}")


def check_sharpness(media: Path, max_frames: int) -> None:
    from talkset.bench.metrics import FaceFinder, FaceMesh, Sharpness, decode_video
    from talkset.vision.face import FaceDetector, FaceMesher

    detector, mesher = FaceDetector(), FaceMesher(tracking=False, refine=True)
    print(f"sharpness: mean Laplacian variance of the face at 256², first {max_frames} frames")
    print(f"  {'clip':<46} {'BlazeFace box':>14} {'mesh box':>10} {'ratio':>7} {'frames':>7}")
    for name in [f"generated/{n}" for n in GENERATED] + [f"talking/{n}" for n in TALKING]:
        faces = FaceFinder(detector)
        mesh = FaceMesh(faces, mesher)
        sharp = Sharpness(mesh)
        before: list[float] = []
        after: list[float] = []
        for view in itertools.islice(decode_video(media / name), max_frames):
            mesh.process_frame(view)
            n = len(sharp.values)
            sharp.process_frame(view)
            boxes = faces(view, BLAZEFACE_MAX_SIDE)
            if len(sharp.values) == n or not boxes:
                continue  # compare frames both measure
            after.append(sharp.values[-1])
            work, gray = view.rgb(BLAZEFACE_MAX_SIDE), view.full_gray
            sx, sy = gray.shape[1] / work.shape[1], gray.shape[0] / work.shape[0]
            b = boxes[0]
            x0, x1 = int(max(0, b.x0 * sx)), int(min(gray.shape[1], b.x1 * sx))
            y0, y1 = int(max(0, b.y0 * sy)), int(min(gray.shape[0], b.y1 * sy))
            face = cv2.resize(gray[y0:y1, x0:x1], (256, 256), interpolation=cv2.INTER_AREA)
            before.append(float(cv2.Laplacian(face, cv2.CV_64F, ksize=1).var()))
        mesher.reset()
        b_mean, a_mean = float(np.mean(before)), float(np.mean(after))
        print(f"  {name:<46} {b_mean:14.1f} {a_mean:10.1f} {a_mean / b_mean:7.3f} {len(after):7d}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--media", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "media")
    parser.add_argument("--frames", type=int, default=150, help="frames per clip for the sharpness check")
    parser.add_argument("--skip-identity", action="store_true")
    args = parser.parse_args()
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    cv2.setNumThreads(1)
    check_sharpness(args.media, args.frames)
    if not args.skip_identity:
        check_identity(args.media)


if __name__ == "__main__":
    main()
