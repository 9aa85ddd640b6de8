"""Benchmark image sets: which HR (or LR-only) images an evaluation runs over, and subsets of them.

A dataset config gives ``name``, a ``root`` folder (``<paths.data_dir>/<name>/HR`` for the standard sets), or
``samples`` (scikit-image's bundled photos, the offline default), plus optional subsets: ``names``, ``count`` (a seeded
random choice) and ``shard: [i, n]`` (the i-th of n interleaved parts, 0-based) so one set can be split over jobs.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from zssr.download import datasets as downloadable
from zssr.download import download as fetch
from zssr.download import where_to_put
from zssr.errors import ZSSRError
from zssr.ops.imageio import LoadedImage, open_input

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}


@dataclass
class ImageRef:
    name: str  # unique within the dataset: the file's stem, or stem_suffix when stems collide (x.png, x.jpg)
    source: str  # a file path, or skimage:<name>

    def load(self, max_pixels: int | None = None) -> LoadedImage:
        return open_input(self.source, max_pixels)


def unique_refs(paths: Sequence[Path]) -> list[ImageRef]:
    """One ref per file, named by its stem; files sharing a stem are told apart by their suffix."""
    stems = Counter(p.stem for p in paths)
    refs = [ImageRef(p.stem if stems[p.stem] == 1 else f"{p.stem}_{p.suffix[1:].lower()}", str(p)) for p in paths]
    clashes = [name for name, n in Counter(r.name for r in refs).items() if n > 1]
    if clashes:
        raise ZSSRError(f"image names clash in {paths[0].parent}: {', '.join(clashes)}; rename one of each")
    return refs


def check_images(refs: list[ImageRef], max_pixels: int | None, on_bad_image: str,
                 check: Callable[[LoadedImage], object] | None = None) -> tuple[list[ImageRef], dict]:
    """Read every image once before any training, so a bad file is found now rather than hours in; ``check`` (raising
    :class:`ZSSRError`) says what else makes one unusable.

    ``on_bad_image``: ``fail`` (one error listing every unusable image) or ``skip`` (go on without them). Returns the
    usable refs and ``{name: reason}`` for those skipped.
    """
    if on_bad_image not in ("fail", "skip"):
        raise ZSSRError(f"dataset.on_bad_image must be one of fail, skip, got {on_bad_image!r}")
    bad = {}
    for ref in refs:
        try:
            image = ref.load(max_pixels)
            if check is not None:
                check(image)
        except ZSSRError as exc:
            bad[ref.name] = str(exc)
    if bad and on_bad_image != "skip":
        listing = "; ".join(f"{name}: {reason}" for name, reason in bad.items())
        raise ZSSRError(f"{len(bad)} of {len(refs)} image(s) cannot be used ({listing}); fix or remove them, or set "
                        f"dataset.on_bad_image=skip")
    return [r for r in refs if r.name not in bad], bad


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
        if root is None:
            raise ZSSRError(f"dataset '{name}' needs dataset.root=<a folder of images>")
        folder = Path(str(root))
        standard = name in downloadable()
        if download and standard and not folder.is_dir():
            fetch(name, folder.parent.parent)
        if not folder.is_dir():
            hint = f"; {where_to_put(name, folder)}" if standard else ""
            raise ZSSRError(f"dataset '{name}': folder {folder} not found{hint}")
        refs = unique_refs([p for p in sorted(folder.iterdir()) if p.suffix.lower() in IMAGE_SUFFIXES])
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


def reported_split(root: str, held_out: bool, count: int = 20, seed: int = 1234) -> list[ImageRef]:
    """BSD100's seeded subset that results are reported on (``dataset.count=20`` with evaluate.py's seed 1234) or,
    with ``held_out``, the rest in name order: the images settings are tuned on."""
    reported = {r.name for r in list_images("bsd100", root=root, count=count, seed=seed)}
    return [r for r in list_images("bsd100", root=root) if (r.name not in reported) == held_out]
