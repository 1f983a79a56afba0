"""The ``talkset`` command: a thin adapter over the Python API."""
from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any, cast

import typer
from typer.core import TyperGroup

from talkset.errors import TalksetError, one_line


class _Commands(TyperGroup):
    """Every command's TalksetError becomes one line on stderr and exit status 1, never a traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (TalksetError, OSError) as e:  # OSError: a disk full or a folder not writable, named by the OS
            typer.echo(f"talkset: error: {one_line(e, 1000) if isinstance(e, OSError) else e}", err=True)
            raise typer.Exit(1) from None


app = typer.Typer(help="Curate, benchmark and animate talking-head video on a CPU.", no_args_is_help=True,
                  add_completion=False, pretty_exceptions_enable=False, cls=_Commands)


class _TqdmHandler(logging.Handler):
    """One line per message, written so it does not break a progress bar."""

    def emit(self, record: logging.LogRecord) -> None:
        from tqdm import tqdm

        tqdm.write(f"talkset: {record.levelname.lower()}: {record.getMessage()}", file=sys.stderr)


def _setup_logging(verbose: bool) -> None:
    root = logging.getLogger("talkset")
    root.handlers[:] = [_TqdmHandler()]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    root.propagate = False


@contextlib.contextmanager
def _clear_errors():
    """A folder that is not a talkset output is a usage error (exit 2); other errors are TalksetErrors."""
    try:
        yield
    except FileNotFoundError as e:
        raise typer.BadParameter(str(e)) from None


def _load_config(path: Path | None):
    from talkset.curate.config import Config, ConfigError

    try:
        return Config.load(path)
    except ConfigError as e:
        raise typer.BadParameter(str(e), param_hint="--config") from None


@app.command()
def curate(
    inputs: list[Path] = typer.Argument(..., help="Videos, folders (searched recursively) or list files "
                                        "(.csv/.jsonl with path, optional audio_path and subtitle_path)."),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder (clips/, manifest.json, manifest.parquet)."),
    config: Path | None = typer.Option(None, "--config", "-c", help="TOML overriding defaults "
                                       "(see `talkset config`)."),
    workers: int | None = typer.Option(None, "--workers", "-w", min=1, help="Worker processes [default: cores]."),
    clips: str | None = typer.Option(None, "--clips", help="Clip files: encode (frame-exact H.264+AAC), fast "
                                     "(x264 ultrafast, larger files) or none (manifest and annotations only; "
                                     "`talkset cut OUT` writes them later) [default: the config's, encode]."),
    annotate: bool | None = typer.Option(None, "--annotate/--no-annotate", help="Keypoints, shot type and "
                                         "speaker ids from the video pass [default: the config's, on]."),
    executor: str = typer.Option("local", help="Where videos run: local (a process pool) or ray "
                                 "(needs `pip install 'talkset[ray]'`)."),
    ray_address: str | None = typer.Option(None, help="With --executor ray: a running cluster (e.g. auto); "
                                           "default: a local Ray instance with --workers CPUs."),
    progress: bool = typer.Option(True, help="Show a progress bar."),
    verbose: bool = typer.Option(False, "--verbose", "-v"),
    captioner: str | None = typer.Option(None, help="Then caption kept clips: openai (any OpenAI-compatible "
                                         "vision chat endpoint; see `talkset caption`)."),
    base_url: str | None = typer.Option(None, help="With --captioner: the API root, e.g. "
                                        "https://api.openai.com/v1."),
    model: str | None = typer.Option(None, help="With --captioner: the model name."),
    api_key_env: str | None = typer.Option(None, help="With --captioner: the environment variable holding the "
                                           "API key [default: OPENAI_API_KEY]."),
) -> None:
    """Cut raw videos into clips of one person speaking to camera, with every score in one manifest.

    Resumable: rerunning with the same output folder skips finished videos and redoes interrupted ones.
    """
    from talkset.curate.run import curate as run_curate

    _setup_logging(verbose)
    caption = _caption_settings(captioner, base_url, model, api_key_env)  # checked before hours of curating
    runner = None
    if executor == "ray":
        from talkset.run.ray_executor import RayExecutor

        try:
            runner = RayExecutor(address=ray_address, num_cpus=workers)
        except ImportError as e:
            raise typer.BadParameter(str(e), param_hint="--executor") from None
    elif executor != "local":
        raise typer.BadParameter(f"unknown executor {executor!r} (choose local or ray)", param_hint="--executor")
    elif ray_address:
        raise typer.BadParameter("--ray-address needs --executor ray", param_hint="--ray-address")
    from talkset.curate.config import CLIP_MODES

    settings = _load_config(config)
    if clips is not None:
        if clips not in CLIP_MODES:
            raise typer.BadParameter(f"unknown mode {clips!r} (choose {', '.join(CLIP_MODES)})", param_hint="--clips")
        settings.output["clips"] = clips
    if annotate is not None:
        settings.annotate["keypoints"] = annotate
    with _clear_errors():
        # curate() only reads the list (its list[str | Path] parameter does not take a list[Path] as typed)
        summary = run_curate(cast("list[str | Path]", inputs), out, config=settings, workers=workers,
                             executor=runner, progress=progress)
    typer.echo(summary.table())
    typer.echo(f"manifest: {summary.manifest}\nclips:    {Path(out) / 'clips'}"
               + ("  (none written: `talkset cut` writes them)" if settings.output["clips"] == "none" else ""))
    if caption is not None:
        _caption_pass(out, caption, progress=progress)


@app.command("filter")
def filter_(
    out: Path = typer.Argument(..., help="An output folder of `talkset curate`."),
    config: Path = typer.Option(..., "--config", "-c", help="TOML with new [thresholds]."),
) -> None:
    """Re-judge an existing manifest with new thresholds, without decoding anything."""
    from talkset.curate.run import filter_manifest

    _setup_logging(False)
    with _clear_errors():
        summary = filter_manifest(out, _load_config(config))
    typer.echo(summary.table())
    typer.echo(f"manifest: {summary.manifest}")


@app.command()
def cut(
    out: Path = typer.Argument(..., help="An output folder of `talkset curate`."),
    config: Path | None = typer.Option(None, "--config", "-c", help="The thresholds that decide what is kept."),
) -> None:
    """Write the clip files of kept records that have none (kept after `talkset filter` loosened thresholds)."""
    from talkset.curate.run import cut_missing

    _setup_logging(False)
    with _clear_errors():
        written, problems = cut_missing(out, _load_config(config))
    typer.echo(f"{written} clips written" + (f", {len(problems)} failed" if problems else ""))


def _caption_settings(captioner: str | None, base_url: str | None, model: str | None,
                      api_key_env: str | None) -> dict | None:
    """The caption options as keyword arguments, checked (key present, URL usable) before any work."""
    from talkset.curate.captioner import CaptionError, check_endpoint

    if captioner is None:
        if base_url or model or api_key_env:
            raise typer.BadParameter("--base-url, --model and --api-key-env need --captioner openai",
                                     param_hint="--captioner")
        return None
    if captioner != "openai":
        raise typer.BadParameter(f"unknown captioner {captioner!r} (choose openai)", param_hint="--captioner")
    if not base_url or not model:
        raise typer.BadParameter("--captioner openai needs --base-url and --model", param_hint="--captioner")
    settings = {"base_url": base_url, "model": model}
    if api_key_env:
        settings["api_key_env"] = api_key_env
    try:
        check_endpoint(base_url, settings.get("api_key_env", "OPENAI_API_KEY"))
    except CaptionError as e:
        raise typer.BadParameter(str(e), param_hint="--base-url / --api-key-env") from None
    return settings


def _caption_pass(out: Path, settings: dict, **options) -> None:
    from talkset.curate.captioner import caption_clips

    summary = caption_clips(out, **settings, **{k: v for k, v in options.items() if v is not None})
    typer.echo(summary.table())
    typer.echo(f"captions: {Path(out) / 'annotations'}")


@app.command()
def caption(
    out: Path = typer.Argument(..., help="An output folder of `talkset curate`."),
    captioner: str = typer.Option("openai", help="openai: any OpenAI-compatible vision chat endpoint "
                                  "(OpenAI, vLLM, llama.cpp server, Ollama, ...)."),
    base_url: str = typer.Option(..., help="The API root, e.g. https://api.openai.com/v1 or "
                                 "http://127.0.0.1:8080/v1."),
    model: str = typer.Option(..., help="The model name the endpoint expects."),
    api_key_env: str | None = typer.Option(None, help="Environment variable holding the API key "
                                           "[default: OPENAI_API_KEY; may be unset for a local server]."),
    frames: int | None = typer.Option(None, min=1, help="Frames sent per clip [default: 3]."),
    concurrency: int | None = typer.Option(None, min=1, help="Requests in flight [default: 4]."),
    timeout: float | None = typer.Option(None, min=0.1, help="Seconds to wait for an answer [default: 60]."),
    retries: int | None = typer.Option(None, min=0, help="Retries after timeouts, 429 and 5xx [default: 3]."),
    force: bool = typer.Option(False, help="Caption again clips that already have a caption file."),
    progress: bool = typer.Option(True, help="Show a progress bar."),
    verbose: bool = typer.Option(False, "--verbose", "-v"),
) -> None:
    """Structured captions (visual style, audio style, summary) for kept clips from a vision chat model.

    A few frames and the measured facts of each clip go to POST {base-url}/chat/completions; answers land in
    OUT/annotations/ID.caption.json. The key is read from the environment only. Clips that fail get a reason
    and are retried by the next run; captioned clips are skipped.
    """
    _setup_logging(verbose)
    settings = _caption_settings(captioner, base_url, model, api_key_env)
    assert settings is not None  # a captioner is always given here, so the settings are returned or it raised
    if not (out / "manifest.json").is_file():
        raise typer.BadParameter(f"{out}: no manifest.json (run `talkset curate` first)", param_hint="OUT")
    _caption_pass(out, settings, frames=frames, concurrency=concurrency, timeout_s=timeout, retries=retries,
                  force=force, progress=progress)


@app.command("config")
def show_config() -> None:
    """Print the default configuration (copy it, edit it, pass it with --config)."""
    from talkset.curate.config import default_config_text

    typer.echo(default_config_text(), nl=False)


@app.command()
def probe(files: list[Path] = typer.Argument(..., help="Media files.")) -> None:
    """Print what curate sees in each file (streams, timing, rotation), one JSON line each."""
    from talkset.media.probe import ProbeError
    from talkset.media.probe import probe as run_probe

    failed = 0
    for f in files:
        try:
            typer.echo(json.dumps(run_probe(f).to_dict()))
        except ProbeError as e:  # the other files are still probed
            typer.echo(f"talkset: error: {e}", err=True)
            failed += 1
    if failed:
        raise typer.Exit(1)


@app.command()
def demo(
    out: Path = typer.Option(Path("talkset-demo"), "--out", "-o", help="Folder for the demo input and output."),
    workers: int | None = typer.Option(None, "--workers", "-w", min=1),
) -> None:
    """Build a small raw video here (no download), curate it, write its HTML report, and show where all is."""
    from talkset.curate.run import curate as run_curate
    from talkset.demo import build_demo_video
    from talkset.report import build_report

    _setup_logging(False)
    raw = out / "input" / "demo_raw.mp4"
    if not raw.exists():
        raw.parent.mkdir(parents=True, exist_ok=True)
        build_demo_video(raw)
    typer.echo(f"demo input: {raw}")
    with _clear_errors():
        summary = run_curate([raw], out / "curated", workers=workers)
    typer.echo(summary.table())
    typer.echo(f"manifest: {summary.manifest}\nclips:    {out / 'curated' / 'clips'}")
    typer.echo(f"report:   {build_report(out / 'curated', progress=False)}  (open it in a browser)")


@app.command()
def export(
    out: Path = typer.Argument(..., help="An output folder of `talkset curate` (or its manifest.json)."),
    format: str = typer.Option(..., "--format", "-f", help="webdataset (tar shards), vexpress (V-Express / "
                               "TalkVid training layout), talkvid (TalkVid's metadata JSON) or hf (Parquet "
                               "shards with declared features for Hugging Face datasets)."),
    dest: Path = typer.Option(..., "--out", "-o", help="Folder for the shards / V-Express export; "
                              "the .json file for talkvid."),
    shard_size: int | None = typer.Option(None, min=1, help="webdataset, hf: clips per shard [default: 1000]."),
    shard_bytes: str | None = typer.Option(None, help="webdataset: bytes per shard at most, e.g. 1GB, 500MiB."),
    status: str = typer.Option("kept", help="Comma-separated record statuses to export."),
    link: str = typer.Option("hardlink", help="vexpress: hardlink (copy across file systems), copy or symlink "
                             "the clip files that are not re-encoded."),
    crop: str = typer.Option("face", help="vexpress: face (512x512 face-centred crops, as TalkVid's "
                             "preprocessing) or none (the clips as they are)."),
    crop_size: int = typer.Option(512, min=16, help="vexpress: side of the face crop, pixels."),
    fps: float | None = typer.Option(None, min=1.0, help="vexpress: frame rate of gt.mp4 (TalkVid's checks "
                                     "expect 24) [default: the clip's]."),
    paths: str = typer.Option("absolute", help="vexpress: absolute or relative (to --out) paths in "
                              "vexpress.json."),
    wav2vec2: Path | None = typer.Option(None, "--wav2vec2", help="vexpress: a local wav2vec2-base-960h "
                                         "folder; aud_embeds.pt is computed with it (needs "
                                         "`pip install 'talkset[export]'`)."),
    allow_incomplete: bool = typer.Option(False, help="vexpress: list clips without aud_embeds.pt in "
                                          "vexpress.json too."),
    force: bool = typer.Option(False, help="Replace an earlier export at --out."),
    progress: bool = typer.Option(True, help="Show a progress bar."),
) -> None:
    """Export a curated dataset for training: WebDataset shards, V-Express layout, TalkVid JSON or HF Parquet."""
    from tqdm import tqdm

    from talkset.dataset.webdataset import export_webdataset, parse_bytes

    _setup_logging(False)
    statuses = tuple(s.strip() for s in status.split(",") if s.strip())
    if format not in ("webdataset", "hf") and shard_size:
        raise typer.BadParameter("--shard-size is for --format webdataset or hf")
    if format != "webdataset" and shard_bytes:
        raise typer.BadParameter("--shard-bytes is for --format webdataset")
    vexpress_only = {"--crop": crop != "face", "--crop-size": crop_size != 512, "--fps": fps is not None,
                     "--paths": paths != "absolute", "--wav2vec2": wav2vec2 is not None,
                     "--allow-incomplete": allow_incomplete}
    if format != "vexpress" and any(vexpress_only.values()):
        given = ", ".join(k for k, v in vexpress_only.items() if v)
        raise typer.BadParameter(f"{given}: for --format vexpress only")
    if format == "webdataset":
        try:
            max_bytes = parse_bytes(shard_bytes) if shard_bytes else None
        except ValueError as e:
            raise typer.BadParameter(str(e), param_hint="--shard-bytes") from None
        result = export_webdataset(out, dest, max_samples=shard_size, max_bytes=max_bytes, statuses=statuses,
                                   force=force)
    elif format == "vexpress":
        from talkset.dataset.vexpress import export_vexpress
        from talkset.dataset.webdataset import load_manifest, select_clips

        total = len(select_clips(load_manifest(out)[1], statuses))
        with tqdm(total=total, unit="clip", disable=not progress, desc="export") as bar:
            result = export_vexpress(out, dest, statuses=statuses, link=link, force=force, crop=crop,
                                     size=crop_size, fps=fps, paths=paths, wav2vec2=wav2vec2,
                                     allow_incomplete=allow_incomplete, progress=bar.update)
    elif format == "talkvid":
        from talkset.dataset.talkvid import export_talkvid

        result = export_talkvid(out, dest, statuses=statuses, force=force)
    elif format == "hf":
        from talkset.dataset.hf import export_hf

        result = export_hf(out, dest, statuses=statuses, max_samples=shard_size, force=force)
    else:
        raise typer.BadParameter(f"unknown format {format!r} (choose webdataset, vexpress, talkvid or hf)",
                                 param_hint="--format")
    for s in result.skipped:
        typer.echo(f"talkset: warning: skipped {s.id}: {s.reason}", err=True)
    for s in result.incomplete[:5]:
        typer.echo(f"talkset: warning: incomplete {s.id}: {s.reason}", err=True)
    if len(result.incomplete) > 5:
        typer.echo(f"talkset: warning: ... and {len(result.incomplete) - 5} more incomplete clips", err=True)
    for note in result.notes:
        typer.echo(f"talkset: warning: {note}", err=True)
    typer.echo(f"{result.samples} clips exported to {result.dest}" +
               (f" ({len(result.skipped)} skipped)" if result.skipped else ""))


@app.command("import-talkvid")
def import_talkvid_cmd(
    metadata: Path = typer.Argument(..., help="TalkVid's metadata (a JSON list of clip records, or JSON Lines)."),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for manifest.json and manifest.parquet."),
    clips: Path | None = typer.Option(None, help="Output folder of TalkVid's download_clips.py, to link the "
                                      "downloaded clip files."),
    force: bool = typer.Option(False, help="Replace a manifest already in --out."),
) -> None:
    """Turn TalkVid's released metadata into a talkset manifest (so `talkset bench build` runs on it)."""
    from talkset.dataset.talkvid import import_talkvid

    _setup_logging(False)
    result = import_talkvid(metadata, out, clips_dir=clips, force=force)
    typer.echo(f"{result.samples} clips imported" +
               (f" ({len(result.skipped)} records skipped)" if result.skipped else ""))
    typer.echo(f"manifest: {out / 'manifest.json'}")


bench_app = typer.Typer(help="Build a stratified benchmark from a manifest; report subgroup gaps.",
                        no_args_is_help=True)
app.add_typer(bench_app, name="bench")


@bench_app.command("build")
def bench_build(
    manifest: Path = typer.Argument(..., help="manifest.json of `talkset curate` (or any TalkVid-style list)."),
    out: Path = typer.Option(..., "--out", "-o", help="Where to write bench.json."),
    dims: str = typer.Option("language,age_group,gender,ethnicity", help="Metadata fields to balance."),
    per_group: int | None = typer.Option(None, min=1, help="Clips per group [default: TalkVid-Bench's pool "
                                         "sizes split evenly: age 105, gender 100, ethnicity 100, language 195]."),
    seed: int = typer.Option(0, help="The draw is deterministic for a seed."),
    joint: bool = typer.Option(False, help="One pool balanced on every dimension at once."),
    force: bool = typer.Option(False, help="Replace an existing --out file."),
) -> None:
    """Draw a TalkVid-Bench style split: pools of kept clips per dimension, balanced across groups."""
    from talkset.bench.split import build
    from talkset.dataset.manifest import ManifestError, load_manifest
    from talkset.files import atomic_write_json

    if out.exists() and not force:
        raise typer.BadParameter(f"{out} exists; pass --force to replace it", param_hint="--out")
    try:
        records = load_manifest(manifest)
    except ManifestError as e:
        raise typer.BadParameter(str(e), param_hint="MANIFEST") from None
    bench = build(records, [d.strip() for d in dims.split(",") if d.strip()], per_group, seed, joint,
                  root=str(manifest.resolve().parent))
    atomic_write_json(out, bench.to_dict())
    for dim, pool in bench.pools.items():
        typer.echo(f"{dim:<12} {sum(map(len, pool.values())):>5} clips in {len(pool)} groups")
    for s in bench.shortfalls:
        typer.echo(f"talkset: warning: {s.dim}={s.group}: {s.available} clips, {s.wanted} asked", err=True)
    typer.echo(f"benchmark: {out}")


@bench_app.command("eval")
def bench_eval(
    bench_file: Path = typer.Argument(..., help="bench.json from `talkset bench build`."),
    pred: Path | None = typer.Option(None, "--pred", help="Folder of generated videos named <clip id>.mp4."),
    motion_model: Path | None = typer.Option(None, "--motion-model", help="Instead of --pred: score a model "
                                             "from `talkset train` on each clip's audio against the clip's "
                                             "annotated motion (mouth LMD, canonical space), without rendering."),
    rules: bool = typer.Option(True, help="With --motion-model: also score the rule-based motion."),
    out: Path = typer.Option(Path("bench-report"), "--out", "-o", help="Folder for report.json, clips.csv, "
                             "report.html."),
    ref_root: Path | None = typer.Option(None, help="Folder the clips' paths are relative to "
                                         "[default: the manifest's folder, stored in bench.json]."),
    syncnet_weights: Path | None = typer.Option(None, help="syncnet_v2.model (joonson/syncnet_python) for "
                                                "LSE-D / LSE-C."),
    inception: Path | None = typer.Option(None, help="TorchScript Inception feature network for FID."),
    i3d: Path | None = typer.Option(None, help="TorchScript I3D feature network for FVD."),
    seed: int = typer.Option(0, help="Bootstrap seed."),
) -> None:
    """Score generated videos against the benchmark: sync, LMD, SSIM/PSNR/L1, sharpness, jitter, identity;
    per-group means with bootstrap intervals and the gap between groups."""
    from talkset.bench.report import write_report
    from talkset.bench.scoring import evaluate
    from talkset.bench.split import Benchmark

    _setup_logging(False)
    try:
        bench = Benchmark.from_dict(json.loads(bench_file.read_text()))
    except (OSError, ValueError, TypeError) as e:
        raise typer.BadParameter(f"{bench_file}: cannot read benchmark ({e})", param_hint="BENCH_FILE") from None
    if (pred is None) == (motion_model is None):
        raise typer.BadParameter("give --pred (generated videos) or --motion-model (a trained model)",
                                 param_hint="--pred")
    if motion_model is not None:
        _bench_eval_motion(bench, motion_model, out, ref_root, rules, seed)
        return
    assert pred is not None  # exactly one of --pred and --motion-model (checked above)
    if not pred.is_dir():
        raise typer.BadParameter(f"{pred}: not a folder", param_hint="--pred")
    for weights in (syncnet_weights, inception, i3d):
        if weights is not None and not weights.is_file():
            raise typer.BadParameter(f"{weights}: no such file")
    result = evaluate(bench, pred, ref_root=ref_root, syncnet=syncnet_weights, inception=inception, i3d=i3d,
                      seed=seed)
    paths = write_report(result, out)
    for d in result.dimensions:
        if d["metric"] in ("sync_confidence", "lmd_norm", "ssim"):
            typer.echo(f"{d['dim']:<10} {d['metric']:<16} worst {d['worst_group']!s:<8} gap {d['gap']:.3g} "
                       f"[{d['gap_ci_low']:.3g}, {d['gap_ci_high']:.3g}]")
    if result.missing:
        typer.echo(f"talkset: warning: {len(result.missing)} clips have no generated video in {pred}", err=True)
    typer.echo(f"report: {paths['html']}")


def _bench_eval_motion(bench, model: Path, out: Path, ref_root: Path | None, rules: bool, seed: int) -> None:
    from talkset.bench.report import write_report
    from talkset.train.evaluate import evaluate_bench_motion

    result = evaluate_bench_motion(bench, model, ref_root=ref_root, rules=rules, seed=seed)
    paths = write_report(result, out)
    for d in result.dimensions:
        if d["metric"] in ("motion_lmd", "rules_motion_lmd"):
            means = ", ".join(f"{g['group']} {g['mean']:.4f}" for g in d["groups"])
            typer.echo(f"{d['dim']:<10} {d['metric']:<17} {means}; gap {d['gap']:.3g} "
                       f"[{d['gap_ci_low']:.3g}, {d['gap_ci_high']:.3g}]")
    for row in result.clips:
        if "error" in row:
            typer.echo(f"talkset: warning: {row['error']}", err=True)
    if result.missing:
        typer.echo(f"talkset: warning: {len(result.missing)} clips have no keypoint annotations", err=True)
    typer.echo(f"report: {paths['html']}")


@app.command()
def train(
    inputs: list[Path] = typer.Argument(..., help="Curated folders (manifest + annotations/*.npz + clip audio), "
                                        "WebDataset shards of `talkset export` (.tar) or folders of shards."),
    out: Path = typer.Option(..., "--out", "-o", help="The model file to write (state dict + config)."),
    epochs: int | None = typer.Option(None, min=1, help="Passes over the training clips [default: 30]."),
    batch_size: int | None = typer.Option(None, min=1, help="Windows per step, over all workers [default: 16]."),
    lr: float | None = typer.Option(None, min=0.0, help="Peak learning rate [default: 0.002]."),
    seed: int = typer.Option(0, help="Split, data order and weights are deterministic for a seed."),
    val_fraction: float | None = typer.Option(None, min=0.0, max=0.9, help="Share of speakers held out "
                                              "(whole speakers, metadata.speaker_id) [default: 0.25]."),
    val_speakers: str | None = typer.Option(None, help="Comma-separated speaker ids to hold out instead."),
    workers: int = typer.Option(1, min=1, help="Data-parallel workers."),
    backend: str = typer.Option("local", help="Where workers run: local (processes, torch.distributed gloo) or "
                                "ray (Ray Train's TorchTrainer; needs `pip install 'talkset[train]'`)."),
    ray_address: str | None = typer.Option(None, help="With --backend ray: a running cluster (e.g. auto)."),
    threads: int | None = typer.Option(None, min=1, help="Torch threads per worker [default: 1]."),
    resume: bool = typer.Option(False, help="Continue from OUT.ckpt (written after every epoch)."),
    force: bool = typer.Option(False, help="Replace an existing model (and its checkpoint)."),
    progress: bool = typer.Option(True, help="Show a progress bar with train/validation loss."),
) -> None:
    """Train an audio-to-motion model on curated clips: audio → lips, jaw, lids, brows and head pose."""
    from talkset.train import TrainConfig
    from talkset.train import train as run_train

    _setup_logging(False)
    given: dict[str, Any] = {"epochs": epochs, "batch_size": batch_size, "lr": lr, "val_fraction": val_fraction,
             "threads": threads}
    cfg = TrainConfig(inputs=[str(p) for p in inputs], out=str(out), seed=seed, workers=workers, backend=backend,
                      resume=resume, force=force, progress=progress,
                      val_speakers=[v.strip() for v in val_speakers.split(",") if v.strip()] if val_speakers
                      else None, **{k: v for k, v in given.items() if v is not None})
    result = run_train(cfg, ray_address=ray_address)
    if result is None:  # a torchrun rank other than 0
        return
    for reason in result.skipped.values():
        typer.echo(f"talkset: warning: {reason}", err=True)
    last = result.history[-1] if result.history else {}
    typer.echo(f"{len(result.train_clips)} training clips, {len(result.val_clips)} validation clips "
               f"(held-out speakers: {', '.join(result.val_speakers) or 'none'})")
    if last:
        typer.echo(f"epoch {last['epoch'] + 1}: train loss {last['train_loss']:.4f}, validation loss "
                   f"{last['val_loss']:.4f}, validation mouth LMD {last['val_lmd']:.4f} "
                   f"({result.seconds:.0f} s)")
    typer.echo(f"model: {result.model}")


@app.command()
def kps(
    video: Path = typer.Argument(..., help="Any video with one face."),
    out: Path = typer.Option(..., "--out", "-o", help="Where to write kps.pth."),
    size: int = typer.Option(512, min=16, help="Side of the square frame the keypoints refer to, pixels."),
    force: bool = typer.Option(False, help="Replace an existing --out file."),
    progress: bool = typer.Option(True, help="Show a progress bar."),
) -> None:
    """Export V-Express keypoints: kps.pth, per frame the left eye, right eye and nose at SIZE×SIZE."""
    from tqdm import tqdm

    from talkset.media.probe import probe as run_probe
    from talkset.vision.kps import save_kps, video_kps

    _setup_logging(False)
    if out.exists() and not force:
        raise typer.BadParameter(f"{out} exists; pass --force to replace it", param_hint="--out")
    info = run_probe(video)
    total = max(1, round(info.duration_s * float(info.avg_fps)))
    with tqdm(total=total, unit="frame", disable=not progress, desc=video.name) as bar:
        keypoints = video_kps(video, size, progress=bar.update)
    save_kps(keypoints, out)
    typer.echo(f"{len(keypoints)} frames: {out}")


@app.command()
def animate(
    image: Path = typer.Option(..., "--image", help="Portrait with one face (any image format)."),
    audio: Path | None = typer.Option(None, "--audio", help="Speech (any audio or video file); without it, "
                                      "the --driving video's audio."),
    out: Path = typer.Option(..., "--out", "-o", help="Output .mp4 (H.264 + AAC)."),
    text: str | None = typer.Option(None, help="Transcript of English speech (forced alignment)."),
    language: str | None = typer.Option(None, help="Language code of the speech; detected if not given."),
    seed: int = typer.Option(0, help="Blinks and head motion are reproducible for a seed."),
    size: int = typer.Option(512, min=64, help="Side of the square face crop, pixels (even)."),
    whole_image: bool = typer.Option(False, "--whole-image", help="Animate the whole image, not a face crop."),
    fps: float = typer.Option(25.0, min=1.0, help="Frames per second."),
    driving: Path | None = typer.Option(None, help="A video of a speaker whose mouth and head motion to copy."),
    retarget: str = typer.Option("fix_face", help="Head placement with --driving: fix_face, no_retarget, "
                                 "offset_retarget or naive_retarget."),
    export_kps: Path | None = typer.Option(None, "--export-kps", help="Also write V-Express kps.pth of the "
                                           "output."),
    force: bool = typer.Option(False, help="Replace existing output files."),
    progress: bool = typer.Option(True, help="Show a progress bar."),
    motion_model: Path | None = typer.Option(None, "--motion-model", help="A model from `talkset train`: "
                                             "learned mouth, brow and head motion instead of the rules."),
) -> None:
    """Animate a portrait: speech (or a driving video) becomes a talking video, on a CPU."""
    from talkset.animate.api import animate as run_animate

    _setup_logging(False)
    if audio is None and driving is None:
        raise typer.BadParameter("give --audio, or --driving with a video that has sound", param_hint="--audio")
    result = run_animate(image, audio, out, fps=fps, size=size, crop=not whole_image, seed=seed, text=text,
                         language=language, driving=driving, retarget=retarget, export_kps=export_kps,
                         progress=progress, overwrite=force, motion_model=motion_model)
    typer.echo(f"video: {result}")
    if export_kps is not None:
        typer.echo(f"kps:   {export_kps}")


@app.command()
def dub(
    video: Path = typer.Argument(..., help="The talking video to re-lip-sync (one face, or pick one with --face)."),
    audio: Path = typer.Option(..., "--audio", help="The new speech (any audio or video file)."),
    out: Path = typer.Option(..., "--out", "-o", help="Output .mp4 (H.264 + AAC, the new speech as its audio)."),
    fit: str | None = typer.Option(None, help="When speech and video lengths differ: pingpong (play the video "
                                   "forward then backward), loop, hold (freeze the last frame) or trim (cut the "
                                   "longer one) [default: pingpong]."),
    face: int | None = typer.Option(None, "--face", min=0, help="With several faces: the one to dub, counted "
                                    "from the left from 0."),
    text: str | None = typer.Option(None, help="Transcript of English speech (forced alignment)."),
    language: str | None = typer.Option(None, help="Language code of the speech; detected if not given."),
    motion_model: Path | None = typer.Option(None, "--motion-model", help="A learned audio-to-motion model "
                                             "(`talkset train`) instead of the rule-based mouth."),
    seed: int = typer.Option(0, help="The motion is reproducible for a seed."),
    force: bool = typer.Option(False, help="Replace an existing output file."),
    progress: bool = typer.Option(True, help="Show progress bars."),
) -> None:
    """Dub a talking video: its mouth and jaw follow new speech; head, eyes and the rest of the frame stay."""
    from talkset.animate.dub import DEFAULT_FIT
    from talkset.animate.dub import dub as run_dub

    _setup_logging(False)
    result = run_dub(video, audio, out, fit=fit or DEFAULT_FIT, face=face, text=text, language=language,
                     motion_model=motion_model, seed=seed, progress=progress, overwrite=force)
    typer.echo(f"video: {result}")


@app.command()
def report(
    out: Path = typer.Argument(..., help="An output folder of `talkset curate`."),
    dest: Path | None = typer.Option(None, "--out", "-o", help="Report folder [default: OUT/report]; must be "
                                     "empty, new, or an earlier report."),
    previews: bool = typer.Option(True, help="Make the short animated previews (the slow part)."),
    progress: bool = typer.Option(True, help="Show a progress bar."),
) -> None:
    """Write a static HTML report that opens offline: funnel, distributions and a clip browser."""
    from talkset.report import build_report

    _setup_logging(False)
    with _clear_errors():
        index = build_report(out, dest, previews=previews, progress=progress)
    typer.echo(f"report: {index}")


def main() -> None:
    """Console entry point: the CLI plus a quiet stderr (mediapipe's native notices dropped, here and in
    worker processes, which inherit the environment variable)."""
    from talkset.vision.face import NATIVE_FILTER_ENV, filter_native_stderr

    os.environ.setdefault(NATIVE_FILTER_ENV, "1")
    if os.environ[NATIVE_FILTER_ENV] == "1":
        filter_native_stderr()
    app()


if __name__ == "__main__":
    main()
