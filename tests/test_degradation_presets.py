"""The named degradations (``conf/degradation/*.yaml``) make the same LR images and kernels, to the byte, as the
records in ``tests/golden/degradation_presets.json``. Regenerate (only when a preset is meant to change):
``python tests/test_degradation_presets.py``."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch

RECORD = Path(__file__).parent / "golden" / "degradation_presets.json"
PRESETS = ("bicubic", "random_kernel", "kernelgan_kernel", "motion_defocus", "aliasing", "gaussian_noise", "speckle",
           "jpeg", "unknown")
CASES = [(image, scale, seed) for image in ("chelsea", "checker") for scale in (2, 3, 4) for seed in (0, 1, 2)]


def hr_image(name: str) -> torch.Tensor:
    """Small HR inputs: a crop of scikit-image's chelsea, and a synthetic checkerboard with a diagonal ramp."""
    if name == "chelsea":
        from skimage import data

        return torch.from_numpy(data.chelsea()[60:157, 120:219]).permute(2, 0, 1).float() / 255
    yy, xx = np.mgrid[0:97, 0:99]
    board = ((yy // 6 + xx // 6) % 2).astype(np.float64)
    ramp = (yy + xx) / (yy + xx).max()
    return torch.from_numpy(np.stack([board, ramp, 0.5 * board + 0.5 * ramp])).float()


def digest(lr: torch.Tensor, kernel: np.ndarray | None) -> str:
    """The 8-bit LR image's bytes and the kernel to 12 decimals (its last bits differ between SIMD paths)."""
    h = hashlib.sha256((lr.double() * 255).round().to(torch.uint8).numpy().tobytes())
    if kernel is not None:
        h.update(np.round(np.asarray(kernel, np.float64), 12).tobytes())
    return h.hexdigest()[:20]


def degrade_preset(name: str, hr: torch.Tensor, scale: int, seed: int):
    from zssr.degradations import degrade

    return degrade(hr, scale, name, seed)


def record() -> dict[str, str]:
    out = {}
    for name in PRESETS:
        for image, scale, seed in CASES:
            d = degrade_preset(name, hr_image(image), scale, seed)
            out[f"{name}/{image}/x{scale}/seed{seed}"] = digest(d.lr, d.kernel)
    return out


@pytest.mark.parametrize("name", PRESETS)
def test_preset_matches_its_record(name):
    expected = json.loads(RECORD.read_text())
    for image, scale, seed in CASES:
        d = degrade_preset(name, hr_image(image), scale, seed)
        assert digest(d.lr, d.kernel) == expected[f"{name}/{image}/x{scale}/seed{seed}"], (name, image, scale, seed)


if __name__ == "__main__":
    RECORD.write_text(json.dumps(record(), indent=1, sort_keys=True) + "\n")
