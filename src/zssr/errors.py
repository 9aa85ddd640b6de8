"""The one exception type for problems the user can fix (bad input, bad config): shown as one line, exit code 1."""


class ZSSRError(Exception):
    """A user-facing error; its message is the whole story (no traceback is shown for it)."""


class Diverged(ZSSRError):
    """Training went non-finite, or its output is far worse than the input it started from: nothing is written."""
