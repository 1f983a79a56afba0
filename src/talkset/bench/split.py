"""A TalkVid-Bench style benchmark split: pools of kept clips per dimension, balanced across its groups.

TalkVid-Bench holds 500 clips in four pools, one per dimension (age 105, gender 100, ethnicity 100,
language 195), each pool split evenly across the dimension's groups, so that a score gap between groups
is not hidden by the groups' sizes. ``build`` reproduces that from any manifest: deterministic for a seed,
kept clips only, no clip twice within a pool, and every group short of clips reported.
"""
from __future__ import annotations

import hashlib
import random
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from talkset.dataset.records import CLIP, KEPT, Record

# TalkVid-Bench's pool sizes.
DEFAULT_POOL_SIZES = {"age_group": 105, "gender": 100, "ethnicity": 100, "language": 195}
DEFAULT_DIMS = ("language", "age_group", "gender", "ethnicity")


@dataclass
class Shortfall:
    """A group with fewer kept clips than its pool asked for (all it had were taken)."""

    dim: str
    group: str
    wanted: int
    available: int


@dataclass
class Benchmark:
    """The split: for each dimension, for each group, the clip ids drawn."""

    seed: int
    dims: list[str]
    mode: str
    pools: dict[str, dict[str, list[str]]]
    shortfalls: list[Shortfall] = field(default_factory=list)
    clips: dict[str, dict[str, Any]] = field(default_factory=dict)
    root: str | None = None  # folder the clips' video-path/audio-path are relative to (the manifest's)
    type: str = "benchmark"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Benchmark:
        if d.get("type") != "benchmark":
            raise ValueError(f"not a benchmark (type {d.get('type')!r})")
        d = {**d, "shortfalls": [Shortfall(**s) for s in d.get("shortfalls", [])]}
        return cls(**d)


def _group_of(record: Record, dim: str) -> str | None:
    value = record.metadata.get(dim)
    return None if value in (None, "") else str(value)


def _quota(dim: str, groups: list[str], per_group: int | None) -> dict[str, int]:
    if per_group is not None:
        return dict.fromkeys(groups, per_group)
    total = DEFAULT_POOL_SIZES.get(dim, 100)
    base, extra = divmod(total, max(1, len(groups)))
    return {g: base + (i < extra) for i, g in enumerate(groups)}


def _rng(seed: int, *parts: str) -> random.Random:
    """A generator per (seed, dimension, group): one pool's draw does not shift another's."""
    key = ":".join((str(seed), *parts)).encode()
    return random.Random(int.from_bytes(hashlib.sha256(key).digest()[:8], "big"))


def build(records: Iterable[Record], dims: list[str] | tuple[str, ...] = DEFAULT_DIMS,
          per_group: int | None = None, seed: int = 0, joint: bool = False, root: str | None = None
          ) -> Benchmark:
    """Draws the benchmark from manifest records.

    Args:
        records: manifest records (only kept clips are used).
        dims: metadata fields to balance (``language``, ``age_group``, ``gender``, ``ethnicity``…).
        per_group: clips per group; None splits TalkVid-Bench's pool size for the dimension evenly.
        seed: the draw is a pure function of the records and the seed.
        joint: one shared pool balanced on every dimension at once (greedy), instead of a pool each.
        root: the folder the records' paths are relative to (stored for ``evaluate``).
    """
    kept = sorted((r for r in records if r.type == CLIP and r.status == KEPT), key=lambda r: r.id)
    by_group: dict[str, dict[str, list[Record]]] = {d: defaultdict(list) for d in dims}
    for rec in kept:
        for dim in dims:
            group = _group_of(rec, dim)
            if group is not None:
                by_group[dim][group].append(rec)
    quotas = {dim: _quota(dim, sorted(by_group[dim]), per_group) for dim in dims}
    pools = (_joint(kept, dims, quotas, seed) if joint else
             {dim: {g: sorted(r.id for r in _rng(seed, dim, g).sample(recs, min(quotas[dim][g], len(recs))))
                    for g, recs in sorted(by_group[dim].items())} for dim in dims})
    shortfalls = [Shortfall(dim, g, quotas[dim][g], len(pools[dim][g]))
                  for dim in dims for g in sorted(pools[dim]) if len(pools[dim][g]) < quotas[dim][g]]
    chosen = {i for dim in pools.values() for ids in dim.values() for i in ids}
    clips = {r.id: {k: d[k] for k in ("video-id", "video-path", "audio-path", "source", "metadata")}
             for r in kept if r.id in chosen for d in (r.to_dict(),)}
    return Benchmark(seed=seed, dims=list(dims), mode="joint" if joint else "pools", pools=pools,
                     shortfalls=shortfalls, clips=clips, root=root)


def _joint(kept: list[Record], dims, quotas: dict[str, dict[str, int]], seed: int) -> dict[str, dict[str, list[str]]]:
    """One set of clips filling every dimension's group quotas at once, greedily in a seeded order.

    A clip is taken when it fills a group still short on some dimension and overfills none.
    """
    order = kept[:]
    _rng(seed, "joint").shuffle(order)
    counts = {d: dict.fromkeys(quotas[d], 0) for d in dims}
    pools: dict[str, dict[str, list[str]]] = {d: {g: [] for g in quotas[d]} for d in dims}
    for rec in order:
        groups = {d: _group_of(rec, d) for d in dims}
        fills = any(g is not None and counts[d][g] < quotas[d][g] for d, g in groups.items())
        overfills = any(g is not None and counts[d][g] >= quotas[d][g] for d, g in groups.items())
        if fills and not overfills:
            for d, g in groups.items():
                if g is not None:
                    counts[d][g] += 1
                    pools[d][g].append(rec.id)
    return {d: {g: sorted(ids) for g, ids in sorted(pools[d].items())} for d in dims}
