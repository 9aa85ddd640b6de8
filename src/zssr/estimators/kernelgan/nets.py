"""The kernel GAN's two networks: a deep linear generator (which *is* one downscaling kernel) and a patch
discriminator."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

ESTIMATION_SCALE = 2  # the generator downscales by 2; other factors are derived from the x2 kernel


def downscale_by(x: torch.Tensor, kernel: torch.Tensor, scale: int) -> torch.Tensor:
    """Downscale ``x`` (``(B, C, H, W)``) by ``scale`` with the correlation ``kernel``, each channel alone (valid
    borders): what a generator of the kernel GAN does with its kernel."""
    b, c, h, w = x.shape
    out = F.conv2d(x.reshape(b * c, 1, h, w), kernel[None, None], stride=scale)
    return out.reshape(b, c, *out.shape[-2:])


class DeepLinearGenerator(nn.Module):
    """Convolutions without biases or activations (7, 5, 3, 1, 1, 1 by default; 64 channels) then subsampling by 2,
    applied to each colour channel alone. Its kernel is ``sum(k - 1) + 1`` wide (13 by default)."""

    def __init__(self, structure: tuple[int, ...] = (7, 5, 3, 1, 1, 1), channels: int = 64,
                 scale: int = ESTIMATION_SCALE) -> None:
        super().__init__()
        sizes = list(structure)
        widths = [1] + [channels] * (len(sizes) - 1) + [1]
        self.layers = nn.ModuleList(nn.Conv2d(widths[i], widths[i + 1], k, bias=False) for i, k in enumerate(sizes))
        self.scale = scale
        self.kernel_size = sum(k - 1 for k in sizes) + 1
        for layer in self.layers:
            nn.init.xavier_normal_(layer.weight, 0.1)

    def kernel(self) -> torch.Tensor:
        """The ``(K, K)`` correlation kernel the layers compose to: the response to a delta, flipped."""
        k = self.kernel_size
        weight = self.layers[0].weight
        x = torch.zeros(1, 1, 2 * k - 1, 2 * k - 1, device=weight.device, dtype=weight.dtype)
        x[..., k - 1, k - 1] = 1.0
        for layer in self.layers:
            x = layer(x)
        return x[0, 0].flip(0, 1)

    def forward(self, x: torch.Tensor, kernel: torch.Tensor | None = None) -> torch.Tensor:
        """Downscale ``x`` (``(B, C, H, W)``) by 2 with the composed kernel (valid borders)."""
        return downscale_by(x, self.kernel() if kernel is None else kernel, self.scale)

    def forward_layers(self, x: torch.Tensor) -> torch.Tensor:
        """The same downscaling computed layer by layer (for checking :meth:`forward`)."""
        b, c, h, w = x.shape
        y = x.reshape(b * c, 1, h, w)
        for layer in self.layers:
            y = layer(y)
        y = y[..., :: self.scale, :: self.scale]
        return y.reshape(b, c, *y.shape[-2:])


class PatchDiscriminator(nn.Module):
    """A 7x7 spectral-normalised convolution, then 1x1 convolutions with batch norm and ReLU, then a sigmoid: one
    real/fake score per 7x7 patch."""

    def __init__(self, channels: int = 64, layers: int = 7, kernel_size: int = 7) -> None:
        super().__init__()
        sn = nn.utils.parametrizations.spectral_norm
        body: list[nn.Module] = [sn(nn.Conv2d(3, channels, kernel_size))]
        for _ in range(layers - 2):
            body += [sn(nn.Conv2d(channels, channels, 1)), nn.BatchNorm2d(channels), nn.ReLU(inplace=True)]
        body += [sn(nn.Conv2d(channels, 1, 1)), nn.Sigmoid()]
        self.body = nn.Sequential(*body)
        self.shave = kernel_size - 1
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.xavier_normal_(m.weight, 0.1)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.normal_(m.weight, 1.0, 0.02)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)
