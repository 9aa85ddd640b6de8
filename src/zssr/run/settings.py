"""The run's settings: their allowed values in one table, and the values that need parsing (scale, precision,
per-step lists).

The YAML files under ``conf/`` hold each setting's default and what it means; :data:`RULES` holds what values it may
take. :func:`check_settings` applies the table before anything runs, so a bad value costs nothing and gives one line.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from zssr.errors import ZSSRError


@dataclass(frozen=True)
class Number:
    """A number >= ``low`` (> ``low`` when ``open_low``) and <= ``high`` (< ``high`` when ``open_high``); an integer
    when ``integer``; null allowed when ``optional``."""

    low: float
    high: float | None = None
    integer: bool = True
    optional: bool = False
    open_low: bool = False
    open_high: bool = False

    def problem(self, value: Any) -> str | None:
        if self.optional and value is None:
            return None
        kind = "an integer" if self.integer else "a number"
        ok = isinstance(value, int) if self.integer else isinstance(value, (int, float))
        if not ok or isinstance(value, bool) or not math.isfinite(value):
            return f"must be {kind}"
        too_low = value <= self.low if self.open_low else value < self.low
        too_high = self.high is not None and (value >= self.high if self.open_high else value > self.high)
        if too_low or too_high:
            low = f"> {self.low:g}" if self.open_low else f">= {self.low:g}"
            high = f" and {'<' if self.open_high else '<='} {self.high:g}" if self.high is not None else ""
            return f"must be {kind} {low}{high}"
        return None


@dataclass(frozen=True)
class OneOf:
    choices: tuple

    def problem(self, value: Any) -> str | None:
        return None if value in self.choices else f"must be one of {', '.join(map(str, self.choices))}"


@dataclass(frozen=True)
class Numbers:
    """One :class:`Number` or a list of them (one per ``per``: gradual step, learning-rate phase); null allowed when
    ``optional``."""

    each: Number
    per: str = "gradual step"
    optional: bool = False

    def problem(self, value: Any) -> str | None:
        if self.optional and value is None:
            return None
        values = as_list(value)
        if not values or any(self.each.problem(v) for v in values):
            return f"must be integers >= {self.each.low:g} (one, or one per {self.per})"
        return None


@dataclass(frozen=True)
class StepCounts:
    """A list of step counts, each a nonzero integer: positive from a fit's start, negative back from its end."""

    def problem(self, value: Any) -> str | None:
        if value is None:
            return None
        values = as_list(value)
        if not values or any(Number(-math.inf).problem(v) or v == 0 for v in values):
            return "must be nonzero integers (from the start of each fit; negative: back from its end)"
        return None


@dataclass(frozen=True)
class PerScale:
    """One :class:`Number` for every SR factor, or a mapping ``x<factor>: number`` (e.g. ``{x2: 1.58, x4: 0.9}``)."""

    each: Number

    def problem(self, value: Any) -> str | None:
        if not isinstance(value, (DictConfig, dict)):
            return self.each.problem(value)
        if not value:
            return "must not be an empty mapping"
        for key, one in value.items():
            if factor_key(key) is None:
                return f"keys must name SR factors like x2 or x4 (got {key!r})"
            problem = self.each.problem(one)
            if problem:
                return f"{problem} at {key}"
        return None


def require(key: str, value: Any, rule: Any) -> Any:
    """``value`` if ``rule`` (:class:`Number`, :class:`OneOf`, :class:`PerScale`, ...) allows it; else one
    :class:`ZSSRError` line naming ``key``. For the constructors that declare a role's settings."""
    problem = rule.problem(value)
    if problem:
        raise ZSSRError(f"{key} {problem}, got {value!r}")
    return value


def factor_key(key: Any) -> float | None:
    """``'x2'`` -> 2.0; None if ``key`` does not name an SR factor > 1."""
    try:
        factor = float(str(key)[1:]) if str(key).startswith("x") else None
    except ValueError:
        return None
    return factor if factor is not None and math.isfinite(factor) and factor > 1 else None


def for_factor(value: Any, scale: tuple[float, float]) -> Any:
    """The entry of a :class:`PerScale` setting for an SR factor: the one for the largest factor at or below the run's
    (the smallest listed when all are above it); a plain value applies to every factor."""
    if not isinstance(value, (DictConfig, dict)):
        return value
    entries = sorted(((factor_key(k), v) for k, v in value.items()), key=lambda e: e[0])
    at_or_below = [v for f, v in entries if f <= max(scale) + 1e-9]
    return at_or_below[-1] if at_or_below else entries[0][1]


PRECISIONS = ("auto", "bf16", "fp16", "fp32", "32", "32-true", "bf16-mixed", "16-mixed")
AUTO_OR_BOOL = OneOf(("auto", True, False))

# key -> rule (an estimator's settings are its class's: zssr.estimators)
RULES: dict[str, Any] = {
    "precision": OneOf(PRECISIONS),
    "gradual_levels": Number(0),
    "gradual.increment": Number(0.1, integer=False),
    "gradual.first_steps": Number(1),
    "gradual.next_steps": Number(1),
    "trainer.max_steps": PerScale(Number(1)),
    "callbacks.lr_policy.tail_steps": Number(1, optional=True),
    "callbacks.lr_policy.tail_min_steps": Number(0),
    "callbacks.weight_averaging.decay": Number(0, 1, integer=False, open_low=True, open_high=True),
    "callbacks.plateau_stop.min_delta": Number(0, integer=False),
    "callbacks.plateau_stop.patience": Number(1),
    "callbacks.plateau_stop.min_steps": Number(0),
    "callbacks.plateau_stop.min_gain": Number(0, integer=False),
    "model.optimizer.lr": Number(0, integer=False, open_low=True),
    "max_input_pixels": Number(1),
    "max_output_pixels": Number(1),
    "model.channels_last": AUTO_OR_BOOL,
    "data.crop_size": Number(8),
    "data.batch_size": Number(1),
    "data.crop_schedule": Numbers(Number(8), per="learning-rate phase", optional=True),
    "callbacks.crop_schedule.steps": StepCounts(),
    "data.noise_std": Number(0, integer=False),
    "data.test_max_side": Number(16, optional=True),
    "data.min_scale": Number(0, 1, integer=False, open_low=True),
    "data.rotations": AUTO_OR_BOOL,
    "data.flips": AUTO_OR_BOOL,
    "data.n_copies": Number(0),
    "data.father_rule": OneOf(("size", "zssr2018")),
    "data.input_share": Number(0, 1, integer=False, optional=True),
    "data.augment": OneOf(("dihedral", "affine")),
    "data.crop_draw": OneOf(("uniform", "detail")),
    "data.uniform_share": Number(0, 1, integer=False),
    "data.affine.as_is": Number(0, 1, integer=False),
    "data.affine.no_interp": Number(0, 1, integer=False),
    "data.affine.scale_diff_sigma": Number(0, integer=False),
    "data.affine.shear_sigma": Number(0, integer=False),
    "data.affine.border": OneOf(("reflection", "zeros")),
    "inference.tile": Number(16),
    "inference.region": Number(32, optional=True),
    "inference.back_projection_iters": Numbers(Number(0)),
    "inference.batch_variants": AUTO_OR_BOOL,
    "inference.rotations": AUTO_OR_BOOL,
    "inference.flips": AUTO_OR_BOOL,
    "inference.channels_last": AUTO_OR_BOOL,
    "kernel_guess.son_noise_std": Number(0, integer=False),
    "kernel_guess.back_projection_iters": Number(0, optional=True),
    "kernel_guess.trust_fit": OneOf((True, False)),
}


def check_settings(cfg: DictConfig) -> None:
    """Reject a value outside :data:`RULES` in one line, naming the key."""
    for key, rule in RULES.items():
        value = OmegaConf.select(cfg, key, default=None)
        if value is None and OmegaConf.select(cfg, key.rsplit(".", 1)[0], default=None) is None:
            continue  # the whole node is off (callbacks.lr_policy: null under recipe=efficient)
        require(key, value, rule)
    mix = OmegaConf.select(cfg, "data.affine", default=None)
    if OmegaConf.select(cfg, "data.augment", default=None) == "affine" and mix and mix.as_is + mix.no_interp > 1:
        raise ZSSRError(f"data.affine.as_is + data.affine.no_interp must be <= 1, got {mix.as_is + mix.no_interp:g}")
    if (OmegaConf.select(cfg, "data.augment", default=None) == "affine"
            and OmegaConf.select(cfg, "data.crop_draw", default="uniform") != "uniform"):
        raise ZSSRError("data.crop_draw applies to data.augment=dihedral "
                        "(the affine mix places its warped crops itself)")
    if (OmegaConf.select(cfg, "data.input_share", default=None) is not None
            and OmegaConf.select(cfg, "data.father_rule", default=None) == "zssr2018"):
        raise ZSSRError("data.input_share applies to data.father_rule=size, got data.father_rule=zssr2018")
    if (OmegaConf.select(cfg, "data.crop_schedule", default=None) is not None
            and OmegaConf.select(cfg, "callbacks.crop_schedule", default=None) is None):
        raise ZSSRError("data.crop_schedule follows the learning rate's phases, but callbacks.crop_schedule is off "
                        "(recipe=average has no phases: phases by step are "
                        "'+callbacks.crop_schedule={_target_:zssr.method.callbacks.CropSchedule,steps:[300]}')")


def as_list(value: Any) -> list:
    """A setting given once or as a list -> a list."""
    return list(value) if isinstance(value, (ListConfig, list, tuple)) else [value]


def parse_scale(value: Any) -> tuple[float, float]:
    """``2``, ``2.5``, ``[2, 3]`` -> ``(sh, sw)``; every factor >= 1 and at least one > 1."""
    values = as_list(value)
    try:
        factors = [float(v) for v in values]
    except (TypeError, ValueError):
        raise ZSSRError(f"scale must be a number or a pair [sh, sw], got {value!r}") from None
    if len(factors) == 1:
        factors = factors * 2
    if len(factors) != 2 or not all(math.isfinite(f) and f >= 1 for f in factors) or max(factors) <= 1:
        raise ZSSRError(f"scale must be >= 1 per axis and > 1 on at least one, got {value!r}")
    return factors[0], factors[1]


def per_step(value: Any, n: int, cast: Callable[[Any], Any] = int) -> list:
    """A setting given once or once per gradual step -> one value per step (a short list repeats its last value)."""
    values = as_list(value)
    return [cast(values[min(i, len(values) - 1)]) for i in range(n)]
