"""The LightningModule: trains the ZSSR network on father/son crops and measures the reconstruction error."""

from __future__ import annotations

from collections.abc import Callable

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch import nn

from zssr.errors import Diverged
from zssr.method.inference import forward_tiled
from zssr.ops.compute import choose_compute
from zssr.ops.metrics import psnr

DEAD_CHECK_EVERY = 10  # steps between checks that the net still has a residual (each check waits for the device)
DEAD_CHECKS = 10  # checks in a row without a residual that mean the net is dead (a live net can lack one for 2-3)
DEAD_RESIDUAL = 1e-6  # a residual no larger anywhere on a crop moves no pixel by even 1/4000 of an 8-bit level


class ZSSRModule(pl.LightningModule):
    """L1 training on ``batch["input"] -> batch["target"]``; validation = reconstruction MSE of the whole image.

    ``net``: the network (``(N, 3, H, W)`` in [0, 1] -> same); ``optimizer``: a partial taking the parameters
    (Adam 1e-3 by default); ``channels_last``: run convolutions in NHWC (true), NCHW (false), or ``auto``: whichever
    :func:`zssr.ops.compute.choose_compute` says is fast for the Trainer's precision on this machine.
    """

    def __init__(self, net: nn.Module, optimizer: Callable[..., torch.optim.Optimizer],
                 channels_last: bool | str = "auto", gt_every_n_steps: int = 500) -> None:
        super().__init__()
        self.save_hyperparameters(logger=False, ignore=["net"])
        self.net = net
        self.optimizer_factory = optimizer
        self.channels_last = channels_last
        self.gt_every_n_steps = gt_every_n_steps
        self.gt_probe: tuple[torch.Tensor, torch.Tensor, int, bool] | None = None  # (bicubic input, gt, shave, gray)
        self.train_pixels = 0  # crop pixels trained on so far: the training FLOPs are ~3 x net FLOPs per pixel x this
        self.dead_at: int | None = None  # the step at which the net was found dead (see training_step)
        self.zero_checks = 0  # checks in a row that found no residual

    def set_gt_probe(self, upsampled: torch.Tensor | None, gt: torch.Tensor | None, shave: int = 0,
                     gray: bool = False) -> None:
        """Also report PSNR against a ground truth (one plain forward pass, no ensemble) every few validations;
        ``gray``: measure a grayscale image on its own channel, as the final metrics do."""
        self.gt_probe = None if gt is None else (upsampled, gt, shave, gray)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.contiguous(memory_format=self.memory_format))

    @property
    def memory_format(self) -> torch.memory_format:
        return torch.channels_last if self.channels_last is True else torch.contiguous_format

    def on_fit_start(self) -> None:
        self.dead_at, self.zero_checks = None, 0
        if self.channels_last == "auto":
            self.channels_last = choose_compute(str(self.trainer.precision), "auto", self.device.type).channels_last
        self.net.to(memory_format=self.memory_format)

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        self.train_pixels += batch["input"].shape[0] * batch["input"].shape[-2] * batch["input"].shape[-1]
        out = self(batch["input"]).float()
        if self.global_step % DEAD_CHECK_EVERY == 0 and batch["input"].any():
            self.check_alive(float((out.detach() - batch["input"]).abs().max()) < DEAD_RESIDUAL)
        loss = F.l1_loss(out, batch["target"])
        # logged every step but only written every `log_every_n_steps`; detach keeps it cheap
        self.log("train/loss", loss.detach(), on_step=True, on_epoch=False, prog_bar=True, batch_size=1)
        return loss

    def check_alive(self, no_residual: bool) -> None:
        """A net with no residual (none above :data:`DEAD_RESIDUAL`) on a crop that is not black, :data:`DEAD_CHECKS`
        checks in a row, is dead: in some layer (almost) every ReLU is off everywhere, so (almost) no gradient reaches
        the layers before it, and with no biases nothing revives it (a large early step can do this). Its result
        would be bicubic dressed as ZSSR: stop the fit and say so in ``dead_at`` (the pipeline starts again from
        fresh weights)."""
        self.zero_checks = self.zero_checks + 1 if no_residual else 0
        if self.zero_checks >= DEAD_CHECKS:
            self.dead_at, self.zero_checks = self.global_step, 0
            self.trainer.should_stop = True

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        rec = self(batch["input"]).float().clamp(0, 1)
        mse = F.mse_loss(rec, batch["target"])
        if not torch.isfinite(mse):  # NaN weights never recover: stop now, not after the remaining steps
            raise Diverged(f"training diverged at step {self.global_step} (reconstruction error {mse.item()}) with "
                           f"learning rate {self.trainer.optimizers[0].param_groups[0]['lr']:g}; lower "
                           f"model.optimizer.lr")
        self.log("val/rec_mse", mse, prog_bar=True, batch_size=1)
        self.log("val/rec_psnr", -10 * torch.log10(mse.clamp_min(1e-12)), batch_size=1)  # callbacks.plateau_stop's
        bicubic = F.mse_loss(batch["input"].float().clamp(0, 1), batch["target"])  # what no residual at all gives
        self.log("val/rec_psnr_bicubic", -10 * torch.log10(bicubic.clamp_min(1e-12)), batch_size=1)

    def on_validation_epoch_start(self) -> None:
        # at the start, not the end: a weight-averaging callback has swapped its average in by now (and swaps it back
        # out at the end), so the probe sees the weights the reconstruction test sees
        if self.gt_probe is None or self.trainer.sanity_checking or self.global_step % self.gt_every_n_steps:
            return
        upsampled, gt, shave, gray = self.gt_probe
        out = forward_tiled(self, upsampled[None].to(self.device), margin=self.net.receptive_radius)[0].cpu()
        channels = slice(0, 1) if gray else slice(None)
        self.log("val/psnr_gt", psnr(out[channels].clamp(0, 1), gt[channels], shave), batch_size=1)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return self.optimizer_factory(params=self.net.parameters())
