"""Fixtures of the browser checks: one playwright driver for the whole session (the sync API allows
one at a time), skipped with the reason when playwright or Chromium is missing."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from browser_checks import missing_browser, skip_or_fail  # noqa: E402


@pytest.fixture(scope="session")
def playwright():
    why = missing_browser()
    if why:
        skip_or_fail(why)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        yield p
