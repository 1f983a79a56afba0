"""Subgroup statistics: per-group means with seeded bootstrap intervals, and the gap between groups.

TalkVid's finding is that an aggregate score hides large gaps between subgroups; these numbers make such a
gap visible with its uncertainty: a percentile bootstrap (resampling clips within each group) gives each
group's 95% interval and the interval of the max − min gap across groups.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

LOW_POWER_N = 30


@dataclass
class GroupStat:
    group: str
    n: int
    mean: float
    ci_low: float
    ci_high: float
    low_power: bool


@dataclass
class DimensionStat:
    dim: str
    metric: str
    groups: list[GroupStat]
    worst_group: str
    best_group: str
    gap: float
    gap_ci_low: float
    gap_ci_high: float
    higher_is_better: bool

    def to_dict(self) -> dict:
        return asdict(self)


def subgroup_stats(values: dict[str, list[float]], *, dim: str, metric: str, higher_is_better: bool = True,
                   n_boot: int = 2000, seed: int = 0, level: float = 0.95) -> DimensionStat:
    """Means, intervals and the max − min gap of one metric over the groups of one dimension.

    Args:
        values: group → per-clip metric values (NaN values are dropped; empty groups are skipped).
        dim: the dimension's name (for the report).
        metric: the metric's name (for the report).
        higher_is_better: decides which group is the worst.
        n_boot: bootstrap resamples.
        seed: the same seed gives the same intervals.
        level: interval coverage.
    """
    clean = {g: np.asarray([v for v in vs if v is not None and np.isfinite(v)], float)
             for g, vs in sorted(values.items())}
    clean = {g: v for g, v in clean.items() if len(v)}
    if not clean:
        raise ValueError(f"{dim}/{metric}: no values in any group")
    rng = np.random.default_rng(seed)
    lo_q, hi_q = (1 - level) / 2 * 100, (1 + level) / 2 * 100
    boot = {}
    groups = []
    for g, v in clean.items():
        idx = rng.integers(0, len(v), size=(n_boot, len(v)))
        boot[g] = v[idx].mean(axis=1)
        lo, hi = np.percentile(boot[g], [lo_q, hi_q])
        mean = float(v.mean())
        # A percentile interval of a skewed resample can miss the sample mean by rounding: widen to hold it.
        groups.append(GroupStat(g, len(v), mean, float(min(lo, mean)), float(max(hi, mean)), len(v) < LOW_POWER_N))
    means = {s.group: s.mean for s in groups}
    best = max(means, key=means.__getitem__) if higher_is_better else min(means, key=means.__getitem__)
    worst = min(means, key=means.__getitem__) if higher_is_better else max(means, key=means.__getitem__)
    stacked = np.stack([boot[g] for g in clean])
    gaps = stacked.max(axis=0) - stacked.min(axis=0)
    gap = float(max(means.values()) - min(means.values()))
    glo, ghi = np.percentile(gaps, [lo_q, hi_q])
    return DimensionStat(dim, metric, groups, worst, best, gap, float(min(glo, gap)), float(max(ghi, gap)),
                         higher_is_better)


def pool_stats(rows: list[dict], pools: dict[str, dict[str, list[str]]], dims: list[str],
               metrics: dict[str, bool], *, n_boot: int = 2000, seed: int = 0) -> list[dict]:
    """``subgroup_stats`` of every metric (name → higher is better) over every dimension's pools of clip ids,
    from per-clip rows (dicts with ``id`` and the metrics); metrics no clip has are left out."""
    out = []
    for dim in dims:
        for metric, higher in metrics.items():
            values: dict[str, list[float]] = {}
            for group, ids in pools.get(dim, {}).items():
                wanted = set(ids)
                values[group] = [r[metric] for r in rows if r["id"] in wanted and r.get(metric) is not None]
            if any(values.values()):
                out.append(subgroup_stats(values, dim=dim, metric=metric, higher_is_better=higher,
                                          n_boot=n_boot, seed=seed).to_dict())
    return out
