"""The chapters' hidden first cell on a runtime like Colab's: it installs lindiff, upgrading nothing.

Colab ships numpy, scipy, matplotlib, Pillow, tqdm, ipykernel and ipywidgets 7 and imports some of
them at start; upgrading one under a running kernel breaks it. This test builds a fresh venv with
those packages (ipywidgets < 8), runs chapter 0's ``colab-install`` cell in IPython there (``%pip``
needs IPython) with ``LINDIFF_PIP_SPEC`` pointing at a copy of this checkout, and checks that every
package that was there keeps its version and that what the chapters import then imports.

It needs a package index (CI has one); where pip cannot reach any it is skipped, saying so.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
# What a Colab runtime already has and lindiff or the chapters use (Colab has far more).
PREINSTALLED = ["ipywidgets<8", "ipykernel", "numpy", "scipy", "matplotlib", "tqdm", "Pillow"]
PIP_TIMEOUT = 600


def _install_cell() -> str:
    nb = nbformat.read(ROOT / "book" / "00_first_look.ipynb", as_version=4)
    (cell,) = [c for c in nb.cells if "colab-install" in c.metadata.get("tags", [])]
    return cell.source


def _env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env.update(MPLBACKEND="Agg", PYTHONNOUSERSITE="1", **extra)
    return env


def _run(args, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=PIP_TIMEOUT, **kwargs)


def _versions(python: Path) -> dict:
    out = _run([python, "-m", "pip", "list", "--format=json"], env=_env())
    assert out.returncode == 0, out.stderr
    return {p["name"].lower(): p["version"] for p in json.loads(out.stdout)}


def _copy_of_checkout(dest: Path) -> Path:
    """The files pip needs to build lindiff, copied: an in-tree build would write into the checkout."""
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, dest / name)
    shutil.copytree(ROOT / "lindiff", dest / "lindiff", ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def test_first_cell_installs_lindiff_and_keeps_ipywidgets_7(tmp_path):
    # Is there a package index? (pip download of one small wheel; no venv needed for that.)
    probe = _run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "-d", tmp_path / "probe", "ipywidgets<8"],
        env=_env(),
    )
    if probe.returncode != 0:
        last = [line for line in probe.stderr.splitlines() if line.strip() and "is ignored" not in line]
        pytest.skip(f"pip cannot reach a package index here: {last[-1] if last else probe.returncode}")

    env_dir = tmp_path / "colab"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    bindir = env_dir / ("Scripts" if os.name == "nt" else "bin")
    python = bindir / "python"
    base = _run([python, "-m", "pip", "install", "--quiet", *PREINSTALLED], env=_env())
    assert base.returncode == 0, base.stderr[-3000:]
    before = _versions(python)
    assert before["ipywidgets"].startswith("7."), before["ipywidgets"]
    assert "lindiff" not in before and "myst-nb" not in before

    (tmp_path / "checkout").mkdir()
    checkout = _copy_of_checkout(tmp_path / "checkout")
    cell = tmp_path / "first_cell.ipy"
    cell.write_text(_install_cell())
    env = _env(LINDIFF_PIP_SPEC=f"lindiff @ {checkout.as_uri()}", IPYTHONDIR=str(tmp_path / "ipython"))
    ran = _run([bindir / "ipython", "--quick", "--no-banner", cell], env=env, cwd=tmp_path)
    assert ran.returncode == 0 and "Error" not in ran.stdout, ran.stdout[-3000:] + ran.stderr[-3000:]

    after = _versions(python)
    changed = {name: (v, after.get(name)) for name, v in before.items() if after.get(name) != v}
    assert not changed, f"the first cell changed packages the runtime had: {changed}"
    assert after["ipywidgets"].startswith("7.") and "lindiff" in after and "myst-nb" in after
    # what a chapter imports, and a glue() and an explorer as the chapters use them
    use = (
        "import ipywidgets, lindiff, myst_nb\n"
        "from matplotlib.figure import Figure\n"
        "from myst_nb import glue\n"
        "from lindiff.book.explore import interactive\n"
        "glue('x', 1.5, display=False)\n"
        "def draw(N=1):\n"
        "    fig = Figure(); fig.subplots().plot([0, N]); return fig\n"
        "N = ipywidgets.SelectionSlider(options=[1, 2], value=1)\n"
        "ex = interactive(draw, N=N)\n"
        "N.value = 2\n"
        "print('ok', ipywidgets.__version__, ex.params)\n"
    )
    (tmp_path / "use.ipy").write_text(use)
    used = _run([bindir / "ipython", "--quick", "--no-banner", tmp_path / "use.ipy"], env=env, cwd=tmp_path)
    assert used.returncode == 0 and "ok 7." in used.stdout and "{'N': 2}" in used.stdout, used.stdout + used.stderr
