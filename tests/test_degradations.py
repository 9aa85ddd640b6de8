import numpy as np
import pytest
import scipy.ndimage
import torch

from zssr.degradations import (
    degrade,
    delta_kernel,
    disk_kernel,
    gaussian_kernel,
    image_seed,
    kernelgan_kernel,
    motion_defocus_kernel,
    motion_kernel,
)
from zssr.errors import ZSSRError
from zssr.ops.kernels import kernel_centre
from zssr.ops.resize import imresize, kernel_downscale


@pytest.fixture(scope="module")
def hr(bsd_lr):
    return bsd_lr[:, :121, :101]


def is_8bit(x: torch.Tensor) -> bool:
    return torch.allclose(x * 255, (x * 255).round(), atol=1e-4)


def test_bicubic_is_matlab_resize_of_the_modcropped_hr_rounded(hr):
    d = degrade(hr, 3, "bicubic", seed=0)
    assert d.hr.shape == (3, 120, 99) and d.lr.shape == (3, 40, 33) and d.kernel is None
    expected = (imresize(hr[:, :120, :99].double(), 1 / 3) * 255).round().clamp(0, 255) / 255
    assert torch.allclose(d.lr.double(), expected, atol=1e-6)


def test_random_kernels_follow_table2_and_are_seeded():
    for seed in range(20):
        k = gaussian_kernel(2, np.random.default_rng(seed))
        assert k.sum() == pytest.approx(1.0) and k.min() >= 0
        cy, cx = scipy.ndimage.center_of_mass(k)
        assert cy == pytest.approx(k.shape[0] // 2 + 0.5, abs=0.05) and cx == pytest.approx(k.shape[1] // 2 + 0.5,
                                                                                             abs=0.05)
        yy, xx = np.mgrid[0 : k.shape[0], 0 : k.shape[1]]
        var = [(k * (yy - cy) ** 2).sum(), (k * (xx - cx) ** 2).sum()]
        assert max(var) <= 4.0 + 0.05  # eigenvalues ~ U[0, s^2]
    assert np.array_equal(gaussian_kernel(2, np.random.default_rng(5)), gaussian_kernel(2, np.random.default_rng(5)))
    assert image_seed(1, "bsd100", "3096", "random_kernel") == image_seed(1, "bsd100", "3096", "random_kernel")
    assert image_seed(1, "bsd100", "3096", "random_kernel") != image_seed(1, "bsd100", "8023", "random_kernel")


def second_moments(k: np.ndarray) -> np.ndarray:
    """Eigenvalues (ascending) of the kernel's covariance, in HR pixels squared."""
    cy, cx = scipy.ndimage.center_of_mass(k)
    yy, xx = np.mgrid[0 : k.shape[0], 0 : k.shape[1]] - np.array([cy, cx])[:, None, None]
    cov = [[(k * yy * yy).sum(), (k * yy * xx).sum()], [(k * yy * xx).sum(), (k * xx * xx).sum()]]
    return np.linalg.eigvalsh(cov)


def test_motion_and_defocus_kernels(hr):
    # a disk's variance is r^2 / 4 along every axis (+ 1/12 from the pixels' area); a straight path's is L^2 / 12
    # along it and little across
    assert second_moments(disk_kernel(3.0, 15, 7.0)) == pytest.approx([2.25 + 1 / 12] * 2, rel=0.01)
    straight = motion_kernel(6.0, np.random.default_rng(0), 15, 7.0)
    assert second_moments(straight)[1] > 1.5 and second_moments(straight)[0] < 0.4 * second_moments(straight)[1]
    kinds = {"motion": 0, "disk": 0}
    for seed in range(40):
        k = motion_defocus_kernel(2, np.random.default_rng(seed))
        assert k.shape == (17, 17) and k.min() >= 0 and k.sum() == pytest.approx(1.0)
        assert scipy.ndimage.center_of_mass(k) == pytest.approx((kernel_centre(17, 2),) * 2, abs=1e-3)
        assert k[[0, -1]].sum() + k[:, [0, -1]].sum() < 1e-6  # nothing cut off at the edges
        low, high = second_moments(k)
        kinds["disk" if high < 1.2 * low else "motion"] += 1
        assert high >= 0.25 - 1e-6  # the optics' Gaussian at least (sigma s/4)
    assert min(kinds.values()) >= 10
    assert np.array_equal(motion_defocus_kernel(4, np.random.default_rng(3)),
                          motion_defocus_kernel(4, np.random.default_rng(3)))
    d = degrade(hr, 2, "motion_defocus", seed=11)
    assert d.kind == "motion_defocus" and d.lr.shape == (3, 60, 50) and is_8bit(d.lr)
    expected = kernel_downscale(d.hr.double(), torch.as_tensor(d.kernel), 2)
    assert torch.allclose(d.lr.double(), expected, atol=0.5 / 255 + 1e-6)


def test_kernelgan_kernels_are_noisy_gaussians_widening_with_the_scale(hr):
    for scale in (2, 4):
        moments = []
        for seed in range(30):
            k = kernelgan_kernel(scale, np.random.default_rng(seed))
            assert k.min() >= 0 and k.sum() == pytest.approx(1.0)
            assert scipy.ndimage.center_of_mass(k) == pytest.approx((kernel_centre(k.shape[0], scale),) * 2, abs=0.01)
            moments.append(second_moments(k))
            # the same draw without the multiplicative noise: the values differ from it by about +-40%
            # (the re-centring blurs that a little)
            smooth = kernelgan_kernel(scale, np.random.default_rng(seed), noise=0.0)
            core = smooth > 0.05 * smooth.max()
            ratio = k[core] / smooth[core]
            assert 0.1 < ratio.std() < 0.35 and np.abs(ratio - 1).max() < 0.9  # U[-0.4, 0.4]: std 0.23
        low, high = np.array(moments).T
        # eigenvalues U[0.175 s, 2.5 s] (less what the grid's edge cuts off of the widest)
        assert low.min() > 0.175 * scale * 0.8 and high.max() < 2.5 * scale * 1.05
        assert np.median(high) > 1.2 * scale
    d = degrade(hr, 4, "kernelgan_kernel", seed=2)
    assert d.lr.shape == (3, 30, 25) and is_8bit(d.lr)
    assert torch.allclose(d.lr.double(), kernel_downscale(d.hr.double(), torch.as_tensor(d.kernel), 4),
                          atol=0.5 / 255 + 1e-6)


def test_aliasing_is_plain_subsampling(hr):
    d = degrade(hr, 2, "aliasing", seed=0)
    assert torch.allclose(d.lr, d.hr[:, ::2, ::2], atol=1 / 255)
    assert delta_kernel(3).shape == (7, 7)


def test_noise_jpeg_and_unknown(hr):
    clean = degrade(hr, 2, "bicubic", seed=0).lr
    noisy = degrade(hr, 2, "gaussian_noise", seed=0).lr
    assert 0.035 < float((noisy - clean).std()) < 0.055  # sigma 0.05, less where clipped
    speckle = degrade(hr, 2, "speckle", seed=0).lr
    assert 0.01 < float((speckle - clean).std()) < 0.05  # multiplicative: sigma 0.05 x intensity
    jpeg = degrade(hr, 2, "jpeg", seed=0).lr
    assert 0 < float((jpeg - clean).abs().mean()) < 0.05
    kinds = {degrade(hr, 2, "unknown", seed=s).kind for s in range(12)}
    assert kinds == {"gaussian_noise", "speckle", "jpeg"}
    for lr in (noisy, speckle, jpeg):
        assert is_8bit(lr)
    assert torch.equal(degrade(hr, 2, "speckle", seed=3).lr, degrade(hr, 2, "speckle", seed=3).lr)


def test_bad_degradations():
    with pytest.raises(ZSSRError, match="unknown degradation"):
        degrade(torch.rand(3, 20, 20), 2, "blur", 0)
    with pytest.raises(ZSSRError, match="integer scale"):
        degrade(torch.rand(3, 20, 20), 2.5, "bicubic", 0)
