"""Estimating the downscaling kernel from the LR image alone: an internal GAN after KernelGAN (Bell-Kligler, Shocher &
Irani, "Blind Super-Resolution Kernel Estimation using an Internal-GAN", NeurIPS 2019).

A deep *linear* generator downscales crops of the image by 2; a fully convolutional patch discriminator (7x7 receptive
field) tells its output from real patches of the same image. The downscaling that keeps the image's patch statistics
across scales is the image's own kernel, which is read off the generator. Since the generator is linear with no biases,
it *is* one convolution: :meth:`DeepLinearGenerator.kernel` composes its layers into that kernel (differentiably) and
the forward pass applies it once with stride 2. This is the same function and the same gradients as running the six
layers one after another (a test checks it), about ten times cheaper on a 64-pixel crop.

The losses and schedule follow the paper: L1 GAN loss; the kernel regularisers (sum to one, boundaries, centre of mass,
sparsity); a loss pulling the generator towards bicubic downscaling at the start, decayed once it is met, when the
centre and sparsity terms come in; Adam 2e-4 (beta1 0.5); learning rates /10 every 750 steps. The paper runs 3000
steps; the default here is 1500, since by then the learning rate is 2e-6 and on BSD100 images with the paper's random
kernels the kernel error moved by at most 0.012 over the next 1500 (``estimator.max_steps=3000`` restores it).

The result follows this project's kernel convention (:func:`zssr.resize.kernel_downscale`): negligible values zeroed,
then shifted so the centre of mass sits at ``K // 2 + (s - 1) / 2``, the centre of the LR pixel in HR coordinates (as
MATLAB's bicubic places it). x4 comes from the x2 kernel analytically (the x2 kernel applied twice); other factors
stretch the x2 kernel by ``s / 2`` per axis, an approximation that is exact for Gaussian kernels whose width grows with
the factor, as the paper's random kernels do.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pytorch_lightning as pl
import scipy.ndimage
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, IterableDataset

from zssr.kernels import kernel_centre
from zssr.resize import cubic, imresize

log = logging.getLogger(__name__)

ESTIMATION_SCALE = 2  # the generator downscales by 2; other factors are derived from the x2 kernel


# ----------------------------------------------------------------------------------------------------------- networks
class DeepLinearGenerator(nn.Module):
    """Convolutions without biases or activations (7, 5, 3, 1, 1, 1 by default; 64 channels) then subsampling by 2,
    applied to each colour channel alone. Its kernel is ``sum(k - 1) + 1`` wide (13 by default)."""

    def __init__(self, structure: tuple[int, ...] = (7, 5, 3, 1, 1, 1), channels: int = 64,
                 scale: int = ESTIMATION_SCALE) -> None:
        super().__init__()
        sizes = list(structure)
        widths = [1] + [channels] * (len(sizes) - 1) + [1]
        self.layers = nn.ModuleList(nn.Conv2d(widths[i], widths[i + 1], k, bias=False) for i, k in enumerate(sizes))
        self.scale = scale
        self.kernel_size = sum(k - 1 for k in sizes) + 1
        for layer in self.layers:
            nn.init.xavier_normal_(layer.weight, 0.1)

    def kernel(self) -> torch.Tensor:
        """The ``(K, K)`` correlation kernel the layers compose to: the response to a delta, flipped."""
        k = self.kernel_size
        weight = self.layers[0].weight
        x = torch.zeros(1, 1, 2 * k - 1, 2 * k - 1, device=weight.device, dtype=weight.dtype)
        x[..., k - 1, k - 1] = 1.0
        for layer in self.layers:
            x = layer(x)
        return x[0, 0].flip(0, 1)

    def forward(self, x: torch.Tensor, kernel: torch.Tensor | None = None) -> torch.Tensor:
        """Downscale ``x`` (``(B, C, H, W)``) by 2 with the composed kernel (valid borders)."""
        kernel = self.kernel() if kernel is None else kernel
        b, c, h, w = x.shape
        out = F.conv2d(x.reshape(b * c, 1, h, w), kernel[None, None], stride=self.scale)
        return out.reshape(b, c, *out.shape[-2:])

    def forward_layers(self, x: torch.Tensor) -> torch.Tensor:
        """The same downscaling computed layer by layer (for checking :meth:`forward`)."""
        b, c, h, w = x.shape
        y = x.reshape(b * c, 1, h, w)
        for layer in self.layers:
            y = layer(y)
        y = y[..., :: self.scale, :: self.scale]
        return y.reshape(b, c, *y.shape[-2:])


class PatchDiscriminator(nn.Module):
    """A 7x7 spectral-normalised convolution, then 1x1 convolutions with batch norm and ReLU, then a sigmoid: one
    real/fake score per 7x7 patch."""

    def __init__(self, channels: int = 64, layers: int = 7, kernel_size: int = 7) -> None:
        super().__init__()
        sn = nn.utils.parametrizations.spectral_norm
        body: list[nn.Module] = [sn(nn.Conv2d(3, channels, kernel_size))]
        for _ in range(layers - 2):
            body += [sn(nn.Conv2d(channels, channels, 1)), nn.BatchNorm2d(channels), nn.ReLU(inplace=True)]
        body += [sn(nn.Conv2d(channels, 1, 1)), nn.Sigmoid()]
        self.body = nn.Sequential(*body)
        self.shave = kernel_size - 1
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.xavier_normal_(m.weight, 0.1)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.normal_(m.weight, 1.0, 0.02)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


# ----------------------------------------------------------------------------------------------------- kernel priors
def centre_of_mass(kernel: torch.Tensor) -> torch.Tensor:
    idx = torch.arange(kernel.shape[0], dtype=kernel.dtype, device=kernel.device)
    total = kernel.sum()
    return torch.stack(((kernel.sum(1) * idx).sum() / total, (kernel.sum(0) * idx).sum() / total))


def boundary_mask(size: int, penalty: float = 30.0) -> torch.Tensor:
    """Zero in the middle, growing towards the edges like an inverted wide Gaussian (the paper's boundaries prior)."""
    z = np.arange(size) - (size - 1) / 2
    g = np.exp(-(z**2) / (2 * size**2))
    mask = 1 - np.outer(g, g) / g.max() ** 2
    margin = (size - (size // 2 + size % 2)) // 2 - 1
    if margin > 0:
        mask[margin:-margin, margin:-margin] = 0
    return torch.as_tensor(penalty * mask, dtype=torch.float32)


def kernel_priors(kernel: torch.Tensor, mask: torch.Tensor, scale: int) -> dict[str, torch.Tensor]:
    target = torch.full((2,), kernel_centre(kernel.shape[0], scale), dtype=kernel.dtype, device=kernel.device)
    return {
        "sum2one": (1 - kernel.sum()).abs(),
        "boundaries": (kernel * mask).abs().mean(),
        "centralized": F.mse_loss(centre_of_mass(kernel), target),
        "sparse": (kernel.abs() + 1e-12).pow(0.2).mean(),
    }


# ------------------------------------------------------------------------------------------------------------- data
def gradient_map(gray: np.ndarray, window: int = 5, percentile: float = 97.0) -> np.ndarray:
    """Gradient magnitude, clipped at its ``percentile`` and box-blurred over ``window`` pixels."""
    gy, gx = np.gradient(gray)
    mag = np.hypot(gx, gy)
    mag = np.minimum(mag, np.percentile(mag, percentile))
    return scipy.ndimage.uniform_filter(mag, window)


def crop_probabilities(grad: np.ndarray, crop: int) -> np.ndarray:
    """Probability of each pixel being the centre of a crop: the mean of :func:`gradient_map` over the crop, so
    textured regions, which carry the kernel's signature, are sampled more; zero where a crop would not fit."""
    score = scipy.ndimage.uniform_filter(grad, max(1, crop // 2))
    valid = np.zeros_like(score)
    half = crop // 2
    h, w = grad.shape
    valid[half: h - (crop - half) + 1, half: w - (crop - half) + 1] = 1
    score = np.clip(score, 0, None) * valid  # the box filters can leave -1e-17 where the image is flat
    if score.sum() <= 0:
        score = valid
    return (score / score.sum()).ravel()


class CropPairs(IterableDataset):
    """Endless (generator crop, discriminator crop, bicubic target) triples from one image, in [-1, 1].

    Generator crops are ``g_crop`` wide at even offsets; real crops for the discriminator are as wide as the
    generator's output, with a little noise (1/255), as in the paper. The bicubic target is the crop's MATLAB-bicubic
    half, aligned with the generator output for the kernel convention of :func:`kernel_centre`.
    """

    def __init__(self, image: torch.Tensor, g_crop: int, d_crop: int, kernel_size: int, seed: int = 0) -> None:
        self.image = image.float() * 2 - 1
        self.half = imresize(image.double(), 0.5).float() * 2 - 1
        self.g_crop, self.d_crop, self.seed = g_crop, d_crop, seed
        self.offset = (kernel_size // 2) // ESTIMATION_SCALE  # generator output i sits on bicubic sample i + offset
        gray = image.double().mul(torch.tensor([0.299, 0.587, 0.114], dtype=torch.float64)[:, None, None]).sum(0)
        grad = gradient_map(gray.numpy())
        self.p_g = crop_probabilities(grad, g_crop)
        self.p_d = crop_probabilities(grad, d_crop)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        rng = np.random.default_rng(self.seed)
        w = self.image.shape[-1]
        g, d, out = self.g_crop, self.d_crop, self.d_crop
        while True:
            cy, cx = divmod(int(rng.choice(self.p_g.size, p=self.p_g)), w)
            top, left = (cy - g // 2) & ~1, (cx - g // 2) & ~1
            top, left = max(0, top), max(0, left)
            g_in = self.image[:, top: top + g, left: left + g]
            ty, tx = top // 2 + self.offset, left // 2 + self.offset
            target = self.half[:, ty: ty + out, tx: tx + out]
            cy, cx = divmod(int(rng.choice(self.p_d.size, p=self.p_d)), w)
            top, left = max(0, cy - d // 2), max(0, cx - d // 2)
            d_in = self.image[:, top: top + d, left: left + d]
            noise = torch.from_numpy(rng.standard_normal(d_in.shape).astype(np.float32)) * (2 / 255)
            yield g_in, d_in + noise, target


class KernelGANDataModule(pl.LightningDataModule):
    """One image's crops for the kernel GAN; batch size 1, as in the paper."""

    def __init__(self, image: torch.Tensor, g_crop: int = 64, kernel_size: int = 13, seed: int = 0) -> None:
        super().__init__()
        self.image, self.g_crop, self.kernel_size, self.seed = image, g_crop, kernel_size, seed
        self.d_crop = (g_crop - kernel_size) // ESTIMATION_SCALE + 1

    def train_dataloader(self) -> DataLoader:
        data = CropPairs(self.image, self.g_crop, self.d_crop, self.kernel_size, self.seed)
        return DataLoader(data, batch_size=1, num_workers=0)


# ----------------------------------------------------------------------------------------------------------- module
class KernelGANModule(pl.LightningModule):
    """The GAN and its schedule. Manual optimisation: one generator step, then one discriminator step."""

    def __init__(self, structure: tuple[int, ...] = (7, 5, 3, 1, 1, 1), g_channels: int = 64, d_channels: int = 64,
                 d_layers: int = 7, d_kernel_size: int = 7, lr: float = 2e-4, beta1: float = 0.5,
                 lr_decay_every: int = 750, lambda_sum2one: float = 0.5, lambda_boundaries: float = 0.5,
                 lambda_bicubic: float = 5.0, lambda_centralized_end: float = 1.0, lambda_sparse_end: float = 5.0,
                 bicubic_met: float = 0.4, lambda_update_every: int = 200, lambda_bicubic_min: float = 5e-6) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.automatic_optimization = False
        self.G = DeepLinearGenerator(tuple(structure), g_channels)
        self.D = PatchDiscriminator(d_channels, d_layers, d_kernel_size)
        self.register_buffer("mask", boundary_mask(self.G.kernel_size), persistent=False)
        self.lambdas = {"sum2one": lambda_sum2one, "boundaries": lambda_boundaries, "bicubic": lambda_bicubic,
                        "centralized": 0.0, "sparse": 0.0}
        self._met_count = 0
        self._bicubic_met = False

    def configure_optimizers(self):
        betas = (self.hparams.beta1, 0.999)
        return (torch.optim.Adam(self.G.parameters(), lr=self.hparams.lr, betas=betas),
                torch.optim.Adam(self.D.parameters(), lr=self.hparams.lr, betas=betas))

    def training_step(self, batch, batch_idx):
        g_in, d_real, target = batch
        opt_g, opt_d = self.optimizers()
        # generator: fool D, keep the kernel plausible
        kernel = self.G.kernel()
        fake = self.G(g_in, kernel)
        loss_gan = (self.D(fake) - 1).abs().mean()
        terms = kernel_priors(kernel, self.mask, ESTIMATION_SCALE)
        terms["bicubic"] = F.mse_loss(fake, target)
        loss_g = loss_gan + sum(self.lambdas[k] * v for k, v in terms.items())
        opt_g.zero_grad(set_to_none=True)
        self.manual_backward(loss_g)
        opt_g.step()
        # discriminator: real patches -> 1, generated (plus a little noise) -> 0
        fake = fake.detach() + torch.randn_like(fake) / 255
        loss_d = 0.5 * ((self.D(d_real) - 1).abs().mean() + self.D(fake).abs().mean())
        opt_d.zero_grad(set_to_none=True)
        self.manual_backward(loss_d)
        opt_d.step()
        self._schedule(float(terms["bicubic"].detach()))
        self.log_dict({"kernelgan/g_gan": loss_gan.detach(), "kernelgan/d": loss_d.detach(),
                       **{f"kernelgan/{k}": v.detach() for k, v in terms.items()},
                       "kernelgan/lambda_bicubic": self.lambdas["bicubic"]}, on_step=True, prog_bar=False)

    def _schedule(self, bicubic_loss: float) -> None:
        """The paper's schedule: learning rates /10 every ``lr_decay_every`` steps; once G is close to bicubic (three
        steps in a row under ``bicubic_met``), decay the bicubic weight /100 every ``lambda_update_every`` steps and,
        when it is small, switch on the centre-of-mass and sparsity priors."""
        hp = self.hparams
        step = self.global_step // 2 + 1  # two optimizer steps per iteration
        if step % hp.lr_decay_every == 0:
            for opt in self.optimizers():
                for group in opt.param_groups:
                    group["lr"] /= 10
        if not self._bicubic_met:
            self._met_count = self._met_count + 1 if bicubic_loss < hp.bicubic_met else 0
            self._bicubic_met = self._met_count >= 3
        elif step % hp.lambda_update_every == 0 and self.lambdas["bicubic"] > hp.lambda_bicubic_min:
            self.lambdas["bicubic"] = max(self.lambdas["bicubic"] / 100, hp.lambda_bicubic_min)
            if self.lambdas["bicubic"] < 5e-3:
                self.lambdas["centralized"] = hp.lambda_centralized_end
                self.lambdas["sparse"] = hp.lambda_sparse_end

    @torch.no_grad()
    def raw_kernel(self) -> np.ndarray:
        return self.G.kernel().double().cpu().numpy()


# ---------------------------------------------------------------------------------------------------- post-processing
def zero_negligible(kernel: np.ndarray, keep: int = 40) -> np.ndarray:
    """Subtract 0.75 x the ``keep + 1``-th largest value, clip at zero, renormalise (the paper's clean-up)."""
    values = np.sort(kernel.ravel())
    floor = 0.75 * values[-min(keep, values.size - 1) - 1]
    k = np.clip(kernel - floor, 0, None)
    return k / k.sum() if k.sum() > 0 else kernel / kernel.sum()


def recentre(kernel: np.ndarray, scale: tuple[float, float]) -> np.ndarray:
    """Shift (sub-pixel, padding first so nothing is lost) so the centre of mass sits where :func:`kernel_centre`
    puts it for ``scale``; the result is square with an odd side."""
    com = np.array(scipy.ndimage.center_of_mass(kernel))
    pad = int(np.ceil(np.abs(com - (np.array(kernel.shape) // 2)).max())) + 2
    k = np.pad(kernel, pad)
    side = max(k.shape) | 1
    k = np.pad(k, ((0, side - k.shape[0]), (0, side - k.shape[1])))
    com = np.array(scipy.ndimage.center_of_mass(k))
    want = np.array([kernel_centre(side, s) for s in scale])
    k = scipy.ndimage.shift(k, want - com, order=3, mode="constant")
    k = np.clip(k, 0, None)
    return k / k.sum()


def analytic_x4(k2: np.ndarray) -> np.ndarray:
    """The x4 kernel of downscaling twice by 2 with ``k2``: ``k4[2a + b] += k2[a] k2[b]`` (3K - 2 wide), trimmed by
    ``K // 2`` on each side where it is negligible. In this project's convention its centre lands where x4 wants it."""
    n = k2.shape[0]
    big = np.zeros((3 * n - 2, 3 * n - 2))
    for r in range(n):
        for c in range(n):
            big[2 * r: 2 * r + n, 2 * c: 2 * c + n] += k2[r, c] * k2
    trim = n // 2
    k = big[trim:-trim, trim:-trim]
    return k / k.sum()


def for_scale(k2: np.ndarray, scale: tuple[float, float]) -> np.ndarray:
    """The kernel for ``scale`` from the x2 estimate: as is at x2, analytic at x4, stretched by ``s / 2`` otherwise."""
    if scale == (2.0, 2.0):
        return k2
    if scale == (4.0, 4.0):
        return analytic_x4(k2)
    zoom = (scale[0] / 2, scale[1] / 2)
    k = scipy.ndimage.zoom(k2, zoom, order=3, grid_mode=True, mode="grid-constant")
    return recentre(np.clip(k, 0, None) / np.clip(k, 0, None).sum(), scale)


def bicubic_kernel(scale: int = 2) -> np.ndarray:
    """MATLAB's antialiased bicubic downscaling by an integer ``scale`` as an explicit kernel, in this project's
    convention (odd side, centre of mass at ``K // 2 + (s - 1) / 2``): a reference point for kernel errors."""
    size = 4 * scale + 1
    w = cubic((np.arange(size) - kernel_centre(size, scale)) / scale)
    k = np.outer(w, w)
    return k / k.sum()


def kernel_error(estimate: np.ndarray, truth: np.ndarray) -> float:
    """Relative L2 error ``||k_est - k_true|| / ||k_true||`` after aligning the two centres of mass on a common grid
    (a global sub-pixel shift cannot be told from the LR image, so it is not counted)."""
    side = max(max(estimate.shape), max(truth.shape)) + 8
    side |= 1
    grids = []
    for k in (estimate, truth):
        canvas = np.zeros((side, side))
        top, left = (side - k.shape[0]) // 2, (side - k.shape[1]) // 2
        canvas[top: top + k.shape[0], left: left + k.shape[1]] = k / k.sum()
        com = np.array(scipy.ndimage.center_of_mass(canvas))
        grids.append(scipy.ndimage.shift(canvas, np.array([side // 2] * 2) - com, order=3, mode="constant"))
    return float(np.linalg.norm(grids[0] - grids[1]) / np.linalg.norm(grids[1]))


# ------------------------------------------------------------------------------------------------------- estimation
@dataclass
class Estimate:
    """An estimated kernel (None when estimation fell back to bicubic) with how it was obtained."""

    kernel: np.ndarray | None
    kernel_x2: np.ndarray | None = None
    seconds: float = 0.0
    iterations: int = 0
    fallback_reason: str | None = None
    native_sharpness: float | None = None  # :func:`sharpness_ratio` over the estimate's :func:`kernel_passband`
    rejected: np.ndarray | None = None  # an estimate turned down as too wide for the image (``kernel`` is then None)


def unusable(image: torch.Tensor, g_crop: int) -> str | None:
    """Why the GAN cannot learn from ``image`` (too small, or nearly flat), or None."""
    h, w = image.shape[-2:]
    if min(h, w) < g_crop + 8:
        return f"the image ({w}x{h}) is smaller than the {g_crop}-pixel crops kernel estimation needs"
    gray = image.double().mean(0)
    gy, gx = np.gradient(gray.numpy())
    if float(np.hypot(gx, gy).mean()) < 2e-3:
        return "the image is nearly flat, so it carries no trace of its kernel"
    return None


def sharpness_ratio(image: torch.Tensor) -> float:
    """How sharp ``image`` (``(C, H, W)`` in [0, 1]) is: the power of its luma spectrum at 0.3-0.5 cycles per pixel
    over that at 0.1-0.2 (Hann window), after taking off the white-noise floor of the noise level that
    :func:`skimage.restoration.estimate_sigma` finds.

    A kernel attenuates the high band more than the low one, the more so the wider it is; the image's own spectrum
    falls off in roughly the same way at every scale. So a high ratio says the LR image was made by a narrow kernel.
    """
    from skimage.restoration import estimate_sigma

    img = image.double()
    luma = (img[:3].permute(1, 2, 0) @ img.new_tensor([0.299, 0.587, 0.114])).numpy() if img.shape[0] >= 3 \
        else img[0].numpy()
    luma = luma - luma.mean()
    h, w = luma.shape
    window = np.outer(np.hanning(h), np.hanning(w))
    power = np.abs(np.fft.fft2(luma * window)) ** 2
    radius = np.hypot(np.fft.fftfreq(h)[:, None], np.fft.fftfreq(w)[None, :])
    high, low = (radius > 0.3) & (radius < 0.5), (radius > 0.1) & (radius < 0.2)
    floor = float(estimate_sigma(luma)) ** 2 * float((window ** 2).sum())  # expected power of white noise per bin
    p_high = max(float(power[high].sum()) - floor * int(high.sum()), 0.0)
    p_low = max(float(power[low].sum()) - floor * int(low.sum()), 1e-20)
    return p_high / p_low


def kernel_passband(kernel: np.ndarray, scale: tuple[float, float]) -> float:
    """How much of the high band of :func:`sharpness_ratio` a downscaling kernel lets through: its power response
    at the HR frequencies that become 0.3-0.5 cycles per LR pixel over that at those that become 0.1-0.2. An image
    made with ``kernel`` has about its own native ratio times this."""
    response = np.abs(np.fft.fft2(kernel / kernel.sum(), s=(256, 256))) ** 2
    f = np.fft.fftfreq(256)
    radius = np.hypot(f[:, None] * scale[0], f[None, :] * scale[1])  # in cycles per LR pixel
    return float(response[(radius > 0.3) & (radius < 0.5)].mean() / response[(radius > 0.1) & (radius < 0.2)].mean())


def estimate_kernel(image: torch.Tensor, scale: tuple[float, float], cfg: Any, loggers: list | None = None,
                    progress: bool = False, seed: int = 0) -> Estimate:
    """Estimate the downscaling kernel of ``image`` (``(3, H, W)`` in [0, 1]) for ``scale`` with the kernel GAN.

    ``cfg`` is the ``estimator`` config node (or a dict): ``max_steps``, ``crop_size``, ``precision``, ``keep`` (values
    kept by the clean-up), ``accelerator``, ``threads`` (at most this many CPU threads; the GAN's convolutions are too
    small to gain from more, and extra threads only contend with parallel jobs), ``sharpness_limit`` and the
    :class:`KernelGANModule` settings under ``module``. Images the GAN cannot learn from give a warning and
    ``Estimate(kernel=None)``, i.e. bicubic. So does an estimate too wide to have made the image: the GAN
    overestimates kernels narrower than bicubic, and then the image's sharpness with the estimate's blur taken out
    (:func:`sharpness_ratio` / :func:`kernel_passband`) is above ``sharpness_limit``, more than natural images have
    (None turns the check off).
    """
    crop = int(cfg.get("crop_size"))
    reason = unusable(image, crop)
    if reason:
        warnings.warn(f"kernel estimation skipped: {reason}; using the bicubic kernel", stacklevel=2)
        return Estimate(kernel=None, fallback_reason=reason)
    threads = cfg.get("threads")
    previous_threads = torch.get_num_threads()
    if threads:
        torch.set_num_threads(min(int(threads), previous_threads))
    try:
        est = _estimate(image, scale, cfg, crop, loggers, progress, seed)
    finally:
        torch.set_num_threads(previous_threads)
    if est.kernel is None:
        return est
    est = replace(est, native_sharpness=sharpness_ratio(image) / kernel_passband(est.kernel, scale))
    limit = cfg.get("sharpness_limit")
    if limit is not None and est.native_sharpness > float(limit):
        reason = (f"the image is sharper than the estimated kernel allows (native sharpness "
                  f"{est.native_sharpness:.2f} > estimator.sharpness_limit {float(limit):g}), so it is too wide")
        warnings.warn(f"kernel estimate rejected: {reason}; using the bicubic kernel", stacklevel=2)
        return replace(est, kernel=None, rejected=est.kernel, fallback_reason=reason)
    return est


def _estimate(image: torch.Tensor, scale: tuple[float, float], cfg: Any, crop: int, loggers: list | None,
              progress: bool, seed: int) -> Estimate:
    started = time.perf_counter()
    module_kwargs = dict(cfg.get("module") or {})
    if "structure" in module_kwargs:
        module_kwargs["structure"] = tuple(module_kwargs["structure"])
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        module = KernelGANModule(**module_kwargs)
    data = KernelGANDataModule(image, crop, module.G.kernel_size, seed=seed)
    trainer = pl.Trainer(max_steps=2 * int(cfg.get("max_steps")), accelerator=cfg.get("accelerator") or "auto",
                         devices=1, precision=cfg.get("precision") or "32-true", logger=loggers or False,
                         enable_checkpointing=False, enable_progress_bar=progress, enable_model_summary=False,
                         log_every_n_steps=50, num_sanity_val_steps=0)
    with torch.random.fork_rng():  # the noise on fake patches: the same estimate for the same seed, whatever ran before
        torch.manual_seed(seed)
        trainer.fit(module, datamodule=data)
    raw = module.raw_kernel()
    if not np.all(np.isfinite(raw)) or raw.sum() <= 0:
        reason = f"the estimate did not converge (its weights sum to {raw.sum():.3g})"
        warnings.warn(f"kernel estimation failed: {reason}; using the bicubic kernel", stacklevel=2)
        return Estimate(kernel=None, fallback_reason=reason)
    k2 = recentre(zero_negligible(raw, int(cfg.get("keep"))), (2.0, 2.0))
    kernel = for_scale(k2, scale)
    seconds = time.perf_counter() - started
    log.info("kernel estimated in %.1f s (%d steps): %dx%d", seconds, trainer.global_step // 2, *kernel.shape)
    return Estimate(kernel=kernel, kernel_x2=k2, seconds=seconds, iterations=trainer.global_step // 2)


def kernel_figure(path, estimate: np.ndarray, truth: np.ndarray | None = None, title: str = "") -> None:
    """A picture of the estimated kernel, beside the reference (the true kernel, or another estimate) when given."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [("estimated", estimate)] + ([("reference", truth)] if truth is not None else [])
    side = max(max(k.shape) for _, k in panels)  # one pixel grid and one colour scale for both
    vmax = max(float(k.max()) for _, k in panels)
    fig, axes = plt.subplots(1, len(panels), figsize=(3 * len(panels), 3.2), layout="constrained", squeeze=False)
    for ax, (name, k) in zip(axes[0], panels, strict=True):
        top, left = (side - k.shape[0]) // 2, (side - k.shape[1]) // 2
        canvas = np.pad(k, ((top, side - k.shape[0] - top), (left, side - k.shape[1] - left)))
        ax.imshow(canvas, cmap="viridis", interpolation="nearest", vmin=0, vmax=vmax)
        ax.set_title(f"{name} {k.shape[0]}x{k.shape[1]}", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    if title:
        fig.suptitle(title, fontsize=9)
    fig.savefig(path, dpi=100)
    plt.close(fig)


__all__ = ["DeepLinearGenerator", "PatchDiscriminator", "KernelGANModule", "KernelGANDataModule", "Estimate",
           "estimate_kernel", "kernel_error", "bicubic_kernel", "analytic_x4", "for_scale", "recentre",
           "kernel_figure"]
