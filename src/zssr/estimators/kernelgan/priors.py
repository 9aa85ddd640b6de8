"""The kernel regularisers of KernelGAN: sum to one, small at the boundaries, centred, sparse."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from zssr.ops.kernels import kernel_centre


def centre_of_mass(kernel: torch.Tensor) -> torch.Tensor:
    idx = torch.arange(kernel.shape[0], dtype=kernel.dtype, device=kernel.device)
    total = kernel.sum()
    return torch.stack(((kernel.sum(1) * idx).sum() / total, (kernel.sum(0) * idx).sum() / total))


def boundary_mask(size: int, penalty: float = 30.0) -> torch.Tensor:
    """Zero in the middle, growing towards the edges like an inverted wide Gaussian (the paper's boundaries prior)."""
    z = np.arange(size) - (size - 1) / 2
    g = np.exp(-(z**2) / (2 * size**2))
    mask = 1 - np.outer(g, g) / g.max() ** 2
    margin = (size - (size // 2 + size % 2)) // 2 - 1
    if margin > 0:
        mask[margin:-margin, margin:-margin] = 0
    return torch.as_tensor(penalty * mask, dtype=torch.float32)


def kernel_priors(kernel: torch.Tensor, mask: torch.Tensor, scale: int) -> dict[str, torch.Tensor]:
    target = torch.full((2,), kernel_centre(kernel.shape[0], scale), dtype=kernel.dtype, device=kernel.device)
    return {
        "sum2one": (1 - kernel.sum()).abs(),
        "boundaries": (kernel * mask).abs().mean(),
        "centralized": F.mse_loss(centre_of_mass(kernel), target),
        "sparse": (kernel.abs() + 1e-12).pow(0.2).mean(),
    }
