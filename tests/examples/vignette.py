"""An example degradation step from outside the package: lens vignetting, the corners darker than the centre.

Used with ``conf/degradation/vignette.yaml`` beside it:
``PYTHONPATH=tests/examples python evaluate.py hydra.searchpath=[file://tests/examples/conf] degradation=vignette``.
"""

from __future__ import annotations

import numpy as np
import torch

from zssr.degradations import Sample, Step
from zssr.errors import ZSSRError


class Vignette(Step):
    """Multiplies the image by ``1 - strength r^2``, ``r`` the distance from the centre (1 at the corners)."""

    def __init__(self, *, strength: float):
        if not 0 <= strength < 1:
            raise ZSSRError(f"Vignette: strength must be in [0, 1), got {strength}")
        self.strength = strength

    def __call__(self, x: Sample, rng: np.random.Generator) -> None:
        h, w = x.image.shape[-2:]
        yy = torch.linspace(-1, 1, h, dtype=x.image.dtype)[:, None]
        xx = torch.linspace(-1, 1, w, dtype=x.image.dtype)[None, :]
        x.image = x.image * (1 - self.strength * (yy**2 + xx**2) / 2)
