"""nbval runs a chapter here only if what it needs is on this machine (``lindiff.book.chapters``).

A chapter whose data set or package is missing is skipped with the reason, which ``pytest -rs``
(scripts/test.sh) lists at the end. With ``LINDIFF_REQUIRE_ALL`` set, as in CI, it fails instead.
"""

from __future__ import annotations

import pytest

from lindiff.book import chapters

_MISSING: dict = {}


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    path = item.path
    if path.suffix != ".ipynb":
        return
    if path not in _MISSING:
        _MISSING[path] = chapters.missing_needs(path)
    if _MISSING[path]:
        reason = f"chapter {path.stem} cannot run here: " + " | ".join(_MISSING[path])
        if chapters.require_all():
            pytest.fail(
                reason + " (LINDIFF_REQUIRE_ALL is set: every chapter must run)", pytrace=False
            )
        pytest.skip(reason)
