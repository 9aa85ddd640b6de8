"""An evaluate run dir's identity (``run.json``): what its results are results of, so a resume never mixes two
evaluations.

The identity is every setting that can change a number in ``metrics.csv`` (dataset, degradation, kernel, scale,
methods and the whole recipe), flattened, plus its hash. Settings that only say where or how a job runs (paths,
loggers, threads, progress bars, which shard) are left out, so shards and resumed jobs share one identity.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from zssr.bench.table import MetricsFile
from zssr.errors import ZSSRError
from zssr.run.results import write_json

# where and how a job runs, never what it computes
IGNORED = ("paths.", "hydra.", "logger.", "callbacks.", "threads", "task_name", "dataset.shard", "dataset.download",
           "dataset.root", "dataset.on_bad_image", "max_input_pixels", "max_output_pixels",
           "trainer.enable_progress_bar", "trainer.enable_model_summary",
           "estimator.name")  # the estimator's label: its settings are compared
LABELS = ("dataset", "degradation", "kernel", "scale")  # metrics.csv's label columns


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(flatten(item, f"{prefix}{key}."))
        return out
    return {prefix[:-1]: value}


def identity(cfg: DictConfig) -> dict[str, Any]:
    container = OmegaConf.to_container(cfg, resolve=False)  # interpolations as written: no clock, no env
    settings = {k: v for k, v in flatten(container).items() if not k.startswith(IGNORED)}
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:16]
    return {"config_hash": digest, "settings": settings}


def _differences(old: dict[str, Any], new: dict[str, Any]) -> str:
    keys = sorted(set(old) | set(new), key=lambda k: (k.split(".")[0] not in LABELS + ("methods",), k))
    changed = [f"{k} {old.get(k, '(unset)')!r} -> {new.get(k, '(unset)')!r}" for k in keys if old.get(k) != new.get(k)]
    more = f" and {len(changed) - 4} more" if len(changed) > 4 else ""
    return ", ".join(changed[:4]) + more


def claim(out_dir: Path, cfg: DictConfig, labels: dict[str, Any], table: MetricsFile) -> None:
    """Record this evaluation's identity in ``out_dir/run.json``, or check it against the one there, under the run
    dir's lock (``metrics.csv``'s).

    A dir with a different identity (or, from before ``run.json`` existed, rows with other labels) is refused with
    one line saying how to start a new one.
    """
    path = out_dir / "run.json"
    mine = identity(cfg)
    hint = "resume only with the same settings, or start a new run dir (leave out hydra.run.dir, or give a new one)"
    with table.locked() as rows:
        if path.is_file():
            try:
                theirs = json.loads(path.read_text())
                old = theirs["settings"]
            except (ValueError, KeyError, TypeError):
                raise ZSSRError(f"{path} is not a run record of this project; {hint}") from None
            if theirs.get("config_hash") != mine["config_hash"]:
                raise ZSSRError(f"{out_dir} holds another evaluation ({_differences(old, mine['settings'])}); {hint}")
            return
        other = sorted({tuple(r.get(k) for k in LABELS) for r in rows} - {tuple(labels[k] for k in LABELS)})
        if other:
            raise ZSSRError(f"{out_dir} holds results of another evaluation ({', '.join(map(str, other[0]))}); {hint}")
        write_json(path, {**labels, **mine})
