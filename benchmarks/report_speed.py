"""Report generation time for 1 000 clips: with previews, without, and a rerun on the cache.

Makes an output folder of N synthetic records (every 3rd rejected) whose clip files are hard links of one real
clip (default: talking/vox_man_tv_224.mp4, 7 s at 224x224) and whose kept clips share one annotation file,
then times ``build_report`` into fresh folders.

    python benchmarks/report_speed.py [--n 1000] [--clip talking/vox_man_tv_224.mp4] [--out /tmp/talkset-report-bench]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from pathlib import Path

import av
import numpy as np

from talkset.report import build_report
from talkset.testing import synthetic_manifest


def make_output(out: Path, clip: Path, n: int) -> None:
    """``n`` records; clip files and annotations are hard links of one file each (copies across devices)."""
    if out.exists():
        shutil.rmtree(out)
    (out / "clips").mkdir(parents=True)
    (out / "annotations").mkdir()
    with av.open(str(clip)) as c:
        vs = c.streams.video[0]
        size = (vs.codec_context.width, vs.codec_context.height)
        frames = vs.frames or int(float(vs.duration * vs.time_base) * float(vs.average_rate))
    npz = out / "annotations" / "_one.npz"
    _write_annotations(npz, frames, size)
    recs = synthetic_manifest(n, seed=0)
    for i, rec in enumerate(recs):
        video = out / "clips" / f"{rec['id']}.mp4"
        _link(clip, video)
        rec["video-path"] = f"clips/{video.name}"
        if i % 3 == 1:
            rec.update(status="rejected", reasons=["sync: offset +9 frames, |offset| > 3"])
        else:
            kp = out / "annotations" / f"{rec['id']}.npz"
            _link(npz, kp)
            rec["annotations"] = {"keypoints": f"annotations/{kp.name}", "shot_type": "close-up", "caption": None}
    (out / "manifest.json").write_text(json.dumps(recs))


def _link(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy(src, dst)


def _write_annotations(path: Path, n: int, size: tuple[int, int]) -> None:
    """Random points with the annotation contract's names, shapes and dtypes."""
    rng = np.random.default_rng(0)
    w, h = size
    scale = np.array([w, h, w], np.float32)
    np.savez_compressed(
        path, t=np.arange(n) / 25.0, size=np.array(size, np.int32),
        face=(rng.random((n, 478, 3)) * scale).astype(np.float16),
        face_box=np.tile(np.array([w * .3, h * .2, w * .4, h * .4], np.float32), (n, 1)),
        head_pose=(rng.normal(0, 10, (n, 3))).astype(np.float32),
        body=(rng.random((n, 33, 4)) * np.array([w, h, w, 1], np.float32)).astype(np.float16),
        hands=(rng.random((n, 2, 21, 3)) * scale).astype(np.float16), hand_score=np.ones((n, 2), np.float16))


def _size_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--media", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "media")
    ap.add_argument("--clip", default="talking/vox_man_tv_224.mp4")
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--out", type=Path, default=Path("/tmp/talkset-report-bench"))
    args = ap.parse_args()
    out = args.out / "out"
    make_output(out, args.media / args.clip, args.n)
    print(f"{args.n} records, clip {args.clip}, {os.cpu_count()} cores")
    print(f"{'run':<28}{'seconds':>9}{'ms/clip':>9}{'MB':>8}")
    runs = [("previews, cold", "with", True), ("previews, rerun (cached)", "with", True),
            ("no previews, cold", "without", False)]
    for label, name, previews in runs:
        dest = args.out / f"report-{name}"
        if "cold" in label and dest.exists():
            shutil.rmtree(dest)
        started = time.perf_counter()
        build_report(out, dest, previews=previews, progress=False)
        s = time.perf_counter() - started
        print(f"{label:<28}{s:>9.1f}{1000 * s / args.n:>9.1f}{_size_mb(dest):>8.1f}")


if __name__ == "__main__":
    main()
