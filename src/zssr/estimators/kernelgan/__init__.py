"""Estimating the downscaling kernel from the LR image alone: an internal GAN after KernelGAN (Bell-Kligler, Shocher &
Irani, "Blind Super-Resolution Kernel Estimation using an Internal-GAN", NeurIPS 2019).

A deep *linear* generator downscales crops of the image by 2; a fully convolutional patch discriminator (7x7 receptive
field) tells its output from real patches of the same image. The downscaling that keeps the image's patch statistics
across scales is the image's own kernel, which is read off the generator. Since the generator is linear with no biases,
it *is* one convolution: :meth:`DeepLinearGenerator.kernel` composes its layers into that kernel (differentiably) and
the forward pass applies it once with stride 2. This is the same function and the same gradients as running the six
layers one after another (a test checks it), and much cheaper.

The losses and schedule follow the paper: L1 GAN loss; the kernel regularisers (sum to one, boundaries, centre of mass,
sparsity); a loss pulling the generator towards bicubic downscaling at the start, decayed once it is met, when the
centre and sparsity terms come in; Adam 2e-4 (beta1 0.5); learning rates /10 every 750 steps. The paper runs 3000
steps; the default here is 1500, since by then the learning rate is 2e-6 and the kernel barely moves afterwards
(``estimator.max_steps=3000`` restores the paper's; docs/lab/kernel_estimation.md).

The result follows this project's kernel convention (:func:`zssr.ops.resize.kernel_downscale`): negligible values
zeroed, then shifted so the centre of mass sits at ``K // 2 + (s - 1) / 2``, the centre of the LR pixel in HR
coordinates (as MATLAB's bicubic places it). x4 comes from the x2 kernel analytically (the x2 kernel applied twice);
other factors stretch the x2 kernel by ``s / 2`` per axis, an approximation that is exact for Gaussian kernels whose
width grows with the factor, as the paper's random kernels do.

Modules: :mod:`.nets` (generator, discriminator), :mod:`.priors` (kernel regularisers), :mod:`.data` (crops),
:mod:`.module` (the GAN and its schedule), :mod:`.estimator` (the estimator: starts, clean-up, the medoid),
:mod:`.flow_prior` (a learned kernel prior, ``estimator=kernelgan_fkp``). What all estimators share (the fallbacks,
the too-wide check, pictures) is in :mod:`zssr.estimators`; the kernel conventions (centre, clean-up, other scales,
error) are :mod:`zssr.ops.kernels`.
"""

from zssr.estimators.kernelgan.data import KernelGANDataModule
from zssr.estimators.kernelgan.estimator import KernelGANEstimator, choose
from zssr.estimators.kernelgan.module import KernelGANModule
from zssr.estimators.kernelgan.nets import DeepLinearGenerator, PatchDiscriminator

__all__ = ["DeepLinearGenerator", "KernelGANDataModule", "KernelGANEstimator", "KernelGANModule", "PatchDiscriminator",
           "choose"]
