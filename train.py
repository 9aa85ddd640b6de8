"""ZSSR on one image: ``python train.py input=photo.png scale=2`` (see conf/train.yaml)."""

import hydra
from omegaconf import DictConfig

from zssr.cli import run_task


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
def main(cfg: DictConfig) -> float | None:
    result = run_task("zssr.pipeline:train", cfg)
    return result.get("psnr") if result else None


if __name__ == "__main__":
    main()
