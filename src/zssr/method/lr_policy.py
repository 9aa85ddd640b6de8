"""The self-supervised learning-rate policy of ZSSR, as a Lightning Callback.

Every validation run (every ``test_every`` training steps, set on the Trainer) measures the reconstruction error
``MSE(I, net(up(down(I))))``. Every ``check_every`` steps, once at least ``min_steps_between`` steps have passed since
the last change, a least-squares line is fitted through the last ``n_points`` errors; when the line's fall is not
significant (``-ratio * slope < std of the slope``) the learning rate is multiplied by ``factor``. Training stops once
the learning rate drops below ``min_lr`` (1e-3 -> 1e-4 -> 1e-5 -> 1e-6 with the defaults). With ``tail_steps``,
training instead stops that many steps after the first cut, with no further fits: one adaptive phase, one fixed tail,
which lasts at least until step ``tail_min_steps`` (an early first cut leaves the net short of training).
"""

from __future__ import annotations

import numpy as np
import pytorch_lightning as pl


def slope_is_flat(steps: list[float], errors: list[float], ratio: float) -> bool:
    """True when the fitted slope of ``errors`` over ``steps`` is not clearly negative: ``-ratio*slope < std``."""
    x, y = np.asarray(steps, float), np.asarray(errors, float)
    (slope, _), cov = np.polyfit(x - x.mean(), y, 1, cov=True)
    std = float(np.sqrt(max(cov[0, 0], 0.0)))
    rounding = 1e-12 * np.abs(y).max() / max(np.ptp(x), 1.0)  # an exactly flat curve counts as flat
    return -ratio * slope <= std + rounding


class LinearFitLRPolicy(pl.Callback):
    """Divide the learning rate when the reconstruction error stops falling; stop when it is tiny.

    The error is read from ``trainer.callback_metrics[monitor]`` after each validation run. The decision itself is
    :meth:`update`, a plain method, so the policy can be driven and tested without a Trainer.
    """

    def __init__(self, monitor: str = "val/rec_mse", check_every: int = 60, n_points: int = 5, ratio: float = 1.5,
                 factor: float = 0.1, min_lr: float = 9e-6, min_steps_between: int = 256,
                 tail_steps: int | None = None, tail_min_steps: int = 0) -> None:
        super().__init__()
        self.monitor = monitor
        self.check_every = check_every
        self.n_points = n_points
        self.ratio = ratio
        self.factor = factor
        self.min_lr = min_lr
        self.min_steps_between = min_steps_between
        self.tail_steps = tail_steps
        self.tail_min_steps = tail_min_steps
        self.reset()

    def reset(self) -> None:
        self.steps: list[int] = []
        self.errors: list[float] = []
        self.last_change = 0
        self.history: list[tuple[int, float]] = []  # (step, new lr)
        self.tail_done = False

    # -- the policy, independent of Lightning --------------------------------------------------------------------
    def record(self, step: int, error: float) -> None:
        self.steps.append(step)
        self.errors.append(float(error))

    def update(self, step: int, lr: float) -> float:
        """The learning rate to use from ``step`` on (``lr`` unchanged unless the policy fires)."""
        if self.tail_steps is not None and self.history:
            self.tail_done = step >= max(self.history[0][0] + self.tail_steps, self.tail_min_steps)
            return lr
        if step % self.check_every or step - self.last_change <= self.min_steps_between:
            return lr
        if len(self.steps) < self.n_points:
            return lr
        if slope_is_flat(self.steps[-self.n_points:], self.errors[-self.n_points:], self.ratio):
            self.last_change = step
            lr = lr * self.factor
            self.history.append((step, lr))
        return lr

    def finished(self, lr: float) -> bool:
        return lr < self.min_lr or self.tail_done

    # -- Lightning hooks ----------------------------------------------------------------------------------------
    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.reset()
        self.offset = trainer.global_step  # several fits on one Trainer (gradual SR) each start from their own zero

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking or self.monitor not in trainer.callback_metrics:
            return
        self.record(trainer.global_step - self.offset, float(trainer.callback_metrics[self.monitor]))
        self._apply(trainer)

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs, batch, batch_idx) -> None:
        interval = trainer.val_check_batch if isinstance(trainer.val_check_batch, int) else 0
        if interval and trainer.global_step % interval == 0 and trainer.enable_validation:
            return  # a test follows this step: decide after it (as the 2018 code: test, then policy)
        self._apply(trainer)

    def _apply(self, trainer: pl.Trainer) -> None:
        optimizer = trainer.optimizers[0]
        lr = optimizer.param_groups[0]["lr"]
        new_lr = self.update(trainer.global_step - self.offset, lr)
        if new_lr != lr:
            for group in optimizer.param_groups:
                group["lr"] = new_lr
        if self.finished(new_lr):
            trainer.should_stop = True

    def state_dict(self) -> dict:
        return {"steps": self.steps, "errors": self.errors, "last_change": self.last_change, "history": self.history,
                "tail_done": self.tail_done}

    def load_state_dict(self, state_dict: dict) -> None:
        self.__dict__.update(state_dict)
