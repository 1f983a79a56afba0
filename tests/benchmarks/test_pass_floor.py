"""pass_floor measures every piece of the pass on real frames (a few, from a short clip)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import pass_floor


def test_every_piece_is_measured_on_a_real_clip(media):
    ms = pass_floor.measure(media / "talking/vox_man_tv_224.mp4", 30)
    assert set(ms) >= {"decode, 1 thread", "work frame (640 px RGB)", "detector (one call)",
                       "mesh with lip refinement (curate)", "mesh without refinement", "pose (one call)"}
    assert all(v > 0 for v in ms.values()), ms
    assert ms["mesh with lip refinement (curate)"] > ms["decode, 1 thread"], "a 224-px decode is cheaper than a mesh"
