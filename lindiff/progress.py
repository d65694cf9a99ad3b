"""Progress bars for long loops, silenced with ``LINDIFF_PROGRESS=0`` or tqdm's own ``TQDM_DISABLE=1``."""
from __future__ import annotations

import os

try:
    from tqdm.auto import tqdm
except ImportError:  # a bare machine (e.g. a GPU box running scripts/): loops run without a bar
    tqdm = None

_OFF = {"0", "false", "no", "off"}
_ON = {"1", "true", "yes", "on"}


def progress_enabled() -> bool:
    """False when ``LINDIFF_PROGRESS`` is 0/false/no/off or ``TQDM_DISABLE`` is 1/true/yes/on."""
    if os.environ.get("LINDIFF_PROGRESS", "1").strip().lower() in _OFF:
        return False
    return os.environ.get("TQDM_DISABLE", "").strip().lower() not in _ON


def progress(iterable, **kwargs):
    """``tqdm.auto.tqdm(iterable, **kwargs)``, disabled when progress bars are switched off.

    Without tqdm installed, returns ``iterable`` unchanged.
    """
    if tqdm is None:
        return iterable
    kwargs.setdefault("disable", not progress_enabled())
    kwargs.setdefault("leave", False)
    return tqdm(iterable, **kwargs)
