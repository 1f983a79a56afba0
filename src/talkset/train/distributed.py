"""Running the training loop on one worker, on N local processes (torch.distributed, gloo), or on Ray Train.

The loop (``loop.run_worker``) knows only its rank and the world size; these launchers only decide where the
ranks run (as curate's executors do). Under ``torchrun``, call ``run_worker`` with the ``RANK``/``WORLD_SIZE`` it sets
after ``torch.distributed.init_process_group("gloo")`` (``talkset train`` does that when it finds them).
"""
from __future__ import annotations

import json
import os
import socket
import tempfile
from dataclasses import asdict
from pathlib import Path

from talkset.train.loop import TrainConfig, TrainError, TrainResult, checkpoint_path, run_worker

BACKENDS = ("local", "ray")


def _check_output(cfg: TrainConfig) -> None:
    out = Path(cfg.out)
    if cfg.workers < 1:
        raise TrainError(f"workers must be at least 1, got {cfg.workers}")
    if cfg.backend not in BACKENDS:
        raise TrainError(f"unknown backend {cfg.backend!r} (choose {', '.join(BACKENDS)})")
    if cfg.resume:
        return
    if out.exists() and not cfg.force:
        raise TrainError(f"{out}: already exists; pass --force to replace it (or --resume to continue its run)")
    if checkpoint_path(out).exists():
        if not cfg.force:
            raise TrainError(f"{checkpoint_path(out)}: a checkpoint of an earlier run; pass --resume to continue "
                             "it or --force to start over")
        checkpoint_path(out).unlink()


def train(cfg: TrainConfig, *, ray_address: str | None = None) -> TrainResult | None:
    """Trains a motion model as ``cfg`` says and writes it to ``cfg.out``.

    Returns:
        What the run learned and skipped; None on a torchrun worker of rank other than 0 (rank 0 returns it).

    Raises:
        TrainError: no usable data, an existing output without ``force``/``resume``, an unknown backend.
    """
    _check_output(cfg)
    if "WORLD_SIZE" in os.environ and int(os.environ["WORLD_SIZE"]) > 1:  # started by torchrun
        import torch.distributed as dist

        dist.init_process_group("gloo")
        result = run_worker(cfg, dist.get_rank(), dist.get_world_size())
        dist.destroy_process_group()
        return result  # None on ranks other than 0
    if cfg.workers == 1:
        return run_worker(cfg)
    with tempfile.TemporaryDirectory(prefix="talkset-train-") as tmp:
        result_path = Path(tmp) / "result.json"
        if cfg.backend == "local":
            _spawn_local(cfg, result_path)
        else:
            _run_ray(cfg, result_path, ray_address)
        return TrainResult(**json.loads(result_path.read_text()))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _local_worker(rank: int, cfg_dict: dict, world: int, port: int, result_path: str) -> None:
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    try:
        result = run_worker(TrainConfig(**cfg_dict), rank, world)
        if result is not None:
            Path(result_path).write_text(json.dumps(asdict(result)))
    finally:
        dist.destroy_process_group()


def _spawn_local(cfg: TrainConfig, result_path: Path) -> None:
    import torch.multiprocessing as mp

    mp.spawn(_local_worker, args=(cfg.to_dict(), cfg.workers, _free_port(), str(result_path)), nprocs=cfg.workers,
             join=True)


def _ray_worker(config: dict) -> None:
    import ray.train

    ctx = ray.train.get_context()
    result = run_worker(TrainConfig(**config["cfg"]), ctx.get_world_rank(), ctx.get_world_size())
    if result is not None:
        Path(config["result_path"]).write_text(json.dumps(asdict(result)))


def _run_ray(cfg: TrainConfig, result_path: Path, address: str | None) -> None:
    try:
        import ray
        from ray.train import RunConfig, ScalingConfig
        from ray.train.torch import TorchTrainer
    except ImportError as e:
        raise TrainError(f"the ray backend needs Ray Train: pip install 'talkset[train]' ({e})") from None
    started = not ray.is_initialized()
    if started:
        ray.init(address=address, num_cpus=None if address else cfg.workers, include_dashboard=False,
                 log_to_driver=False)
    try:
        # Workers share the machine's cores; the loop sets its own thread count.
        worker_cfg = {**cfg.to_dict(), "progress": False}
        trainer = TorchTrainer(_ray_worker, train_loop_config={"cfg": worker_cfg, "result_path": str(result_path)},
                               scaling_config=ScalingConfig(num_workers=cfg.workers, use_gpu=False,
                                                            resources_per_worker={"CPU": 1}),
                               run_config=RunConfig(storage_path=str(result_path.parent / "ray"),
                                                    name="talkset-train"))
        trainer.fit()
    finally:
        if started:
            ray.shutdown()
