"""Annotation cost per clip-second of ``annotate_clip`` (a clip file annotated from its own pixels, as curate did
before its pass made the annotations, and as ``talkset cut`` still does for clips kept later): face mesh, + body
pose, + hands, + identity, + template caption. Curate's own cost is in ``curate_speed.py``'s stage seconds.

Curates the talking clips of ../shared/media once (annotations off), then annotates every kept clip in this
process (one core) with each model set in turn and prints seconds of work per second of clip.

    python benchmarks/annotate_speed.py [--media ../shared/media] [--out /tmp/talkset-annotate-bench]
"""
from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import av

from talkset.curate.annotate import Annotators, annotate_clip, audio_facts
from talkset.curate.caption import template_caption
from talkset.curate.run import curate
from talkset.vision.face import FaceDetector, FaceMesher, filter_native_stderr
from talkset.vision.identity import FaceEmbedder
from talkset.vision.pose import BodyPoser, HandPoser

FILES = ["talking/vox_man_tv_224.mp4", "calibration/talking/t17_obama_256_30s_muxed.mp4",
         "talking/hdtf_woman_flag_512_mpeg4.mp4",
         "talking/man_worldmap_844.mp4", "talking/woman_blazer_1920x1080.mp4",
         "talking/woman_outdoor_1080x1920_hevc.mp4"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--media", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "media")
    ap.add_argument("--out", type=Path, default=Path("/tmp/talkset-annotate-bench"))
    args = ap.parse_args()
    filter_native_stderr()
    os.sched_setaffinity(0, {0})
    cfg = args.out / "no-annotations.toml"
    args.out.mkdir(parents=True, exist_ok=True)
    cfg.write_text("[annotate]\nkeypoints = false\n")
    curate([args.media / f for f in FILES], args.out / "curated", config=cfg, workers=1, progress=False)
    clips = sorted((args.out / "curated" / "clips").glob("*.mp4"))
    seconds_of_clip = 0.0
    for clip in clips:
        with av.open(str(clip)) as c:
            seconds_of_clip += float(c.duration / av.time_base)
    detector = FaceDetector()
    sets = {
        "face mesh + head pose": lambda: Annotators(detector, FaceMesher()),
        "+ body pose": lambda: Annotators(detector, FaceMesher(), BodyPoser()),
        "+ hands": lambda: Annotators(detector, FaceMesher(), BodyPoser(), HandPoser()),
        "+ identity (default)": lambda: Annotators(detector, FaceMesher(), BodyPoser(), HandPoser(), FaceEmbedder()),
    }
    print(f"{len(clips)} clips, {seconds_of_clip:.1f} s of clip, one core\n")
    print(f"{'models':26s} {'wall s':>8s} {'s per clip-s':>13s}")
    for name, make in sets.items():
        annotators = make()
        annotate_clip(clips[0], annotators)  # warm-up: model graphs load on first use
        tic = time.perf_counter()
        for clip in clips:
            ann = annotate_clip(clip, annotators)
        wall = time.perf_counter() - tic
        print(f"{name:26s} {wall:8.1f} {wall / seconds_of_clip:13.3f}")
    tic = time.perf_counter()
    import soundfile as sf

    for clip in clips:
        samples, sr = sf.read(clip.with_suffix(".wav"), dtype="float32")
        template_caption({**ann.facts, **audio_facts(samples, sr)})
    wall = time.perf_counter() - tic
    print(f"{'template caption':26s} {wall:8.2f} {wall / seconds_of_clip:13.4f}")


if __name__ == "__main__":
    main()
