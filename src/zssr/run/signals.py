"""Interruptions: a signal ends a task with its own exit code and one line, never as a success.

A scheduler stops a job with SIGTERM (Slurm, Kubernetes, ``timeout``), a user with SIGINT (Ctrl+C); Slurm's
``--signal`` warns with SIGUSR1 or SIGUSR2 before pre-empting. :func:`interruptible` turns each of them into an
:class:`Interrupted` exception (raised wherever the main thread is, Lightning's training loop included), which the
command line reports as ``error: interrupted by SIGTERM ...`` and exit code 128 + the signal's number, as a shell
does. A handler someone else installed first (the submitit launcher's requeue handler), or a signal the process was
started with ignored (SIGINT in a shell's background job), is left as it is.

:func:`deferred` holds a signal back while a result is being committed (the image and its ``result.json``, a row of
``metrics.csv``), so an interruption never leaves half a result: it is raised as soon as the commit is done.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1, signal.SIGUSR2)


class Interrupted(BaseException):
    """A signal asked this process to stop. A BaseException, so no ``except Exception`` on the way swallows it."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


_pending: list[int] = []
_deferring = [0]  # nesting depth of deferred()


def _handler(signum: int, frame: FrameType | None) -> None:
    if _deferring[0]:
        _pending.append(signum)
        return
    raise Interrupted(signum)


def _is_default(handler: object) -> bool:
    return handler in (signal.SIG_DFL, signal.default_int_handler, None)


@contextmanager
def interruptible() -> Iterator[None]:
    """Within the block, the signals in :data:`SIGNALS` raise :class:`Interrupted` (main thread only)."""
    installed = {}
    try:
        for signum in SIGNALS:
            previous = signal.getsignal(signum)
            if _is_default(previous):
                installed[signum] = previous
                signal.signal(signum, _handler)
    except ValueError:  # not the main thread: signals are the main thread's business
        pass
    try:
        yield
    finally:
        for signum, previous in installed.items():
            signal.signal(signum, previous)


@contextmanager
def deferred() -> Iterator[None]:
    """Hold signals back during the block; one that arrived is raised when the block ends."""
    _deferring[0] += 1
    try:
        yield
    finally:
        _deferring[0] -= 1
    if not _deferring[0] and _pending:
        signum = _pending[0]
        _pending.clear()
        raise Interrupted(signum)
