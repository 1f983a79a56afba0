"""Benchmark: a TalkVid-Bench style stratified split from any manifest, and subgroup statistics.

``talkset.bench.build(records, ...)`` draws the split; ``talkset.bench.subgroup_stats`` reports per-group
means, bootstrap intervals and the gap between groups.
"""
from talkset.bench.split import Benchmark, build
from talkset.bench.stats import subgroup_stats

__all__ = ["Benchmark", "build", "subgroup_stats"]
