import functools

import numpy as np
import pytest
import torch

from zssr.ops.imageio import load_image
from zssr.ops.metrics import evaluate
from zssr.ops.resize import contributions, downscale, imresize, kernel_downscale, output_shape

from conftest import DATA_DIR, needs_data


def test_output_shape_is_ceil_per_axis():
    assert output_shape((160, 240), 2) == (320, 480)
    assert output_shape((33, 41), 2.5) == (83, 103)
    assert output_shape((10, 10), (2, 3)) == (20, 30)
    assert imresize(torch.rand(3, 33, 41), 2.5).shape == (3, 83, 103)
    assert imresize(torch.rand(3, 10, 10), (2, 3)).shape == (3, 20, 30)
    assert imresize(torch.rand(3, 101, 77), 1 / 3).shape == (3, 34, 26)


def test_weights_sum_to_one_and_indices_mirror():
    for n_in, n_out, s in [(10, 20, 2.0), (20, 10, 0.5), (17, 7, 7 / 17), (9, 25, 25 / 9)]:
        w, idx = contributions(n_in, n_out, s)
        np.testing.assert_allclose(w.sum(1), 1.0, atol=1e-12)
        assert idx.min() >= 0 and idx.max() < n_in


def test_cubic_weights_match_keys_kernel_and_symmetric_border():
    # x2 upscale: output pixel 1 (1-based) samples u = 0.75; taps at 1-based -1, 0, 1, 2 sit 1.75, 0.75, -0.25, -1.25
    # away, where Keys' cubic (a = -0.5) is -0.0234375, 0.2265625, 0.8671875, -0.0703125; indices -1, 0 mirror to 2, 1
    w, idx = contributions(8, 16, 2.0)
    nonzero = w[0] != 0
    np.testing.assert_allclose(w[0][nonzero], [-0.0234375, 0.2265625, 0.8671875, -0.0703125], atol=1e-12)
    assert idx[0][nonzero].tolist() == [1, 0, 0, 1]


def test_constant_and_linear_images_are_preserved():
    const = torch.full((1, 20, 30), 0.3, dtype=torch.float64)
    assert torch.allclose(imresize(const, 2.5), torch.tensor(0.3, dtype=torch.float64))
    assert torch.allclose(imresize(const, 0.4), torch.tensor(0.3, dtype=torch.float64))
    # cubic convolution reproduces linear ramps away from the mirrored borders
    ramp = torch.arange(40, dtype=torch.float64).repeat(1, 40, 1)
    up = imresize(ramp, 2)
    expected = (torch.arange(80, dtype=torch.float64) + 0.5) / 2 - 0.5
    assert torch.allclose(up[0, 0, 4:-4], expected[4:-4], atol=1e-9)


def test_downscale_undoes_upscale_on_smooth_images():
    yy, xx = torch.meshgrid(torch.linspace(0, 3, 32, dtype=torch.float64), torch.linspace(0, 2, 40,
                            dtype=torch.float64), indexing="ij")
    x = (torch.sin(yy) * torch.cos(xx))[None]
    assert (downscale(imresize(x, 2), 2) - x)[..., 3:-3, 3:-3].abs().max() < 0.01


PUBLISHED_BICUBIC = {  # PSNR / SSIM on Y, shave = scale (the ZSSR paper's Table 1 baselines)
    ("set5", 2): (33.66, 0.9299), ("set5", 3): (30.39, 0.8682), ("set5", 4): (28.42, 0.8104),
    ("set14", 2): (30.24, 0.8688), ("set14", 3): (27.55, 0.7742), ("set14", 4): (26.00, 0.7027),
    ("bsd100", 2): (29.56, 0.8431), ("bsd100", 3): (27.21, 0.7385), ("bsd100", 4): (25.96, 0.6675),
}


@functools.cache
def bicubic_baseline(dataset: str, scale: int) -> tuple[float, float]:
    psnrs, ssims = [], []
    for path in sorted((DATA_DIR / dataset / "HR").glob("*.png")):
        img = load_image(path)
        hr = img.rgb.double()
        h, w = hr.shape[-2:]
        hr = hr[:, : h - h % scale, : w - w % scale]
        lr = (imresize(hr, 1 / scale) * 255).round().clamp(0, 255) / 255
        m = evaluate(imresize(lr, scale), hr, scale, gray=img.gray)
        psnrs.append(m["psnr"])
        ssims.append(m["ssim"])
    if not psnrs:
        pytest.skip(f"no {dataset} images under {DATA_DIR}")
    return float(np.mean(psnrs)), float(np.mean(ssims))


def _cells() -> list:
    return [pytest.param(d, s, marks=[pytest.mark.slow] if d == "bsd100" else []) for d, s in PUBLISHED_BICUBIC]


@needs_data
@pytest.mark.parametrize("dataset,scale", _cells())
def test_bicubic_psnr_matches_published(dataset, scale):
    """MATLAB imresize + the Y-channel protocol reproduce the published bicubic PSNR (Set14's grayscale `bridge` is
    measured on its own channel, as the MATLAB scripts do)."""
    assert bicubic_baseline(dataset, scale)[0] == pytest.approx(PUBLISHED_BICUBIC[(dataset, scale)][0], abs=0.02)


@needs_data
@pytest.mark.parametrize("dataset,scale", _cells())
def test_bicubic_ssim_matches_published(dataset, scale):
    assert bicubic_baseline(dataset, scale)[1] == pytest.approx(PUBLISHED_BICUBIC[(dataset, scale)][1], abs=0.001)


def test_kernel_downscale_with_delta_kernel_is_subsampling():
    x = torch.rand(3, 20, 30)
    delta = torch.zeros(5, 5)
    delta[2, 2] = 1
    assert torch.equal(kernel_downscale(x, delta, 2), x[:, ::2, ::2])
    assert kernel_downscale(x, delta, (2, 3)).shape == (3, 10, 10)
    assert kernel_downscale(x, delta, 2.5).shape == (3, 8, 12)


def test_sparse_and_dense_paths_agree(monkeypatch):
    import zssr.ops.resize as resize

    x = torch.rand(2, 60, 70, dtype=torch.float64)
    dense = imresize(x, 1.7)
    down = imresize(x, (0.4, 0.5))
    monkeypatch.setattr(resize, "SPARSE_ABOVE", 10)
    assert torch.allclose(imresize(x, 1.7), dense, atol=1e-12)
    assert torch.allclose(imresize(x, (0.4, 0.5)), down, atol=1e-12)
