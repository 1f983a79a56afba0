"""What each piece of curate's video pass costs per frame, alone, and the floor the issue-12 targets sit on.

Issue 12 names "one decode, one mesh per speech frame" as the work that cannot be avoided. This measures, in
CPU milliseconds per frame on one input (default: the first minute of ``long_input.py``'s 1080p video, which is
speech nearly throughout), each step the pass runs on a frame, each on its own:

* ``decode`` — PyAV with one thread (what ``ffmpeg -threads 1 -f null`` does) and with FFmpeg's frame threads
  (what curate uses; the same work plus the threads' overhead);
* ``work frame`` — the 640-pixel RGB frame faces are measured on (``FrameView.work_rgb``), and the small frame
  for shots and motion scaled from it;
* ``mesh`` — mediapipe's 478-point face mesh on the crop around the face (``FaceMesher``, tracking), with and
  without the refinement model curate needs for the lips;
* ``detector`` — full-range BlazeFace on the work frame (curate runs it at 2 fps, 5 fps while no face is found);
* ``pose`` — body pose on the work frame (annotation only, at 2.5 fps).

It prints the floor of a pass over speech: (decode + mesh) / decode, the ratio to a single-thread decode
that no curate run can go below while it meshes every speech frame with this model on this CPU.

    python benchmarks/pass_floor.py [--video X.mp4] [--frames 300] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import av

sys.path.insert(0, str(Path(__file__).resolve().parent))

from long_input import build_long_input

from talkset.media.frames import decode_frames
from talkset.vision.face import FaceDetector, FaceMesher, filter_native_stderr
from talkset.vision.pose import BodyPoser

DEFAULT_MEDIA = Path(__file__).resolve().parents[2] / "shared" / "media"


def cpu_ms_per_call(fn, items) -> float:
    """CPU milliseconds per call of ``fn`` over ``items`` (process time: all threads)."""
    t0 = time.process_time()
    for item in items:
        fn(item)
    return 1000.0 * (time.process_time() - t0) / max(len(items), 1)


def decode_ms(path: Path, frames: int, threaded: bool) -> float:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        if threaded:
            stream.thread_type = "AUTO"
        else:
            stream.thread_count = 1
        n = 0
        t0 = time.process_time()
        for _ in container.decode(stream):
            n += 1
            if n >= frames:
                break
        return 1000.0 * (time.process_time() - t0) / max(n, 1)


def measure(path: Path, frames: int) -> dict[str, float]:
    views = []
    for view in decode_frames(path, 0, 640, 256):
        views.append(view)
        if len(views) >= frames:
            break
    out = {"decode, 1 thread": decode_ms(path, frames, False), "decode, frame threads": decode_ms(path, frames, True)}
    out["work frame (640 px RGB)"] = cpu_ms_per_call(lambda v: v.work_rgb, views)
    out["small frame from it"] = cpu_ms_per_call(lambda v: v.small_bgr, views)
    work = [v.work_rgb for v in views]
    detector = FaceDetector()
    box = next((b[0] for b in map(detector, work[:25]) if b), None)
    if box is None:
        raise SystemExit(f"{path}: no face in its first frames")
    out["detector (one call)"] = cpu_ms_per_call(detector, work[::10])
    for refine in (True, False):
        mesher = FaceMesher(refine=refine)
        mesher(work[0], box)
        name = "mesh with lip refinement (curate)" if refine else "mesh without refinement"
        out[name] = cpu_ms_per_call(lambda rgb, m=mesher: m(rgb, None), work[1:])
        mesher.reset()
    poser = BodyPoser()
    poser(work[0])
    out["pose (one call)"] = cpu_ms_per_call(poser, work[10::10])
    poser.reset()
    detector.close()
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--video", type=Path, default=None, help="input (default: 1 minute of long_input's 1080p video)")
    p.add_argument("--media", type=Path, default=DEFAULT_MEDIA)
    p.add_argument("--frames", type=int, default=300)
    p.add_argument("--out", type=Path, default=Path("/tmp/pass_floor"), help="where the default input is built")
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args(argv)
    filter_native_stderr()
    video = args.video or build_long_input(args.out / "talkset_long1.mp4", 1.0, args.media, 1080)
    ms = measure(video, args.frames)
    for name, value in ms.items():
        print(f"{name:36s} {value:7.2f} ms CPU a frame")
    decode = ms["decode, 1 thread"]
    mesh = ms["mesh with lip refinement (curate)"]
    floor = (decode + mesh) / decode
    print(f"\nfloor of a pass over speech, (decode + mesh) / decode: {floor:.2f}x a single-thread decode")
    print(f"the 5x target leaves {5 * decode - decode - mesh:.2f} ms a frame for everything else "
          f"(work frame, detector, shots, motion, quality, audio); 10x leaves {10 * decode - decode - mesh:.2f} ms "
          f"for that, body pose at 2.5 fps ({ms['pose (one call)'] * 2.5 / 25:.2f} ms a 25 fps frame) and the clips' "
          f"encode")
    if args.json:
        args.json.write_text(json.dumps({"video": str(video), "frames": args.frames, "cpu_ms": ms,
                                         "floor": floor}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
