"""Pictures of kernels."""

from __future__ import annotations

import numpy as np


def kernel_figure(path, estimate: np.ndarray, truth: np.ndarray | None = None, title: str = "") -> None:
    """A picture of the estimated kernel, beside the reference (the true kernel, or another estimate) when given."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [("estimated", estimate)] + ([("reference", truth)] if truth is not None else [])
    side = max(max(k.shape) for _, k in panels)  # one pixel grid and one colour scale for both
    vmax = max(float(k.max()) for _, k in panels)
    fig, axes = plt.subplots(1, len(panels), figsize=(3 * len(panels), 3.2), layout="constrained", squeeze=False)
    for ax, (name, k) in zip(axes[0], panels, strict=True):
        top, left = (side - k.shape[0]) // 2, (side - k.shape[1]) // 2
        canvas = np.pad(k, ((top, side - k.shape[0] - top), (left, side - k.shape[1] - left)))
        ax.imshow(canvas, cmap="viridis", interpolation="nearest", vmin=0, vmax=vmax)
        ax.set_title(f"{name} {k.shape[0]}x{k.shape[1]}", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    if title:
        fig.suptitle(title, fontsize=9)
    fig.savefig(path, dpi=100)
    plt.close(fig)
