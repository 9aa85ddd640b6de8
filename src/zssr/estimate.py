"""Only estimate a kernel: ``python -m zssr.estimate input=photo.png scale=2`` (or ``zssr-estimate ...``).

Writes ``<stem>_kernel_estimated.npy`` / ``.mat`` (variable ``Kernel``, ready for ``train.py kernel=...``), a picture
of it (beside the true kernel when given) and ``result.json`` to the run dir. An estimate rejected as too wide for
the image (``estimator.sharpness_limit``) is written as ``<stem>_kernel_rejected`` instead. Any ``estimator.*``
setting can be overridden, e.g. ``estimator.max_steps=1500``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from omegaconf import DictConfig

from zssr.run.estimation import estimate_for_run
from zssr.run.job import read_inputs
from zssr.run.results import finite, write_json
from zssr.run.tracking import run_loggers


def estimate(cfg: DictConfig) -> dict[str, Any]:
    inputs = read_inputs(cfg)
    with run_loggers(cfg) as loggers:
        _, _, record = estimate_for_run(cfg, inputs.estimator, inputs.image, inputs.scale, inputs.out_dir,
                                        inputs.true_kernel, loggers)
        result = finite({"input": str(cfg.input), "scale": list(inputs.scale), "estimator": str(cfg.estimator.name),
                         **dataclasses.asdict(record)})
        write_json(inputs.out_dir / "result.json", result)
    if result["kernel_file"]:
        print(result["kernel_file"])
    elif result["rejected_kernel_file"]:
        print(f"rejected: {result['fallback']}; the estimate is in {result['rejected_kernel_file']}")
    else:
        print(f"no kernel: {result['fallback']}")
    return result


if __name__ == "__main__":
    from zssr.cli import estimate_main

    estimate_main()
