"""Learned motion against the rule-based motion, on real footage, with whole speakers held out.

Trains ``talkset train`` models on the real clips of ``../shared/media`` (talking/ and the calibration keep files,
curated once) in speaker folds: every clip is scored by a model that never saw its speaker (curate's
``metadata.speaker_id`` clusters; a cluster that merged two people only makes the hold-out stricter). Prints:

* mouth LMD on the held-out clips (canonical space, inter-ocular units, ``talkset.train.evaluate``) for the
  rule-based motion and the learned model (both through the portrait rig, as ``animate`` uses them), the
  model's own mesh output, a still face, and the rig's ceiling; per clip, overall, per language and gender with
  bootstrap intervals (``bench.stats``);
* the learning curve: held-out LMD as training clips are added;
* sync of animated videos (a portrait driven by each held-out clip's audio, rules and model): curate's scorer's
  offset and confidence;
* training time and motion inference speed (one thread).

    python benchmarks/train_eval.py --data /tmp/train_data/out [--folds 3] [--curve 6,12] [--sync-clips 6]

Without ``--data`` it curates first (slow: about 1-2 min per 10 s of video) into ``--work``; a rerun reuses it.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

METHODS = ("rules_motion_lmd", "motion_lmd", "motion_lmd_mesh", "still_motion_lmd", "rig_ceiling_lmd")
LABELS = {"rules_motion_lmd": "rules (rig)", "motion_lmd": "model (rig)", "motion_lmd_mesh": "model (mesh)",
          "still_motion_lmd": "still face", "rig_ceiling_lmd": "rig ceiling"}


def curate_inputs(media: Path, work: Path) -> Path:
    """Runs curate once on talking/ and the calibration keep files (body and hands off: only the face is used)."""
    out = work / "out"
    if (out / "manifest.json").is_file():
        return out
    work.mkdir(parents=True, exist_ok=True)
    rows = []
    for f in sorted((media / "talking").glob("*.mp4")):
        row = {"path": str(f), "language": "en"}
        if (f.with_suffix(".wav")).is_file() and "noaudio" in f.name:
            row["audio_path"] = str(f.with_suffix(".wav"))
        rows.append(row)
    for e in json.loads((media / "calibration" / "truth.json").read_text()):
        if e["label"] == "keep":
            rows.append({"path": str(media / "calibration" / e["file"]),
                         "language": "de" if "german" in e["file"] else "en"})
    (work / "inputs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (work / "curate.toml").write_text("[annotate]\nbody = false\nhands = false\n")
    subprocess.run([sys.executable, "-m", "talkset.cli", "curate", str(work / "inputs.jsonl"), "-o", str(out),
                    "-c", str(work / "curate.toml"), "-w", "2"], check=True,
                   env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
    return out


def folds_of(speakers: list[str], k: int, seed: int) -> list[list[str]]:
    ranked = sorted(speakers, key=lambda s: hashlib.sha256(f"{seed}:{s}".encode()).hexdigest())
    return [ranked[i::k] for i in range(k)]


def train_fold(data: Path, out: Path, held: list[str], *, max_clips: int | None, seed: int, epochs: int | None):
    from talkset.train import TrainConfig, train

    kw = {"epochs": epochs} if epochs else {}
    t0, c0 = time.monotonic(), time.process_time()
    result = train(TrainConfig(inputs=[str(data)], out=str(out), val_speakers=held, max_train_clips=max_clips,
                               seed=seed, force=True, progress=False, **kw))
    return result, time.monotonic() - t0, time.process_time() - c0


def summary(rows: list[dict], metric: str) -> float:
    v = [r[metric] for r in rows if r.get(metric) is not None and np.isfinite(r[metric])]
    return float(np.mean(v)) if v else float("nan")


def print_groups(rows: list[dict], dim: str) -> None:
    from talkset.bench.stats import subgroup_stats

    groups = sorted({str(r.get(dim)) for r in rows})
    print(f"\n### by {dim} (mean over clips, 95% bootstrap interval)\n")
    print(f"| {dim} | n | " + " | ".join(LABELS[m] for m in METHODS) + " |")
    print("|---|---|" + "---|" * len(METHODS))
    stats = {m: subgroup_stats({g: [r[m] for r in rows if str(r.get(dim)) == g] for g in groups}, dim=dim,
                               metric=m, higher_is_better=False) for m in METHODS}
    for i, g in enumerate(groups):
        cells = []
        for m in METHODS:
            s = stats[m].groups[i]
            cells.append(f"{s.mean:.4f} [{s.ci_low:.4f}, {s.ci_high:.4f}]")
        print(f"| {g} | {stats[METHODS[0]].groups[i].n} | " + " | ".join(cells) + " |")


def sync_table(rows: list[dict], srcs: dict, models: dict, work: Path, n_clips: int) -> None:
    """Animates the portrait with the audio of the shortest held-out clips (rules and model); curate's scorer."""
    from talkset.animate.api import animate
    from talkset.audio.io import load_audio
    from talkset.bench.sync import weightfree_sync
    from talkset.demo import portrait_path
    from talkset.vision.face import FaceDetector, FaceMesher

    chosen = sorted((r for r in rows if "error" not in r), key=lambda r: r["frames"])[:n_clips]
    det, mesh = FaceDetector(), FaceMesher()
    print("\n### sync of animated videos (curate's scorer: offset in frames vs the natural lead, confidence z)\n")
    print("| clip | language | rules offset | rules conf | model offset | model conf |")
    print("|---|---|---|---|---|---|")
    summary_rows = defaultdict(list)
    for r in chosen:
        src = srcs[r["id"]]
        cells = []
        for name, model in (("rules", None), ("model", models[r["id"]])):
            out = work / "animated" / f"{r['id']}-{name}.mp4"
            if not out.is_file():
                animate(portrait_path(), src.audio, out, fps=25, size=256, progress=False,
                        language=src.metadata.get("language"), motion_model=model)
            s = weightfree_sync(out, load_audio(out), det, mesh)
            cells += [s["offset_frames"], s["confidence"]]
            summary_rows[name].append((s["offset_frames"], s["confidence"]))
        fmt = lambda v: "none" if v is None else (f"{v:+d}" if isinstance(v, int) else f"{v:.2f}")
        print(f"| {r['id'][:34]} | {src.metadata.get('language')} | " + " | ".join(fmt(c) for c in cells) + " |")
    for name, vals in summary_rows.items():
        offs = [o for o, _ in vals if o is not None]
        within = sum(abs(o) <= 2 for o in offs)
        print(f"\n{name}: |offset| <= 2 frames on {within} of {len(vals)} videos; median confidence "
              f"{np.median([c for _, c in vals if c is not None]):.2f}")


def inference_speed(model_path: Path) -> None:
    import torch

    from talkset.audio.io import Audio
    from talkset.train import load_motion_model

    torch.set_num_threads(1)
    model = load_motion_model(model_path)
    rng = np.random.default_rng(0)
    audio = Audio((0.1 * rng.standard_normal(16000 * 120)).astype(np.float32), 16000)
    model.motion(Audio(audio.samples[:16000], 16000), fps=25)  # warm-up
    t0 = time.perf_counter()
    track = model.motion(audio, fps=25)
    dt = time.perf_counter() - t0
    print(f"\nmotion inference, one thread: {len(track)} frames (120 s of audio) in {dt:.2f} s = "
          f"{len(track) / dt:.0f} frames/s (features, network and rig projection)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, help="a curated folder (default: curate ../shared/media into --work)")
    ap.add_argument("--media", type=Path, default=ROOT.parent / "shared" / "media")
    ap.add_argument("--work", type=Path, default=Path("/tmp/talkset-train-eval"))
    ap.add_argument("--folds", type=int, default=3)
    ap.add_argument("--curve", default="6,12", help="training-clip counts for the learning curve ('' for none)")
    ap.add_argument("--sync-clips", type=int, default=6)
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    import logging

    logging.basicConfig(level=logging.WARNING)
    from talkset.train import load_motion_model
    from talkset.train.data import sources
    from talkset.train.evaluate import score_sources

    data = args.data or curate_inputs(args.media, args.work)
    args.work.mkdir(parents=True, exist_ok=True)
    srcs = {s.id: s for s in sources([data])}
    speakers = sorted({s.speaker for s in srcs.values()})
    folds = folds_of(speakers, args.folds, args.seed)
    print(f"## train_eval: {len(srcs)} clips, {len(speakers)} speaker clusters, {args.folds} speaker folds\n")
    sizes = [int(x) for x in args.curve.split(",") if x.strip()] + [None]
    rows_by_size: dict[int | None, list[dict]] = {}
    models_full: dict[str, object] = {}
    timing = []
    for size in sizes:
        rows = []
        for i, held in enumerate(folds):
            path = args.work / f"fold{i}-{size or 'all'}.pt"
            result, wall, cpu = train_fold(data, path, held, max_clips=size, seed=args.seed, epochs=args.epochs)
            timing.append((size, i, len(result.train_clips), wall, cpu))
            model = load_motion_model(path)
            held_srcs = [srcs[c] for c in result.val_clips]
            got = score_sources(held_srcs, model, rules=size is None, dims=("language", "gender"), progress=False)
            for r in got:
                r["fold"], r["train_clips"] = i, len(result.train_clips)
                if size is None:
                    models_full[r["id"]] = model
            rows += got
        rows_by_size[size] = rows

    full = rows_by_size[None]
    print("### held-out mouth LMD per clip (canonical space, inter-ocular units; lower is better)\n")
    print("| clip | fold | lang | frames | " + " | ".join(LABELS[m] for m in METHODS) + " |")
    print("|---|---|---|---|" + "---|" * len(METHODS))
    for r in sorted(full, key=lambda r: r["id"]):
        if "error" in r:
            print(f"| {r['id'][:34]} | {r['fold']} | error: {r['error']} |")
            continue
        print(f"| {r['id'][:34]} | {r['fold']} | {r.get('language')} | {r['frames']} | "
              + " | ".join(f"{r[m]:.4f}" for m in METHODS) + " |")
    means = {m: summary(full, m) for m in METHODS}
    print("\n| mean over clips | " + " | ".join(f"{LABELS[m]} {means[m]:.4f}" for m in METHODS) + " |")
    gain = 1 - means["motion_lmd"] / means["rules_motion_lmd"]
    print(f"\nmodel vs rules (both through the rig): {100 * gain:+.1f}% lower LMD "
          f"(the issue asks for >= 10%: {'holds' if gain >= 0.10 else 'does NOT hold'}); "
          f"model vs still face: {100 * (1 - means['motion_lmd'] / means['still_motion_lmd']):+.1f}%")
    for dim in ("language", "gender"):
        print_groups([r for r in full if "error" not in r], dim)

    print("\n### learning curve (held-out mouth LMD, model through the rig, mean over the same held-out clips)\n")
    print("| training clips per fold (mean) | model (rig) | model (mesh) |")
    print("|---|---|---|")
    for rows in rows_by_size.values():
        n = np.mean([r["train_clips"] for r in rows])
        print(f"| {n:.1f} | {summary(rows, 'motion_lmd'):.4f} | {summary(rows, 'motion_lmd_mesh'):.4f} |")
    print("\n### training time (one thread per run)\n")
    print("| clips | fold | train clips | wall s | CPU s |")
    print("|---|---|---|---|---|")
    for size, i, n, wall, cpu in timing:
        print(f"| {size or 'all'} | {i} | {n} | {wall:.0f} | {cpu:.0f} |")
    if args.sync_clips:
        sync_table([r for r in full if "error" not in r], srcs, models_full, args.work, args.sync_clips)
    inference_speed(args.work / "fold0-all.pt")


if __name__ == "__main__":
    main()
