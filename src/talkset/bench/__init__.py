"""Benchmark: a TalkVid-Bench style stratified split from any manifest, scoring, and subgroup statistics.

``talkset.bench.build(records, ...)`` draws the split; ``talkset.bench.evaluate(bench, pred_dir, ...)``
scores generated videos against it; ``talkset.bench.subgroup_stats`` reports per-group means, bootstrap
intervals and the gap between groups.
"""
from talkset.bench.scoring import evaluate
from talkset.bench.split import Benchmark, build
from talkset.bench.stats import subgroup_stats

__all__ = ["Benchmark", "build", "evaluate", "subgroup_stats"]
