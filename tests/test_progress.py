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
