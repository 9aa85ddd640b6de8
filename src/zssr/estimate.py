"""Only estimate a kernel: ``python -m zssr.estimate input=photo.png scale=2 [true_kernel=k.mat]``.

Writes ``<stem>_kernel_estimated.npy`` / ``.mat`` (variable ``Kernel``, ready for ``train.py kernel=...``), a picture
of it (beside the true kernel when given) and ``result.json`` to the run dir. An estimate rejected as too wide for
the image (``estimator.sharpness_limit``) is written as ``<stem>_kernel_rejected`` instead. Any ``estimator.*``
setting can be overridden, e.g. ``estimator.max_steps=1500``.
"""

from __future__ import annotations

import json

import hydra
from omegaconf import DictConfig

from zssr.api import CONF_DIR
from zssr.cli import run_task


def estimate(cfg: DictConfig) -> dict:
    from zssr.pipeline import close_loggers, estimate_for_job, make_loggers, prepare

    job = prepare(cfg)
    loggers = make_loggers(cfg)
    status = "failed"
    try:
        result = {"input": str(cfg.input), "scale": list(job.scale), **estimate_for_job(cfg, job, loggers)}
        (job.out_dir / "result.json").write_text(json.dumps(result, indent=2))
        status = "success"
    finally:
        close_loggers(loggers, status)
    if result.get("kernel_file"):
        print(result["kernel_file"])
    elif result.get("rejected_kernel_file"):
        print(f"rejected: {result['fallback']}; the estimate is in {result['rejected_kernel_file']}")
    else:
        print(f"no kernel: {result['fallback']}")
    return result


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="estimate")
def main(cfg: DictConfig) -> None:
    run_task("zssr.estimate:estimate", cfg)


if __name__ == "__main__":
    main()
