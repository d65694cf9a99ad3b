"""The source of the functions that implement an equation, shown in a chapter.

A chapter shows it as the output of a folded code cell, which both the built book and JupyterLab
render (Sphinx's ``literalinclude`` renders in the book only).
"""

from __future__ import annotations

import inspect
import textwrap


def source(*functions):
    """The source code of functions or methods, as a Markdown code block.

    Parameters
    ----------
    *functions : callable
        Functions, methods, properties or classes defined in Python source files.

    Returns
    -------
    IPython.display.Markdown
        One fenced ``python`` block with each object's source, dedented, separated by a blank line.

    Raises
    ------
    ValueError
        If no function is given.
    TypeError
        If an argument has no Python source (a builtin, an instance).
    """
    from IPython.display import Markdown

    if not functions:
        raise ValueError("functions is empty; pass at least one function, e.g. source(ld.gaussian_kl)")
    parts = []
    for f in functions:
        f = f.fget if isinstance(f, property) else f
        try:
            parts.append(textwrap.dedent(inspect.getsource(f)).rstrip())
        except (TypeError, OSError) as err:
            raise TypeError(f"functions: {f!r} has no Python source to show ({err})") from None
    body = "\n\n".join(parts)
    fence = "````" if "```" in body else "```"
    return Markdown(f"{fence}python\n{body}\n{fence}")
