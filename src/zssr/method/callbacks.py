"""Small Lightning callbacks used by the default config (the LR policy lives in :mod:`zssr.method.lr_policy`)."""

from __future__ import annotations

import math

import pytorch_lightning as pl
from pytorch_lightning.callbacks import EarlyStopping, TQDMProgressBar


class TrainingProgressBar(TQDMProgressBar):
    """Lightning's tqdm bar for training only: the reconstruction test every 50 steps would print a bar each time."""

    def init_validation_tqdm(self):
        bar = super().init_validation_tqdm()
        bar.disable = True
        return bar


class CropSchedule(pl.Callback):
    """Tells the datamodule which phase training is in, so it can change its crop size (``data.crop_schedule``): the
    number of times the learning rate has been cut by ``factor`` since the start of this training run, or, with
    ``steps``, the number of those step counts this fit (a gradual step) has reached (for recipes without cuts). A
    negative count is counted back from the fit's last step: ``steps=[-150]`` gives the second crop size to the last
    150 steps, whatever ``trainer.max_steps`` is (a fit stopped early never reaches them)."""

    def __init__(self, factor: float = 0.1, steps: list[int] | None = None) -> None:
        super().__init__()
        self.factor = factor
        self.steps = [int(s) for s in steps] if steps is not None else None
        self.start_lr: float | None = None
        self.offset = 0
        self.bounds: list[int] = []

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.start_lr = trainer.optimizers[0].param_groups[0]["lr"]
        self.offset = trainer.global_step
        if self.steps is not None:
            length = trainer.fit_loop.epoch_loop.max_steps - self.offset
            self.bounds = [s if s > 0 else max(0, length + s) for s in self.steps]
            if getattr(trainer.datamodule, "enter_phase", None):
                trainer.datamodule.enter_phase(self.phase(0))

    def phase(self, step: int) -> int:
        """The phase of this fit's ``step`` (counted from its start) under ``steps``."""
        return sum(step >= bound for bound in self.bounds)

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs, batch, batch_idx) -> None:
        enter_phase = getattr(trainer.datamodule, "enter_phase", None)
        if enter_phase is None or not self.start_lr:
            return
        if self.steps is not None:
            enter_phase(self.phase(trainer.global_step - self.offset))
            return
        lr = trainer.optimizers[0].param_groups[0]["lr"]
        enter_phase(max(0, round(math.log(lr / self.start_lr) / math.log(self.factor))))


class PlateauStop(EarlyStopping):
    """Stop training once the reconstruction test has stopped improving: Lightning's :class:`EarlyStopping` on the
    reconstruction PSNR (``val/rec_psnr``, higher is better), stopping after ``patience`` tests in a row without a gain
    of more than ``min_delta`` dB over the best so far. Tests before step ``min_steps`` of a fit are not counted (the
    first hundreds of steps, where a weight average still lags its start), nor tests where the net is less than
    ``min_gain`` dB above what no residual at all gives (``reference``, the bicubic level): a net that has not begun
    to learn is flat too, and would be stopped with a bicubic result. Each fit (a gradual step) starts afresh."""

    def __init__(self, monitor: str = "val/rec_psnr", min_delta: float = 0.3, patience: int = 4,
                 min_steps: int = 400, min_gain: float = 0.1, reference: str = "val/rec_psnr_bicubic") -> None:
        super().__init__(monitor=monitor, mode="max", min_delta=min_delta, patience=patience, strict=True)
        self.min_steps, self.min_gain, self.reference = min_steps, min_gain, reference
        self.offset = 0

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.wait_count, self.best_score = 0, self.best_score.new_tensor(-math.inf)
        self.offset = trainer.global_step

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.global_step - self.offset < self.min_steps:
            return
        metrics = trainer.callback_metrics
        if self.reference in metrics and float(metrics[self.monitor] - metrics[self.reference]) < self.min_gain:
            return
        super().on_validation_end(trainer, pl_module)
