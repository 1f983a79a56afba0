"""Calibrate and check the weight-free sync scorer on real speech (issue 2's sync notes).

For every talking clip in shared/media it prints, per candidate clip: the raw lag (frames and seconds) at which
the audio best matches the mouth, the confidence, and the lag again after the audio is delayed by 8 frames
(which should move it by exactly 8). It also scores each clip's mouth against every *other* clip's audio,
the confidence of a pair that is surely not in sync, so the threshold can be read against it.

The natural lead (``sync_natural_lead_s`` in defaults.toml) is the centre of the raw lags of real clips.

    python benchmarks/calibrate_sync.py [--media ../shared/media]
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from talkset.audio.io import load_audio
from talkset.curate.config import Config
from talkset.curate.pipeline import Backends
from talkset.curate.scores.sync import av_offset

TALKING = ["hdtf_woman_flag_512_mpeg4", "man_worldmap_844", "obama_450_20s", "vox_man_tv_224",
           "vox_woman_hand_occlusion_224", "woman_blazer_1920x1080", "woman_headset_256_noaudio",
           "woman_outdoor_1080x1920_hevc"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--media", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "media")
    args = parser.parse_args()
    backends, config = Backends.get(), Config.load()
    from talkset.curate.analyze import analyze
    from talkset.curate.segment import join_speech
    from talkset.media.probe import probe

    series = []
    for name in TALKING:
        video = args.media / "talking" / f"{name}.mp4"
        wav = video.with_suffix(".wav")
        audio = load_audio(wav if wav.exists() else video)
        info = probe(video)
        speech = join_speech(backends.vad.speech_segments(audio), config.segment["speech_join_gap_s"],
                             config.segment["speech_pad_s"])
        regions = [(a - 0.5, b + 0.5) for a, b in speech]
        result = analyze(video, rotation_deg=info.rotation_deg, fps=float(info.fps), regions=regions,
                         detector=backends.detector, mesher=backends.mesher, segment_cfg=config.segment,
                         analysis_cfg=config.analysis)
        spans = [(max(a, result.frame_times[0]), min(b, result.frame_times[-1])) for a, b in speech if b - a >= 3]
        series.append((name, float(info.fps), result.faces, audio, spans))

    print(f"{'clip':32s} {'span s':>13s} {'raw lag':>8s} {'lag s':>7s} {'conf':>6s} {'+8 frames':>9s}")
    lags_s, confs, null = [], [], []
    for name, fps, faces, audio, spans in series:
        delayed = np.concatenate([np.zeros(int(round(8 / fps * audio.sr)), np.float32), audio.samples])
        for a, b in spans:
            r = av_offset(faces["t"], faces["mouth"], audio.samples, audio.start_s, audio.sr, a, b, fps)
            d = av_offset(faces["t"], faces["mouth"], delayed, audio.start_s, audio.sr, a, b, fps)
            if r["raw_offset_frames"] is None:
                continue
            lags_s.append(r["raw_offset_frames"] / fps)
            confs.append(r["confidence"])
            print(f"{name:32s} {a:6.2f}-{b:6.2f} {r['raw_offset_frames']:+8d} {lags_s[-1]:+7.3f} "
                  f"{r['confidence']:6.3f} {d['raw_offset_frames'] - r['raw_offset_frames']:+9d}")
            for other, _, _, other_audio, _ in series:
                if other != name:
                    n = av_offset(faces["t"], faces["mouth"], other_audio.samples, other_audio.start_s,
                                  other_audio.sr, a, min(b, a + other_audio.duration_s - 1), fps)
                    if n["confidence"] is not None:
                        null.append(n["confidence"])
    lags = np.array(lags_s)
    print(f"\nraw lag of real clips: min {lags.min():+.3f} s, max {lags.max():+.3f} s, "
          f"median {np.median(lags):+.3f} s, centre of range {(lags.min() + lags.max()) / 2:+.3f} s")
    print(f"configured natural lead: {config.analysis['sync_natural_lead_s']:.3f} s")
    print(f"confidence, real pairs: median {np.median(confs):.3f}, min {np.min(confs):.3f}")
    if null:
        print(f"confidence, mismatched pairs: median {np.median(null):.3f}, 95th percentile "
              f"{np.percentile(null, 95):.3f} (n={len(null)})")


if __name__ == "__main__":
    main()
