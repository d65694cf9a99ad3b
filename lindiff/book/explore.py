"""Explorers: interactive figures with a kernel (ipywidgets) and without one (pre-rendered frames).

A chapter writes one drawing function ``draw(**params) -> matplotlib Figure`` and shows it twice:
:func:`interactive` for readers who run the notebook, :func:`frame_slider` for readers of the
built website, where Python callbacks never run.
"""
from __future__ import annotations

import base64
import hashlib
import html
import io
import json

import matplotlib.pyplot as plt


def interactive(draw, **controls):
    """An ``ipywidgets.interactive`` explorer for Jupyter (needs a running kernel).

    Parameters
    ----------
    draw : callable
        ``draw(**params)`` draws one matplotlib figure.
    **controls
        ipywidgets abbreviations or widgets, e.g. ``N=(2, 200, 1)`` or ``k=[0, 1, 2]``.

    Returns
    -------
    ipywidgets.interactive
        Display it as the last expression of a cell.
    """
    import ipywidgets as widgets

    def _show(**params):
        draw(**params)
        plt.show()

    return widgets.interactive(_show, **controls)


def _figure_png(fig, dpi: int) -> str:
    """The figure as a PNG data URI (no timestamp metadata, so the bytes are reproducible); closes it."""
    if not hasattr(fig, "savefig"):
        raise ValueError(f"draw must return a matplotlib Figure, got {type(fig).__name__}")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def frame_slider(draw, values, label: str, *, default_index: int = 0, fmt: str = "{}", dpi: int = 72):
    """A kernel-free explorer: one pre-rendered frame per value and a JavaScript range slider.

    Parameters
    ----------
    draw : callable
        ``draw(value) -> matplotlib.figure.Figure`` for one value of the parameter.
    values : sequence
        The parameter values, in slider order.
    label : str
        Name of the parameter shown beside the slider.
    default_index : int
        Frame shown first.
    fmt : str
        Format of the value beside the slider, e.g. ``"{:.2g}"``.

    Returns
    -------
    IPython.display.HTML
        Self-contained HTML (frames as inline PNG data URIs); renders in the built book and in
        trusted notebooks.
    """
    from IPython.display import HTML

    values = list(values)
    if not values:
        raise ValueError("values is empty; pass at least one parameter value")
    if not 0 <= default_index < len(values):
        raise ValueError(f"default_index must be in 0..{len(values) - 1}, got {default_index}")
    frames = [_figure_png(draw(v), dpi) for v in values]
    shown = [fmt.format(v) for v in values]
    uid = "ld-" + hashlib.sha1("|".join([label, *shown, *frames]).encode()).hexdigest()[:10]
    name = html.escape(label)
    return HTML(f"""<div class="lindiff-frame-slider" id="{uid}">
<label style="display: block">{name} = <span class="ld-value">{html.escape(shown[default_index])}</span><br>
<input type="range" class="ld-range" min="0" max="{len(frames) - 1}" step="1" value="{default_index}" aria-label="{name}" style="width: 60%"></label><br>
<img class="ld-frame" src="{frames[default_index]}" alt="{name} explorer frame" style="max-width: 100%">
<script>
(function() {{
  var root = document.getElementById("{uid}");
  var frames = {json.dumps(frames)};
  var shown = {json.dumps(shown)};
  var range = root.querySelector(".ld-range");
  range.addEventListener("input", function() {{
    root.querySelector(".ld-frame").src = frames[this.value];
    root.querySelector(".ld-value").textContent = shown[this.value];
  }});
}})();
</script>
</div>""")
