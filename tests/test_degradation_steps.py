"""Degradations as configs: every step's setting is an override, chains are composed on the command line, a step from
outside the package plugs in by ``_target_``, and a bad setting is one error naming the step."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from zssr.api import compose_config
from zssr.degradations import Degradation, degrade, gaussian_kernel, image_seed
from zssr.errors import ZSSRError
from zssr.ops.kernels import kernel_covariance, save_kernel


@pytest.fixture(scope="module")
def hr() -> torch.Tensor:
    from skimage import data

    return torch.from_numpy(data.astronaut()[:128, 160:288]).permute(2, 0, 1).float() / 255


def build(*overrides: str) -> Degradation:
    return Degradation.from_config(compose_config(list(overrides), config_name="evaluate").degradation)


def test_the_noise_level_is_a_setting(hr):
    clean = degrade(hr, 2, "bicubic", seed=0).lr
    spread = {}
    for sigma in (0.01, 0.03, 0.05):
        noisy = build("degradation=gaussian_noise", f"degradation.steps.noise.sigma={sigma}")(hr, 2, seed=0).lr
        spread[sigma] = float((noisy - clean).std())
    assert spread[0.01] == pytest.approx(0.01, abs=0.002) and spread[0.03] == pytest.approx(0.03, abs=0.004)
    assert spread[0.01] < spread[0.03] < spread[0.05]
    # the preset's own value gives the preset's image, byte for byte
    assert torch.equal(build("degradation=gaussian_noise", "degradation.steps.noise.sigma=0.05")(hr, 2, 7).lr,
                       degrade(hr, 2, "gaussian_noise", 7).lr)


def test_a_range_is_drawn_per_image_and_seeded(hr):
    chain = build("degradation=gaussian_noise", "degradation.steps.noise.sigma=[0.0,0.1]")
    clean = degrade(hr, 2, "bicubic", seed=0).lr
    levels = [float((chain(hr, 2, seed=s).lr - clean).std()) for s in range(4)]
    assert max(levels) - min(levels) > 0.01 and all(lv < 0.1 for lv in levels)
    assert torch.equal(chain(hr, 2, seed=3).lr, chain(hr, 2, seed=3).lr)
    qualities = build("degradation=jpeg", "degradation.steps.jpeg.quality=[10,90]")
    assert len({qualities(hr, 2, seed=s).lr.sum().item() for s in range(4)}) > 1


def test_blur_noise_jpeg_chain_from_overrides_alone(hr):
    chain = build("degradation=camera", "degradation/blur=gaussian", "degradation.steps.noise.sigma=0.02",
                  "degradation.steps.jpeg.quality=70")
    assert [key for key, _ in chain.steps] == ["blur", "downscale", "noise", "jpeg"]
    d = chain(hr, 2, seed=5)
    assert d.lr.shape == (3, 64, 64) and torch.equal(d.lr, (d.lr * 255).round() / 255)
    # the blur is the paper's Table 2 kernel drawn first from the image's generator
    assert np.array_equal(d.kernel, gaussian_kernel(2, np.random.default_rng(5)))
    no_jpeg = build("degradation=camera", "degradation/blur=gaussian", "degradation.steps.noise.sigma=0.02",
                    "~degradation.steps.jpeg")(hr, 2, seed=5)
    assert np.array_equal(no_jpeg.kernel, d.kernel) and not torch.equal(no_jpeg.lr, d.lr)
    reordered = build("degradation=camera", "degradation.order=[blur,downscale,jpeg,noise]")
    assert [key for key, _ in reordered.steps] == ["blur", "downscale", "jpeg", "noise"]


def test_isotropic_width_and_poisson_noise(hr):
    for sigma in (0.8, 2.0):
        k = build("degradation=camera", f"degradation.steps.blur.sigma={sigma}")(hr, 2, seed=0).kernel
        assert np.allclose(np.linalg.eigvalsh(kernel_covariance(k)), sigma**2, rtol=0.05)
    clean = degrade(hr, 2, "bicubic", seed=0).lr
    shot = {peak: build("degradation=bicubic", "+degradation.steps.noise._target_=zssr.degradations.PoissonNoise",
                        f"+degradation.steps.noise.peak={peak}")(hr, 2, seed=0).lr for peak in (30, 3000)}
    # shot noise: std sqrt(x / peak), x the intensity (mean about 0.4 here)
    assert float((shot[30] - clean).std()) == pytest.approx(float(clean.mean().sqrt()) / 30**0.5, rel=0.2)
    assert float((shot[3000] - clean).std()) < 0.25 * float((shot[30] - clean).std())


def test_kernels_from_a_folder_one_per_image(hr, tmp_path):
    kernels = [gaussian_kernel(2, np.random.default_rng(s)) for s in range(3)]
    for i, k in enumerate(kernels):
        save_kernel(k, tmp_path / f"k{i}")
    chain = build("degradation=camera", "degradation/blur=file", f"degradation.steps.blur.path={tmp_path}",
                  "~degradation.steps.noise", "~degradation.steps.jpeg")
    drawn = [chain(hr, 2, seed=image_seed(1, "set", f"img{i}")).kernel for i in range(12)]
    assert {int(np.argmin([np.abs(d - k).sum() for k in kernels])) for d in drawn} == {0, 1, 2}
    assert all(min(np.abs(d - k).max() for k in kernels) < 1e-12 for d in drawn)


@pytest.mark.parametrize(("overrides", "message"), [
    (["degradation=gaussian_noise", "degradation.steps.noise.sigma=-1"], "degradation.steps.noise: GaussianNoise: "
                                                                         "sigma must be a number >= 0"),
    (["degradation=jpeg", "degradation.steps.jpeg.quality=[90,10]"], "JPEG: quality must be"),
    (["degradation=camera", "degradation.order=[downscale,blur,noise,jpeg]"], "comes after the downscale"),
    (["degradation=camera", "degradation.order=[blur,downscale]"], "degradation.order"),
    (["degradation=bicubic", "~degradation.steps.downscale", "+degradation.steps.n._target_=zssr.degradations.JPEG",
      "+degradation.steps.n.quality=50"],
     "no step downscaled"),
    (["degradation=gaussian_noise", "+degradation.steps.noise.sgma=0.1"], "degradation.steps.noise.*sgma"),
    (["degradation=bicubic", "+degradation.steps.x._target_=zssr.degradations.Nothing"],
     "degradation.steps.x.*Nothing"),
    (["degradation=random_kernel", "degradation.steps.downscale.method=bicubic"], r"method=bicubic\) after a blur"),
])
def test_bad_settings_name_the_step(hr, overrides, message):
    with pytest.raises(ZSSRError, match=message):
        build(*overrides).check(2)
