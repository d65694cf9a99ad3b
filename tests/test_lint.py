"""ruff over the package, the tests and the chapters: lint (``ruff check``) and format (``ruff format --check``).

The rules are in pyproject.toml (``[tool.ruff]``: 120 columns, rules E, F, W, I) and, for the chapters,
book/ruff.toml (100 columns, so that no code line scrolls sideways on the page). To fix what this test
finds: ``.venv/bin/ruff format lindiff tests book && .venv/bin/ruff check --fix lindiff tests book``,
then the rest by hand.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# run from the repository root, so that ruff finds pyproject.toml and book/ruff.toml
PATHS = ["lindiff", "tests", "book"]


@pytest.mark.parametrize(
    "command",
    [["check"], ["format", "--check"]],
    ids=["ruff check", "ruff format --check"],
)
def test_ruff_finds_nothing(command):
    # --no-cache: nothing written into the checkout (.ruff_cache)
    args = [sys.executable, "-m", "ruff", *command, "--no-cache", *PATHS]
    result = subprocess.run(args, cwd=ROOT, capture_output=True, text=True)
    if result.returncode != 0:
        pytest.fail(
            f"`ruff {' '.join(command)}` over {', '.join(PATHS)} found something (exit status "
            f"{result.returncode}):\n{result.stdout}{result.stderr}",
            pytrace=False,
        )
