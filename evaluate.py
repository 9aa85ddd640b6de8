"""Benchmarks: ``python evaluate.py dataset=bsd100 degradation=random_kernel kernel=true`` (see conf/evaluate.yaml)."""

import hydra
from omegaconf import DictConfig

from zssr.cli import run_task


@hydra.main(version_base="1.3", config_path="conf", config_name="evaluate")
def main(cfg: DictConfig) -> float | None:
    summary = run_task("zssr.evaluation:evaluate", cfg)
    return summary["methods"].get("zssr", {}).get("psnr") if summary else None


if __name__ == "__main__":
    main()
