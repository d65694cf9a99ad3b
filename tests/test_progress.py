"""The progress bars obey the usual switches: ``LINDIFF_PROGRESS`` and tqdm's ``TQDM_DISABLE``."""

from __future__ import annotations

import pytest

from lindiff.progress import progress, progress_enabled


@pytest.mark.parametrize(
    ("lindiff_progress", "tqdm_disable", "enabled"),
    [
        (None, None, True),
        ("0", None, False),
        ("off", None, False),
        ("1", None, True),
        (None, "1", False),
        (None, "True", False),
        (None, "0", True),
        ("1", "1", False),
    ],
)
def test_progress_switches(monkeypatch, lindiff_progress, tqdm_disable, enabled):
    for name, value in [("LINDIFF_PROGRESS", lindiff_progress), ("TQDM_DISABLE", tqdm_disable)]:
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    assert progress_enabled() is enabled
    bar = progress(range(3))
    assert bar.disable is (not enabled)  # read before the loop: a finished bar is closed
    assert list(bar) == [0, 1, 2]


def test_a_notebook_bar_takes_its_output_with_it_when_it_closes(monkeypatch):
    # tqdm only closes the widget; a saved notebook would keep a view of a widget that is gone
    pytest.importorskip("ipywidgets")
    IPython_display = pytest.importorskip("IPython.display")
    from tqdm.notebook import tqdm as notebook_tqdm

    import lindiff.progress as lp

    updates = []

    class Handle:
        def update(self, obj, raw=False):
            updates.append((obj, raw))

    monkeypatch.setattr(IPython_display, "display", lambda *args, **kwargs: Handle())
    monkeypatch.setattr(lp, "tqdm", notebook_tqdm)
    monkeypatch.setattr(lp, "_NOTEBOOK_BAR", [])
    monkeypatch.setenv("LINDIFF_PROGRESS", "1")
    monkeypatch.delenv("TQDM_DISABLE", raising=False)
    assert list(lp.progress(range(3))) == [0, 1, 2]
    assert updates == [({"text/plain": ""}, True)]  # the output is replaced once, by nothing
    assert list(lp.progress(range(3), leave=True)) == [0, 1, 2]
    assert len(updates) == 1  # a bar that stays keeps its output
