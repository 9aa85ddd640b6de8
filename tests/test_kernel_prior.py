"""The learned kernel prior (estimator=kernelgan_fkp): its training kernels, seeded training, the shipped weights, and
one clear error for a missing or damaged file."""

import numpy as np
import pytest
import scipy.ndimage
import torch

from zssr.api import compose_config
from zssr.errors import ZSSRError
from zssr.estimators import build_estimator
from zssr.estimators.kernelgan.flow_prior import SHIPPED, SIZE, bicubic_like, load_prior, train_prior, training_kernel
from zssr.ops.kernels import bicubic_kernel, kernel_centre, kernel_error


def test_training_kernels_are_valid_centred_and_seeded():
    rng = np.random.default_rng(0)
    for _ in range(60):
        k = training_kernel(rng)
        assert k.shape == (SIZE, SIZE) and k.min() >= 0 and k.sum() == pytest.approx(1.0)
        assert scipy.ndimage.center_of_mass(k) == pytest.approx((kernel_centre(SIZE, 2),) * 2, abs=0.1)
    assert np.array_equal(training_kernel(np.random.default_rng(4)), training_kernel(np.random.default_rng(4)))


def test_training_is_seeded_and_lowers_the_likelihood_loss():
    torch.set_num_threads(1)
    a, rec_a = train_prior(steps=60, bank=600, seed=3, hidden=32, transforms=2, lr=5e-3, log_every=1000, val=300)
    b, rec_b = train_prior(steps=60, bank=600, seed=3, hidden=32, transforms=2, lr=5e-3, log_every=1000, val=300)
    assert all(torch.equal(a.state_dict()[k], b.state_dict()[k]) for k in a.state_dict())
    _, untrained = train_prior(steps=1, bank=600, seed=3, hidden=32, transforms=2, lr=1e-9, log_every=1000, val=300)
    assert rec_a["val_nll"] < untrained["val_nll"] - 10, (rec_a, untrained)


def test_shipped_prior_round_trips_and_prefers_its_family():
    prior = load_prior()
    assert SHIPPED.stat().st_size < 2_000_000  # small enough to ship with the package
    start = torch.from_numpy(bicubic_like()).float()  # where the estimator starts: near bicubic, inside the family
    z = prior.encode(start)
    assert kernel_error(prior.decode(z).double().numpy(), start.double().numpy()) < 1e-4 and z.norm() < 20
    assert kernel_error(start.double().numpy(), np.pad(bicubic_kernel(2), 2)) < 0.3
    with torch.no_grad():  # decoded random latents are kernels of the family: non-negative, sum 1, centred
        for z in torch.randn(20, SIZE * SIZE, generator=torch.Generator().manual_seed(0)):
            k = prior.decode(z).double().numpy()
            assert k.min() >= 0 and k.sum() == pytest.approx(1.0)
            assert scipy.ndimage.center_of_mass(k) == pytest.approx((kernel_centre(SIZE, 2),) * 2, abs=0.5)
        family = torch.from_numpy(np.stack([training_kernel(np.random.default_rng(100 + i)) for i in range(20)]))
        box = torch.full((1, SIZE, SIZE), 1 / SIZE**2, dtype=torch.float64)  # as wide as the grid
        noise = torch.rand(1, SIZE, SIZE, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
        gen = torch.Generator().manual_seed(2)
        own = prior.log_prob(family.float(), gen).min()
        assert own > prior.log_prob(box.float(), gen).max() and own > prior.log_prob((noise / noise.sum()).float(),
                                                                                      gen).max()


def test_missing_or_damaged_prior_is_one_error(tmp_path):
    damaged = tmp_path / "prior.pt"
    damaged.write_bytes(b"not a checkpoint")
    for path, message in ((tmp_path / "none.pt", "kernel prior file not found"), (damaged, "is not usable")):
        cfg = compose_config(["kernel=estimated", "estimator=kernelgan_fkp",
                              f"estimator.module.prior_file={path}"])
        with pytest.raises(ZSSRError, match=message) as err:
            build_estimator(cfg.estimator)
        assert "python -m zssr.estimators.kernelgan.flow_prior" in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(ZSSRError, match="estimator.module.prior must be"):
        build_estimator(compose_config(["estimator=kernelgan", "estimator.module.prior=maybe"]).estimator)


@pytest.mark.slow  # about 4 minutes on one core
def test_retraining_reproduces_the_shipped_prior():
    shipped = torch.load(SHIPPED, map_location="cpu", weights_only=True)
    record = shipped["record"]
    settings = {k: v for k, v in shipped["settings"].items() if k != "size"}
    torch.set_num_threads(1)
    _, again = train_prior(steps=record["steps"], batch=record["batch"], lr=record["lr"], seed=record["seed"],
                           bank=record["bank"], **settings)
    # the same seeded kernels and schedule give the same likelihood (float kernels differ a little between CPUs)
    assert again["val_nll"] == pytest.approx(record["val_nll"], abs=1.0)


def test_prior_estimator_recovers_a_known_kernel_better_than_bicubic(blurred_photo):
    from zssr.estimators import estimate_kernel

    lr, truth = blurred_photo
    cfg = compose_config(["kernel=estimated", "estimator=kernelgan_fkp", "estimator.max_steps=400",
                          "estimator.trainer.accelerator=cpu"]).estimator
    est = estimate_kernel(lr, (2.0, 2.0), cfg, seed=0)
    assert est.iterations == 400 and est.kernel is not None
    # the GAN's path depends on the CPU's float kernels: this seed's error is 0.24x bicubic's on an Intel Xeon with
    # AMX, under 0.2x on an AMD EPYC and 0.31-0.39x on the Xeon with oneDNN held to AVX2; other seeds reach 0.5x
    assert kernel_error(est.kernel, truth) < 0.5 * kernel_error(bicubic_kernel(2), truth)
