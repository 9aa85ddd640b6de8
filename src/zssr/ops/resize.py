"""MATLAB-exact bicubic ``imresize`` in torch, and the kernel down-model used for sons and back-projection.

Conventions (MATLAB ``imresize``): Keys cubic with a = -0.5 and support 4; output pixel ``x`` (1-based) samples input
coordinate ``u = x / s + 0.5 * (1 - 1 / s)``; when downscaling, the kernel is widened by ``1 / s`` (antialiasing);
borders are mirrored symmetrically; the two axes are resized separately, the one shrinking most first.
Images are float tensors shaped ``(..., H, W)`` in any value range; integer rounding is the caller's business.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F

Scale = float | Sequence[float]


def _pair(value: Scale) -> tuple[float, float]:
    if isinstance(value, (int, float)):
        return float(value), float(value)
    values = tuple(float(v) for v in value)
    if len(values) == 1:
        return values[0], values[0]
    if len(values) != 2:
        raise ValueError(f"expected one or two scale factors, got {list(value)}")
    return values


def output_shape(in_shape: Sequence[int], scale: Scale) -> tuple[int, int]:
    """MATLAB's output size: ``ceil(size * scale)`` per axis (with a guard against float noise like 2.0000000001)."""
    sh, sw = _pair(scale)
    return tuple(int(math.ceil(n * s - 1e-9)) for n, s in zip(in_shape[-2:], (sh, sw), strict=True))


def cubic(x: np.ndarray) -> np.ndarray:
    """Keys' cubic convolution kernel (a = -0.5), MATLAB's ``cubic``."""
    ax = np.abs(x)
    ax2, ax3 = ax**2, ax**3
    return (1.5 * ax3 - 2.5 * ax2 + 1) * (ax <= 1) + (-0.5 * ax3 + 2.5 * ax2 - 4 * ax + 2) * ((ax > 1) & (ax <= 2))


@lru_cache(maxsize=256)
def contributions(in_len: int, out_len: int, scale: float, antialias: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Weights ``(out_len, P)`` and 0-based mirrored source indices ``(out_len, P)`` of MATLAB's bicubic resize."""
    width = 4.0
    if scale < 1 and antialias:
        kernel = lambda x: scale * cubic(scale * x)  # noqa: E731
        width = width / scale
    else:
        kernel = cubic
    x = np.arange(1, out_len + 1, dtype=np.float64)
    u = x / scale + 0.5 * (1 - 1 / scale)
    left = np.floor(u - width / 2)
    taps = int(math.ceil(width)) + 2
    idx = left[:, None] + np.arange(taps)[None, :]
    weights = kernel(u[:, None] - idx)
    weights /= weights.sum(axis=1, keepdims=True)
    mirror = np.concatenate([np.arange(in_len), np.arange(in_len)[::-1]])
    idx = mirror[np.mod(idx.astype(np.int64) - 1, 2 * in_len)]
    keep = np.any(weights != 0, axis=0)
    return weights[:, keep], idx[:, keep]


@lru_cache(maxsize=256)
def _resize_matrix(in_len: int, out_len: int, scale: float) -> np.ndarray:
    """The resize along one axis as a dense ``(out_len, in_len)`` matrix (mirrored taps summed into their source)."""
    weights, idx = contributions(in_len, out_len, scale)
    matrix = np.zeros((out_len, in_len))
    np.add.at(matrix, (np.repeat(np.arange(out_len), idx.shape[1]), idx.ravel()), weights.ravel())
    return matrix


SPARSE_ABOVE = 1 << 20  # matrix entries; above this a sparse (CSR) product is several times faster


@lru_cache(maxsize=32)
def _sparse_matrix(in_len: int, out_len: int, scale: float, dtype: torch.dtype) -> torch.Tensor:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "sparse CSR support is in beta"
        return torch.as_tensor(_resize_matrix(in_len, out_len, scale), dtype=dtype).to_sparse_csr()


def _resize_axis(x: torch.Tensor, dim: int, out_len: int, scale: float) -> torch.Tensor:
    """One axis as a matrix product: one BLAS (or sparse) call, far faster than gathering taps."""
    in_len = x.shape[dim]
    last = dim == x.dim() - 1
    if in_len * out_len > SPARSE_ABOVE and x.device.type == "cpu":
        matrix = _sparse_matrix(in_len, out_len, scale, x.dtype)
        moved = x.movedim(dim, 0)
        flat = moved.reshape(in_len, -1)
        out = (matrix @ flat).reshape(out_len, *moved.shape[1:])
        return out.movedim(0, dim)
    matrix = torch.as_tensor(_resize_matrix(in_len, out_len, scale), dtype=x.dtype, device=x.device)
    return x @ matrix.T if last else matrix @ x


def imresize(x: torch.Tensor, scale: Scale | None = None, out_shape: Sequence[int] | None = None) -> torch.Tensor:
    """Bicubic resize of ``x`` (``(..., H, W)``, float) exactly as MATLAB ``imresize(x, scale, 'bicubic')``.

    Give ``scale`` (one factor or ``(sh, sw)``), ``out_shape`` ``(H', W')``, or both (as MATLAB, the scale then sets the
    kernel and the shape the number of samples). Non-integer and per-axis factors are supported.
    """
    if scale is None and out_shape is None:
        raise ValueError("give scale or out_shape")
    in_h, in_w = x.shape[-2:]
    if scale is None:
        scale = (out_shape[0] / in_h, out_shape[1] / in_w)
    sh, sw = _pair(scale)
    if out_shape is None:
        out_shape = output_shape((in_h, in_w), (sh, sw))
    dims = [(x.dim() - 2, out_shape[0], sh), (x.dim() - 1, out_shape[1], sw)]
    dims.sort(key=lambda d: d[2])  # MATLAB resizes the axis with the smallest factor first (stable: rows on ties)
    for dim, n, s in dims:
        if n != x.shape[dim] or s != 1:
            x = _resize_axis(x, dim, n, s)
    return x


def _correlate(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """2-D correlation of every channel of ``x`` (``(..., H, W)``) with ``kernel``, origin at ``K // 2``, symmetric
    borders (scipy.ndimage's 'reflect', MATLAB's 'symmetric')."""
    kernel = F.pad(kernel, (0, 1 - kernel.shape[1] % 2, 0, 1 - kernel.shape[0] % 2))  # even size: pad at the end
    kh, kw = kernel.shape
    lead = x.shape[:-2]
    flat = x.reshape(-1, 1, *x.shape[-2:])
    pad = (kw // 2, kw // 2, kh // 2, kh // 2)
    flat = _pad_symmetric(flat, pad)
    out = F.conv2d(flat, kernel.to(device=x.device, dtype=x.dtype)[None, None])
    return out.reshape(*lead, *out.shape[-2:])


def _pad_symmetric(x: torch.Tensor, pad: tuple[int, int, int, int]) -> torch.Tensor:
    left, right, top, bottom = pad
    h, w = x.shape[-2:]
    rows = _symmetric_index(h, top, bottom, x.device)
    cols = _symmetric_index(w, left, right, x.device)
    return x[..., rows, :][..., cols]


def _symmetric_index(n: int, before: int, after: int, device: torch.device) -> torch.Tensor:
    idx = torch.arange(-before, n + after, device=device)
    period = 2 * n
    idx = torch.remainder(idx, period)
    return torch.where(idx >= n, period - 1 - idx, idx)


def kernel_downscale(x: torch.Tensor, kernel: torch.Tensor, scale: Scale,
                     out_shape: Sequence[int] | None = None) -> torch.Tensor:
    """Blur ``x`` (``(..., H, W)``) with ``kernel`` and subsample by ``scale``: the down-model for a given kernel.

    ``LR[i] = sum_j kernel[j] * x[s * i + j - K // 2]`` per axis, with symmetric borders: the kernel is used as given,
    its own off-centre mass encoding the sub-pixel alignment (a x2 kernel made by KernelGAN or ZSSR's generator has its
    centre of mass near ``K // 2 + 0.5``). This reproduces LR images made by ``scipy.ndimage.correlate`` followed by
    ``[::s, ::s]`` exactly. Non-integer factors read the blurred image bilinearly at ``s * i``. ``out_shape``: the
    number of samples, where it is known (default: ``ceil(size / s)``).
    """
    sh, sw = _pair(scale)
    out_h, out_w = out_shape if out_shape is not None else output_shape(x.shape[-2:], (1 / sh, 1 / sw))
    blurred = _correlate(x, kernel)
    blurred = _sample_axis(blurred, x.dim() - 2, out_h, sh)
    return _sample_axis(blurred, x.dim() - 1, out_w, sw)


def _sample_axis(x: torch.Tensor, dim: int, out_len: int, step: float) -> torch.Tensor:
    pos = torch.arange(out_len, dtype=torch.float64) * step
    n = x.shape[dim]
    pos = pos.clamp(0, n - 1)
    lo = pos.floor().long().clamp(max=n - 1)
    hi = (lo + 1).clamp(max=n - 1)
    frac = (pos - lo).to(x.dtype).to(x.device)
    moved = x.movedim(dim, -1)
    if torch.all(frac == 0):
        out = moved[..., lo.to(x.device)]
    else:
        out = moved[..., lo.to(x.device)] * (1 - frac) + moved[..., hi.to(x.device)] * frac
    return out.movedim(-1, dim)


def downscale(x: torch.Tensor, scale: Scale, kernel: torch.Tensor | None = None,
              out_shape: Sequence[int] | None = None) -> torch.Tensor:
    """The degradation model: MATLAB bicubic downscaling by ``scale`` (>= 1 per axis) or ``kernel``'s blur+subsample.
    ``out_shape``: the size to land on where it is known (an LR image's own). A non-integer factor need not lead back
    to it through ``ceil``: 114 x 1.25 -> 143 -> 115, and 144 x 1.333333 -> 192 -> 145."""
    sh, sw = _pair(scale)
    if kernel is None:
        return imresize(x, (1 / sh, 1 / sw), out_shape=out_shape)
    return kernel_downscale(x, kernel, (sh, sw), out_shape)
