"""How ZSSR is set up for the kernel it is given: decided once per run, written into ``result.json``.

=========== ====================================== ============== ================== ====================
mode        the kernel of sons and back-projection  son noise      back-projections   turns / flips (auto)
=========== ====================================== ============== ================== ====================
bicubic     MATLAB bicubic                          data.noise_std inference's         on
given       the ``kernel=`` file                    data.noise_std inference's         if symmetric [3]_
estimated   the estimate                            raised [1]_    capped [2]_         if symmetric [3]_
fitted      the spectrum's anisotropic fit [4]_     data.noise_std inference's         if symmetric [3]_
rejected    bicubic (the estimate was too wide)     raised [1]_    capped [2]_         on
failed      bicubic (no estimate could be made)     raised [1]_    capped [2]_         on
=========== ====================================== ============== ================== ====================

.. [1] to at least ``kernel_guess.son_noise_std``: a guessed kernel can be wrong, and noisy sons keep the net from
   sharpening blur that is not there.
.. [2] to at most ``kernel_guess.back_projection_iters`` in the final step: back-projecting many times through a
   wrong kernel amplifies its error.
.. [3] ``auto`` turns and flips: on where the kernel commutes with them (:func:`zssr.ops.kernels.dihedral_symmetry`: an
   isotropic Gaussian such as ``estimator=spectral``'s width, a defocus disk; mirror images alone for a kernel symmetric
   left-right only), off otherwise (an oriented Gaussian, a motion path), since a turned crop would then make a son
   with another blur than the input's. Explicit true/false settings are kept.
.. [4] ``estimator=spectral``'s ``shape: anisotropic`` estimate, a Gaussian or a motion path, when it passed its
   checks (a fit was possible, and it is not too narrow for the image: ``estimator.min_native``) and
   ``kernel_guess.trust_fit`` is on: close enough to be given as a kernel is (on held-out BSD100 images the given
   kernel's settings gained 0.25 dB over the guess's with Gaussian kernels, 0.43 on two paths); ``trust_fit=false``
   makes it ``estimated``, and so is a defocus disk (:attr:`zssr.estimators.spectral.BlurShape.trusted`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from omegaconf import DictConfig

from zssr.ops.kernels import dihedral_symmetry
from zssr.run.settings import parse_scale

Mode = Literal["bicubic", "given", "estimated", "fitted", "rejected", "failed"]
GUESSED = ("estimated", "rejected", "failed")


@dataclass(frozen=True)
class KernelPlan:
    mode: Mode
    kernel: np.ndarray | None  # None: bicubic
    son_noise_std: float
    back_projection_cap: int | None
    train_rotations: bool
    train_flips: bool
    ensemble_rotations: bool
    ensemble_flips: bool
    reason: str | None = None  # why an estimate was not used

    def cap(self, back_projection_iters: list[int]) -> list[int]:
        """The per-step back-projection counts with the final step capped (gradual steps before it use bicubic)."""
        if self.back_projection_cap is None:
            return list(back_projection_iters)
        return [*back_projection_iters[:-1], min(back_projection_iters[-1], self.back_projection_cap)]

    def to_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, "son_noise_std": self.son_noise_std,
                "back_projection_cap": self.back_projection_cap,
                "train_rotations": self.train_rotations, "train_flips": self.train_flips,
                "ensemble_rotations": self.ensemble_rotations, "ensemble_flips": self.ensemble_flips,
                "reason": self.reason}


def kernel_plan(cfg: DictConfig, mode: Mode, kernel: np.ndarray | None = None, reason: str | None = None) -> KernelPlan:
    """The plan for ``mode`` under the settings ``cfg`` (``data``, ``inference``, ``kernel_guess``)."""
    noise, cap = float(cfg.data.noise_std), None
    if mode in GUESSED:
        noise = max(noise, float(cfg.kernel_guess.son_noise_std))
        cap = cfg.kernel_guess.back_projection_iters
        cap = None if cap is None else int(cap)

    flips, turns = (True, True) if kernel is None else dihedral_symmetry(kernel, parse_scale(cfg.scale))

    def auto(value: Any, symmetric: bool) -> bool:
        return symmetric if value == "auto" else bool(value)

    return KernelPlan(mode, kernel, noise, cap, auto(cfg.data.rotations, turns), auto(cfg.data.flips, flips),
                      auto(cfg.inference.rotations, turns), auto(cfg.inference.flips, flips), reason)
