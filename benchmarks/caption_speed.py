"""What the OpenAI-compatible captioner costs on our side, per clip-second (issue 4, "annotation cost").

Measured against the local chat-completions server of the tests (tests/curate/openai_server.py), which
answers at once: the numbers are frame sampling (decode to the chosen frames), JPEG encoding, base64, the HTTP
round trip and writing the caption file. A real model's latency is the user's and comes on top; with
``--concurrency`` requests in flight it overlaps with our work.

Inputs are the talking videos of the media folder, each used as one kept clip of a hand-made output folder
(a curated clip is the same footage re-encoded); or a curated output folder with ``--out-dir``.

Run it from the project root::

    python benchmarks/caption_speed.py
    python benchmarks/caption_speed.py --frames 1 3 8 --concurrency 1 4
    python benchmarks/caption_speed.py --out-dir /tmp/my_curated_output

It prints a table: per clip the sampling cost, then per setting the whole run's seconds per clip-second.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from talkset.curate.captioner import caption_clips, sample_frames
from talkset.media.probe import probe

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "curate"))
from openai_server import (  # a test helper, not part of the package
    Behaviour,
    OpenAIServer,
)

DEFAULT_MEDIA = Path(__file__).resolve().parents[2] / "shared" / "media"
ENV = "TALKSET_BENCH_CAPTION_KEY"


def build_output(media: Path, root: Path) -> Path:
    """A hand-made output folder: each talking video (with audio) of ``media`` as one kept clip."""
    out = root / "out"
    (out / "clips").mkdir(parents=True)
    records = []
    for i, src in enumerate(sorted((media / "talking").glob("*.mp4"))):
        info = probe(src)
        rec_id = f"bench-{i:04d}"
        os.symlink(src.resolve(), out / "clips" / f"{rec_id}.mp4")
        w, h = info.display_size
        records.append({"id": rec_id, "type": "clip", "status": "kept", "reasons": [],
                        "video-path": f"clips/{rec_id}.mp4", "source": {"path": str(src), "start": 0.0,
                                                                        "end": info.duration_s},
                        "metadata": {"duration": round(info.duration_s, 3), "resolution": f"{w}x{h}",
                                     "fps": float(info.avg_fps), "language": "en", "speaker_id": None},
                        "scores": {}, "annotations": {"keypoints": None, "shot_type": None, "caption": None}})
    (out / "manifest.json").write_text(json.dumps(records))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--media", type=Path, default=DEFAULT_MEDIA)
    ap.add_argument("--out-dir", type=Path, help="a curated output folder to caption (copied, not changed)")
    ap.add_argument("--frames", type=int, nargs="+", default=[1, 3, 8])
    ap.add_argument("--concurrency", type=int, nargs="+", default=[1, 4])
    args = ap.parse_args()
    logging.basicConfig(level=logging.ERROR)
    os.environ[ENV] = "bench-key"

    with tempfile.TemporaryDirectory() as tmp:
        if args.out_dir:
            out = Path(tmp) / "out"
            shutil.copytree(args.out_dir, out, symlinks=True, ignore=shutil.ignore_patterns("*.caption.json"))
            shutil.rmtree(out / ".talkset", ignore_errors=True)  # keep the copied manifest as it is
        else:
            out = build_output(args.media, Path(tmp))
        records = [r for r in json.loads((out / "manifest.json").read_text()) if r.get("status") == "kept"]
        clip_s = sum(r["metadata"]["duration"] for r in records)

        print(f"sampling + JPEG encoding ({args.frames[len(args.frames) // 2]} frames, max side 512), one core:")
        print(f"{'clip':<42}{'resolution':>11}{'seconds':>9}{'sample s':>10}{'s per clip-s':>14}")
        n = args.frames[len(args.frames) // 2]
        for r in records:
            t0 = time.perf_counter()
            sample_frames(out / r["video-path"], n)
            dt = time.perf_counter() - t0
            name = Path(r["source"]["path"]).name if not args.out_dir else r["id"]
            print(f"{name[:41]:<42}{r['metadata']['resolution']:>11}{r['metadata']['duration']:>9.2f}"
                  f"{dt:>10.3f}{dt / r['metadata']['duration']:>14.4f}")

        print(f"\nwhole runs against the local server ({len(records)} clips, {clip_s:.1f} clip-seconds):")
        print(f"{'frames':>7}{'concurrency':>13}{'wall s':>9}{'s per clip':>12}{'s per clip-s':>14}{'failed':>8}")
        with OpenAIServer(Behaviour(key="bench-key")) as srv:
            for frames in args.frames:
                for conc in args.concurrency:
                    s = caption_clips(out, base_url=srv.base_url, model="bench", api_key_env=ENV, frames=frames,
                                      concurrency=conc, force=True, progress=False)
                    print(f"{frames:>7}{conc:>13}{s.wall_seconds:>9.2f}{s.wall_seconds / len(records):>12.3f}"
                          f"{s.wall_seconds / clip_s:>14.4f}{len(s.failures):>8}")
    print("\nA real model adds its own latency per request (typically 1-10 s for a vision model); with "
          "concurrency c that overlaps c ways.")


if __name__ == "__main__":
    main()
