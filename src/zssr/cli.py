"""The Hydra boundary: run a task, turn user errors into one line and a non-zero exit, always close W&B.

The console scripts ``zssr-train``, ``zssr-evaluate`` and ``zssr-estimate`` are the mains here; the checkout's
``train.py`` and ``evaluate.py`` are the same mains with the checkout's ``conf/``.
"""

from __future__ import annotations

import importlib
import logging
import os
import re
import sys
import warnings
from typing import Any

import hydra
from hydra.errors import HydraException, InstantiationException, OverrideParseException
from omegaconf import DictConfig
from omegaconf.errors import OmegaConfBaseException

from zssr.errors import ZSSRError
from zssr.run.signals import Interrupted, interruptible

PACKAGED_CONF = "pkg://zssr.conf"


def quiet_libraries() -> None:
    """Silence chatter that says nothing to a ZSSR user (Lightning's tips about workers and hardware)."""
    for pattern in (".*does not have many workers.*", ".*IterableDataset.*__len__.*", ".*GPU available but not used.*",
                    ".*Total length of `.*` across ranks is zero.*", ".*isinstance\\(treespec, LeafSpec\\).*"):
        warnings.filterwarnings("ignore", message=pattern)
    logging.getLogger("pytorch_lightning.utilities.rank_zero").setLevel(logging.WARNING)
    logging.getLogger("pytorch_lightning.accelerators.cuda").setLevel(logging.WARNING)


def job_threads(requested: Any, cpus: int | None = None, launcher: Any = None) -> int | None:
    """Torch threads for this job: ``threads`` when set; under the joblib launcher with ``n_jobs`` parallel jobs,
    an even share of the cores (so parallel jobs never oversubscribe the CPU, which slows small convolutions many
    times over); otherwise None (torch's default, all cores)."""
    if requested:
        return int(requested)
    if launcher is None:
        try:
            from hydra.core.hydra_config import HydraConfig

            launcher = HydraConfig.get().launcher if HydraConfig.initialized() else None
        except Exception:  # not under Hydra (tests, notebooks)
            launcher = None
    if not launcher or "joblib" not in str(launcher.get("_target_", "")).lower():
        return None
    cpus = cpus or os.cpu_count() or 1
    n_jobs = int(launcher.get("n_jobs") or -1)
    n_jobs = cpus if n_jobs < 0 else n_jobs  # joblib: -1 = one job per core
    return max(1, cpus // max(1, n_jobs))


def apply_threads(cfg: DictConfig) -> int | None:
    """Set torch's thread count to :func:`job_threads` of ``cfg.threads`` (the entry points, and scripts that run
    ``zssr.run.pipeline.train`` on a composed config, such as the benchmarks); returns it, None where torch's default
    stays."""
    threads = job_threads(cfg.get("threads"))
    if threads:
        import torch

        torch.set_num_threads(threads)
        logging.getLogger(__name__).info("torch threads for this job: %d", threads)
    return threads


def config_errors() -> tuple[type[BaseException], ...]:
    """The libraries' exceptions for a config value they refused. Lightning's is only looked up once Lightning is
    loaded: it is loaded lazily, so that bad input is reported before its few seconds of import time."""
    errors: list[type[BaseException]] = [InstantiationException, OmegaConfBaseException]
    fabric = sys.modules.get("lightning_fabric.utilities.exceptions")
    if fabric is not None:
        errors.append(fabric.MisconfigurationException)
    return tuple(errors)


INTERRUPTED = {  # what an interruption leaves, per task
    "zssr.run.pipeline": "training stopped, no result written",
    "zssr.bench.evaluation": "finished images are kept in metrics.csv; rerun the same command with the same "
                       "hydra.run.dir to resume",
    "zssr.estimate": "estimation stopped",
}


def run_task(target: str, cfg: DictConfig) -> dict[str, Any] | None:
    """Run ``target`` (``module:function``, e.g. ``zssr.run.pipeline:train``) on ``cfg`` for an entry point."""
    module_name, function_name = target.split(":")
    quiet_libraries()
    apply_threads(cfg)
    try:
        with interruptible():
            function = getattr(importlib.import_module(module_name), function_name)
            return function(cfg)
    except Interrupted as exc:
        print(f"error: interrupted by {exc.name}: {INTERRUPTED[module_name]}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except ZSSRError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
    except config_errors() as exc:
        # a config value the libraries refused: their message names the key and the problem; keep it on one line
        message = " ".join(line.strip() for line in str(exc).splitlines() if line.strip())
        print(f"error: invalid configuration: {message or exc.__class__.__name__}", file=sys.stderr)
        sys.exit(1)
    finally:
        from zssr.run.tracking import finish_wandb  # torch's import time only once a task runs

        finish_wandb()


def train_task(cfg: DictConfig) -> float | None:
    """train.py: returns the PSNR (when a ground truth is given) for sweepers."""
    result = run_task("zssr.run.pipeline:train", cfg)
    return result.get("psnr") if result else None


def evaluate_task(cfg: DictConfig) -> float | None:
    """evaluate.py: prints the means and where the report is; returns ZSSR's mean PSNR for sweepers."""
    summary = run_task("zssr.bench.evaluation:evaluate", cfg)
    if not summary:
        return None
    out = cfg.paths.output_dir
    means = ", ".join(f"{method} {m['psnr']:.2f} dB / {m['ssim']:.4f}" for method, m in summary["methods"].items()
                      if m.get("psnr") is not None)
    print(f"{summary['dataset']} x{summary['scale']}, {summary['n_images']} image(s), PSNR / SSIM on Y: "
          f"{means or 'no ground truth'}")
    print(f"report: {out}/{summary['files']['report']}")
    for crops in summary["files"]["crops"][:3]:
        print(f"side by side (LR, bicubic, ZSSR, HR): {out}/{crops}")
    return summary["methods"].get("zssr", {}).get("psnr")


def estimate_task(cfg: DictConfig) -> None:
    """python -m zssr.estimate: the kernel's file is printed."""
    run_task("zssr.estimate:estimate", cfg)


# callbacks a recipe may turn off (null), and the recipes that have them
RECIPE_CALLBACKS = {"lr_policy": "recipe=zssr2018 or first_cut",
                    "crop_schedule": "recipe=efficient, zssr2018 or first_cut",
                    "plateau_stop": "recipe=average", "weight_averaging": "recipe=efficient or average"}


def one_line(exc: BaseException) -> str:
    """Hydra's multi-line message on one line, keeping what helps: the problem, the available options, the cause."""
    lines = [line.strip() for line in str(exc).splitlines()]
    lines = [line for line in lines if line and "HYDRA_FULL_ERROR" not in line]
    if "Config search path:" in lines:
        lines = lines[: lines.index("Config search path:")]
    text = " ".join(lines)
    for i, line in enumerate(lines):
        if line.startswith("Available options"):
            text = " ".join(lines[:i + 1]) + " " + ", ".join(lines[i + 1:])
            break
    if isinstance(exc, OverrideParseException):
        text = f"cannot parse the override '{exc.override}': {text}"
        typed = OVERRIDE.match(str(exc.override))
        if typed:  # what quote_values could not quote: show how
            text += f"; to pass a value as plain text, quote it inside the shell's quotes: \"{typed[1]}='{typed[2]}'\""
    # Hydra writing the run dir's .hydra/ and log (a full disk, a quota); a missing config is Hydra's OSError too
    if isinstance(exc, OSError) and not isinstance(exc, HydraException):
        text = f"cannot write {exc.filename or 'the run dir'}: {exc.strerror or exc}"
    cause = exc.__cause__
    if cause is not None and str(cause).strip():
        text += f" ({str(cause).strip().splitlines()[0]})"
    off = re.search(r"Could not override 'callbacks\.(\w+)\.", text)
    if off and off.group(1) in RECIPE_CALLBACKS:
        text += f"; callbacks.{off.group(1)} is off in this recipe ({RECIPE_CALLBACKS[off.group(1)]} has it)"
    return text or exc.__class__.__name__


OVERRIDE = re.compile(r"^([+~]{0,2}[\w.@/-]+)=(.*)$", re.DOTALL)


def quote_values(args: list[str]) -> list[str]:
    """Command-line overrides as typed in a shell, with the values Hydra's grammar cannot read bare (a path with
    letters outside ASCII, brackets, quotes, ``=``) quoted for it: ``input=Fotos/Öl (2).png`` becomes
    ``input='Fotos/Öl (2).png'``. A value that parses already (sweeps ``a,b``, lists, interpolations) is left as
    typed, and so is one whose quoted form would not read back as the same text."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parser = OverridesParser.create()
    out = []
    for arg in args:
        match = OVERRIDE.match(arg)
        if match is None or arg.startswith("-"):
            out.append(arg)
            continue
        try:
            parser.parse_override(arg)
            out.append(arg)
            continue
        except HydraException:
            pass
        key, value = match.groups()
        if value.lstrip()[:1] in ("[", "{", "'", '"') or "${" in value:  # meant as Hydra's grammar: its error stands
            out.append(arg)
            continue
        escaped = re.sub(r"(\\*)$", r"\1\1", value.replace("'", "\\'"))  # a quote, and a trailing backslash
        quoted = f"{key}='{escaped}'"
        try:
            same = parser.parse_override(quoted).value() == value
        except HydraException:
            same = False
        out.append(quoted if same else arg)
    return out


def hydra_entry(task: Any, config_name: str) -> Any:
    """The console script for ``task``: Hydra's main, with Hydra's own errors (an unknown key or option, an override
    that does not parse, a run dir it cannot write) as one ``error:`` line and exit code 1. ``HYDRA_FULL_ERROR=1``
    still gives Hydra's full traceback."""
    main = hydra.main(version_base="1.3", config_path=PACKAGED_CONF, config_name=config_name)(task)

    def entry() -> None:
        sys.argv[1:] = quote_values(sys.argv[1:])
        if os.environ.get("HYDRA_FULL_ERROR") == "1":
            return main()
        os.environ["HYDRA_FULL_ERROR"] = "1"  # Hydra raises instead of printing; we print the one line
        try:
            main()
        except (HydraException, OmegaConfBaseException, OSError) as exc:
            print(f"error: {one_line(exc)}", file=sys.stderr)
            sys.exit(1)
        finally:
            os.environ.pop("HYDRA_FULL_ERROR", None)
        return None

    return entry


train_main = hydra_entry(train_task, "train")
evaluate_main = hydra_entry(evaluate_task, "evaluate")
estimate_main = hydra_entry(estimate_task, "estimate")
