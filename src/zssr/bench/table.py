"""``metrics.csv``: one row per (image, method) of an evaluate run, the record a resumed run continues from.

Several jobs may write one run dir at once (shards of one dataset, a job and its requeued self): every write happens
under a file lock and merges this job's rows into what is on disk, so no job ever drops another's rows.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from filelock import FileLock

from zssr.errors import ZSSRError
from zssr.run.results import replace_file

COLUMNS = ["dataset", "degradation", "kernel", "estimator", "scale", "image", "method", "psnr", "ssim", "psnr_rgb",
           "seconds", "iterations", "kernel_error", "estimation_seconds"]
NUMBERS = COLUMNS[7:]
OPTIONAL = ("estimator",)  # files written before it was a column hold one estimator's (or no estimated) kernels


def with_optional(row: dict[str, str]) -> dict[str, str]:
    """A row read from a file, with the :data:`OPTIONAL` columns an older file lacks set empty."""
    return {**dict.fromkeys(OPTIONAL, ""), **row}


class MetricsFile:
    """``metrics.csv``: read on opening; :meth:`add` rewrites it whole (never half written), under the run dir's
    lock, merged with the rows other jobs wrote meanwhile."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = FileLock(str(path) + ".lock")
        with self.lock:
            self.rows = self._read()

    def _read(self) -> list[dict[str, str]]:
        if not self.path.is_file():
            return []
        hint = "move it away or start a new run dir"
        with open(self.path, newline="") as fh:
            reader = csv.DictReader(fh)
            missing = [c for c in COLUMNS if c not in (reader.fieldnames or []) and c not in OPTIONAL]
            if missing:
                raise ZSSRError(f"{self.path} is not a metrics file of this project (no column "
                                f"{', '.join(missing)}); {hint}")
            rows = [with_optional(row) for row in reader]
        for line, row in enumerate(rows, start=2):
            if None in row or None in row.values() or not row["image"] or not row["method"] or not all(
                    _is_number(row[k]) for k in NUMBERS):
                raise ZSSRError(f"{self.path} line {line} is damaged; {hint}")
        return rows

    @contextmanager
    def locked(self) -> Iterator[list[dict[str, str]]]:
        """Hold the lock: the rows on disk, unchanged by any other job until the block ends."""
        with self.lock:
            self.rows = self._read()
            yield self.rows

    def done(self, image: str, methods: list[str]) -> bool:
        have = {r["method"] for r in self.rows if r["image"] == image}
        return set(methods) <= have

    def add(self, rows: list[dict[str, Any]]) -> None:
        new = [{k: _fmt(r.get(k)) for k in COLUMNS} for r in rows]
        keys = {(r["image"], r["method"]) for r in new}
        with self.lock:
            self.rows = [r for r in self._read() if (r["image"], r["method"]) not in keys] + new
            text = io.StringIO()
            writer = csv.DictWriter(text, fieldnames=COLUMNS)
            writer.writeheader()
            writer.writerows(self.rows)
            replace_file(self.path, text.getvalue())


def _is_number(text: str) -> bool:
    if text == "":
        return True
    try:
        float(text)
    except ValueError:
        return False
    return True


def _fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6f}" if np.isfinite(value) else str(value)
    return str(value)
