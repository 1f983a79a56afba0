"""Rows read back the same from memory or from the temporary file they spill to."""
from __future__ import annotations

import numpy as np
import pytest

from talkset.rows import RowStore


@pytest.mark.parametrize("spill_bytes", [0, 3 * 12, 1 << 30])
def test_rows_read_back_the_same_whether_spilled_or_not(spill_bytes):
    data = np.random.default_rng(0).normal(size=(10, 3)).astype(np.float32)
    store = RowStore((3,), np.float32, spill_bytes=spill_bytes)
    for row in data:
        store.append(row)
    assert len(store) == 10
    got = store.array()
    assert got.shape == (10, 3) and got.dtype == np.float32 and np.array_equal(got, data)
    if spill_bytes < data.nbytes:
        assert isinstance(got, np.memmap) and not got.flags.writeable


def test_an_empty_store_has_no_rows():
    assert RowStore((2, 2), np.uint8, spill_bytes=0).array().shape == (0, 2, 2)
