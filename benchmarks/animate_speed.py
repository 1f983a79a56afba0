"""Animate speed and memory: frames per second at 512² on one core (rendering, encoding, both), and the peak
resident memory of a whole ``animate`` run on long audio.

Speech is synthesised (``talkset.demo.synth_speech``: syllables in words, pauses between sentences), so
nothing is needed but the portrait; the default portrait is shared/media's woman_frontal_624.jpg.

    taskset -c 0 .venv/bin/python benchmarks/animate_speed.py                 # speed, 20 s of speech
    .venv/bin/python benchmarks/animate_speed.py --memory-minutes 10          # plus peak RSS for 10 min

Rendering is timed on frames that are thrown away; encoding on the same frames replayed from memory into
the real writer (H.264 veryfast + AAC, talkset.animate.api.write_video); "both" is the full streaming path.
The peak-memory run is a child process (``animate`` end to end: audio decode, motion, render, encode) that
reports its own high-water mark (VmHWM).
"""
from __future__ import annotations

import argparse
import itertools
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

MEDIA = Path(__file__).resolve().parents[1].parent / "shared" / "media"


def speech_file(path: Path, seconds: float, seed: int = 0) -> Path:
    """Synthetic speech: 4-8 s sentences separated by 0.3-1.2 s pauses, 16 kHz mono WAV."""
    from talkset.demo import SR, synth_speech

    rng = np.random.default_rng(seed)
    spans, t = [], 0.2
    while t < seconds - 1.0:
        end = min(seconds - 0.2, t + rng.uniform(4, 8))
        spans.append((t, end))
        t = end + rng.uniform(0.3, 1.2)
    signal, _ = synth_speech(rng, int(seconds * SR), spans)
    noise = 1e-3 * rng.standard_normal(len(signal))
    sf.write(path, (0.3 * signal + noise).astype(np.float32), SR)
    return path


def speed(portrait: Path, seconds: float, size: int) -> dict[str, float]:
    from talkset.animate.api import load_image, write_video
    from talkset.animate.motion import motion_from_audio
    from talkset.animate.render import Renderer
    from talkset.audio.io import load_audio

    with tempfile.TemporaryDirectory() as tmp:
        wav = speech_file(Path(tmp) / "speech.wav", seconds)
        audio = load_audio(wav)
        t0 = time.perf_counter()
        track = motion_from_audio(audio, fps=25, language="xx")
        motion_s = time.perf_counter() - t0
        renderer = Renderer(load_image(portrait), size=size)
        n = len(track)

        t0 = time.perf_counter()
        kept = []
        for i, frame in enumerate(renderer.render(track)):
            if i < 50:
                kept.append(frame)
        render_s = time.perf_counter() - t0

        t0 = time.perf_counter()
        write_video(Path(tmp) / "enc.mp4", itertools.islice(itertools.cycle(kept), n), renderer.frame_size, 25, audio)
        encode_s = time.perf_counter() - t0

        t0 = time.perf_counter()
        write_video(Path(tmp) / "both.mp4", renderer.render(track), renderer.frame_size, 25, audio)
        both_s = time.perf_counter() - t0
    return {"frames": n, "motion_x_realtime": seconds / motion_s, "render_fps": n / render_s,
            "encode_fps": n / encode_s, "render_encode_fps": n / both_s}


def peak_memory(portrait: Path, minutes: float) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        wav = speech_file(Path(tmp) / "long.wav", minutes * 60)
        # VmHWM belongs to the child's own address space (ru_maxrss would count the parent's pages the child
        # shared between fork and exec).
        code = ("import sys; from talkset.animate.api import animate; "
                "animate(sys.argv[1], sys.argv[2], sys.argv[3], progress=False); "
                "print([l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1])")
        t0 = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", code, str(portrait), str(wav), str(Path(tmp) / "long.mp4")],
                              check=True, capture_output=True, text=True)
        wall = time.perf_counter() - t0
    rss_mb = int(done.stdout.split()[-1]) / 1024  # kB
    return {"audio_minutes": minutes, "wall_s": wall, "x_realtime": minutes * 60 / wall, "peak_rss_mb": rss_mb}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--portrait", type=Path, default=MEDIA / "images" / "woman_frontal_624.jpg")
    parser.add_argument("--seconds", type=float, default=20.0, help="speech length for the speed runs")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--memory-minutes", type=float, default=0.0, help="also measure peak RSS (0: skip)")
    args = parser.parse_args()
    cpus = len(os.sched_getaffinity(0))
    print(f"CPUs this process may use: {cpus}  (taskset -c 0 for the one-core figure)")
    s = speed(args.portrait, args.seconds, args.size)
    print(f"{'frames':<22}{s['frames']:>10}")
    print(f"{'motion (x real time)':<22}{s['motion_x_realtime']:>10.1f}")
    for key in ("render_fps", "encode_fps", "render_encode_fps"):
        print(f"{key:<22}{s[key]:>10.1f}")
    if args.memory_minutes > 0:
        m = peak_memory(args.portrait, args.memory_minutes)
        print(f"{'long audio (min)':<22}{m['audio_minutes']:>10.1f}")
        print(f"{'long run wall (s)':<22}{m['wall_s']:>10.1f}")
        print(f"{'long run x real time':<22}{m['x_realtime']:>10.2f}")
        print(f"{'peak RSS (MB)':<22}{m['peak_rss_mb']:>10.0f}")


if __name__ == "__main__":
    main()
