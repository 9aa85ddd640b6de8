"""ZSSR on one image: ``python train.py input=photo.png scale=2`` (see conf/train.yaml; installed: ``zssr-train``)."""

from zssr.cli import train_main as main

if __name__ == "__main__":
    main()
