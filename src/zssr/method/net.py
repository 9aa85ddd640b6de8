"""The ZSSR network: a plain stack of 3x3 convolutions that learns the residual over the bicubic upsampled input."""

from __future__ import annotations

import math

import torch
from torch import nn


class ZSSRNet(nn.Module):
    """``depth`` 3x3 convolutions (``channels`` -> ``width`` ... -> ``channels``), ReLU between, no biases.

    ``forward(x)`` takes the bicubic-upsampled image ``(N, C, H, W)`` in [0, 1] and returns ``x + residual``.
    Weights start as in the 2018 code: N(0, std = sqrt(init_gain / (k * k * C_in))).
    """

    def __init__(self, depth: int = 8, width: int = 64, channels: int = 3, kernel_size: int = 3,
                 init_gain: float = 0.1) -> None:
        super().__init__()
        if depth < 2:
            raise ValueError("depth must be at least 2")
        dims = [channels] + [width] * (depth - 1) + [channels]
        layers: list[nn.Module] = []
        self.init_gain = init_gain
        for i, (c_in, c_out) in enumerate(zip(dims[:-1], dims[1:], strict=True)):
            layers.append(self._init(nn.Conv2d(c_in, c_out, kernel_size, padding=kernel_size // 2, bias=False)))
            if i < depth - 1:
                layers.append(nn.ReLU(inplace=True))
        self.body = nn.Sequential(*layers)
        self.receptive_radius = depth * (kernel_size // 2)

    def _init(self, conv: nn.Conv2d) -> nn.Conv2d:
        fan_in = conv.kernel_size[0] * conv.kernel_size[1] * conv.in_channels
        nn.init.normal_(conv.weight, std=math.sqrt(self.init_gain / fan_in))
        return conv

    def init_weights(self) -> None:
        """Draw every weight afresh (from torch's global generator)."""
        for layer in self.body:
            if isinstance(layer, nn.Conv2d):
                self._init(layer)

    def flops_per_pixel(self) -> int:
        """Forward FLOPs per output pixel (two per multiply-add); a training step costs about three times this."""
        return sum(2 * m.in_channels * m.out_channels * m.kernel_size[0] * m.kernel_size[1]
                   for m in self.body if isinstance(m, nn.Conv2d))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)
