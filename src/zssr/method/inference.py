"""Applying the trained network to the input: tiling, the geometric self-ensemble and back-projection."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator
from fractions import Fraction
from itertools import islice

import torch
from torch import nn

from zssr.method.data import dihedral, dihedral_indices, dihedral_inverse
from zssr.ops.resize import _pair, downscale, imresize, output_shape

log = logging.getLogger(__name__)


@torch.no_grad()
def forward_tiled(net: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, tile: int = 512,
                  margin: int = 8) -> torch.Tensor:
    """``net(x)`` for ``x`` ``(1, C, H, W)``, computed over ``tile``-sized pieces so memory stays bounded.

    Each tile is read with ``margin`` extra pixels on every side (at least the network's receptive-field radius) and
    only its centre is kept, so the result equals the untiled forward pass up to float rounding: no seams.
    """
    h, w = x.shape[-2:]
    if h <= tile and w <= tile:
        return net(x).float()
    out = torch.empty(x.shape[0], x.shape[1], h, w, dtype=torch.float32, device=x.device)
    for top in range(0, h, tile):
        for left in range(0, w, tile):
            t0, l0 = max(top - margin, 0), max(left - margin, 0)
            t1, l1 = min(top + tile + margin, h), min(left + tile + margin, w)
            piece = net(x[..., t0:t1, l0:l1]).float()
            bottom, right = min(top + tile, h), min(left + tile, w)
            out[..., top:bottom, left:right] = piece[..., top - t0:bottom - t0, left - l0:right - l0]
    return out


def back_project(sr: torch.Tensor, lr: torch.Tensor, scale: tuple[float, float], kernel: torch.Tensor | None,
                 iterations: int) -> torch.Tensor:
    """Make ``sr`` consistent with ``lr``: ``sr += up_bicubic(lr - down(sr))``, ``iterations`` times.

    ``down`` is the degradation model (bicubic or ``kernel``); the way back up is always bicubic (Irani & Peleg 1991;
    ZSSR's 2018 code). Tensors are ``(..., 3, H, W)`` in [0, 1].
    """
    rounds = _projections(sr, lr, scale, kernel)
    for _ in range(iterations):
        sr, _residual = next(rounds)
    return sr.clamp(0, 1)


def _projections(sr: torch.Tensor, lr: torch.Tensor, scale: tuple[float, float],
                 kernel: torch.Tensor | None) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """The back-projection rounds from ``sr``: each yields the updated image and the LR residual it was updated by."""
    while True:
        residual = lr - downscale(sr, scale, kernel, out_shape=lr.shape[-2:])
        sr = sr + imresize(residual, scale, out_shape=sr.shape[-2:])
        yield sr, residual


def stable_rounds(lr: torch.Tensor, scale: tuple[float, float], kernel: torch.Tensor | None, iterations: int,
                  stages: int = 1, growth: float = 1.01) -> int:
    """How many of ``iterations`` back-projection rounds per stage keep the LR residual from growing over ``stages``
    stages one after another (the ensemble back-projects each variant, then their median), probed on the bicubic
    upscaling of ``lr``. With a kernel whose frequency response changes sign (a motion path, a defocus disk), the
    bicubic way back up amplifies some frequencies every round and the iteration diverges: the probe stops at the round
    that would make the mean squared residual more than ``growth`` times larger. With the bicubic kernel and Gaussian
    kernels the residual falls and every round is kept. It depends on the image and the kernel only, so regions and
    ensemble variants all get the same number and stay local."""
    if kernel is None or iterations <= 0:
        return iterations
    previous = None
    # the k-th residual (from 0) is that of the image after k rounds: it tells whether round k grew the residual
    for k, (_, residual) in enumerate(islice(_projections(imresize(lr, scale), lr, scale, kernel),
                                             iterations * stages + 1)):
        error = residual.square().mean()
        if previous is not None and error > growth * previous:
            return (k - 1) // stages
        previous = error
    return iterations


def median(stack: torch.Tensor, rows: int = 256) -> torch.Tensor:
    """Per-pixel median over the first axis, averaging the two middle values for an even count (as numpy); sorted
    ``rows`` rows at a time, so the sort's copies and indices stay small next to the stack."""
    n = stack.shape[0]
    if n == 1:
        return stack[0]
    if stack.dim() < 4:  # not (n, C, H, W): small, in one piece
        return _median(stack)
    out = torch.empty_like(stack[0])
    for top in range(0, stack.shape[-2], rows):
        out[..., top:top + rows, :] = _median(stack[..., top:top + rows, :])
    return out


def _median(stack: torch.Tensor) -> torch.Tensor:
    n = stack.shape[0]
    ordered = stack.sort(dim=0).values
    return ordered[n // 2] if n % 2 else 0.5 * (ordered[n // 2 - 1] + ordered[n // 2])


def ensemble_transforms(scale: tuple[float, float], rotations: bool = True, flips: bool = True) -> list[int]:
    """Indices of :func:`zssr.method.data.dihedral` in the self-ensemble (only 180-degree turns for anisotropic
    scales)."""
    ks = dihedral_indices(rotations, flips)
    if scale[0] != scale[1]:
        ks = [k for k in ks if k % 2 == 0]
    return ks


# input pixels of context around a region: the net's reach (8) plus 16 for the resizing and back-projection, whose
# influence decays fast (measured: 16 matched the whole image to 1e-6 at x2 with 10 back-projections, 8 to 1e-4)
REGION_MARGIN = 24


@torch.no_grad()
def super_resolve_regions(net: nn.Module, lr: torch.Tensor, scale, region: int | None,
                          **kwargs) -> tuple[torch.Tensor, int]:
    """:func:`super_resolve` one ``region`` x ``region`` part of the input at a time (with a margin of context), so
    the ensemble's memory is bounded by the region, not the image: ``None``, or an input no larger, is one piece.
    Returns the output and the back-projection rounds per stage it used.

    The number of back-projection rounds is first capped for the whole image (:func:`stable_rounds`). Every step
    after that is local (the net, bicubic resizing, the kernel's blur, the median), so a region's centre equals the
    whole image's result there up to float rounding. Regions start on input pixels that map to whole output pixels
    (multiples of 2 at x2.5).
    """
    asked = kwargs.get("back_projection_iters", 10)
    rounds = stable_rounds(lr, _pair(scale), kwargs.get("kernel"), asked, stages=2)  # variants, then their median
    if rounds < asked:
        log.warning("back-projection: %d of %d rounds; more would diverge with this kernel (its frequency response "
                    "changes sign)", rounds, asked)
    kwargs["back_projection_iters"] = rounds
    h, w = lr.shape[-2:]
    if region is None or (h <= region and w <= region):
        return super_resolve(net, lr, scale, **kwargs), rounds
    sh, sw = _pair(scale)
    step = math.lcm(*(Fraction(s).limit_denominator(64).denominator for s in (sh, sw)))
    region = -(-int(region) // step) * step
    margin = -(-REGION_MARGIN // step) * step
    out_h, out_w = output_shape((h, w), (sh, sw))
    out = torch.empty(3, out_h, out_w, dtype=lr.dtype)
    for top in range(0, h, region):
        for left in range(0, w, region):
            t0, l0 = max(top - margin, 0), max(left - margin, 0)
            piece = super_resolve(net, lr[:, t0:min(top + region + margin, h), l0:min(left + region + margin, w)],
                                  scale, **kwargs).cpu()
            y0, x0 = round(top * sh), round(left * sw)
            y1, x1 = min(round((top + region) * sh), out_h), min(round((left + region) * sw), out_w)
            py, px = round((top - t0) * sh), round((left - l0) * sw)
            out[:, y0:y1, x0:x1] = piece[:, py:py + y1 - y0, px:px + x1 - x0]
    return out, rounds


@torch.no_grad()
def super_resolve(net: nn.Module, lr: torch.Tensor, scale, kernel: torch.Tensor | None = None,
                  back_projection_iters: int = 10, rotations: bool = True, flips: bool = True, tile: int = 512,
                  autocast_dtype: torch.dtype | None = None, memory_format=torch.contiguous_format,
                  batch_variants: bool = True) -> torch.Tensor:
    """ZSSR's output for ``lr`` (``(3, H, W)`` in [0, 1]): size ``ceil(H * s) x ceil(W * s)``.

    For each geometric variant: transform the input, upsample bicubically, apply the net (tiled), undo the transform
    and back-project; then take the per-pixel median of the variants and back-project once more.

    ``batch_variants``: run the variants of one shape (the four upright ones, the four turned ones) through the net as
    one batch, and back-project all of them at once, rather than one after another. Same result; fewer, larger
    kernel launches (what a GPU wants). Memory grows with the batch, up to 4 x one variant's per tile.
    """
    scale = _pair(scale)
    device = next(net.parameters()).device
    lr = lr.to(device)
    margin = getattr(net, "receptive_radius", 8)

    def run(x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous(memory_format=memory_format)
        with torch.autocast(device.type, dtype=autocast_dtype, enabled=autocast_dtype is not None):
            return net(x)

    ks = ensemble_transforms(scale, rotations, flips)
    # a quarter turn swaps the axes: turned variants make a batch of their own (only isotropic scales have them, so
    # the scale needs no swapping)
    groups = [[k for k in ks if k % 2 == turned] for turned in (0, 1)] if batch_variants else [[k] for k in ks]
    outputs = []
    for group in filter(None, groups):
        ups = torch.stack([imresize(dihedral(lr, k), scale).clamp(0, 1) for k in group])
        srs = forward_tiled(run, ups, tile, margin).clamp(0, 1)
        srs = torch.stack([dihedral_inverse(sr, k) for sr, k in zip(srs, group, strict=True)])
        outputs.append(back_project(srs, lr, scale, kernel, back_projection_iters))
    sr = median(torch.cat(outputs))
    return back_project(sr, lr, scale, kernel, back_projection_iters)
