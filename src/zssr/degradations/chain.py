"""A degradation: named steps from the config, run in order on each HR image with a generator seeded for that image.

``conf/degradation/<name>.yaml`` holds ``name`` (the label of results, and part of each image's seed), ``steps`` (name
-> a step's ``_target_`` and settings; run in the order listed) and optionally ``order`` (step names, to run them in
another order). Any step's setting is a command-line override, e.g. ``degradation.steps.noise.sigma=0.03``; a step is
dropped with ``~degradation.steps.jpeg`` or added with ``+degradation.steps.<name>={_target_: ...}``.
"""

from __future__ import annotations

import functools
import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from zssr.degradations.steps import Sample, Step
from zssr.errors import ZSSRError, build_role, innermost


@dataclass
class Degraded:
    hr: torch.Tensor  # (3, H, W) in [0, 1], cropped to a multiple of the scale
    lr: torch.Tensor  # (3, H/s, W/s) in [0, 1], 8-bit values
    kernel: np.ndarray | None  # the blur kernel of the down-model, when one describes it
    kind: str  # the degradation applied: its name, or what a OneOf step chose (``unknown``: one of its options)


def image_seed(seed: int, *parts: object) -> int:
    """A stable seed per (run seed, dataset, image, degradation): reruns and shards give identical LR images."""
    digest = hashlib.sha256("/".join(str(p) for p in (seed, *parts)).encode()).digest()
    return int.from_bytes(digest[:8], "little")


def modcrop(hr: torch.Tensor, scale: int) -> torch.Tensor:
    h, w = hr.shape[-2:]
    return hr[..., : h - h % scale, : w - w % scale]


class Degradation:
    """``steps`` (name, step) applied in order to each image by :meth:`__call__`."""

    def __init__(self, name: str, steps: list[tuple[str, Step]]):
        self.name, self.steps = name, steps

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any]) -> Degradation:
        """Instantiate ``cfg.steps`` (each by its ``_target_``) in ``cfg.order`` or as listed; a setting a step
        refuses is a :class:`ZSSRError` that names it."""
        name = cfg.get("name")
        steps = cfg.get("steps")
        if not name or not isinstance(steps, Mapping) or not steps:
            raise ZSSRError("a degradation needs a name and steps (name -> {_target_: ..., settings}), "
                            "e.g. degradation=bicubic")
        order = list(cfg.get("order") or steps)
        if sorted(order) != sorted(steps):
            raise ZSSRError(f"degradation.order {order} must name each of degradation.steps ({', '.join(steps)}) "
                            "once")
        built = []
        for key in order:
            node = steps[key]
            if node is None:  # a step turned off (degradation.steps.<name>=null)
                continue
            where = f"degradation.steps.{key}"
            try:
                step = build_role(node, where)
            except ZSSRError as exc:  # the step's own message names its setting, not where it is
                raise ZSSRError(str(exc) if str(exc).startswith(where) else f"{where}: {exc}") from None
            if not callable(step):
                raise ZSSRError(f"{where}: {node['_target_']} is not a step (a callable step(sample, rng))")
            built.append((key, step))
        return cls(str(name), built)

    def __call__(self, hr: torch.Tensor, scale: int, seed: int) -> Degraded:
        """The LR input made from ``hr`` (``(3, H, W)`` in [0, 1], first cropped to a multiple of ``scale``)."""
        if not float(scale).is_integer():
            raise ZSSRError(f"benchmark degradations need an integer scale, got {scale}")
        scale = int(scale)
        rng = np.random.default_rng(seed)
        hr = modcrop(hr, scale)
        x = Sample(image=hr.double(), scale=scale)
        for key, step in self.steps:
            try:
                step(x, rng)
            except ZSSRError as exc:
                raise ZSSRError(f"degradation.steps.{key}: {exc}") from None
        if not x.downscaled:
            raise ZSSRError(f"degradation {self.name}: no step downscaled the image (add a Downscale step)")
        return Degraded(hr=hr.float(), lr=x.image.float(), kernel=x.kernel, kind=x.kind[-1] if x.kind else self.name)

    def check(self, scale: float) -> None:
        """Run the steps once on a small grey image, so an impossible chain is an error before any training."""
        size = 8 * math.ceil(scale)
        self(torch.full((3, size, size), 0.5), scale, seed=0)


@functools.lru_cache(maxsize=32)
def preset(name: str) -> DictConfig:
    """The degradation ``conf/degradation/<name>.yaml`` as Hydra composes it (its blur from ``degradation/blur``)."""
    from hydra import compose, initialize_config_module
    from hydra.core.global_hydra import GlobalHydra
    from hydra.errors import HydraException

    try:
        if GlobalHydra.instance().is_initialized():
            cfg = compose(config_name="evaluate", overrides=[f"degradation={name}"])
        else:
            with initialize_config_module("zssr.conf", version_base="1.3"):
                cfg = compose(config_name="evaluate", overrides=[f"degradation={name}"])
    except HydraException as exc:
        raise ZSSRError(f"unknown degradation '{name}': {innermost(exc)}") from None
    return OmegaConf.create(OmegaConf.to_container(cfg.degradation, resolve=True))


def degrade(hr: torch.Tensor, scale: int, degradation: str | Mapping[str, Any] | Degradation, seed: int) -> Degraded:
    """Make the LR input of one benchmark image: ``hr`` is ``(3, H, W)`` in [0, 1]; ``degradation`` a preset's name,
    a ``degradation`` config node or a built :class:`Degradation`."""
    if isinstance(degradation, str):
        degradation = preset(degradation)
    if not isinstance(degradation, Degradation):
        degradation = Degradation.from_config(degradation)
    return degradation(hr, scale, seed)
