"""Benchmark image sets: which HR (or LR-only) images an evaluation runs over, and subsets of them.

A dataset is a :class:`Dataset` chosen by ``conf/dataset/<name>.yaml``'s ``_target_``: :class:`ImageFolder` (a
``root`` folder: ``<paths.data_dir>/<name>/HR`` for the standard sets, downloaded when missing) or
:class:`SkimageSamples` (scikit-image's bundled photos, the offline default). Every dataset takes the same subsets:
``names``, ``count`` (a seeded random choice) and ``shard: [i, n]`` (the i-th of n interleaved parts, 0-based) so one
set can be split over jobs. A new source of images is one :class:`Dataset` subclass and one YAML.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from zssr.download import datasets as downloadable
from zssr.download import download as fetch
from zssr.download import where_to_put
from zssr.errors import ZSSRError, build_role
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

    ``on_bad_image``: ``fail`` (one error listing every unusable image) or ``skip`` (go on without them; the value is
    checked with the dataset's other settings, :class:`Dataset`). Returns the usable refs and ``{name: reason}`` for
    those skipped.
    """
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


class Dataset(ABC):
    """A benchmark image set, chosen by ``conf/dataset/<name>.yaml``'s ``_target_``: a subclass says where its
    images come from (:meth:`images`); the base class takes the subsets every set has. ``name`` labels the results;
    ``has_gt``: the images are HR ground truth to degrade (else LR photos to upscale, with outputs only); ``names``
    (a subset by name), ``count`` (a seeded random subset of that many), ``shard: [i, n]`` (the i-th of n interleaved
    parts, 0-based, so one set can be split over jobs); ``on_bad_image``: ``fail`` or ``skip``."""

    def __init__(self, *, name: str, has_gt: bool, names: Sequence[str] | None, count: int | None,
                 shard: Sequence[int] | None, on_bad_image: str):
        self.name, self.has_gt = str(name), bool(has_gt)
        self.names = None if names is None else [str(n) for n in names]
        if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 1):
            raise ZSSRError(f"dataset.count must be a positive integer, got {count}")
        self.shard = None if shard is None else tuple(int(v) for v in shard)  # (index, parts)
        if self.shard is not None and not (len(self.shard) == 2 and 0 <= self.shard[0] < self.shard[1]):
            raise ZSSRError(f"dataset.shard must be [i, n] with 0 <= i < n, got {list(shard)}")
        if on_bad_image not in ("fail", "skip"):
            raise ZSSRError(f"dataset.on_bad_image must be one of fail, skip, got {on_bad_image!r}")
        self.count, self.on_bad_image = count, on_bad_image

    @abstractmethod
    def images(self) -> list[ImageRef]:
        """Every image of the set, in a stable order, each with a unique name."""

    def select(self, seed: int = 0) -> list[ImageRef]:
        """The images after the subsets, in the set's order."""
        refs = self.images()
        if self.names is not None:
            known = {r.name for r in refs}
            missing = [n for n in self.names if n not in known]
            if missing:
                raise ZSSRError(f"dataset '{self.name}': no image named {', '.join(missing)}")
            refs = [r for r in refs if r.name in set(self.names)]
        if self.count:
            pick = np.random.default_rng(seed).permutation(len(refs))[: self.count]
            refs = [refs[i] for i in sorted(pick)]
        if self.shard:
            index, parts = self.shard
            refs = refs[index::parts]
        return refs


class ImageFolder(Dataset):
    """The images in ``root`` (PNG, JPEG, BMP, TIFF, WebP), by name. With ``download``, a standard set (set5, set14,
    bsd100) missing from ``root`` (``<data_dir>/<name>/HR``) is fetched first (:mod:`zssr.download`, checksummed);
    offline that fails with one line saying where to put the images."""

    def __init__(self, *, root: str, download: bool, **subsets: Any):
        super().__init__(**subsets)
        self.root, self.download = Path(str(root)).expanduser(), bool(download)

    def images(self) -> list[ImageRef]:
        standard = self.name in downloadable()
        if self.download and standard and not self.root.is_dir():
            fetch(self.name, self.root.parent.parent)
        if not self.root.is_dir():
            hint = f"; {where_to_put(self.name, self.root)}" if standard else ""
            raise ZSSRError(f"dataset '{self.name}': folder {self.root} not found{hint}")
        refs = unique_refs([p for p in sorted(self.root.iterdir()) if p.suffix.lower() in IMAGE_SUFFIXES])
        if not refs:
            raise ZSSRError(f"dataset '{self.name}': no images in {self.root}")
        return refs


class SkimageSamples(Dataset):
    """Photos bundled with scikit-image (``samples``: their names, e.g. chelsea): offline, no download."""

    def __init__(self, *, samples: Sequence[str], **subsets: Any):
        super().__init__(**subsets)
        if not samples:
            raise ZSSRError("dataset.samples must name at least one of scikit-image's photos, e.g. [chelsea]")
        self.samples = [str(s) for s in samples]

    def images(self) -> list[ImageRef]:
        return [ImageRef(s, f"skimage:{s}") for s in self.samples]


def build_dataset(cfg: Mapping[str, Any]) -> Dataset:
    """The dataset ``cfg`` (the ``dataset`` node) describes, by its ``_target_``; a bad setting is one line."""
    from omegaconf import OmegaConf

    if OmegaConf.is_config(cfg) and "root" in cfg.keys() and OmegaConf.is_missing(cfg, "root"):
        raise ZSSRError(f"dataset '{cfg.get('name')}' needs dataset.root=<a folder of images>")
    return build_role(cfg, "dataset", Dataset, _recursive_=False)


def list_images(name: str, root: str | None = None, samples: Sequence[str] | None = None,
                names: Sequence[str] | None = None, count: int | None = None, shard: Sequence[int] | None = None,
                seed: int = 0, download: bool = False) -> list[ImageRef]:
    """The images of a dataset after subsetting (as :meth:`Dataset.select`), for scripts without a config."""
    subsets = {"name": name, "has_gt": True, "names": names, "count": count, "shard": shard, "on_bad_image": "fail"}
    if samples:
        return SkimageSamples(samples=samples, **subsets).select(seed)
    if root is None:
        raise ZSSRError(f"dataset '{name}' needs dataset.root=<a folder of images>")
    return ImageFolder(root=root, download=download, **subsets).select(seed)


def reported_split(root: str, held_out: bool, count: int = 20, seed: int = 1234) -> list[ImageRef]:
    """BSD100's seeded subset that results are reported on (``dataset.count=20`` with evaluate.py's seed 1234) or,
    with ``held_out``, the rest in name order: the images settings are tuned on."""
    reported = {r.name for r in list_images("bsd100", root=root, count=count, seed=seed)}
    return [r for r in list_images("bsd100", root=root) if (r.name not in reported) == held_out]
