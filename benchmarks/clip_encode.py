"""Which encoder settings ``--clips fast`` uses (issue 12): time, size and fidelity of a clip per x264 setting.

For each source (default: every 1080p-or-larger talking clip of shared/media plus a 224² one) it cuts the first
``--seconds`` with ``media.cut.write_clip`` at each setting, and reports the CPU seconds of the cut (decode
included, as curate pays it), the file size, and the PSNR of the clip's luma against the source's frames.

    python benchmarks/clip_encode.py [--media ../shared/media] [--seconds 8]
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import av
import numpy as np

from talkset.media.cut import write_clip
from talkset.media.probe import probe

DEFAULT_MEDIA = Path(__file__).resolve().parents[2] / "shared" / "media"
FILES = ("talking/woman_blazer_1920x1080.mp4", "talking/woman_outdoor_1080x1920_hevc.mp4", "talking/vox_man_tv_224.mp4")
SETTINGS = (("veryfast", 20), ("superfast", 20), ("ultrafast", 18), ("ultrafast", 21), ("ultrafast", 23))


def _luma(path: Path, seconds: float, rotation: int) -> list[np.ndarray]:
    out = []
    with av.open(str(path)) as c:
        for frame in c.decode(video=0):
            if frame.time is not None and frame.time >= seconds:
                break
            y = frame.to_ndarray(format="gray")
            out.append(np.rot90(y, (rotation // 90) % 4))
    return out


def psnr(a: list[np.ndarray], b: list[np.ndarray]) -> float:
    """Mean PSNR (dB) over paired frames, cropped to the common size."""
    values = []
    for x, y in zip(a, b):
        h, w = min(x.shape[0], y.shape[0]), min(x.shape[1], y.shape[1])
        mse = np.mean((x[:h, :w].astype(float) - y[:h, :w].astype(float)) ** 2)
        values.append(10 * np.log10(255**2 / max(mse, 1e-9)))
    return float(np.mean(values))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--media", type=Path, default=DEFAULT_MEDIA)
    p.add_argument("--seconds", type=float, default=8.0)
    args = p.parse_args()
    print(f"{'source':42} {'preset':>10} {'crf':>4} {'cpu s':>7} {'x real':>7} {'MB':>6} {'PSNR dB':>8}")
    with tempfile.TemporaryDirectory() as tmp:
        for name in FILES:
            src = args.media / name
            info = probe(src)
            reference = _luma(src, args.seconds, info.rotation_deg)
            for preset, crf in SETTINGS:
                out = Path(tmp) / f"{preset}_{crf}.mp4"
                tic = time.process_time()
                write_clip(src, 0.0, args.seconds, out, rotation_deg=info.rotation_deg, preset=preset, crf=crf)
                cpu = time.process_time() - tic
                clip = _luma(out, args.seconds + 1, 0)
                print(f"{name:42} {preset:>10} {crf:>4} {cpu:7.2f} {args.seconds / cpu:7.1f} "
                      f"{out.stat().st_size / 1e6:6.2f} {psnr(clip, reference):8.2f}")


if __name__ == "__main__":
    main()
