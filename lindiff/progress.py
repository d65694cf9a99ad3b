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

    Without tqdm installed, returns ``iterable`` unchanged. In a notebook, a bar that closes
    (``leave=False``, the default here) takes its output with it: tqdm only closes the widget, and a
    saved notebook would keep a view of a widget that no longer exists ("Error displaying widget:
    model not found" when it is reopened).
    """
    if tqdm is None:
        return iterable
    kwargs.setdefault("disable", not progress_enabled())
    kwargs.setdefault("leave", False)
    bar = _notebook_bar()
    if bar is not None and not kwargs["disable"] and not kwargs.get("delay"):
        return bar(iterable, **kwargs)
    return tqdm(iterable, **kwargs)


_NOTEBOOK_BAR = []


def _notebook_bar():
    """The notebook bar class that removes its output when it closes, or None outside a notebook."""
    if not _NOTEBOOK_BAR:
        try:
            from tqdm.notebook import tqdm as notebook_tqdm
        except ImportError:
            notebook_tqdm = None
        if notebook_tqdm is None or not issubclass(tqdm, notebook_tqdm):
            _NOTEBOOK_BAR.append(None)
        else:
            from IPython.display import display

            class _Bar(tqdm):
                def __init__(self, *args, **kwargs):
                    super().__init__(*args, display=False, **kwargs)
                    self._handle = display(self.container, display_id=True)
                    self.displayed = True

                def close(self):
                    closing = not self.disable and not getattr(self, "_closed_output", False)
                    super().close()
                    if closing and not self.leave and self.container.children[1].bar_style != "danger":
                        self._closed_output = True
                        self._handle.update({"text/plain": ""}, raw=True)

            _NOTEBOOK_BAR.append(_Bar)
    return _NOTEBOOK_BAR[0]
