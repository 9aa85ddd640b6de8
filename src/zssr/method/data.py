"""Training data made from the test image itself: HR fathers, LR sons, random crops and the 8 dihedral transforms.

Data flow for one training example: pick a father from the :class:`FatherPool` (probability growing with its size) ->
random crop (``crop_size``, smaller for small fathers) -> random rotation/flip -> son = downscale(father crop, scale,
kernel) (+ Gaussian noise) -> network input = bicubic upsample of the son to the crop's size; target = the crop.

With ``augment="affine"`` (:class:`Affine`, the 2018 code's mix) the father crop is instead, per example, an exact crop
of a source image (the input or an earlier output) with one of the 8 rotations/flips, or a bicubic warp of it: random
scale, x/y scale difference, shear and free rotation.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset, IterableDataset

from zssr.ops.resize import _pair, downscale, imresize
from zssr.run.settings import as_list


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

    ``rule='size'`` (the paper): pick a father with probability proportional to its pixel count; with
    ``input_share`` the input itself is picked with that probability and the other fathers share the rest in
    proportion to their pixel counts (the 2018 code takes half its crops from the input at its own scale).
    ``rule='zssr2018'`` (the 2018 code): draw ``s ~ U(min_scale, largest scale)`` and take the smallest father whose
    scale is at least ``s``.
    """

    def __init__(self, image: torch.Tensor, scale: Sequence[float], min_scale: float = 0.5, n_copies: int = 10,
                 extra: Sequence[Father] = (), rule: str = "size", min_side: int = 8,
                 input_share: float | None = None) -> None:
        if rule not in ("size", "zssr2018"):
            raise ValueError(f"unknown father sampling rule '{rule}' (size or zssr2018)")
        if input_share is not None and not 0 <= input_share <= 1:
            raise ValueError(f"input_share must be a probability, got {input_share}")
        if input_share is not None and rule != "size":
            raise ValueError("input_share applies to the size rule only")
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
        if input_share is not None and len(self.fathers) > 1:  # the input alone keeps its weight of 1
            is_input = torch.tensor([f.image is image for f in self.fathers])
            others = torch.where(is_input, 0.0, sizes)
            self.weights = torch.where(is_input, input_share, (1 - input_share) * others / others.sum())

    def __len__(self) -> int:
        return len(self.fathers)

    def source_for(self, s: float) -> Father:
        """The smallest father whose scale is at least ``s`` (the largest when none is)."""
        return next((f for f in self.fathers if f.scale >= s - 1e-12), self.fathers[-1])

    def sample_index(self, gen: torch.Generator) -> int:
        if self.rule == "size":
            return int(torch.multinomial(self.weights, 1, generator=gen))
        top = self.fathers[-1].scale
        s = self.min_scale + (top - self.min_scale) * float(torch.rand((), generator=gen, dtype=torch.float64))
        return next(j for j, f in enumerate(self.fathers) if f.scale >= s - 1e-12)

    def sample(self, gen: torch.Generator) -> torch.Tensor:
        return self.fathers[self.sample_index(gen)].image


@dataclass(frozen=True)
class Affine:
    """The 2018 code's augmentation mix: with probability ``as_is`` a plain crop, with ``no_interp`` a crop turned by
    one of the 8 rotations/flips, otherwise a bicubic warp. The warp's scale is ``s / source scale`` with
    ``s ~ U(min_scale, largest source scale)`` (the source: the smallest image of at least ``s``), the x and y scales
    differ by ``N(0, scale_diff_sigma)``, shear ``N(0, shear_sigma)`` per axis, a free rotation and a mirror image.

    Unlike the 2018 code, which fills what falls outside the image with zeros (about half of its warped crops), the
    crop is placed inside the warped image wherever it fits, and ``border`` fills the rest (``reflection`` or
    ``zeros``).
    """

    as_is: float = 0.05
    no_interp: float = 0.45
    min_scale: float = 0.5
    scale_diff_sigma: float = 0.25
    shear_sigma: float = 0.1
    border: str = "reflection"

    def __post_init__(self) -> None:
        if not (0 <= self.as_is and 0 <= self.no_interp and self.as_is + self.no_interp <= 1):
            raise ValueError("affine as_is and no_interp must be probabilities with a sum <= 1")
        if self.border not in ("reflection", "zeros"):
            raise ValueError(f"affine border must be reflection or zeros, got {self.border!r}")


def _uniform(gen: torch.Generator, low: float = 0.0, high: float = 1.0) -> float:
    return low + (high - low) * float(torch.rand((), generator=gen, dtype=torch.float64))


def _normal(gen: torch.Generator, std: float) -> float:
    return std * float(torch.randn((), generator=gen, dtype=torch.float64))


def affine_matrix(gen: torch.Generator, scale: float, aug: Affine, rotations: bool, flips: bool) -> torch.Tensor:
    """A random 2x2 map from source to crop pixels: (mirror) scale with x/y difference, then rotation, then shear."""
    diff = _normal(gen, aug.scale_diff_sigma)
    sx, sy = max(scale + diff / 2, 0.05 * scale), max(scale - diff / 2, 0.05 * scale)
    if flips and torch.rand((), generator=gen) < 0.5:
        sx = -sx
    theta = _uniform(gen, 0, 2 * math.pi) if rotations else 0.0
    c, s = math.cos(theta), math.sin(theta)
    shear = torch.tensor([[1.0, _normal(gen, aug.shear_sigma)], [_normal(gen, aug.shear_sigma), 1.0]],
                         dtype=torch.float64)
    rotation = torch.tensor([[c, s], [-s, c]], dtype=torch.float64)
    return shear @ rotation @ torch.diag(torch.tensor([sx, sy], dtype=torch.float64))


def warp_crop(image: torch.Tensor, matrix: torch.Tensor, out_hw: tuple[int, int], gen: torch.Generator,
              border: str = "reflection") -> torch.Tensor:
    """An ``out_hw`` crop of ``image`` (C, H, W) warped by ``matrix`` (source -> crop pixels), bicubic.

    The crop's footprint in the source is placed at random where it lies wholly inside the image (bicubic taps
    included); along an axis where it cannot fit, it covers the image at a random offset and ``border`` fills the rest.
    """
    h, w = image.shape[-2:]
    oh, ow = out_hw
    inv = torch.linalg.inv(matrix)
    # half-extent of the footprint of the crop (pixel centres) in source pixels, per axis
    half = inv.abs() @ torch.tensor([(ow - 1) / 2, (oh - 1) / 2], dtype=torch.float64)
    centre = []
    for extent, size in zip(half.tolist(), (w, h), strict=True):
        lo, hi = extent + 1, size - 2 - extent  # a pixel to spare: bicubic reads one beyond the sample's neighbours
        if lo > hi:  # too wide: any offset where the footprint still covers the whole image
            lo, hi = sorted((extent, size - 1 - extent))
        centre.append(_uniform(gen, lo, hi))
    ys, xs = torch.meshgrid(torch.arange(oh, dtype=torch.float64) - (oh - 1) / 2,
                            torch.arange(ow, dtype=torch.float64) - (ow - 1) / 2, indexing="ij")
    src = torch.stack([xs, ys], -1) @ inv.T + torch.tensor(centre, dtype=torch.float64)
    grid = 2 * src / torch.tensor([max(w - 1, 1), max(h - 1, 1)], dtype=torch.float64) - 1
    out = F.grid_sample(image[None], grid[None].to(image.dtype), mode="bicubic", padding_mode=border,
                        align_corners=True)
    return out[0].clamp(0, 1)


def detail_map(image: torch.Tensor, scale: Sequence[float], kernel: torch.Tensor | None) -> torch.Tensor:
    """What a son of ``image`` (C, H, W) lost: ``|image - up(down(image))|`` summed over channels, (H, W).

    This is the residual the net learns at each pixel; flat regions, where bicubic already restores the image, are
    near 0.
    """
    son = downscale(image, scale, kernel).clamp(0, 1)
    return (image - imresize(son, _pair(scale), out_shape=image.shape[-2:])).abs().sum(0)


def uniform_corner(h: int, w: int, ch: int, cw: int, gen: torch.Generator) -> tuple[int, int]:
    """The top-left corner of a ``ch`` x ``cw`` crop of an ``h`` x ``w`` image, every place equally likely."""
    top = int(torch.randint(0, h - ch + 1, (), generator=gen))
    return top, int(torch.randint(0, w - cw + 1, (), generator=gen))


class CropDraw:
    """Where crops are cut from each father: ``uniform`` (the paper), or ``detail``, where a crop's position is drawn
    with probability proportional to the :func:`detail_map` it covers with probability ``1 - uniform_share``, and
    uniformly otherwise (KernelGAN, Bell-Kligler et al. 2019, likewise draws its crops by the image's gradients).
    On sparse images (an object on an empty sky) most uniform crops are flat and teach the net nothing.
    """

    def __init__(self, pool: FatherPool, scale: Sequence[float], kernel: torch.Tensor | None, rule: str = "uniform",
                 uniform_share: float = 0.5) -> None:
        if rule not in ("uniform", "detail"):
            raise ValueError(f"unknown crop draw '{rule}' (uniform or detail)")
        if not 0 <= uniform_share <= 1:
            raise ValueError(f"uniform_share must be a probability, got {uniform_share}")
        self.pool, self.scale, self.kernel = pool, scale, kernel
        self.rule, self.uniform_share = rule, uniform_share
        self._details: dict[int, torch.Tensor] = {}
        self._weights: dict[tuple[int, int, int], torch.Tensor] = {}

    def weights(self, index: int, ch: int, cw: int) -> torch.Tensor:
        """The probabilities of every top-left corner of a ``ch`` x ``cw`` crop of father ``index``, flattened."""
        key = (index, ch, cw)
        if key not in self._weights:
            if index not in self._details:
                self._details[index] = detail_map(self.pool.fathers[index].image, self.scale, self.kernel)
            covered = F.avg_pool2d(self._details[index][None, None].double(), (ch, cw), stride=1).flatten()
            total = float(covered.sum())
            detail = covered / total if total > 0 else torch.full_like(covered, 1 / covered.numel())
            self._weights[key] = (1 - self.uniform_share) * detail + self.uniform_share / covered.numel()
        return self._weights[key]

    def corner(self, index: int, ch: int, cw: int, gen: torch.Generator) -> tuple[int, int]:
        """The top-left corner of a ``ch`` x ``cw`` crop of father ``index``."""
        h, w = self.pool.fathers[index].image.shape[-2:]
        if self.rule == "uniform":
            return uniform_corner(h, w, ch, cw, gen)
        flat = int(torch.multinomial(self.weights(index, ch, cw), 1, generator=gen))
        return divmod(flat, w - cw + 1)


class FatherSonCrops(IterableDataset):
    """An endless stream of ``{"input": up(son), "target": father crop}`` pairs, each ``(3, h, w)`` in [0, 1]."""

    def __init__(self, pool: FatherPool, scale: Sequence[float], kernel: torch.Tensor | None = None,
                 crop_size: int = 128, noise_std: float = 0.0, rotations: bool = True, flips: bool = True,
                 seed: int = 0, affine: Affine | None = None, draw: CropDraw | None = None) -> None:
        super().__init__()
        self.affine = affine
        self.draw = draw or CropDraw(pool, scale, kernel)
        self.rotations, self.flips = rotations, flips
        self.pool = pool
        self.scale = _pair(scale)
        self.kernel = kernel
        self.crop_size = crop_size
        self.noise_std = noise_std
        self.transforms = dihedral_indices(rotations, flips)
        self.seed = seed

    def father_crop(self, gen: torch.Generator) -> torch.Tensor:
        transforms = self.transforms
        if self.affine is None:
            index = self.pool.sample_index(gen)
            father = self.pool.fathers[index].image
        else:
            mode = _uniform(gen)
            top_scale = self.pool.fathers[-1].scale
            s = 1.0 if mode < self.affine.as_is else _uniform(gen, self.affine.min_scale, top_scale)
            source = self.pool.source_for(s)
            father = source.image
            if mode >= self.affine.as_is + self.affine.no_interp:
                matrix = affine_matrix(gen, s / source.scale, self.affine, self.rotations, self.flips)
                out_hw = min(self.crop_size, father.shape[-2]), min(self.crop_size, father.shape[-1])
                return warp_crop(father, matrix, out_hw, gen, self.affine.border)
            if mode < self.affine.as_is:
                transforms = [0]
        h, w = father.shape[-2:]
        ch, cw = min(self.crop_size, h), min(self.crop_size, w)
        top, left = self.draw.corner(index, ch, cw, gen) if self.affine is None else uniform_corner(h, w, ch, cw, gen)
        crop = father[:, top:top + ch, left:left + cw]
        k = transforms[int(torch.randint(0, len(transforms), (), generator=gen))]
        return dihedral(crop, k)

    def make_pair(self, gen: torch.Generator) -> dict[str, torch.Tensor]:
        crop = self.father_crop(gen)
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


def collate_crops(items: Sequence[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Stack pairs into a batch. A crop from a father smaller than ``crop_size`` is smaller: every pair is cut to the
    batch's smallest height and width from its top-left corner (input and target stay aligned)."""
    h = min(item["target"].shape[-2] for item in items)
    w = min(item["target"].shape[-1] for item in items)
    return {key: torch.stack([item[key][..., :h, :w] for item in items]) for key in items[0]}


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
    Config arguments: crop size, noise, augmentation switches, the father pool's shape and draw (``father_rule``,
    ``input_share``), where crops are cut (``crop_draw``, ``uniform_share``: :class:`CropDraw`), the augmentation
    (``augment``: ``dihedral`` or ``affine``, with ``affine``'s settings) and the size cap of the reconstruction test.
    ``batch_size``: pairs per training step (1: the paper; several small crops cost the FLOPs of one large one).
    ``crop_schedule``: crop sizes by learning-rate phase (the first while the learning rate is at its start, the next
    after its first cut, ...; the last one repeats), applied by :class:`zssr.method.callbacks.CropSchedule`; None keeps
    ``crop_size`` throughout.
    """

    def __init__(self, image: torch.Tensor, scale: Sequence[float], kernel: torch.Tensor | None = None,
                 extra_fathers: Sequence[Father] = (), seed: int = 0, crop_size: int = 128, noise_std: float = 0.0,
                 rotations: bool = True, flips: bool = True, min_scale: float = 0.5, n_copies: int = 10,
                 father_rule: str = "size", test_max_side: int | None = None, augment: str = "dihedral",
                 affine: dict | None = None, pin_memory: bool = False,
                 crop_schedule: Sequence[int] | None = None, input_share: float | None = None,
                 crop_draw: str = "uniform", uniform_share: float = 0.5, batch_size: int = 1) -> None:
        super().__init__()
        if int(batch_size) < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.batch_size = int(batch_size)
        if augment not in ("dihedral", "affine"):
            raise ValueError(f"unknown augmentation '{augment}' (dihedral or affine)")
        warp = Affine(min_scale=min_scale, **(affine or {})) if augment == "affine" else None
        # the affine mix scales its crops itself: its fathers are the sources only (the input, earlier outputs)
        self.pool = FatherPool(image, scale, min_scale=min_scale, n_copies=0 if warp else n_copies,
                               extra=extra_fathers, rule=father_rule, input_share=input_share)
        if warp and crop_draw != "uniform":
            raise ValueError("crop_draw applies to augment=dihedral (the affine mix places its warped crops itself)")
        draw = CropDraw(self.pool, scale, kernel, crop_draw, uniform_share)
        self.train_set = FatherSonCrops(self.pool, scale, kernel, crop_size, noise_std, rotations, flips, seed, warp,
                                        draw)
        self.val_set = ReconstructionSet(image, scale, kernel, test_max_side)
        self.pin_memory = pin_memory
        self.crop_schedule = [int(c) for c in as_list(crop_schedule)] if crop_schedule is not None else None
        self.enter_phase(0)

    def enter_phase(self, phase: int) -> None:
        """Use the crop size of learning-rate phase ``phase`` (0: the starting learning rate) from the next crop on."""
        if self.crop_schedule:
            self.train_set.crop_size = self.crop_schedule[min(phase, len(self.crop_schedule) - 1)]

    def train_dataloader(self) -> DataLoader:
        # batch_size pairs per step (1 as in the paper); made in the main process (the crops are cheap; workers
        # would steal the cores)
        return DataLoader(self.train_set, batch_size=self.batch_size, num_workers=0, pin_memory=self.pin_memory,
                          collate_fn=collate_crops)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.val_set, batch_size=1, num_workers=0, pin_memory=self.pin_memory)
