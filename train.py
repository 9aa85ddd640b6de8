"""ZSSR on one image: ``python train.py input=photo.png scale=2`` (see conf/train.yaml; installed: ``zssr-train``)."""

import hydra

from zssr.cli import train_task

main = hydra.main(version_base="1.3", config_path="conf", config_name="train")(train_task)

if __name__ == "__main__":
    main()
