"""Progress bars for long loops, silenced with ``LINDIFF_PROGRESS=0``, tqdm's own ``TQDM_DISABLE=1``
or, in one thread, :func:`quiet`."""

from __future__ import annotations

import contextlib
import contextvars
import os

try:
    from tqdm.auto import tqdm
except ImportError:  # a bare machine (e.g. a GPU box running scripts/): loops run without a bar
    tqdm = None

_OFF = {"0", "false", "no", "off"}
_ON = {"1", "true", "yes", "on"}
_QUIET = contextvars.ContextVar("lindiff_quiet", default=False)


def progress_enabled() -> bool:
    """False inside :func:`quiet`, when ``LINDIFF_PROGRESS`` is 0/false/no/off, or when
    ``TQDM_DISABLE`` is 1/true/yes/on."""
    if _QUIET.get() or os.environ.get("LINDIFF_PROGRESS", "1").strip().lower() in _OFF:
        return False
    return os.environ.get("TQDM_DISABLE", "").strip().lower() not in _ON


@contextlib.contextmanager
def quiet():
    """No progress bars inside this block, in this thread only (other threads keep theirs).

    The explorers draw inside it: a progress bar is a widget of its own, and one shown from a
    widget callback leaves "Error displaying widget: model not found" in the notebook.
    """
    token = _QUIET.set(True)
    try:
        yield
    finally:
        _QUIET.reset(token)


def progress(iterable, **kwargs):
    """``tqdm.auto.tqdm(iterable, **kwargs)``, disabled when progress bars are switched off.

    Without tqdm installed, returns ``iterable`` unchanged.
    """
    if tqdm is None:
        return iterable
    kwargs.setdefault("disable", not progress_enabled())
    kwargs.setdefault("leave", False)
    return tqdm(iterable, **kwargs)
