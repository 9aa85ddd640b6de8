"""Training data made from the test image itself: HR fathers, LR sons, random crops and the 8 dihedral transforms.

Data flow for one training example: pick a father from the :class:`FatherPool` (probability growing with its size) ->
random crop (``crop_size``, smaller for small fathers) -> random rotation/flip -> son = downscale(father crop, scale,
kernel) (+ Gaussian noise) -> network input = bicubic upsample of the son to the crop's size; target = the crop.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Dataset, IterableDataset

from zssr.resize import _pair, downscale, imresize


def dihedral(x: torch.Tensor, k: int) -> torch.Tensor:
    """The ``k``-th of the 8 rotations/flips of ``(..., H, W)``: ``k % 4`` quarter turns, flipped when ``k >= 4``."""
    if k >= 4:
        x = x.flip(-1)
    return torch.rot90(x, k % 4, dims=(-2, -1))


def dihedral_indices(rotations: bool = True, flips: bool = True) -> list[int]:
    """The indices ``k`` of :func:`dihedral` allowed with or without quarter turns and mirror images."""
    return [k for k in range(8) if (rotations or k % 4 == 0) and (flips or k < 4)]


def dihedral_inverse(x: torch.Tensor, k: int) -> torch.Tensor:
    x = torch.rot90(x, -(k % 4), dims=(-2, -1))
    return x.flip(-1) if k >= 4 else x


@dataclass
class Father:
    image: torch.Tensor  # (3, H, W) in [0, 1]
    scale: float  # size relative to the input image (1 = the input, < 1 downscaled copy, > 1 an earlier SR output)


class FatherPool:
    """The HR fathers: the input, copies of it downscaled by ``min_scale`` .. 1, and outputs of earlier gradual steps.

    ``rule='size'`` (the paper): pick a father with probability proportional to its pixel count.
    ``rule='zssr2018'`` (the 2018 code): draw ``s ~ U(min_scale, largest scale)`` and take the smallest father whose
    scale is at least ``s``.
    """

    def __init__(self, image: torch.Tensor, scale: Sequence[float], min_scale: float = 0.5, n_copies: int = 10,
                 extra: Sequence[Father] = (), rule: str = "size", min_side: int = 8) -> None:
        if rule not in ("size", "zssr2018"):
            raise ValueError(f"unknown father sampling rule '{rule}' (size or zssr2018)")
        self.rule = rule
        sh, sw = _pair(scale)
        # a father must leave a son of at least `min_side` pixels
        need_h, need_w = min_side * sh, min_side * sw
        fathers = [Father(image, 1.0)]
        for i in range(1, n_copies + 1):
            s = 1.0 - (1.0 - min_scale) * i / n_copies
            h, w = round(image.shape[-2] * s), round(image.shape[-1] * s)
            if s <= 0 or h < need_h or w < need_w:
                break
            fathers.append(Father(imresize(image, s, out_shape=(h, w)).clamp(0, 1), s))
        fathers.extend(extra)
        self.fathers = sorted(fathers, key=lambda f: f.scale)
        self.min_scale = self.fathers[0].scale
        sizes = torch.tensor([f.image.shape[-2] * f.image.shape[-1] for f in self.fathers], dtype=torch.float64)
        self.weights = sizes / sizes.sum()

    def __len__(self) -> int:
        return len(self.fathers)

    def sample(self, gen: torch.Generator) -> torch.Tensor:
        if self.rule == "size":
            i = int(torch.multinomial(self.weights, 1, generator=gen))
        else:
            top = self.fathers[-1].scale
            s = self.min_scale + (top - self.min_scale) * float(torch.rand((), generator=gen, dtype=torch.float64))
            i = next(j for j, f in enumerate(self.fathers) if f.scale >= s - 1e-12)
        return self.fathers[i].image


class FatherSonCrops(IterableDataset):
    """An endless stream of ``{"input": up(son), "target": father crop}`` pairs, each ``(3, h, w)`` in [0, 1]."""

    def __init__(self, pool: FatherPool, scale: Sequence[float], kernel: torch.Tensor | None = None,
                 crop_size: int = 128, noise_std: float = 0.0, rotations: bool = True, flips: bool = True,
                 seed: int = 0) -> None:
        super().__init__()
        self.pool = pool
        self.scale = _pair(scale)
        self.kernel = kernel
        self.crop_size = crop_size
        self.noise_std = noise_std
        self.transforms = dihedral_indices(rotations, flips)
        self.seed = seed

    def make_pair(self, gen: torch.Generator) -> dict[str, torch.Tensor]:
        father = self.pool.sample(gen)
        h, w = father.shape[-2:]
        ch, cw = min(self.crop_size, h), min(self.crop_size, w)
        top = int(torch.randint(0, h - ch + 1, (), generator=gen))
        left = int(torch.randint(0, w - cw + 1, (), generator=gen))
        crop = father[:, top:top + ch, left:left + cw]
        k = self.transforms[int(torch.randint(0, len(self.transforms), (), generator=gen))]
        crop = dihedral(crop, k)
        son = downscale(crop, self.scale, self.kernel)
        if self.noise_std > 0:
            son = son + self.noise_std * torch.randn(son.shape, generator=gen)
        son = son.clamp(0, 1)
        net_input = imresize(son, self.scale, out_shape=crop.shape[-2:])
        return {"input": net_input.contiguous(), "target": crop.contiguous()}

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        gen = torch.Generator().manual_seed(self.seed)
        while True:
            yield self.make_pair(gen)


class ReconstructionSet(Dataset):
    """One item: the input image and its reconstruction input ``up(down(I))`` (the test behind the LR policy).

    ``max_side``: test on a centre crop at most this many pixels a side (None: the whole image), so that on large
    inputs the test, run every few training steps, does not make training time grow with the image.
    """

    def __init__(self, image: torch.Tensor, scale: Sequence[float], kernel: torch.Tensor | None = None,
                 max_side: int | None = None) -> None:
        if max_side:
            h, w = image.shape[-2:]
            top, left = max(0, (h - max_side) // 2), max(0, (w - max_side) // 2)
            image = image[..., top: top + max_side, left: left + max_side]
        son = downscale(image, scale, kernel).clamp(0, 1)
        self.item = {"input": imresize(son, _pair(scale), out_shape=image.shape[-2:]), "target": image}

    def __len__(self) -> int:
        return 1

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return self.item


class FatherSonDataModule(pl.LightningDataModule):
    """The training data of one image at one (gradual) scale step.

    Runtime arguments (given by the pipeline): ``image`` (3, H, W) in [0, 1], ``scale`` (sh, sw) of this step,
    ``kernel`` (or None for bicubic), ``extra_fathers`` (earlier outputs), ``seed``.
    Config arguments: crop size, noise, augmentation switches, the father pool's shape and the size cap of the
    reconstruction test.
    """

    def __init__(self, image: torch.Tensor, scale: Sequence[float], kernel: torch.Tensor | None = None,
                 extra_fathers: Sequence[Father] = (), seed: int = 0, crop_size: int = 128, noise_std: float = 0.0,
                 rotations: bool = True, flips: bool = True, min_scale: float = 0.5, n_copies: int = 10,
                 father_rule: str = "size", test_max_side: int | None = None, pin_memory: bool = False) -> None:
        super().__init__()
        self.pool = FatherPool(image, scale, min_scale=min_scale, n_copies=n_copies, extra=extra_fathers,
                               rule=father_rule)
        self.train_set = FatherSonCrops(self.pool, scale, kernel, crop_size, noise_std, rotations, flips, seed)
        self.val_set = ReconstructionSet(image, scale, kernel, test_max_side)
        self.pin_memory = pin_memory

    def train_dataloader(self) -> DataLoader:
        # batch 1 as in the paper; made in the main process (the crops are cheap; workers would steal the cores)
        return DataLoader(self.train_set, batch_size=1, num_workers=0, pin_memory=self.pin_memory)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.val_set, batch_size=1, num_workers=0, pin_memory=self.pin_memory)
