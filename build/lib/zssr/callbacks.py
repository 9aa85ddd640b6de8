"""Small Lightning callbacks used by the default config (the LR policy lives in :mod:`zssr.lr_policy`)."""

from __future__ import annotations

from pytorch_lightning.callbacks import TQDMProgressBar


class TrainingProgressBar(TQDMProgressBar):
    """Lightning's tqdm bar for training only: the reconstruction test every 50 steps would print a bar each time."""

    def init_validation_tqdm(self):
        bar = super().init_validation_tqdm()
        bar.disable = True
        return bar
