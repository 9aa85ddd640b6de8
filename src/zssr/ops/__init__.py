"""Image operations and conventions the rest builds on: MATLAB-exact resizing and the kernel down-model
(:mod:`.resize`), kernel files and conventions (:mod:`.kernels`), metrics as the MATLAB scripts compute them
(:mod:`.metrics`), image files (:mod:`.imageio`), and the arithmetic this machine runs fastest (:mod:`.compute`)."""
