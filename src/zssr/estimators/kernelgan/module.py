"""The GAN as a LightningModule: one generator step, then one discriminator step, per iteration."""

from __future__ import annotations

import numpy as np
import pytorch_lightning as pl
import torch
import torch.nn.functional as F

from zssr.estimators.kernelgan.nets import ESTIMATION_SCALE, DeepLinearGenerator, PatchDiscriminator
from zssr.estimators.kernelgan.priors import boundary_mask, kernel_priors


class KernelGANModule(pl.LightningModule):
    """The GAN and its schedule. Manual optimisation: one generator step, then one discriminator step.

    ``prior=True`` draws the kernel from the learned prior (``prior_file``, None: the shipped one) instead of the deep
    linear generator (``estimator=kernelgan_fkp``); the kernel regularisers are then set to zero by its config.
    """

    def __init__(self, structure: tuple[int, ...] = (7, 5, 3, 1, 1, 1), g_channels: int = 64, d_channels: int = 64,
                 d_layers: int = 7, d_kernel_size: int = 7, lr: float = 2e-4, beta1: float = 0.5,
                 lr_decay_every: int = 750, lambda_sum2one: float = 0.5, lambda_boundaries: float = 0.5,
                 lambda_bicubic: float = 5.0, lambda_centralized_end: float = 1.0, lambda_sparse_end: float = 5.0,
                 bicubic_met: float = 0.4, lambda_update_every: int = 200, lambda_bicubic_min: float = 5e-6,
                 prior: bool = False, prior_file: str | None = None) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.automatic_optimization = False
        self.G = DeepLinearGenerator(tuple(structure), g_channels)
        self.D = PatchDiscriminator(d_channels, d_layers, d_kernel_size)
        self.register_buffer("mask", boundary_mask(self.G.kernel_size), persistent=False)
        self.lambdas = {"sum2one": lambda_sum2one, "boundaries": lambda_boundaries, "bicubic": lambda_bicubic,
                        "centralized": 0.0, "sparse": 0.0}
        self._met_count = 0
        self._bicubic_met = False
        if prior:
            self.use_prior(prior_file)

    def use_prior(self, prior_file: str | None) -> None:
        """Draw the kernel from the learned prior (:mod:`.flow_prior`) instead of the deep linear generator."""
        from zssr.estimators.kernelgan.flow_prior import PriorGenerator, load_prior

        self.G = PriorGenerator(load_prior(prior_file))
        self.mask = boundary_mask(self.G.kernel_size).to(self.mask)

    # Lightning counts each optimizer's step, the generator's and the discriminator's: two per GAN iteration
    OPTIMIZER_STEPS_PER_ITERATION = 2

    @classmethod
    def trainer_steps(cls, iterations: int) -> int:
        """The Trainer's ``max_steps`` for ``iterations`` GAN iterations."""
        return cls.OPTIMIZER_STEPS_PER_ITERATION * iterations

    @property
    def iteration(self) -> int:
        """GAN iterations done."""
        return self.global_step // self.OPTIMIZER_STEPS_PER_ITERATION

    def configure_optimizers(self):
        betas = (self.hparams.beta1, 0.999)
        trainable = [p for p in self.G.parameters() if p.requires_grad]  # with a prior, its latent only
        return (torch.optim.Adam(trainable, lr=self.hparams.lr, betas=betas),
                torch.optim.Adam(self.D.parameters(), lr=self.hparams.lr, betas=betas))

    def training_step(self, batch, batch_idx):
        g_in, d_real, target = batch
        opt_g, opt_d = self.optimizers()
        # generator: fool D, keep the kernel plausible
        kernel = self.G.kernel()
        fake = self.G(g_in, kernel)
        loss_gan = (self.D(fake) - 1).abs().mean()
        terms = kernel_priors(kernel, self.mask, ESTIMATION_SCALE)
        terms["bicubic"] = F.mse_loss(fake, target)
        loss_g = loss_gan + sum(self.lambdas[k] * v for k, v in terms.items())
        opt_g.zero_grad(set_to_none=True)
        self.manual_backward(loss_g)
        opt_g.step()
        # discriminator: real patches -> 1, generated (plus a little noise) -> 0
        fake = fake.detach() + torch.randn_like(fake) / 255
        loss_d = 0.5 * ((self.D(d_real) - 1).abs().mean() + self.D(fake).abs().mean())
        opt_d.zero_grad(set_to_none=True)
        self.manual_backward(loss_d)
        opt_d.step()
        self._schedule(float(terms["bicubic"].detach()))
        self.log_dict({"kernelgan/g_gan": loss_gan.detach(), "kernelgan/d": loss_d.detach(),
                       **{f"kernelgan/{k}": v.detach() for k, v in terms.items()},
                       "kernelgan/lambda_bicubic": self.lambdas["bicubic"]}, on_step=True, prog_bar=False)

    def _schedule(self, bicubic_loss: float) -> None:
        """The paper's schedule: learning rates /10 every ``lr_decay_every`` steps; once G is close to bicubic (three
        steps in a row under ``bicubic_met``), decay the bicubic weight /100 every ``lambda_update_every`` steps and,
        when it is small, switch on the centre-of-mass and sparsity priors."""
        hp = self.hparams
        step = self.iteration + 1
        if step % hp.lr_decay_every == 0:
            for opt in self.optimizers():
                for group in opt.param_groups:
                    group["lr"] /= 10
        if not self._bicubic_met:
            self._met_count = self._met_count + 1 if bicubic_loss < hp.bicubic_met else 0
            self._bicubic_met = self._met_count >= 3
        elif step % hp.lambda_update_every == 0 and self.lambdas["bicubic"] > hp.lambda_bicubic_min:
            self.lambdas["bicubic"] = max(self.lambdas["bicubic"] / 100, hp.lambda_bicubic_min)
            if self.lambdas["bicubic"] < 5e-3:
                self.lambdas["centralized"] = hp.lambda_centralized_end
                self.lambdas["sparse"] = hp.lambda_sparse_end

    @torch.no_grad()
    def raw_kernel(self) -> np.ndarray:
        return self.G.kernel().double().cpu().numpy()
