"""The GAN's training data: crops of the one LR image, textured regions more often."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytorch_lightning as pl
import scipy.ndimage
import torch
from torch.utils.data import DataLoader, IterableDataset

from zssr.estimators.kernelgan.nets import ESTIMATION_SCALE
from zssr.ops.metrics import luma
from zssr.ops.resize import imresize


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
        grad = gradient_map(luma(image).numpy())
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
