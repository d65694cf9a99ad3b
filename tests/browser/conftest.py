"""Fixtures of the browser checks: one playwright driver for the whole session (the sync API allows
one at a time), skipped with the reason when playwright or Chromium is missing."""

from __future__ import annotations

import json
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


# ---------------------------------------------------------------- axe allowlist entries no page needed
# Summed over every process that checked pages (pytest-xdist workers report through workeroutput),
# and reported as a note when every page was checked, so that scripts/axe-allowlist.json stays exact.
_axe = {"used": {}, "checked": 0, "pages": 0}


def _merge(data: dict):
    for key, n in data["used"].items():
        _axe["used"][key] = _axe["used"].get(key, 0) + n
    _axe["checked"] += data["checked"]
    _axe["pages"] = max(_axe["pages"], data["pages"])


@pytest.fixture(scope="session")
def record_axe_allowlist(request):
    """record_axe_allowlist(checker): count which allowlist entries the checker's pages needed."""

    def record(checker):
        data = {
            "used": {f"{a['rule']} {a['target']}": a["used"] for a in checker.allow},
            "checked": checker.checked,
            "pages": len(checker.pages),
        }
        if hasattr(request.config, "workeroutput"):
            request.config.workeroutput["lindiff_axe"] = json.dumps(data)
        else:
            _merge(data)

    return record


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    data = getattr(node, "workeroutput", {}).get("lindiff_axe")
    if data:
        _merge(json.loads(data))


def pytest_terminal_summary(terminalreporter):
    if _axe["pages"] and _axe["checked"] >= _axe["pages"]:
        for key, n in _axe["used"].items():
            if not n:
                terminalreporter.write_line(f"note: scripts/axe-allowlist.json: {key} matched nothing (remove it?)")
