"""What a chapter needs beyond the package, and what of it is missing on this machine.

A chapter declares its needs in its notebook metadata::

    "lindiff": {"needs": {"datasets": ["mnist"], "packages": ["torch"]}}

A chapter whose needs are all met is executed by the book build and tested by nbval. Otherwise the
build shows it from its stored outputs with a notice on its page (``_ext/lindiff_site.py``) and
the tests skip it with the same reason (``book/conftest.py``); with ``LINDIFF_REQUIRE_ALL`` set
(CI sets it) a missing need is an error instead, so CI executes and tests every chapter.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import nbformat

from .. import data

_HOW_TO_INSTALL = {"torch": "install PyTorch (README, 'Troubleshooting': the CPU build is enough)"}


def require_all() -> bool:
    """True when ``LINDIFF_REQUIRE_ALL`` is 1, true, yes or on: nothing may be skipped."""
    return os.environ.get("LINDIFF_REQUIRE_ALL", "").strip().lower() in {"1", "true", "yes", "on"}


def chapter_needs(notebook) -> dict:
    """``{"datasets": [...], "packages": [...]}`` declared by the notebook at path ``notebook``."""
    nb = nbformat.read(Path(notebook), as_version=4)
    needs = nb.metadata.get("lindiff", {}).get("needs", {})
    unknown = set(needs) - {"datasets", "packages"}
    if unknown:
        raise ValueError(
            f"{notebook}: unknown keys {sorted(unknown)} in metadata lindiff.needs; use 'datasets' and 'packages'"
        )
    return {"datasets": list(needs.get("datasets", [])), "packages": list(needs.get("packages", []))}


def missing_needs(notebook) -> list[str]:
    """One line for each need of the chapter that is not met here (empty: it can run).

    A data set counts as present if :func:`lindiff.data.missing` finds it (downloading it first
    where that is allowed); a package if it can be imported.
    """
    needs = chapter_needs(notebook)
    lines = []
    for name in needs["datasets"]:
        why = data.missing(name)
        if why is not None:
            lines.append(f"data set {why}")
    for package in needs["packages"]:
        if importlib.util.find_spec(package) is None:
            how = _HOW_TO_INSTALL.get(package, f"pip install {package}")
            lines.append(f"package {package} is not installed: {how}")
    return lines


# data.missing's answer per (data set, data folder, cache folder, offline switch), for the session
_MISSING_MEMO: dict = {}


def _missing_here(name: str) -> str | None:
    key = (name, *(os.environ.get(v, "") for v in ("LINDIFF_DATA_DIR", "LINDIFF_CACHE_DIR", "LINDIFF_OFFLINE")))
    if key not in _MISSING_MEMO:
        _MISSING_MEMO[key] = data.missing(name)
    return _MISSING_MEMO[key]


def present(names, part: str = "this chapter") -> list[str]:
    """The data sets among ``names`` that can be loaded here, in order; one printed line for each other.

    A chapter calls it where a part needs data sets (``part`` names that part), so that a reader
    without one, e.g. without CelebA on Colab, gets every part whose data are here and, for each
    missing data set, one line saying what is missing and how to get it (the reason of
    :func:`lindiff.data.missing`, which downloads a data set first where it may). The answer is
    remembered per data set for the session, so a failed download is not retried at every part.
    Prints nothing when every data set is here.
    """
    found = []
    for name in names:
        why = _missing_here(name)
        if why is None:
            found.append(name)
        else:
            print(f"Left out of {part}: {why}")
    return found
