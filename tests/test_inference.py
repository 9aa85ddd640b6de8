import math

import pytest
import torch

from zssr.method.inference import (
    back_project,
    ensemble_transforms,
    forward_tiled,
    median,
    stable_rounds,
    super_resolve,
    super_resolve_regions,
)
from zssr.method.net import ZSSRNet
from zssr.ops.resize import downscale, imresize


def test_net_shape_params_and_residual():
    net = ZSSRNet()
    assert sum(p.numel() for p in net.parameters()) == 3 * 64 * 9 + 6 * 64 * 64 * 9 + 64 * 3 * 9
    assert all(m.bias is None for m in net.modules() if isinstance(m, torch.nn.Conv2d))
    x = torch.rand(1, 3, 20, 24)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.Conv2d):
                m.weight.zero_()
    assert torch.equal(net(x), x)


def test_tiled_forward_is_seamless():
    torch.manual_seed(0)
    net = ZSSRNet(depth=4, width=8).eval()
    x = torch.rand(1, 3, 70, 95)
    with torch.no_grad():
        full = net(x)
    tiled = forward_tiled(net, x, tile=32, margin=net.receptive_radius)
    assert torch.allclose(full, tiled, atol=1e-5)
    # too small a margin shows the seams
    assert not torch.allclose(full, forward_tiled(net, x, tile=32, margin=1), atol=1e-5)


def test_back_projection_makes_output_consistent_with_lr():
    torch.manual_seed(0)
    lr = torch.rand(3, 24, 30)
    sr = (imresize(lr, 2) + 0.1 * torch.randn(3, 48, 60)).clamp(0, 1)
    err0 = (downscale(sr, 2) - lr).abs().mean()
    err2 = (downscale(back_project(sr, lr, (2, 2), None, 2), 2) - lr).abs().mean()
    err10 = (downscale(back_project(sr, lr, (2, 2), None, 10), 2) - lr).abs().mean()
    assert err10 < err2 < 0.5 * err0
    assert torch.equal(back_project(sr, lr, (2, 2), None, 0), sr)


def test_back_projection_rounds_are_capped_where_a_sign_changing_kernel_makes_them_diverge():
    """A defocus disk's frequency response changes sign, so back-projecting with bicubic up-projection amplifies
    those frequencies every round: 32 rounds wreck the image. :func:`stable_rounds` finds how many rounds keep the
    residual from growing (fewer than 32, and they do not cost the image), and keeps every round with a Gaussian."""
    import numpy as np

    from zssr.degradations import disk_kernel, gaussian_covariance_kernel
    from zssr.ops.imageio import open_input
    from zssr.ops.metrics import psnr
    from zssr.ops.resize import kernel_downscale

    hr = open_input("skimage:astronaut").rgb[:, :128, :128]
    disk = torch.as_tensor(disk_kernel(3.5, 15, 7.5), dtype=torch.float32)
    lr = kernel_downscale(hr, disk, 2).clamp(0, 1)
    up = imresize(lr, 2).clamp(0, 1)
    assert psnr(back_project(up, lr, (2, 2), disk, 32), hr) < psnr(up, hr) - 3  # all 32 rounds diverge
    rounds = stable_rounds(lr, (2.0, 2.0), disk, 32)
    assert 0 < rounds < 32
    assert psnr(back_project(up, lr, (2, 2), disk, rounds), hr) > psnr(up, hr) - 0.5
    assert stable_rounds(lr, (2.0, 2.0), disk, 32, stages=2) == rounds // 2  # two stages in a row: half as many each

    gauss = torch.as_tensor(gaussian_covariance_kernel(np.array([0.8, 2.5]), 0.4, 13, 2), dtype=torch.float32)
    assert stable_rounds(kernel_downscale(hr, gauss, 2).clamp(0, 1), (2.0, 2.0), gauss, 10) == 10
    assert stable_rounds(lr, (2.0, 2.0), None, 10) == 10


def test_median_and_ensemble_variants():
    stack = torch.tensor([[1.0], [4.0], [2.0], [3.0]])
    assert median(stack).item() == 2.5
    assert median(stack[:3]).item() == 2.0
    assert len(ensemble_transforms((2, 2))) == 8
    assert len(ensemble_transforms((2, 3))) == 4
    assert ensemble_transforms((2, 2), flips=False) == [0, 1, 2, 3]
    assert ensemble_transforms((2, 2), rotations=False, flips=False) == [0]
    stack = torch.rand(8, 3, 37, 11)
    assert torch.equal(median(stack, rows=5), median(stack))  # sorted a few rows at a time: the same numbers


@pytest.mark.parametrize("scale, kernel", [(2, None), (2.5, None), ((2, 3), None), (2, "box")])
def test_regions_equal_the_whole_image(scale, kernel):
    """The ensemble run region by region (bounded memory on large inputs) gives the whole image's result."""
    torch.manual_seed(0)
    net = ZSSRNet(depth=3, width=8, init_gain=2.0).eval()  # a visible residual
    lr = torch.rand(3, 70, 90)
    k = torch.ones(4, 4) / 16 if kernel else None
    whole, rounds = super_resolve_regions(net, lr, scale, None, kernel=k, back_projection_iters=4)
    parts, part_rounds = super_resolve_regions(net, lr, scale, 32, kernel=k, back_projection_iters=4)
    assert part_rounds == rounds  # one cap for the whole image
    assert parts.shape == whole.shape
    assert torch.allclose(parts, whole, atol=1e-5), (parts - whole).abs().max()


@pytest.mark.parametrize("scale,shape", [(2, (3, 40, 60)), (2.5, (3, 50, 75)), ((2, 3), (3, 40, 90))])
def test_super_resolve_output_size(scale, shape):
    net = ZSSRNet(depth=2, width=4).eval()
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.Conv2d):
                m.weight.zero_()
    lr = torch.rand(3, 20, 30)
    out = super_resolve(net, lr, scale, back_projection_iters=2, tile=16)
    assert out.shape == shape
    # a zero residual net gives the back-projected bicubic image
    s = (scale, scale) if not isinstance(scale, tuple) else scale
    expected = back_project(back_project(imresize(lr, s).clamp(0, 1), lr, s, None, 2), lr, s, None, 2)
    assert torch.allclose(out, expected, atol=1e-5)


@pytest.mark.parametrize("scale", [1.25, 1.333333])
def test_back_projection_lands_on_the_lr_size_at_non_integer_scales(scale):
    """114 x 1.25 -> 143 pixels, and ceil(143 / 1.25) is 115: back-projection must still compare with the 114 given."""
    lr = torch.rand(3, 57, 114)
    sr = imresize(lr, scale)
    out = back_project(sr, lr, (scale, scale), None, 3)
    assert out.shape == sr.shape and out.shape[-1] == math.ceil(114 * scale - 1e-9)


@pytest.mark.parametrize("kernel", [None, "gaussian"])
def test_batched_ensemble_equals_one_variant_at_a_time(kernel):
    torch.manual_seed(0)
    net = ZSSRNet(depth=3, width=8).eval()  # random weights: every variant gives a different output
    lr = torch.rand(3, 21, 34)  # not square: the turned variants form their own batch
    k = None
    if kernel:
        g = torch.exp(-0.5 * (torch.arange(9.0) - 4.5) ** 2 / 1.5)
        k = torch.outer(g, g) / torch.outer(g, g).sum()
    one = super_resolve(net, lr, 2, k, back_projection_iters=3, tile=24, batch_variants=False)
    batched = super_resolve(net, lr, 2, k, back_projection_iters=3, tile=24, batch_variants=True)
    assert batched.shape == (3, 42, 68)
    assert torch.allclose(batched, one, atol=1e-5)
    assert not torch.allclose(one, super_resolve(net, lr, 2, k, 3, rotations=False, flips=False, tile=24), atol=1e-3)


def test_batched_ensemble_is_auto_on_accelerators_only():
    from omegaconf import OmegaConf

    from zssr.method.gradual import batch_variants

    cfg = OmegaConf.create({"inference": {"batch_variants": "auto"}})
    assert not batch_variants(cfg, torch.device("cpu")) and batch_variants(cfg, torch.device("cuda"))
    cfg.inference.batch_variants = True
    assert batch_variants(cfg, torch.device("cpu"))
