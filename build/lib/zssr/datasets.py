"""Benchmark image sets: which HR (or LR-only) images an evaluation runs over, and subsets of them.

A dataset config gives ``name``, a ``root`` folder (``<paths.data_dir>/<name>/HR`` for the standard sets), or
``samples`` (scikit-image's bundled photos, the offline default), plus optional subsets: ``names``, ``count`` (a seeded
random choice) and ``shard: [i, n]`` (the i-th of n interleaved parts, 0-based) so one set can be split over jobs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from zssr.download import datasets as downloadable
from zssr.download import download as fetch
from zssr.download import where_to_put
from zssr.errors import ZSSRError
from zssr.imageio import LoadedImage, open_input

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}


@dataclass
class ImageRef:
    name: str
    source: str  # a file path, or skimage:<name>

    def load(self) -> LoadedImage:
        return open_input(self.source)


def list_images(name: str, root: str | None = None, samples: Sequence[str] | None = None,
                names: Sequence[str] | None = None, count: int | None = None, shard: Sequence[int] | None = None,
                seed: int = 0, download: bool = False) -> list[ImageRef]:
    """The images of a dataset after subsetting, in a stable (sorted) order.

    With ``download``, a standard set missing from ``root`` (``<data_dir>/<name>/HR``) is fetched first
    (:mod:`zssr.download`, checksummed); offline that fails with one line saying where to put the images.
    """
    if samples:
        refs = [ImageRef(s, f"skimage:{s}") for s in samples]
    else:
        folder = Path(str(root))
        standard = name in downloadable()
        if download and standard and not folder.is_dir():
            fetch(name, folder.parent.parent)
        if not folder.is_dir():
            hint = f"; {where_to_put(name, folder)}" if standard else ""
            raise ZSSRError(f"dataset '{name}': folder {folder} not found{hint}")
        refs = [ImageRef(p.stem, str(p)) for p in sorted(folder.iterdir()) if p.suffix.lower() in IMAGE_SUFFIXES]
        if not refs:
            raise ZSSRError(f"dataset '{name}': no images in {folder}")
    if names:
        known = {r.name for r in refs}
        missing = [n for n in names if str(n) not in known]
        if missing:
            raise ZSSRError(f"dataset '{name}': no image named {', '.join(map(str, missing))}")
        refs = [r for r in refs if r.name in {str(n) for n in names}]
    if count:
        if count < 0:
            raise ZSSRError(f"dataset.count must be positive, got {count}")
        pick = np.random.default_rng(seed).permutation(len(refs))[:count]
        refs = [refs[i] for i in sorted(pick)]
    if shard:
        index, parts = (int(v) for v in shard)
        if not 0 <= index < parts:
            raise ZSSRError(f"dataset.shard must be [i, n] with 0 <= i < n, got {list(shard)}")
        refs = refs[index::parts]
    return refs
