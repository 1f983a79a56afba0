"""Rows of one shape appended one at a time, held in memory up to a budget and past it in an unnamed temporary
file (deleted with it), so what a long video leaves per frame does not grow a process's memory."""
from __future__ import annotations

import tempfile
from typing import IO

import numpy as np


class RowStore:
    """Rows of one shape and dtype; past ``spill_bytes`` (0: at once) they are written to a temporary file in
    TMPDIR, and ``array()`` then maps them read-only instead of stacking them in memory."""

    def __init__(self, shape: tuple[int, ...], dtype, spill_bytes: int):
        self.shape, self.dtype = tuple(shape), np.dtype(dtype)
        self.spill_bytes = spill_bytes
        self._row_bytes = int(np.prod(self.shape)) * self.dtype.itemsize
        self._rows: list[np.ndarray] = []
        self._file: IO[bytes] | None = None
        self._n = 0

    def __len__(self) -> int:
        return self._n

    def append(self, row: np.ndarray) -> None:
        self._rows.append(np.asarray(row, self.dtype).reshape(self.shape))
        self._n += 1
        if len(self._rows) * self._row_bytes >= self.spill_bytes:
            self._write()

    def _write(self) -> None:
        if self._file is None:
            self._file = tempfile.TemporaryFile(prefix="talkset-rows-")
        if self._rows:
            self._file.write(np.stack(self._rows).tobytes())
            self._rows.clear()

    def array(self) -> np.ndarray:
        """All rows, (n, *shape): stacked, or mapped from the file once spilled (the file lives as long as the
        map). Appending ends here."""
        if self._file is None or self._n == 0:
            rows = np.stack(self._rows) if self._rows else np.zeros((0, *self.shape), self.dtype)
        else:
            self._write()
            self._file.flush()
            rows = np.memmap(self._file, self.dtype, "r", shape=(self._n, *self.shape))
        self.close()
        return rows

    def close(self) -> None:
        """Drops the rows not handed out (and the file, unless a map from ``array`` holds it)."""
        self._rows = []
        if self._file is not None:
            self._file.close()  # a map keeps its own descriptor
            self._file = None
