import json

import numpy as np
import pytest
from typer.testing import CliRunner

from talkset.bench import build, subgroup_stats
from talkset.bench.split import Benchmark
from talkset.cli import app
from talkset.dataset.records import Record
from talkset.testing import synthetic_manifest


def typed(records):
    return [Record.from_dict(r) for r in records]


def test_defaults_reproduce_talkvid_bench_pool_sizes():
    bench = build(typed(synthetic_manifest(3000)), seed=1)
    sizes = {d: sum(map(len, pool.values())) for d, pool in bench.pools.items()}
    assert sizes == {"language": 195, "age_group": 105, "gender": 100, "ethnicity": 100} or bench.shortfalls
    assert sizes["age_group"] == 105 and sizes["gender"] == 100 and sizes["ethnicity"] == 100
    assert {len(v) for v in bench.pools["age_group"].values()} == {21}
    assert sorted(len(v) for v in bench.pools["ethnicity"].values()) == [33, 33, 34]


def test_same_seed_same_split_other_seed_other_split():
    records = synthetic_manifest(800)
    a, b, c = build(typed(records), seed=7), build(typed(list(reversed(records))), seed=7), build(typed(records), seed=8)
    assert a.to_dict() == b.to_dict()
    assert a.pools != c.pools


def test_only_kept_clips_no_duplicates_and_shortfalls_reported():
    records = synthetic_manifest(300)
    for r in records[::3]:
        r["status"] = "rejected"
    bench = build(typed(records), dims=["language", "gender"], per_group=40, seed=0)
    kept = {r["id"] for r in records if r["status"] == "kept"}
    for pool in bench.pools.values():
        for ids in pool.values():
            assert len(ids) == len(set(ids)) and set(ids) <= kept
    short = {(s.dim, s.group) for s in bench.shortfalls}
    assert ("language", "ar") in short and ("gender", "female") not in short
    assert all(s.available < s.wanted for s in bench.shortfalls)
    assert Benchmark.from_dict(json.loads(json.dumps(bench.to_dict()))) == bench


def test_joint_balancing_respects_every_quota():
    records = synthetic_manifest(2000)
    bench = build(typed(records), dims=["gender", "ethnicity"], per_group=30, seed=3, joint=True)
    ids = {i for pool in bench.pools.values() for v in pool.values() for i in v}
    meta = {r["id"]: r["metadata"] for r in records}
    for dim in ("gender", "ethnicity"):
        counts = {}
        for i in ids:
            counts[meta[i][dim]] = counts.get(meta[i][dim], 0) + 1
        assert all(c <= 30 for c in counts.values())
    assert len(ids) >= 60


def test_bootstrap_is_seeded_and_contains_the_mean():
    rng = np.random.default_rng(0)
    values = {"en": list(rng.normal(5, 1, 80)), "zh": list(rng.normal(4, 1, 40)), "ar": list(rng.normal(3, 2, 8))}
    a = subgroup_stats(values, dim="language", metric="sync", seed=5)
    b = subgroup_stats(values, dim="language", metric="sync", seed=5)
    assert a == b
    for g in a.groups:
        assert g.ci_low <= g.mean <= g.ci_high
    assert a.worst_group == "ar" and a.best_group == "en"
    assert a.gap_ci_low <= a.gap <= a.gap_ci_high
    assert [g.low_power for g in a.groups] == [True, False, False]  # sorted: ar, en, zh
    flipped = subgroup_stats(values, dim="language", metric="lmd", higher_is_better=False)
    assert flipped.worst_group == "en"


def test_cli_build_writes_and_never_overwrites(tmp_path):
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps(synthetic_manifest(400)))
    out = tmp_path / "bench.json"
    runner = CliRunner()
    result = runner.invoke(app, ["bench", "build", str(manifest), "-o", str(out), "--per-group", "5"])
    assert result.exit_code == 0, result.output
    assert Benchmark.from_dict(json.loads(out.read_text())).pools["gender"]
    before = out.read_bytes()
    result = runner.invoke(app, ["bench", "build", str(manifest), "-o", str(out)])
    assert result.exit_code == 2 and "exists" in result.output and out.read_bytes() == before


@pytest.mark.parametrize("bad", ["not json", "{}"])
def test_cli_bad_manifest_is_one_line(tmp_path, bad):
    manifest = tmp_path / "m.json"
    manifest.write_text(bad)
    result = CliRunner().invoke(app, ["bench", "build", str(manifest), "-o", str(tmp_path / "b.json")])
    assert result.exit_code == 2 and "Traceback" not in result.output
