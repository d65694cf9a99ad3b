"""lindiff.book: what draws or renders the book.

The top layer: it may import ``lindiff`` (the mathematics) and ``lindiff.data``; neither imports it.


- :mod:`lindiff.book.style`: the book's matplotlib style, one colour per role, covariance ellipses;
- :mod:`lindiff.book.images`: image grids (rows of a data matrix drawn as a mosaic);
- :mod:`lindiff.book.explore`: explorers, with a kernel (ipywidgets) and without one (frame sliders);
- :mod:`lindiff.book.claims`: numbers the chapters glued, read back for the table of claims;
- :mod:`lindiff.book.chapters`: what a chapter needs (data sets, packages) and what of it is missing.
"""
