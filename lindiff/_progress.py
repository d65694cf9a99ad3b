"""Progress bars for long loops, silenced with ``LINDIFF_PROGRESS=0``."""
from __future__ import annotations

import os

try:
    from tqdm.auto import tqdm
except ImportError:  # a bare machine (e.g. a GPU box running scripts/): loops run without a bar
    tqdm = None


def progress_enabled() -> bool:
    """False when the environment variable ``LINDIFF_PROGRESS`` is ``0``, ``false`` or ``no``."""
    return os.environ.get("LINDIFF_PROGRESS", "1").strip().lower() not in {"0", "false", "no", "off"}


def progress(iterable, **kwargs):
    """``tqdm.auto.tqdm(iterable, **kwargs)``, disabled when progress bars are switched off.

    Without tqdm installed, returns ``iterable`` unchanged.
    """
    if tqdm is None:
        return iterable
    kwargs.setdefault("disable", not progress_enabled())
    kwargs.setdefault("leave", False)
    return tqdm(iterable, **kwargs)
