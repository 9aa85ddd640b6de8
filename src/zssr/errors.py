"""The one exception type for problems the user can fix (bad input, bad config): shown as one line, exit code 1; and
building a role (dataset, estimator, degradation step) from its config so that its refusals are such lines."""

from __future__ import annotations

from typing import Any


class ZSSRError(Exception):
    """A user-facing error; its message is the whole story (no traceback is shown for it)."""


class Diverged(ZSSRError):
    """Training went non-finite, or its output is far worse than the input it started from: nothing is written."""


def root_cause(exc: BaseException) -> BaseException:
    """The exception at the bottom of ``exc``'s causes: Hydra wraps a constructor's own error in its own."""
    while exc.__cause__ is not None:
        exc = exc.__cause__
    return exc


def innermost(exc: BaseException) -> str:
    """The innermost message of ``exc`` (:func:`root_cause`) on one line."""
    cause = root_cause(exc)
    return " ".join(line.strip() for line in str(cause).splitlines() if line.strip()) or type(cause).__name__


def build_role(cfg: Any, where: str, base: type | None = None, **kwargs: Any) -> Any:
    """Instantiate a role's config node (a dataset, an estimator, a degradation step) by its ``_target_``; anything
    the constructor or Hydra refuses (an unknown class or setting, a bad value) is one :class:`ZSSRError` line that
    says ``where``. With ``base``, the object must be one of those."""
    from hydra.utils import instantiate

    if not hasattr(cfg, "get") or "_target_" not in cfg:
        raise ZSSRError(f"{where} needs a _target_ (its class), got {cfg}")
    try:
        built = instantiate(cfg, **kwargs)
    except Exception as exc:
        if isinstance(root_cause(exc), ZSSRError):  # the constructor's own message names its setting
            raise ZSSRError(str(root_cause(exc))) from None
        raise ZSSRError(f"{where} ({cfg['_target_']}): {innermost(exc)}") from None
    if base is not None and not isinstance(built, base):
        raise ZSSRError(f"{where}: {cfg['_target_']} is not a {base.__module__}.{base.__name__}")
    return built
