"""lindiff.book: what draws or renders the book.

The top layer: it may import ``lindiff`` (the mathematics) and ``lindiff.data``; neither imports it.


- :mod:`lindiff.book.style`: the book's matplotlib style, one colour per role, covariance ellipses;
- :mod:`lindiff.book.images`: image grids (rows of a data matrix drawn as a mosaic);
- :mod:`lindiff.book.explore`: explorers, with a kernel (ipywidgets) and without one (frame sliders);
- :mod:`lindiff.book.claims`: numbers the chapters glued, read back for the table of claims;
- :mod:`lindiff.book.chapters`: what a chapter needs (data sets, packages) and what of it is missing;
- :mod:`lindiff.book.quoted`: the numbers the prose quotes, for the website and for JupyterLab;
- :mod:`lindiff.book.code`: a function's source, shown on the page;
- :mod:`lindiff.book.tables`: the small table a check cell prints before it asserts.

A chapter imports ``lindiff as ld`` for the mathematics and takes its page helpers from here in one
line, e.g. ``from lindiff.book import frame_slider, glue, interactive, style``; each name is
imported on first use, so reading the claims does not load matplotlib.
"""

_HELPERS = {
    "frame_slider": "lindiff.book.explore",
    "interactive": "lindiff.book.explore",
    "glue": "lindiff.book.quoted",
    "glued": "lindiff.book.quoted",
    "show_images": "lindiff.book.images",
    "source": "lindiff.book.code",
    "present": "lindiff.book.chapters",
    "progress": "lindiff.progress",
    "print_table": "lindiff.book.tables",
}


def __getattr__(name: str):
    if name in _HELPERS:
        import importlib

        return getattr(importlib.import_module(_HELPERS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
