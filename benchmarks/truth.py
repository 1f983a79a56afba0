"""The verdict benchmark: curate on labelled real footage, judged against what each file really is.

Runs ``talkset.curate`` over ``../shared/media`` (talking/, edge/, generated/real_man_suit_700_vfr.mp4 and every
file of calibration/ that ``truth.json`` labels) and prints:

* per file: its label, the kept clips (offset, confidence), and the reasons of everything rejected;
* per file a pass/fail against its label: ``keep`` keeps at least one clip with |offset| <= the default
  threshold; ``reject`` keeps none and says the right cause; ``spans`` keeps at least 95 % of its kept time
  inside the talking spans, covers at least 60 % of them, and crosses no cut;
* a confusion table per label and cause, precision and recall of "this file gave a clip";
* the thresholds the stored scores imply (curate's scores never depend on thresholds, so every threshold can be
  read off one run): the natural lead, the confidence and mouth-motion cuts that separate keeps from negatives.

    python benchmarks/truth.py [--media ../shared/media] [--out /tmp/talkset-truth] [--workers 2]

A rerun into the same ``--out`` reuses the finished curate run (curate is resumable); ``--fresh`` starts over.
The labels of the files outside calibration/ come from their README (``talkset.testing.MEDIA_LABELS``).
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import tempfile
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

from talkset.curate.verdicts import judge_file
from talkset.dataset.manifest import load_manifest
from talkset.dataset.records import Record
from talkset.testing import media_labels

DEFAULT_MEDIA = Path(__file__).resolve().parents[2] / "shared" / "media"
def run_curate(media: Path, items: list, out: Path, workers: int, config: str | None):
    from talkset.curate.run import curate

    listing = out.parent / f"{out.name}-inputs.jsonl"
    listing.write_text("".join(json.dumps({"path": str((media / e.file).resolve()),
                                           **({"audio_path": e.audio} if e.audio else {})}) + "\n" for e in items))
    return curate([listing], out, workers=workers, config=config, progress=True)


def implied_thresholds(items: list, by_file: dict[str, list[Record]]) -> list[str]:
    """What the stored scores say the thresholds should be."""
    keep_best, neg_conf, lags, keep_open, neg_open = [], [], [], [], []
    for e in items:
        clips = [r for r in by_file.get(e.file, []) if r.type == "clip"]
        syncs = [r.scores.sync for r in clips if r.scores.sync and r.scores.sync.confidence is not None]
        opens = [r.scores.mouth.opening_range for r in clips if r.scores.mouth and r.scores.mouth.opening_range is not None]
        if e.label == "keep" and syncs:
            best = max(syncs, key=lambda s: s.confidence)
            keep_best.append((best.confidence, e.file))
            lags += [s.lag_s for s in syncs if not s.at_edge]
            keep_open += opens
        if e.label == "reject":
            neg_conf += [(s.confidence, e.file) for s in syncs]
            neg_open += [(o, e.file) for o in opens]
    lines = []
    if lags:
        lines.append(f"natural lead: median lag of keep clips {np.median(lags):+.3f} s "
                     f"(10th-90th percentile {np.percentile(lags, 10):+.3f} … {np.percentile(lags, 90):+.3f} s, n={len(lags)})")
    if keep_best:
        low = min(keep_best)
        lines.append(f"confidence: lowest best clip of a keep file {low[0]:.2f} ({low[1]})")
    if neg_conf:
        top = max(neg_conf)
        lines.append(f"confidence: highest clip of a reject file {top[0]:.2f} ({top[1]}); reject files' clips "
                     f"above 2.0: {sum(c >= 2.0 for c, _ in neg_conf)} of {len(neg_conf)}")
    if keep_open:
        lines.append(f"mouth opening range: lowest keep clip {min(keep_open):.3f}"
                     + (f", reject clips {sorted(round(o, 3) for o, _ in neg_open)}" if neg_open else ""))
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--media", type=Path, default=DEFAULT_MEDIA)
    p.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "talkset-truth")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--config", default=None, help="a curate TOML (default thresholds otherwise)")
    p.add_argument("--fresh", action="store_true", help="delete --out first")
    p.add_argument("--json", type=Path, default=None, help="also write the per-file results here")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    from talkset.curate.config import Config
    from talkset.vision.face import NATIVE_FILTER_ENV, filter_native_stderr

    os.environ[NATIVE_FILTER_ENV] = "1"  # mediapipe's routine notices, in this process and the workers
    filter_native_stderr()

    items = media_labels(args.media)
    if args.fresh and args.out.exists():
        shutil.rmtree(args.out)
    run_curate(args.media, items, args.out, args.workers, args.config)
    records = load_manifest(args.out)
    by_file: dict[str, list[Record]] = defaultdict(list)
    root = args.media.resolve()
    for r in records:
        try:
            by_file[str(Path(r.source.path).resolve().relative_to(root))].append(r)
        except ValueError:
            pass
    max_offset = int(Config.load(args.config).thresholds["sync"]["max_abs_offset_frames"])
    results, confusion = [], defaultdict(Counter)
    for e in items:
        recs = sorted(by_file.get(e.file, []), key=lambda r: r.source.start)
        v = judge_file(e, recs, max_offset)
        ok, summary, causes = v.passed, v.summary, v.causes
        results.append({"file": e.file, "label": e.label, "passed": ok, "summary": summary, "causes": causes})
        confusion[e.label]["pass" if ok else "FAIL"] += 1
        for c in causes:
            confusion[e.label][c] += 1
        print(f"{'ok  ' if ok else 'FAIL'} {e.label:6s} {e.file}: {summary}")
        for r in recs:
            s = r.scores.sync
            span = f"{r.source.start:6.2f}-{r.source.end:6.2f}"
            conf = f"conf {s.confidence:5.2f}" if s and s.confidence is not None else "conf   -  "
            off = f"{s.offset_frames:+3d}" if s and s.offset_frames is not None else "  -"
            print(f"        {span} {r.status:8s} offset {off} {conf}  {'; '.join(map(str, r.reasons))[:160]}")
    print("\nper label: files passing, and how many files had each rejection cause")
    for label, counts in sorted(confusion.items()):
        print(f"  {label:6s} " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1])))
    gave = {r["file"]: any(x.status == "kept" for x in by_file.get(r["file"], [])) for r in results}
    tp = sum(gave[e.file] for e in items if e.label == "keep")
    fp = sum(gave[e.file] for e in items if e.label == "reject")
    keeps = sum(e.label == "keep" for e in items)
    print(f"\nfile gave a clip: precision {tp / max(1, tp + fp):.2f} ({tp} of {tp + fp}), "
          f"recall {tp / max(1, keeps):.2f} ({tp} of {keeps} keep files); "
          f"leaked reject files {fp} of {sum(e.label == 'reject' for e in items)}")
    passed = sum(r["passed"] for r in results)
    print(f"files passing their label: {passed} of {len(results)}")
    print("\nthresholds the scores imply:")
    for line in implied_thresholds(items, by_file):
        print("  " + line)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0 if passed == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
