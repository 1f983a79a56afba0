"""The training loop: seeded, resumable, and the same on one worker or several (data-parallel).

Every worker streams the same windows in the same seeded order and takes its share of each global batch
(rows ``rank::world``); gradients are averaged by DistributedDataParallel and each worker's loss is scaled so the
average equals the single-worker loss of the whole batch. With dropout 0, one worker and N workers therefore
follow the same loss curve up to floating-point rounding; with dropout, the masks differ (each worker draws its
own), so the curves agree only statistically.

Each epoch ends with a checkpoint (``<out>.ckpt``: weights, optimiser state, history); ``resume`` continues from it.
The data order and the dropout stream are seeded per epoch, so a resumed run repeats the uninterrupted one.
"""
from __future__ import annotations

import hashlib
import logging
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from talkset.errors import TalksetError
from talkset.train import canonical
from talkset.train.data import (
    ClipSource,
    DataError,
    ExampleCache,
    batches,
    sources,
    split_speakers,
    windows,
    windows_in,
)
from talkset.train.model import (
    HEAD_DIMS,
    MotionNet,
    NetConfig,
    model_payload,
    predict_frames,
    scale_targets,
)

log = logging.getLogger("talkset.train")

REGION_WEIGHTS = {"lips": 1.0, "jaw": 0.5, "eyelids": 0.1, "brows": 0.3}
HEAD_WEIGHT = 0.2


class TrainError(TalksetError):
    """Training cannot start or continue (no data, an existing output, a bad checkpoint); one line."""


@dataclass
class TrainConfig:
    """Everything one training run depends on (saved in the model file).

    Attributes:
        inputs: curated folders, WebDataset shards or folders of shards.
        out: the model file to write.
        epochs: passes over the training clips.
        batch_size: windows per optimiser step (the global batch, whatever the worker count).
        window_frames: frames per training window (at the model's 25 fps).
        lr: AdamW learning rate.
        weight_decay: AdamW weight decay.
        dropout: dropout inside the network.
        channels: width of the network.
        seed: seeds the split, the data order, the initial weights and dropout.
        val_fraction: share of speakers held out for validation (whole speakers, by ``metadata.speaker_id``).
        val_speakers: exactly these speakers held out instead.
        max_train_clips: use only the first N training clips (seeded order), for learning curves.
        cache_mb: examples kept in memory, MB.
        workers: data-parallel workers.
        backend: ``local`` (processes on this machine, gloo) or ``ray`` (Ray Train's TorchTrainer).
        threads: torch threads per worker (default 1: on a shared or busy machine more threads spin and
            run several times slower, measured here; raise it on an idle machine).
        resume: continue from ``<out>.ckpt``.
        force: replace an existing ``out``.
        progress: show a progress bar.
    """

    inputs: list[str]
    out: str
    epochs: int = 30
    batch_size: int = 16
    window_frames: int = 64
    lr: float = 2e-3
    weight_decay: float = 1e-3
    dropout: float = 0.1
    channels: int = 128
    seed: int = 0
    val_fraction: float = 0.25
    val_speakers: list[str] | None = None
    max_train_clips: int | None = None
    cache_mb: int = 512
    workers: int = 1
    backend: str = "local"
    threads: int | None = None
    resume: bool = False
    force: bool = False
    progress: bool = True

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class TrainResult:
    """What a run did: per-epoch history, per-step losses, the clips it used."""

    model: str
    history: list[dict[str, float]]
    step_losses: list[float]
    train_clips: list[str]
    val_clips: list[str]
    val_speakers: list[str]
    skipped: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0


def checkpoint_path(out: str | Path) -> Path:
    return Path(str(out) + ".ckpt")


def _weights(cfg: NetConfig) -> torch.Tensor:
    w = []
    for region, pts in canonical.REGIONS.items():
        w += [REGION_WEIGHTS[region]] * (2 * len(pts))
    w += [HEAD_WEIGHT] * HEAD_DIMS
    assert len(w) == cfg.output_dim
    return torch.tensor(w, dtype=torch.float32)


def _seed(*parts: Any) -> int:
    return int.from_bytes(hashlib.sha256(":".join(map(str, parts)).encode()).digest()[:8], "big") % 2**63


def _prepare(cfg: TrainConfig) -> tuple[list[ClipSource], list[ClipSource], ExampleCache, np.ndarray, int]:
    """The split, a warm cache, the template face (mean training rest face) and the steps per epoch."""
    try:
        srcs = sources(cfg.inputs)
    except DataError as e:
        raise TrainError(str(e)) from None
    train, val = split_speakers(srcs, cfg.val_fraction, cfg.seed, cfg.val_speakers)
    if cfg.max_train_clips is not None:
        order = np.random.default_rng(_seed(cfg.seed, "subset")).permutation(len(train))
        train = [train[i] for i in sorted(order[:cfg.max_train_clips])]
    cache = ExampleCache(cfg.cache_mb * 2**20)
    rests, n_windows = [], 0
    for s in train:  # one pass: finds unusable clips, counts windows, and fills the cache
        ex = cache.get(s)
        if ex is not None:
            rests.append(ex.rest)
            n_windows += windows_in(len(ex.features), cfg.window_frames)
    if not rests:
        raise TrainError(f"no usable training clip in {', '.join(map(str, cfg.inputs))} "
                         f"({len(srcs)} clips found, {len(val)} held out for validation)")
    return train, val, cache, np.mean(rests, axis=0), math.ceil(n_windows / cfg.batch_size)


def _masked_loss(pred: torch.Tensor, y: torch.Tensor, valid: torch.Tensor, w: torch.Tensor) -> tuple[torch.Tensor,
                                                                                                    torch.Tensor]:
    """(weighted squared-error sum, number of valid frames)."""
    err = ((pred - scale_targets(y)) ** 2 * w).sum(dim=-1)
    return (err * valid).sum(), valid.sum()


def evaluate_clips(net: MotionNet, val: list[ClipSource], cache: ExampleCache) -> dict[str, float]:
    """Validation loss (per frame, as in training) and mouth LMD (canonical, inter-ocular units) over whole clips."""
    w = _weights(net.cfg)
    total, frames, lmds = 0.0, 0, []
    p = len(net.cfg.target_points)
    for s in val:
        ex = cache.get(s)
        if ex is None or not ex.valid.any():
            continue
        y = predict_frames(net, ex.features)
        err = ((scale_targets(y) - scale_targets(ex.targets)) ** 2 * w.numpy()).sum(axis=1)
        total += float(err[ex.valid].sum())
        frames += int(ex.valid.sum())
        lmds.append(canonical.mouth_lmd(y[:, :2 * p].reshape(-1, p, 2), ex.targets[:, :2 * p].reshape(-1, p, 2),
                                        ex.valid))
    nan = float("nan")
    return {"val_loss": total / frames if frames else nan, "val_lmd": float(np.mean(lmds)) if lmds else nan}


def _save_checkpoint(path: Path, net, opt, sched, epoch: int, history, step_losses, template) -> None:
    from talkset.files import atomic_file

    with atomic_file(path) as f:
        torch.save({"epoch": epoch, "model": net.state_dict(), "optimizer": opt.state_dict(),
                    "scheduler": sched.state_dict(), "history": history,
                    "step_losses": step_losses, "template": torch.from_numpy(np.asarray(template, np.float32))}, f)


def run_worker(cfg: TrainConfig, rank: int = 0, world: int = 1) -> TrainResult | None:
    """The loop of one worker; with ``world > 1`` a torch.distributed process group must be initialised.

    Rank 0 writes the checkpoint and the model and returns the result; other ranks return None.
    """
    import torch.distributed as dist

    started = time.monotonic()
    threads = cfg.threads or 1
    torch.set_num_threads(threads)
    train, val, cache, template, steps = _prepare(cfg)
    torch.manual_seed(_seed(cfg.seed, "init"))
    net_cfg = NetConfig(channels=cfg.channels, dropout=cfg.dropout)
    net = MotionNet(net_cfg)
    model = torch.nn.parallel.DistributedDataParallel(net) if world > 1 else net
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=max(1, cfg.epochs * steps),
                                                pct_start=0.15)
    history: list[dict[str, float]] = []
    step_losses: list[float] = []
    first = 0
    ckpt = checkpoint_path(cfg.out)
    if cfg.resume and ckpt.is_file():
        state = torch.load(ckpt, map_location="cpu", weights_only=True)
        net.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        history, step_losses = list(state["history"]), list(state["step_losses"])
        sched.load_state_dict(state["scheduler"])
        first = int(state["epoch"]) + 1
    w = _weights(net_cfg)
    from tqdm import tqdm

    bar = tqdm(total=cfg.epochs * steps, initial=first * steps, unit="step", desc="train",
               disable=not cfg.progress or rank != 0, leave=False)
    for epoch in range(first, cfg.epochs):
        net.train()
        torch.manual_seed(_seed(cfg.seed, "dropout", epoch, rank))
        rng = np.random.default_rng(_seed(cfg.seed, "order", epoch))
        losses = []
        stream = windows(train, cache, length=cfg.window_frames, rng=rng)
        for i, (x_np, y_np, v_np) in enumerate(batches(stream, cfg.batch_size)):
            if i >= steps:  # same step count every epoch (a failed clip could change the window count)
                break
            x, y, v = (torch.from_numpy(a) for a in (x_np, y_np, v_np.astype(np.float32)))
            global_frames = v.sum().clamp(min=1.0)
            xs, ys, vs = x[rank::world], y[rank::world], v[rank::world]
            if len(xs) == 0:  # a last batch smaller than the worker count: this worker adds nothing
                xs, ys, vs = x[:1], y[:1], torch.zeros_like(v[:1])
            err, _ = _masked_loss(model(xs), ys, vs, w)
            # DDP averages gradients over workers, so each worker's share is scaled by the worker count.
            loss = err / global_frames * world
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            value = loss.detach() / world
            if world > 1:
                dist.all_reduce(value)
            losses.append(float(value))
            bar.update(1)
        record = {"epoch": epoch, "train_loss": float(np.mean(losses)) if losses else float("nan"),
                  "lr": float(sched.get_last_lr()[0])}
        record.update(evaluate_clips(net, val, cache) if val else {"val_loss": float("nan"),
                                                                    "val_lmd": float("nan")})
        history.append(record)
        step_losses += losses
        bar.set_postfix(train=f"{record['train_loss']:.4f}", val=f"{record['val_loss']:.4f}",
                        lmd=f"{record['val_lmd']:.4f}")
        if rank == 0:
            _save_checkpoint(ckpt, net, opt, sched, epoch, history, step_losses, template)
    bar.close()
    if rank != 0:
        return None
    from talkset.files import atomic_file

    result = TrainResult(model=cfg.out, history=history, step_losses=step_losses, train_clips=[s.id for s in train],
                         val_clips=[s.id for s in val], val_speakers=sorted({s.speaker for s in val}),
                         skipped=dict(cache.failed), seconds=time.monotonic() - started)
    extra = {"train": {k: v for k, v in cfg.to_dict().items() if k not in ("progress", "force", "resume")},
             "history": history, "train_clips": result.train_clips, "val_clips": result.val_clips,
             "val_speakers": result.val_speakers}
    with atomic_file(Path(cfg.out)) as f:
        torch.save(model_payload(net, template, extra), f)
    return result
