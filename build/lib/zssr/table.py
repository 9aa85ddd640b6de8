"""``metrics.csv``: one row per (image, method) of an evaluate run, the record a resumed run continues from."""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any

import numpy as np

COLUMNS = ["dataset", "degradation", "kernel", "scale", "image", "method", "psnr", "ssim", "psnr_rgb", "seconds",
           "iterations", "kernel_error", "estimation_seconds"]


class MetricsFile:
    """``metrics.csv``: rewritten whole through a temporary file and ``os.replace``, so it is never half written."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.rows: list[dict[str, str]] = []
        if path.is_file():
            with open(path, newline="") as fh:
                self.rows = list(csv.DictReader(fh))

    def done(self, image: str, methods: list[str]) -> bool:
        have = {r["method"] for r in self.rows if r["image"] == image}
        return set(methods) <= have

    def add(self, rows: list[dict[str, Any]]) -> None:
        self.rows.extend({k: _fmt(r.get(k)) for k in COLUMNS} for r in rows)
        tmp = self.path.with_suffix(".csv.tmp")
        with open(tmp, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=COLUMNS)
            writer.writeheader()
            writer.writerows(self.rows)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)


def _fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6f}" if np.isfinite(value) else str(value)
    return str(value)
