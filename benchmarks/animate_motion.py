"""Cost and memory of motion_from_audio (issue 6, motion part).

1. Cost on ``audio/english_hdtf_16k_stereo.wav`` (8 s, detected English → phone recognition): seconds of
   compute per second of audio, for the first call in a process (pocketsphinx and silero load) and the best
   of three warm calls; the same for the acoustic path (``language="de"``) and forced alignment (``text=``).
2. Peak RSS of a fresh process that builds 10 minutes of audio and runs motion_from_audio on it. The audio is
   synthetic in the sense that it is made here: the English file looped with 0.5–2 s pauses and a little
   noise (so the detector says English and the whole phone path runs), 16 kHz float32 = 38 MB. The process's
   RSS right before the call (VmRSS) is printed too, so the call's own share is visible.

Run from the project root, ideally with nothing else heavy on the machine::

    .venv/bin/python benchmarks/animate_motion.py [--media ../shared/media] [--minutes 10]
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

HDTF_TEXT = ("holidays are a time of celebrating with loved ones enjoying the festivities and many are back to "
             "school but for many this year has been")

CHILD = r"""
import json, sys, time
import numpy as np
from talkset.audio.io import Audio, load_audio
from talkset.animate.motion import motion_from_audio

path, minutes, language, text = sys.argv[1], float(sys.argv[2]), sys.argv[3] or None, sys.argv[4] or None
def status_mb(key):  # VmRSS now, VmHWM peak; ru_maxrss would carry the parent's peak across fork + exec
    return int(next(l for l in open("/proc/self/status") if l.startswith(key)).split()[1]) / 1024

speech = load_audio(path, sr=16000).samples
rng = np.random.default_rng(0)
samples = np.zeros(int(minutes * 60 * 16000), np.float32)  # built in place: no float64 or list copies
i = reps = 0  # reps: whole repetitions, each one copy of the text
while i < len(samples):
    n = min(len(speech), len(samples) - i)
    samples[i : i + n] = speech[:n]
    reps += n == len(speech)
    samples[i : i + n] += rng.normal(0, 1e-3, n).astype(np.float32)
    i += n + int(rng.uniform(0.5, 2.0) * 16000)  # a pause (zeros) after each repetition
audio = Audio(samples, 16000)
del speech, samples
before_mb = status_mb("VmRSS")
peak_before = status_mb("VmHWM")
t = time.perf_counter()
track = motion_from_audio(audio, language=language, text=text and " ".join([text] * reps))
seconds = time.perf_counter() - t
print(json.dumps({"frames": len(track), "seconds": seconds, "rss_before_call_mb": before_mb, "peak_before_call_mb": peak_before,
                  "peak_mb": status_mb("VmHWM")}))
"""


def cost(path: Path) -> list[tuple[str, float, float]]:
    """(case, first-call s per audio s, best warm s per audio s) for the three mouth paths."""
    from talkset.animate.motion import motion_from_audio
    from talkset.audio.io import load_audio

    audio = load_audio(path, sr=16000)
    rows = []
    for case, kwargs in (("detect → phones", {}), ("acoustic (de)", {"language": "de"}),
                         ("aligned (text)", {"text": HDTF_TEXT})):
        times = []
        for _ in range(4):
            t = time.perf_counter()
            motion_from_audio(audio, **kwargs)
            times.append(time.perf_counter() - t)
        rows.append((case, times[0] / audio.duration_s, min(times[1:]) / audio.duration_s))
    return rows


def long_audio(path: Path, minutes: float, language: str | None, text: str | None) -> dict:
    """Runs the 10-minute case in a fresh process and returns its JSON line."""
    out = subprocess.run([sys.executable, "-c", CHILD, str(path), str(minutes), language or "", text or ""], check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--media", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared" / "media")
    parser.add_argument("--minutes", type=float, default=10.0)
    args = parser.parse_args()
    path = args.media / "audio" / "english_hdtf_16k_stereo.wav"

    print(f"motion_from_audio on {path.name} (8 s), seconds of compute per audio second")
    print(f"{'case':<18}{'first call':>12}{'warm (best of 3)':>18}")
    for case, first, warm in cost(path):
        print(f"{case:<18}{first:>12.3f}{warm:>18.3f}")
    print(f"\n{args.minutes:g} minutes of looped speech, fresh process (VmHWM)")
    print(f"{'case':<18}{'frames':>8}{'s/audio s':>11}{'RSS before call':>17}{'peak RSS':>10}")
    for case, language, text in (("detect → phones", None, None), ("acoustic (de)", "de", None),
                                 ("aligned (text)", None, HDTF_TEXT)):
        r = long_audio(path, args.minutes, language, text)
        print(f"{case:<18}{r['frames']:>8}{r['seconds'] / (args.minutes * 60):>11.3f}"
              f"{r['rss_before_call_mb']:>15.0f}MB{r['peak_mb']:>8.0f}MB")
    print(f"\n(this process: peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB)")


if __name__ == "__main__":
    main()
