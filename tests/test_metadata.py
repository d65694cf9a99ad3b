"""One version everywhere: lindiff.__version__ (which pyproject.toml reads), CITATION.cff, CHANGELOG.md."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import lindiff

tomllib = pytest.importorskip("tomllib", reason="tomllib is in the standard library from Python 3.11")
ROOT = Path(__file__).resolve().parents[1]


def test_the_version_is_one_and_the_same_everywhere():
    version = lindiff.__version__
    assert re.fullmatch(r"\d+\.\d+\.\d+", version)
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "version" in project["dynamic"] and "version" not in project
    citation = (ROOT / "CITATION.cff").read_text()
    assert re.search(rf"^version: {re.escape(version)}$", citation, re.M), "CITATION.cff's version"
    top = re.search(r"^## \[?(\d+\.\d+\.\d+)\]?", (ROOT / "CHANGELOG.md").read_text(), re.M)
    assert top and top.group(1) == version, "the newest entry of CHANGELOG.md"


def test_pyproject_metadata_is_complete():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for key in ("authors", "classifiers", "urls", "license", "requires-python", "description", "readme"):
        assert project.get(key), key
    oldest = re.search(r">=\s*3\.(\d+)", project["requires-python"]).group(1)
    assert f"Programming Language :: Python :: 3.{oldest}" in project["classifiers"]
    assert {"Source", "Issues", "Changelog"} <= set(project["urls"])
