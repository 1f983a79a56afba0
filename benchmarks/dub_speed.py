"""Dub speed and memory: frames per second at 512² on one core, and the peak resident memory of long dubs.

The source is a real 512² talking clip of shared/media (default: calibration/talking/t08, 20 s at 25 fps); the
new speech is another real clip's audio (t13, looped to length). Long inputs are made inside a temporary
folder (the clip's frames re-encoded end to end N times, the speech repeated): nothing is written elsewhere.

    taskset -c 0 .venv/bin/python benchmarks/dub_speed.py                      # speed
    taskset -c 0 .venv/bin/python benchmarks/dub_speed.py --memory-minutes 1 10  # plus peak RSS per length

Speed is reported per stage and end to end, both as wall-clock fps and as fps of the process's CPU time
(all its threads: mediapipe's and x264's too), which is the one-core figure on a machine shared with other
work; under ``taskset -c 0`` on an idle machine the two agree. Peak memory is each child process's own
high-water mark (VmHWM) for a whole ``dub`` run (tracking pass, motion, dub pass, encode).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import av
import numpy as np
import soundfile as sf

MEDIA = Path(__file__).resolve().parents[1].parent / "shared" / "media"
SOURCE = "calibration/talking/t08_german_news_anchor_512_20s.mp4"
SPEECH = "calibration/talking/t13_hdtf_older_man_red_tie_512_mpeg4.mp4"


def looped_video(src: Path, times: int, dest: Path) -> Path:
    """The clip's frames ``times`` times over, H.264 ultrafast, no audio (dub reads only its frames)."""
    with av.open(str(src)) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
        rate = c.streams.video[0].average_rate
    with av.open(str(dest), "w") as out:
        s = out.add_stream("libx264", rate=rate)
        s.height, s.width = frames[0].shape[:2]
        s.pix_fmt = "yuv420p"
        s.codec_context.options = {"preset": "ultrafast", "crf": "18"}
        for k in range(times):
            seq = frames if k % 2 == 0 else frames[::-1]  # no jump at the joins
            for f in seq:
                out.mux(s.encode(av.VideoFrame.from_ndarray(f, format="rgb24")))
        out.mux(s.encode())
    return dest


def looped_speech(src: Path, seconds: float, dest: Path) -> Path:
    from talkset.audio.io import load_audio

    audio = load_audio(src)
    reps = int(np.ceil(seconds / audio.duration_s))
    sf.write(dest, np.tile(audio.samples, reps)[: int(seconds * audio.sr)], audio.sr)
    return dest


class _Clock:
    def __enter__(self):
        self.w, self.c = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall, self.cpu = time.perf_counter() - self.w, time.process_time() - self.c


def speed(source: Path, speech_src: Path) -> list[tuple[str, int, float, float]]:
    """(stage, frames, wall s, cpu s) for the tracking pass, motion, the warp, the encode, and a whole dub."""
    import itertools

    from talkset.animate.api import write_video
    from talkset.animate.dub import (
        DUB_CRF,
        DUB_PRESET,
        FrameReader,
        LowerFaceWarp,
        _dubbed,
        _motion,
        dub,
        motion_source,
        output_frames,
        track_source,
    )
    from talkset.audio.io import load_audio

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        from talkset.media.probe import probe

        speech = looped_speech(speech_src, probe(source).duration_s, tmp / "speech.wav")
        dub(source, speech, tmp / "warm.mp4", progress=False, overwrite=True)  # imports, model loads
        with _Clock() as k:
            src = track_source(source)
        rows.append(("track (decode + mesh)", len(src), k.wall, k.cpu))
        audio = load_audio(speech)
        n = output_frames(int(np.ceil(audio.duration_s * src.fps - 1e-9)), len(src), "pingpong")
        with _Clock() as k:
            motion = _motion(motion_source(None), audio, fps=src.fps, n_frames=n, seed=0, text=None, language=None)
        rows.append(("motion from audio", n, k.wall, k.cpu))
        reader = FrameReader(source, src.times, 0)
        warp = LowerFaceWarp(reader.get(src.reference), src.store[src.reference])
        kept = []
        with _Clock() as k:
            for j, f in enumerate(_dubbed(src, reader, warp, motion, "pingpong", n)):
                if j < 50:
                    kept.append(f)
        rows.append(("decode + warp + paint", n, k.wall, k.cpu))
        with _Clock() as k:
            write_video(tmp / "enc.mp4", itertools.islice(itertools.cycle(kept), n), src.frame_size, src.fps, audio,
                        crf=DUB_CRF, preset=DUB_PRESET)
        rows.append(("encode (H.264 + AAC)", n, k.wall, k.cpu))
        src.store.close()
        with _Clock() as k:
            dub(source, speech, tmp / "out.mp4", progress=False, overwrite=True)
        rows.append(("whole dub", n, k.wall, k.cpu))
        # The language detector decodes up to 12 s of speech whatever the length: a fixed cost a long dub
        # spreads thin, and one a known language skips.
        with _Clock() as k:
            dub(source, speech, tmp / "out.mp4", progress=False, overwrite=True, language="en")
        rows.append(("whole dub, --language en", n, k.wall, k.cpu))
    return rows


def peak_memory(source: Path, speech_src: Path, minutes: float) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        from talkset.media.probe import probe

        reps = max(1, int(np.ceil(minutes * 60 / probe(source).duration_s)))
        video = looped_video(source, reps, tmp / "long.mp4")
        speech = looped_speech(speech_src, minutes * 60, tmp / "long.wav")
        code = ("import sys, time; from talkset.animate.dub import dub; c = time.process_time(); "
                "dub(sys.argv[1], sys.argv[2], sys.argv[3], progress=False); "
                "print(time.process_time() - c); "
                "print([l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1])")
        t0 = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", code, str(video), str(speech), str(tmp / "out.mp4")],
                              check=True, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        with av.open(str(tmp / "out.mp4")) as c:
            frames = c.streams.video[0].frames
    cpu_s, rss_kb = done.stdout.split()[-2:]
    return {"minutes": minutes, "frames": frames, "wall_s": wall, "cpu_s": float(cpu_s),
            "peak_rss_mb": int(rss_kb) / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, default=MEDIA / SOURCE)
    parser.add_argument("--speech", type=Path, default=MEDIA / SPEECH, help="file whose audio is the new speech")
    parser.add_argument("--memory-minutes", type=float, nargs="*", default=[], help="dub lengths for peak RSS")
    parser.add_argument("--skip-speed", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import cv2

    cv2.setNumThreads(1)
    print(f"CPUs this process may use: {len(os.sched_getaffinity(0))}  (taskset -c 0 for the one-core figure); "
          f"load average {os.getloadavg()[0]:.1f}")
    if not args.skip_speed:
        print(f"{'stage':<28}{'frames':>7}{'wall fps':>10}{'cpu fps':>9}")
        for stage, n, wall, cpu in speed(args.source, args.speech):
            print(f"{stage:<28}{n:>7}{n / wall:>10.1f}{n / cpu:>9.1f}")
    for minutes in args.memory_minutes:
        m = peak_memory(args.source, args.speech, minutes)
        print(f"{m['minutes']:.1f} min dub: {m['frames']} frames, wall {m['wall_s']:.0f} s, "
              f"cpu {m['cpu_s']:.0f} s ({m['frames'] / m['cpu_s']:.1f} cpu fps), peak RSS {m['peak_rss_mb']:.0f} MB")


if __name__ == "__main__":
    main()
