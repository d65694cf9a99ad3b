"""Numbers the prose quotes: glued for the website, evaluated by JupyterLab.

A chapter computes a number in a code cell and quotes it in its prose. Two renderers read the prose:

- the website (myst-nb) pastes values *glued* in the notebook (``myst_nb.glue``);
- JupyterLab (jupyterlab-myst) renders MyST's inline expressions, the ``{eval}`` role, from the
  kernel when the cell runs, and from the results stored in the cell's metadata
  (``user_expressions``) when the notebook is opened.

So the prose writes every quoted number as an inline expression over one namespace, ``glued``:
``{eval}`f"{glued.kl_best:.2f}"```. :func:`glue` stores a value both ways; the book's Sphinx
extension (``_ext/lindiff_site.py``) renders the role from the glued value, with the same format, and
``scripts/refresh_notebooks.py`` stores each expression's result the way JupyterLab computes it: in
the kernel, when the reader's "Run all" reaches that markdown cell.
"""

from __future__ import annotations

import re
from types import SimpleNamespace

__all__ = ["glue", "glued", "EXPRESSION", "expression_parts"]

#: The one form of inline expression the chapters use, ``f"{glued.NAME}"`` or ``f"{glued.NAME:FORMAT}"``.
EXPRESSION = re.compile(r'^f"\{glued\.(?P<name>[A-Za-z_]\w*)(?::(?P<format>[^{}"]*))?\}"$')

#: Every value :func:`glue` stored in this kernel, by name.
glued = SimpleNamespace()


def expression_parts(expression: str) -> tuple[str, str]:
    """The glued name and the format spec (``""`` if none) of an inline expression of the book's form.

    Raises ``ValueError`` naming the expression when it is not of the form :data:`EXPRESSION`.
    """
    match = EXPRESSION.match(expression)
    if match is None:
        raise ValueError(
            f'expression {expression!r} is not of the book\'s form f"{{glued.NAME}}" or f"{{glued.NAME:FORMAT}}"'
        )
    return match["name"], match["format"] or ""


def glue(name: str, value) -> None:
    """Glue ``value`` under ``name`` for the website and keep it as ``glued.<name>`` for JupyterLab.

    ``value`` must be a plain ``bool``, ``int``, ``float`` or ``str``: the website formats the
    value's repr, so a NumPy scalar (whose repr is ``np.float64(...)``) is refused; pass ``float(x)``.
    In a kernel, the first call also puts ``glued`` into the notebook's namespace, where the prose's
    inline expressions look it up (so a chapter imports only ``glue``).
    """
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"name must be a Python identifier, got {name!r}")
    if type(value) not in (bool, int, float, str):
        raise TypeError(f"value for {name!r} must be a plain bool, int, float or str, got {type(value).__name__}")
    from myst_nb import glue as myst_glue  # only the book needs it; see the chapters' first cell

    myst_glue(name, value, display=False)
    setattr(glued, name, value)
    shell = _ipython()
    if shell is not None:
        shell.user_ns.setdefault("glued", glued)


def _ipython():
    """The running IPython shell, or None outside one."""
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    return get_ipython()
