"""Small Lightning callbacks used by the default config (the LR policy lives in :mod:`zssr.lr_policy`)."""

from __future__ import annotations

import math

import pytorch_lightning as pl
from pytorch_lightning.callbacks import TQDMProgressBar


class TrainingProgressBar(TQDMProgressBar):
    """Lightning's tqdm bar for training only: the reconstruction test every 50 steps would print a bar each time."""

    def init_validation_tqdm(self):
        bar = super().init_validation_tqdm()
        bar.disable = True
        return bar


class CropSchedule(pl.Callback):
    """Tells the datamodule which learning-rate phase training is in, so it can change its crop size
    (``data.crop_schedule``): the phase is the number of times the learning rate has been cut by ``factor`` since the
    start of this training run."""

    def __init__(self, factor: float = 0.1) -> None:
        super().__init__()
        self.factor = factor
        self.start_lr: float | None = None

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.start_lr = trainer.optimizers[0].param_groups[0]["lr"]

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs, batch, batch_idx) -> None:
        enter_phase = getattr(trainer.datamodule, "enter_phase", None)
        if enter_phase is None or not self.start_lr:
            return
        lr = trainer.optimizers[0].param_groups[0]["lr"]
        enter_phase(max(0, round(math.log(lr / self.start_lr) / math.log(self.factor))))
