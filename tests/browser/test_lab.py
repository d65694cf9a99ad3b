"""The explorers in JupyterLab, one test per notebook (checks: lab_checks.check_notebook).

    pytest tests/browser/test_lab.py                         chapters 2, 5 and 6 and tests/lab/explorer_keys.ipynb
    pytest tests/browser/test_lab.py -k explorer_keys        one notebook
    pytest tests/browser/test_lab.py -k broken_notebook      the check fails on a notebook with known defects
    LINDIFF_LAB_NOTEBOOKS="a.ipynb b.ipynb" pytest tests/browser/test_lab.py    others

JupyterLab is the one beside the Python running pytest (the project's .venv); skipped, saying so,
when it or the browser is missing. Each notebook's facts (run-all time, explorers, changes, typed
values, redraw times, frame sliders, errors seen, markdown cells, reopened) and notes are printed
(-s, or -rA). Screenshots go to _build/screenshots-lab/.

test_glue is apart: a number the prose quotes that Lab shows by its name (a ``{glue`` role's text or
name, or an {eval} of ``glued.x`` that jupyterlab-myst shows as code because no result is stored).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from browser_checks import ROOT, skip_or_fail
from lab_checks import LabBrowser, LabServer, check_notebook, lab_missing

pytestmark = pytest.mark.browser

DEFAULT = [ROOT / "book" / f"{n}.ipynb" for n in ("02_linear_model", "05_real_images", "06_early_stopping")]
DEFAULT.append(ROOT / "tests" / "lab" / "explorer_keys.ipynb")


def notebooks() -> list[Path]:
    named = os.environ.get("LINDIFF_LAB_NOTEBOOKS")
    return [Path(p).resolve() for p in named.split()] if named else DEFAULT


NOTEBOOKS = notebooks()


# A notebook with known defects: the check must report each (test_broken_notebook).
BROKEN_NOTEBOOK = {
    "cells": [
        {"cell_type": "markdown", "metadata": {}, "source": "# A broken notebook\n\nA value: {glue:text}`beta:.3f`."},
        {"cell_type": "markdown", "metadata": {}, "source": "Another: {eval}`glued.beta`."},
        {"cell_type": "markdown", "metadata": {}, "source": "As {cite:p}`nobody2025` says; see {eq}`eq-nowhere`."},
        {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [], "source": "1 / 0"},
    ],
    "metadata": {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    },
    "nbformat": 4,
    "nbformat_minor": 5,
}


@pytest.fixture(scope="module")
def lab(playwright, tmp_path_factory):
    why = lab_missing()
    if why:
        skip_or_fail(why)
    missing = [str(nb) for nb in NOTEBOOKS if not nb.is_file()]
    assert not missing, f"notebooks to check in Lab not found (update test_lab.DEFAULT?): {missing}"
    broken = tmp_path_factory.mktemp("lab") / "broken_notebook.ipynb"
    broken.write_text(json.dumps(BROKEN_NOTEBOOK))
    shots = ROOT / "_build" / "screenshots-lab"
    shutil.rmtree(shots, ignore_errors=True)
    shots.mkdir(parents=True)
    with LabServer([*NOTEBOOKS, broken]) as server:
        browser = LabBrowser(playwright, server, shot_dir=shots)
        try:
            yield {"browser": browser, "results": {}}
        finally:
            browser.close()


def result(lab, name: str) -> dict:
    """The notebook's check, run once for both tests below."""
    if name not in lab["results"]:
        browser = lab["browser"]
        res = check_notebook(browser, name)
        # requests to other hosts: blocked, and reported on the notebook that made them
        res["problems"] += [f"blocked request to another host: {url}" for url in browser.blocked]
        browser.blocked.clear()
        f = res["facts"]
        print(
            f"\n{name}: run all {f.get('run_all', '-')} s, explorers {f.get('explorers', '-')}, changes "
            f"{f.get('changes', '-')}, typed {f.get('typed', '-')}, redraw {f.get('redraw', '-')}, frame sliders "
            f"{f.get('sliders', '-')}, errors seen {f.get('errors_seen', '-')}, markdown cells {f.get('markdown', '-')}, "
            f"reopened: {f.get('reopened', '-')}; {f['seconds']} s"
        )
        for s in f.get("starts", []):
            print(f"  starts at {s}")
        for s in f["notes"]:
            print(f"  note: {s}")
        lab["results"][name] = res
    return lab["results"][name]


@pytest.mark.parametrize("name", [nb.name for nb in NOTEBOOKS])
def test_notebook(lab, name, record_property):
    res = result(lab, name)
    for key, value in res["facts"].items():
        record_property(key, value)
    problems = res["problems"]
    assert not problems, f"{name}: {len(problems)} problems:\n  - " + "\n  - ".join(problems)


@pytest.mark.parametrize("name", [nb.name for nb in NOTEBOOKS])
def test_glue(lab, name):
    glue = result(lab, name)["glue"]
    assert not glue, f"{name}: {len(glue)} glued values shown by name:\n  - " + "\n  - ".join(glue[:10])


def test_broken_notebook(lab):
    """The check fails on a notebook with an error, an unresolvable reference and glued values shown by name."""
    res = result(lab, "broken_notebook.ipynb")
    problems = "\n".join(res["problems"])
    assert "error output after Run All: ZeroDivisionError" in problems, res
    assert "cross-reference Lab cannot resolve: eq-nowhere" in problems, res
    # jupyterlab-myst shows the glue role as its name and format. The {eval} of `glued.beta` (nothing
    # defines `glued`) shows as code while no result is stored; Run All evaluates it in the kernel,
    # and the NameError shows in the cell (an error shown) or fails jupyterlab-myst's request (an
    # uncaught "Kernel response was not OK"): seen all three ways, each a failure of the check
    assert any("beta:.3f" in g for g in res["glue"]), res
    assert (
        any("glued.beta" in g for g in res["glue"])
        or any(p.startswith("error shown") and "glued" in p for p in res["problems"])
        or any(p.startswith("JavaScript error: Kernel response was not OK") for p in res["problems"])
    ), res
