"""Composing the Hydra configs from Python (tests, benchmarks, notebooks) without the command line."""

from __future__ import annotations

from collections.abc import Sequence
from importlib.resources import files
from pathlib import Path

from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, open_dict

# the configs ship inside the package as zssr.conf (the checkout's top-level conf/), so an installed copy finds them
CONF_DIR = Path(str(files("zssr.conf")))


def compose_config(overrides: Sequence[str] = (), config_name: str = "train",
                   output_dir: str | Path | None = None) -> DictConfig:
    """The config ``python <config_name>.py <overrides>`` would get; ``paths.output_dir`` set to ``output_dir``."""
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(config_name=config_name, overrides=list(overrides))
    if output_dir is not None:
        with open_dict(cfg):
            cfg.paths.output_dir = str(output_dir)
    return cfg


def data_dir() -> Path:
    """Where the benchmark images are: ``paths.data_dir`` (``$ZSSR_DATA_DIR``, else ``data``)."""
    return Path(compose_config().paths.data_dir)
