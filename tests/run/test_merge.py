
"""Merging streams: memory stays flat with the number of videos; the order of finishing does not matter."""
import json
import random
import subprocess
import sys

import pyarrow.parquet as pq
import pytest

from talkset.curate.config import Config
from talkset.curate.run import merge
from talkset.run.store import OutputStore

MAKE_AND_MERGE = """
import json, os, resource, sys
from talkset.curate.config import Config
from talkset.curate.run import merge
from talkset.run.store import OutputStore
from talkset.testing import synthetic_part

out, n_videos, per_video = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
store = OutputStore(out)
store.create()
for v in range(n_videos):
    part = synthetic_part(v, per_video)
    (store.parts / f"{part['video_id']}.json").write_text(json.dumps(part))
    (store.done / part["video_id"]).touch()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
summary = merge(store, Config.load())
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"before_kb": before, "after_kb": after, "candidates": summary.candidates}))
"""

# Merging 100 000 records must not hold them: the peak may grow by at most this much over the process
# before merging (measured: about 40 MB, most of it pyarrow's writer; holding the records would cost ~1 GB).
PEAK_GROWTH_MB = 150


def _merge_in_subprocess(out, n_videos, per_video):
    proc = subprocess.run([sys.executable, "-c", MAKE_AND_MERGE, str(out), str(n_videos), str(per_video)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.slow  # CI time: runs with the slow set
def test_merging_100k_records_keeps_memory_flat(tmp_path):
    stats = _merge_in_subprocess(tmp_path / "big", 10_000, 10)
    assert stats["candidates"] == 100_000
    growth_mb = (stats["after_kb"] - stats["before_kb"]) / 1024
    assert growth_mb < PEAK_GROWTH_MB, f"merge grew the peak by {growth_mb:.0f} MB"
    rows = pq.ParquetFile(tmp_path / "big" / "manifest.parquet").metadata.num_rows
    assert rows == 100_000
    with open(tmp_path / "big" / "manifest.json") as f:
        assert f.read(2) == "[\n"


def test_manifest_does_not_depend_on_finishing_order(tmp_path):
    from talkset.testing import synthetic_part

    parts = [synthetic_part(v, 3) for v in range(30)]
    outputs = []
    for seed in (1, 2):
        store = OutputStore(tmp_path / f"o{seed}")
        store.create()
        order = parts[:]
        random.Random(seed).shuffle(order)
        for part in order:
            (store.parts / f"{part['video_id']}.json").write_text(json.dumps(part))
            (store.done / part["video_id"]).touch()
        merge(store, Config.load())
        outputs.append(((store.root / "manifest.json").read_bytes(),
                        pq.read_table(store.root / "manifest.parquet").to_pylist()))
    assert outputs[0] == outputs[1]
    ids = [r["id"] for r in json.loads(outputs[0][0])]
    assert ids == sorted(ids)
