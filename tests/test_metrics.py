import math

import pytest
import torch

from zssr.ops.metrics import psnr, quantize, rgb_to_y, shave_for, ssim


def test_y_channel_of_black_white_and_primaries():
    img = torch.tensor([[0.0, 255.0, 255.0, 0.0], [0.0, 255.0, 0.0, 255.0], [0.0, 255.0, 0.0, 0.0]]).view(3, 1, 4)
    # MATLAB rgb2ycbcr on uint8: black 16, white 235, red 81, green 145
    assert rgb_to_y(img)[0].tolist() == [16.0, 235.0, 81.0, 145.0]


def test_psnr_conventions():
    a = torch.rand(3, 20, 20)
    assert psnr(a, a.clone()) == math.inf
    with pytest.raises(ValueError, match="shape mismatch"):
        psnr(a, a[:, :10])
    gray = torch.full((1, 10, 10), 100 / 255)
    off = torch.full((1, 10, 10), 101 / 255)
    assert psnr(off, gray, y_channel=True) == pytest.approx(10 * math.log10(255**2), abs=1e-5)  # MSE 1
    assert ssim(a, a.clone()) == pytest.approx(1.0)


def test_shave_and_quantize():
    assert shave_for(2) == 2 and shave_for(2.5) == 3 and shave_for((2, 3)) == 3
    assert quantize(torch.tensor([0.6 / 255, 0.4 / 255, 1.2, -1])).tolist() == [1.0, 0.0, 255.0, 0.0]
    # border pixels are ignored once shaved
    a, b = torch.rand(3, 12, 12), torch.rand(3, 12, 12)
    b2 = b.clone()
    b2[:, 4:-4, 4:-4] = a[:, 4:-4, 4:-4]
    assert psnr(a, b2, shave=4) == math.inf


def test_grayscale_images_are_measured_on_their_own_channel():
    from zssr.ops.metrics import evaluate

    torch.manual_seed(0)
    a = torch.rand(1, 30, 30).expand(3, -1, -1)
    b = (a + 0.02 * torch.randn(1, 30, 30)).clamp(0, 1)
    gray = evaluate(a, b, 2, gray=True)["psnr"]
    assert gray == pytest.approx(psnr(a[:1], b[:1], shave=2))
    # as RGB the Y transform squeezes the range to [16, 235]: about 20*log10(255/219) = 1.32 dB higher
    assert evaluate(a, b, 2)["psnr"] - gray == pytest.approx(1.32, abs=0.15)


def test_ssim_is_the_valid_window_mean_of_wang_et_al():
    """Wang et al.'s ssim_index.m averages only windows inside the image: torchmetrics' full SSIM map (11x11 Gaussian
    convolution, a different implementation) with its padded 5-pixel border cropped is an independent reference; its
    own mean, which includes the border, is not the protocol's."""
    from torchmetrics.functional.image import structural_similarity_index_measure

    gen = torch.Generator().manual_seed(0)
    hr = torch.rand(3, 40, 52, generator=gen, dtype=torch.float64)
    sr = (hr + 0.1 * torch.randn(hr.shape, generator=gen, dtype=torch.float64)).clamp(0, 1)
    a, b = rgb_to_y(quantize(sr))[2:-2, 2:-2], rgb_to_y(quantize(hr))[2:-2, 2:-2]
    padded_mean, full = structural_similarity_index_measure(a[None, None], b[None, None], data_range=255.0,
                                                            gaussian_kernel=True, sigma=1.5, kernel_size=11,
                                                            return_full_image=True)
    assert ssim(sr, hr, shave=2) == pytest.approx(float(full[..., 5:-5, 5:-5].mean()), abs=1e-9)
    assert abs(ssim(sr, hr, shave=2) - float(padded_mean)) > 1e-4
