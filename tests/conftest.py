"""Shared fixtures: where the benchmark images are, small real images, composed configs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from hydra.core.global_hydra import GlobalHydra

from zssr.api import data_dir
from zssr.ops.imageio import load_image, open_input

DATA_DIR = data_dir()  # paths.data_dir: $ZSSR_DATA_DIR (make test points it at ../shared/datasets)
EXAMPLES = DATA_DIR / "zssr_test_data"

needs_data = pytest.mark.skipif(not DATA_DIR.is_dir(), reason=f"benchmark images not found at {DATA_DIR}")


@pytest.fixture(autouse=True)
def _clean_hydra():
    yield
    GlobalHydra.instance().clear()


@pytest.fixture(scope="session")
def bsd_lr() -> torch.Tensor:
    """A real photo of ``(3, 240, 160)`` in [0, 1]: ``bsd_001.png`` (x2 bicubic LR of BSD100 101085) when the
    benchmark images are present, else a crop of scikit-image's bundled ``chelsea``."""
    path = EXAMPLES / "example_with_gt/bsd_001.png"
    if path.is_file():
        return load_image(path).rgb
    return open_input("skimage:chelsea").rgb[:, 30:270, 100:260].contiguous()


@pytest.fixture(scope="session")
def small_photo(tmp_path_factory) -> Path:
    """A 96x128 crop of scikit-image's ``chelsea`` as a PNG: a real photo small enough that a run is about training,
    not inference on a large output."""
    from zssr.ops.imageio import save_image

    image = open_input("skimage:chelsea")
    return save_image(tmp_path_factory.mktemp("photo") / "small.png", image.rgb[:, 100:196, 150:278], image)


@pytest.fixture(autouse=True)
def _offline_downloads(monkeypatch, tmp_path_factory):
    """Dataset downloads never reach the network in tests: they read from an empty local mirror unless a test
    builds one."""
    empty = tmp_path_factory.mktemp("no_mirror")
    monkeypatch.setenv("ZSSR_DATA_MIRROR", empty.as_uri())


@pytest.fixture(autouse=True)
def _threads():
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    yield


def tiny_overrides(steps: int = 30, recipe: str = "zssr2018") -> list[str]:
    """Config overrides for quick end-to-end runs: few steps, no loggers or progress bar, the 2018 code's schedule
    (the one whose LR policy the tests exercise) unless ``recipe`` says otherwise."""
    return [f"trainer.max_steps={steps}", "logger=none", "callbacks=none", "trainer.enable_progress_bar=false",
            f"recipe={recipe}"]


@pytest.fixture(scope="session")
def blurred_photo():
    """An LR photo made with a known anisotropic kernel (the paper's Table 2 model), and that kernel: wide and
    anisotropic, far from bicubic."""
    import numpy as np

    from zssr.degradations import gaussian_kernel
    from zssr.ops.resize import kernel_downscale

    hr = open_input("skimage:astronaut").rgb[:, :384, :384].double()
    kernel = gaussian_kernel(2, np.random.default_rng(7))
    lr = (kernel_downscale(hr, torch.as_tensor(kernel), 2).clamp(0, 1) * 255).round() / 255
    return lr.float(), kernel
