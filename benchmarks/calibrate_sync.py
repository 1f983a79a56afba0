"""Calibrate the weight-free sync scorer on real speech, and show what each threshold costs.

For every real talking clip (the ``keep`` files of calibration/truth.json, and talking/ of the media folder) it runs
curate's own analysis pass and scores each speech span of 3 s or more:

* with its own audio: the lag (the natural lead is their median) and the confidence;
* with its audio shifted by k in {-8, -5, -3, +3, +5, +8} frames: how far the measured offset moves (should be k);
* with the mouth played backwards under the real audio, and with every other clip's audio (mismatched pairs):
  the confidence of pairs that are surely not in sync.

It prints the lowest confidence of a real pair, the 95th percentile of mismatched pairs, and, for a range of
``min_confidence`` values, the share of real pairs kept (recall) and of mismatched / reversed pairs that would
pass (false-accept rate); the default in defaults.toml is the smallest value whose false-accept rate on mismatched
pairs is at most 5 %.

    python benchmarks/calibrate_sync.py [--media ../shared/media] [--clip-s 0]

``--clip-s 5`` also cuts every span into 5 s windows, the length of a short clip, where sync is hardest.
"""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np

from talkset.curate.calibrate import SHIFTS, load_clip, pair_scores, real_files
from talkset.curate.config import Config
from talkset.curate.pipeline import Backends

DEFAULT_MEDIA = Path(__file__).resolve().parents[2] / "shared" / "media"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--media", type=Path, default=DEFAULT_MEDIA)
    parser.add_argument("--clip-s", type=float, default=0.0, help="cut spans into windows this long (0: whole spans)")
    parser.add_argument("--dump", type=Path, default=None, help="write every scored pair (with its views) here as JSON")
    args = parser.parse_args()
    from talkset.vision.face import NATIVE_FILTER_ENV, filter_native_stderr

    os.environ[NATIVE_FILTER_ENV] = "1"
    filter_native_stderr()
    backends, config = Backends.get(), Config.load()
    ana, th = config.analysis, config.thresholds["sync"]
    max_off = th["max_abs_offset_frames"]
    clips = [load_clip(v, w, c, backends, config, args.clip_s) for v, w, c in real_files(args.media)]
    pairs = [p for p in pair_scores(clips, ana) if p["confidence"] is not None]
    if args.dump:
        args.dump.write_text(json.dumps(pairs))

    print(f"{'clip':44s} {'span s':>13s} {'lag s':>7s} {'offset':>6s} {'conf':>6s}  moved-k for k in {SHIFTS}")
    real = {(p["clip"], p["span"]): p for p in pairs if p["kind"] == "real"}
    moved: dict = {}
    for p in pairs:
        if p["kind"] == "shifted" and (p["clip"], p["span"]) in real:
            r = real[(p["clip"], p["span"])]
            moved.setdefault((p["clip"], p["span"]), []).append(round((p["offset_s"] - r["offset_s"]) * p["fps"] - p["k"]))
    for key, r in real.items():
        print(f"{r['clip'][:44]:44s} {r['span'][0]:6.2f}-{r['span'][1]:6.2f} {r['lag_s']:+7.3f} {r['offset_frames']:+6d} "
              f"{r['confidence']:6.2f}  {moved.get(key)}")
    errors = np.array([e for v in moved.values() for e in v])
    per_file: dict = {}
    for r in real.values():
        per_file.setdefault(r["clip"], []).append(r["lag_s"])
    file_lags = np.array([np.median(v) for v in per_file.values()])
    print(f"\nlag of real clips: mean of the files' median lags {file_lags.mean():+.3f} s (configured natural lead "
          f"{ana['sync_natural_lead_s']:.3f} s), median {np.median(file_lags):+.3f} s, range {file_lags.min():+.3f} … "
          f"{file_lags.max():+.3f} s over {len(file_lags)} files")
    print(f"shift test: measured move within ±1 frame of k in {np.mean(np.abs(errors) <= 1):.0%} of {len(errors)} "
          f"shifted pairs")
    for scope, keep in (("calibration set", lambda p: p["calibration"]), ("calibration + talking/", lambda p: True)):
        pick = lambda kind, keep=keep: np.array([(p["confidence"], p["offset_frames"]) for p in pairs
                                                 if p["kind"] == kind and keep(p)], float).reshape(-1, 2)
        reals, mis, rev = pick("real"), pick("mismatched"), pick("reversed")
        print(f"\n{scope}: real pairs n={len(reals)}, lowest confidence {reals[:, 0].min():.2f}; mismatched pairs "
              f"n={len(mis)}, 95th percentile {np.percentile(mis[:, 0], 95):.2f}, max {mis[:, 0].max():.2f}; "
              f"reversed max {rev[:, 0].max():.2f}")
        print(f"{'min_confidence':>14s} {'real kept':>10s} {'mismatched >= it':>17s} {'... and in sync':>16s} "
              f"{'reversed in sync':>17s}")
        chosen = None
        for cut in np.arange(1.0, 4.001, 0.05):
            passes = lambda a, cut=cut: (a[:, 0] >= cut) & (np.abs(a[:, 1]) <= max_off)
            far, rev_far = float(np.mean(passes(mis))), float(np.mean(passes(rev)))
            if chosen is None and far <= 0.05 and rev_far == 0:
                chosen = cut
            if round(cut * 100) % 25 == 0 or cut == chosen:
                print(f"{cut:14.2f} {np.mean(passes(reals)):10.0%} {np.mean(mis[:, 0] >= cut):17.1%} {far:16.1%} "
                      f"{rev_far:17.1%}")
        print(f"smallest min_confidence at which at most 5 % of mismatched pairs and no reversed one pass as in sync: "
              f"{chosen:.2f} (configured {th['min_confidence']:g})")


if __name__ == "__main__":
    main()
