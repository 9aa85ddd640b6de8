"""A learned kernel prior: a normalizing flow over x2 kernels, trained on synthetic kernels only, after FKP (Liang et
al., "Flow-based Kernel Prior with Application to Blind Super-Resolution", CVPR 2021).

The flow maps a standard normal latent ``z`` to a kernel. The estimator (``estimator=kernelgan_fkp``) optimises ``z``
instead of a free kernel, so every estimate is a kernel the prior finds plausible: centred, smooth, not wider than
its training family. As in FKP, a kernel is divided by a fixed normalisation (its values then lie in [0, 1)),
dequantised with uniform noise of ``1/720`` and taken through a logit before the flow (here also standardised per
value); decoding reverses this (taking off the noise's mean), clamps at zero and renormalises to sum 1. The flow
itself is :class:`zuko.flows.RealNVP` (affine couplings: fast in both directions, which the estimator needs since it
differentiates through the decoder at every step).

The training family (:func:`training_kernel`, this project's choice): two thirds anisotropic Gaussians with covariance
eigenvalues ``U[0.05, 5]`` HR px^2 and a random angle (covering both the ZSSR paper's Table 2 draw, ``U[0, s^2]``,
and FKP's ``[0.175 s, 2.5 s]``), one third the motion and defocus kernels of ``degradation=motion_defocus``. No image
is involved, so an estimator using it stays image-zero-shot. Both benchmark kernel families are inside the prior's
training family; docs/lab/kernel_estimation.md says what that means for the numbers.

``python -m zssr.estimators.kernelgan.flow_prior --out src/zssr/estimators/kernelgan/kernel_prior_x2.pt`` retrains the
shipped weights (seeded; the file records the command's settings and the validation negative log-likelihood).
"""

from __future__ import annotations

import argparse
import functools
import math
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from zssr.errors import ZSSRError
from zssr.estimators.kernelgan.nets import downscale_by
from zssr.ops.kernels import kernel_centre

SIZE = 13  # the estimator's x2 kernel grid (the deep linear generator's 13x13)
SCALE = 2
SHIPPED = Path(__file__).with_name("kernel_prior_x2.pt")
ALPHA = 1e-6  # the logit's margin
DEQUANTIZE = 1 / 720  # uniform noise on the normalised values while training (FKP's)


def training_kernel(rng: np.random.Generator, size: int = SIZE, scale: int = SCALE) -> np.ndarray:
    """One kernel of the prior's training family, ``size`` x ``size``, centred as this project's x2 kernels."""
    from zssr.degradations import gaussian_covariance_kernel, motion_defocus_kernel

    if rng.uniform() < 2 / 3:
        lam = rng.uniform(0.05, 2.5 * scale, size=2)
        return gaussian_covariance_kernel(lam, rng.uniform(0, math.pi), size, scale)
    k = motion_defocus_kernel(scale, rng)
    trim = (k.shape[0] - size) // 2
    k = k[trim: trim + size, trim: trim + size]
    return k / k.sum()


class KernelPrior(nn.Module):
    """The flow and the kernel <-> latent maps; ``encode`` and ``decode`` are differentiable.

    Buffers set from the training bank (:meth:`fit_scaling`): ``norm`` (the largest kernel value plus 0.01, FKP's
    rule, so normalised values stay below 1) and the per-value mean and spread in logit space, which standardise what
    the flow sees.
    """

    def __init__(self, size: int = SIZE, transforms: int = 6, hidden: int = 128) -> None:
        super().__init__()
        import zuko

        self.size = size
        self.settings = {"size": size, "transforms": transforms, "hidden": hidden}
        self.flow = zuko.flows.RealNVP(size * size, transforms=transforms, hidden_features=(hidden, hidden))
        self.register_buffer("norm", torch.tensor(1.01))
        self.register_buffer("mean", torch.zeros(size * size))
        self.register_buffer("spread", torch.ones(size * size))

    def fit_scaling(self, bank: torch.Tensor, generator: torch.Generator | None = None) -> None:
        self.norm.fill_(float(bank.max()) + 0.01)
        self.mean.zero_()
        self.spread.fill_(1.0)
        x = self._logit(bank, torch.rand(bank.shape[0], self.size**2, generator=generator) * DEQUANTIZE)
        self.mean.copy_(x.mean(0))
        self.spread.copy_(x.std(0).clamp(min=1e-3))

    def _logit(self, kernels: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        x = kernels.reshape(kernels.shape[0], -1).clamp(min=0) / self.norm + noise
        x = ALPHA + (1 - 2 * ALPHA) * x.clamp(max=1 - DEQUANTIZE)
        return (torch.log(x) - torch.log1p(-x) - self.mean) / self.spread

    def log_prob(self, kernels: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Log-density of dequantised kernels ``(B, K, K)`` in the flow's (standardised logit) space: the training
        objective."""
        noise = torch.rand(kernels.shape[0], self.size**2, generator=generator, dtype=kernels.dtype) * DEQUANTIZE
        return self.flow().log_prob(self._logit(kernels, noise))

    def encode(self, kernel: torch.Tensor) -> torch.Tensor:
        """The latent (``(K*K,)``) of ``kernel`` (``(K, K)``), e.g. to start the estimator at bicubic."""
        x = self._logit(kernel[None], torch.full((1, self.size**2), DEQUANTIZE / 2, dtype=kernel.dtype))
        return self.flow().transform(x)[0]

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """The kernel (``(K, K)``, non-negative, sum 1) of latent ``z`` (``(K*K,)``)."""
        x = self.flow().transform.inv(z[None])[0] * self.spread + self.mean
        k = (((torch.sigmoid(x) - ALPHA) / (1 - 2 * ALPHA) - DEQUANTIZE / 2) * self.norm).clamp(min=0)
        return (k / k.sum()).reshape(self.size, self.size)


def bicubic_like(size: int = SIZE, scale: int = SCALE) -> np.ndarray:
    """The isotropic Gaussian of the bicubic kernel's variance: where the estimator starts. (The bicubic kernel itself,
    clipped at zero, lies off the flow's training family, where its latent is thousands of units out.)"""
    from zssr.degradations import gaussian_covariance_kernel
    from zssr.ops.kernels import bicubic_kernel

    b = np.clip(bicubic_kernel(scale), 0, None)
    offsets = np.arange(b.shape[0]) - kernel_centre(b.shape[0], scale)
    var = float((b.sum(1) * offsets**2).sum() / b.sum())
    return gaussian_covariance_kernel(np.array([var, var]), 0.0, size, scale)


class PriorGenerator(nn.Module):
    """The kernel GAN's generator with the kernel drawn from the prior: its only trainable parameter is the latent
    ``z``, started at :func:`bicubic_like`'s latent (the prior is frozen). Same interface as
    :class:`~zssr.estimators.kernelgan.nets.DeepLinearGenerator`."""

    def __init__(self, prior: KernelPrior, scale: int = SCALE) -> None:
        super().__init__()
        self.prior = prior
        self.scale = scale
        self.kernel_size = prior.size
        with torch.no_grad():
            self.z = nn.Parameter(prior.encode(torch.from_numpy(bicubic_like(prior.size, scale)).float()))

    def kernel(self) -> torch.Tensor:
        return self.prior.decode(self.z)

    def forward(self, x: torch.Tensor, kernel: torch.Tensor | None = None) -> torch.Tensor:
        return downscale_by(x, self.kernel() if kernel is None else kernel, self.scale)


def save_prior(path: Path, prior: KernelPrior, record: dict) -> None:
    torch.save({"settings": prior.settings, "state": prior.state_dict(), "record": record}, path)


@functools.lru_cache(maxsize=4)
def load_prior(path: str | None = None) -> KernelPrior:
    """The prior at ``path`` (None: the one shipped with the package); one clear error when missing or unusable."""
    file = Path(path) if path else SHIPPED
    retrain = "retrain it with: python -m zssr.estimators.kernelgan.flow_prior --out <file>"
    if not file.is_file():
        raise ZSSRError(f"kernel prior file not found: {file}; {retrain}")
    try:
        data = torch.load(file, map_location="cpu", weights_only=True)
        prior = KernelPrior(**data["settings"])
        prior.load_state_dict(data["state"])
    except Exception as exc:  # torch raises many types for damaged files
        raise ZSSRError(f"kernel prior file {file} is not usable ({exc.__class__.__name__}: "
                        f"{str(exc).splitlines()[0][:160]}); {retrain}") from None
    prior.eval()
    prior.requires_grad_(False)
    return prior


def kernel_bank(n: int, seed: int) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    return torch.from_numpy(np.stack([training_kernel(rng) for _ in range(n)])).float()


def train_prior(steps: int = 6000, batch: int = 256, lr: float = 1e-3, seed: int = 0, bank: int = 60000,
                transforms: int = 6, hidden: int = 128, log_every: int = 500, val: int = 2000
                ) -> tuple[KernelPrior, dict]:
    """Train the flow on a seeded bank of synthetic kernels (a fresh dequantisation each step); Adam with a cosine
    decay. Returns the prior and a record with the validation negative log-likelihood."""
    torch.manual_seed(seed)
    train_set, val_set = kernel_bank(bank, seed), kernel_bank(val, seed + 1)
    prior = KernelPrior(transforms=transforms, hidden=hidden)
    gen = torch.Generator().manual_seed(seed)
    prior.fit_scaling(train_set, gen)
    opt = torch.optim.Adam(prior.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    started = time.perf_counter()
    for step in range(1, steps + 1):
        idx = torch.randint(0, len(train_set), (batch,), generator=gen)
        loss = -prior.log_prob(train_set[idx], gen).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if step % log_every == 0 or step == steps:
            print(f"step {step:5d}  train NLL {loss.item():9.2f}  {time.perf_counter() - started:6.1f} s", flush=True)
    prior.eval()
    with torch.no_grad():
        val = -prior.log_prob(val_set, torch.Generator().manual_seed(seed + 2)).mean().item()
    record = {"steps": steps, "batch": batch, "lr": lr, "seed": seed, "bank": bank, "val_nll": round(val, 3),
              "seconds": round(time.perf_counter() - started, 1), "torch": str(torch.__version__)}
    return prior, record


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Train the kernel prior of estimator=kernelgan_fkp (seeded).")
    parser.add_argument("--out", type=Path, default=SHIPPED)
    parser.add_argument("--steps", type=int, default=6000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    prior, record = train_prior(steps=args.steps, seed=args.seed)
    save_prior(args.out, prior, record)
    print(f"validation NLL {record['val_nll']:.3f}; wrote {args.out}")


if __name__ == "__main__":
    main()
