"""What the kernel benchmarks share: BSD100 images degraded exactly as ``evaluate.py dataset=bsd100`` degrades them.

Imported by the scripts beside it (``python benchmarks/<script>.py`` puts this folder on the path).
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path

import torch

from zssr.api import data_dir
from zssr.bench.datasets import reported_split
from zssr.degradations import Degraded, degrade, image_seed

DATA = data_dir()


def bsd100_root() -> Path:
    """BSD100's HR folder under ``paths.data_dir``; one error line and exit 1 where it is missing."""
    root = DATA / "bsd100" / "HR"
    if not root.is_dir():
        raise SystemExit(f"error: BSD100 not found under {DATA} (set ZSSR_DATA_DIR)")
    return root


def numbers(text: str, option: str) -> list[float]:
    """A comma-separated list of numbers; one error line and exit 1 where it is not one."""
    try:
        return [float(v) for v in text.split(",")]
    except ValueError:
        raise SystemExit(f"error: {option} must be numbers separated by commas, got {text!r}") from None


def add_image_options(parser: argparse.ArgumentParser) -> None:
    """``--images``, ``--subset``, ``--scale`` and ``--degradation``: which images, degraded how."""
    parser.add_argument("--images", type=int, default=80, help="held-out BSD100 images (at most 80)")
    parser.add_argument("--subset", action="store_true", help="score the reported 20-image subset instead")
    parser.add_argument("--scale", type=int, default=2, choices=[2, 4])
    parser.add_argument("--degradation", default="random_kernel",
                        choices=["random_kernel", "kernelgan_kernel", "motion_defocus"])


def degraded_images(args: argparse.Namespace) -> Iterator[tuple[str, torch.Tensor, Degraded]]:
    """The images :func:`add_image_options` chose: name, HR image (cropped to a multiple of the scale) and its
    degradation, with ``evaluate.py``'s seeds."""
    refs = reported_split(str(bsd100_root()), held_out=not args.subset)
    for ref in refs if args.subset else refs[: args.images]:
        hr = ref.load().rgb
        deg = degrade(hr, args.scale, args.degradation,
                      image_seed(1234, "bsd100", ref.name, args.degradation, float(args.scale)))
        yield ref.name, hr[..., : deg.lr.shape[-2] * args.scale, : deg.lr.shape[-1] * args.scale], deg

