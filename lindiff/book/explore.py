"""Explorers: interactive figures with a kernel (ipywidgets) and without one (pre-rendered frames).

A chapter writes one drawing function ``draw(**params) -> matplotlib.figure.Figure`` and shows it
twice: :func:`interactive` for readers who run the notebook, :func:`frame_slider` for readers of the
built website, where Python callbacks never run.

``draw`` builds its figure with ``matplotlib.figure.Figure``, not with pyplot. JupyterLab 4.4+
sends widget messages over kernel subshells, which ipykernel 7 handles on threads of their own;
a pyplot figure is global state, so another thread (matplotlib's inline hook after a cell runs,
another explorer) could draw it half-built. Every frame is drawn and rendered to PNG under one
lock (matplotlib's math-text parser is shared too) and shown only once finished.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import html
import inspect
import io
import json
import threading
import traceback
from concurrent.futures import ThreadPoolExecutor

from .._checks import check_positive_int, require_module
from ..progress import quiet

widgets = require_module("ipywidgets", "chapters", "lindiff.book.explore")
Figure = require_module("matplotlib.figure", "chapters", "lindiff.book.explore").Figure

_DRAW_LOCK = threading.Lock()
# one thread draws for every explorer: the widget-message threads only record that a redraw is due
_WORKER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lindiff-explorer")


def render_png(draw, params: dict, dpi: int) -> bytes:
    """Draw one figure and render it to PNG bytes, under the explorers' lock, without progress bars.

    Parameters
    ----------
    draw : callable
        ``draw(**params) -> matplotlib.figure.Figure``; the figure must not come from pyplot.
    params : dict
        Keyword arguments of ``draw``.
    dpi : int
        Resolution of the PNG.

    Returns
    -------
    bytes
        The PNG file (no timestamp metadata, so the bytes are reproducible).

    Raises
    ------
    ValueError
        If ``draw`` returns no Figure, or a pyplot one.
    """
    with _DRAW_LOCK, quiet():
        fig = draw(**params)
        if not isinstance(fig, Figure):
            raise ValueError(f"draw must return a matplotlib Figure, got {type(fig).__name__}")
        if fig.canvas.manager is not None:
            raise ValueError(
                "draw must build its figure with matplotlib.figure.Figure(...), not pyplot: "
                "a pyplot figure is visible to every thread of the kernel while it is drawn"
            )
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight", metadata={"Software": None})
    return buf.getvalue()


# Frames are rendered at this many times the explorer's dpi and shown at its dpi.
_SHARPNESS = 2

# JupyterLab's notebook shortcuts (ArrowUp/Down move the active cell, letters fold headings...) take
# a key from a focused control unless the focused element itself, or an element between it and the
# node the shortcut's selector matches, carries `data-lm-suppress-shortcuts` (Lumino stops there); a
# selector such as ".jp-Notebook.jp-mod-commandMode :focus" matches the focused element itself. A
# widget cannot set an attribute, so a hidden image that fails to load marks each control of the
# explorer as it takes the focus.
_KEEP_KEYS = (
    '<img src="data:," alt="" style="display: none" onerror="(function keep(img, n) {'
    "var box = img.closest('.lindiff-explorer');"
    "if (!box) { if (n < 50) setTimeout(keep, 100, img, n + 1); return; }"
    "if (box.dataset.ldKeys) return;"
    "box.dataset.ldKeys = 'kept';"
    "var mark = function (el) { el.setAttribute('data-lm-suppress-shortcuts', 'true'); };"
    "mark(box);"
    "box.addEventListener('focusin', function (e) { mark(e.target); });"
    "if (box.contains(document.activeElement)) mark(document.activeElement);"
    '})(this, 0)">'
)


def _png_width(png: bytes) -> int:
    """Width in pixels of a PNG (from its IHDR chunk)."""
    return int.from_bytes(png[16:20], "big")


def _typable(slider):
    """A selection slider with a text box that takes a typed value: the nearest option is used and shown.

    ipywidgets' own readout of a selection slider is editable but ignores what is typed.
    """
    slider.readout = False
    box = widgets.Text(continuous_update=False, layout=widgets.Layout(width="7em"))
    box.add_class("lindiff-readout")

    def show(_=None):
        # (not slider.label: ipywidgets leaves it empty while the first option is the starting value)
        box.value = slider._options_labels[slider.index]

    def typed(change):
        text = change["new"].strip()
        labels = list(slider._options_labels)
        if text in labels:
            slider.index = labels.index(text)
        else:
            try:
                x = float(text)
                values = [float(v) for v in slider._options_values]
            except (TypeError, ValueError):
                show()  # not a number: the box shows the value in use again
                return
            slider.index = min(range(len(values)), key=lambda i: (abs(values[i] - x), i))
        show()

    show()
    slider.observe(show, names="index")
    box.observe(typed, names="value")
    row = widgets.HBox([slider, box])
    row.add_class("lindiff-selection-row")
    return row


class Explorer(widgets.VBox):
    """Controls above a figure that is redrawn, off the message threads, when a control changes.

    Changes that arrive while a frame is being drawn coalesce: the next frame uses the controls'
    latest values. While a redraw is due the box carries the CSS class ``lindiff-drawing``. An
    exception in ``draw`` on a redraw is shown as a traceback below the last good figure (on the
    first frame it is raised).

    Build it with :func:`interactive`.
    """

    def __init__(self, draw, controls: dict, dpi: int):
        self._draw, self._controls, self._dpi = draw, controls, dpi
        self._image = widgets.Image(format="png")
        self._error = widgets.HTML(layout=widgets.Layout(display="none"))
        self._state = threading.Lock()
        self._due = self._scheduled = False
        rows = [
            _typable(control) if isinstance(control, widgets.SelectionSlider) else control
            for control in controls.values()
        ]
        super().__init__([*rows, self._image, self._error, widgets.HTML(_KEEP_KEYS)])
        self.add_class("lindiff-explorer")
        # the first frame, before the cell's output appears; an error here fails the cell
        self._set_image(render_png(draw, self.params, _SHARPNESS * dpi))
        for control in controls.values():
            control.observe(self._changed, names="value")

    def _set_image(self, png: bytes) -> None:
        # drawn at _SHARPNESS times the resolution, shown at `dpi` (sharp on high-density screens)
        self._image.value = png
        self._image.width = str(round(_png_width(png) / _SHARPNESS))

    @property
    def params(self) -> dict:
        """The controls' current values, by parameter name."""
        return {name: control.value for name, control in self._controls.items()}

    def __repr__(self) -> str:
        # the text a notebook shows where the widget cannot be drawn (a chapter not yet run)
        return f"[explorer of {', '.join(self._controls)}: shown once the chapter's cells have run]"

    def _changed(self, change) -> None:
        with self._state:
            self._due = True
            if not self._scheduled:
                self._scheduled = True
                self.add_class("lindiff-drawing")
                _WORKER.submit(self._redraw)

    def _redraw(self) -> None:
        while True:
            with self._state:
                if not self._due:
                    self._scheduled = False
                    self.remove_class("lindiff-drawing")
                    return
                self._due = False
            self._show()

    def _show(self) -> None:
        try:
            png = render_png(self._draw, self.params, _SHARPNESS * self._dpi)
        except Exception:  # shown to the reader, like a cell's traceback
            self._error.value = f"<pre>{html.escape(traceback.format_exc())}</pre>"
            self._error.layout.display = None
            return
        self._set_image(png)
        self._error.layout.display = "none"


def interactive(draw, *, dpi: int = 100, **controls) -> Explorer:
    """An explorer for Jupyter: controls and a figure redrawn by the running kernel.

    Parameters
    ----------
    draw : callable
        ``draw(**params) -> matplotlib.figure.Figure``, built without pyplot (see the module).
    dpi : int
        Resolution at which the figure is shown; it is drawn at twice that, to stay sharp on
        high-density screens.
    **controls
        One per parameter of ``draw``: an ipywidgets widget (its ``value`` is the starting value),
        or an ipywidgets abbreviation such as ``N=(2, 200, 1)`` or ``k=[0, 1, 2]``, which starts at
        ``draw``'s default for that parameter when it has one.

    Returns
    -------
    Explorer
        Display it as the last expression of a cell.
    """
    if not controls:
        raise ValueError("interactive needs at least one control, e.g. N=(2, 200, 1)")
    defaults = {name: p.default for name, p in inspect.signature(draw).parameters.items()}
    built = {}
    for name, abbrev in controls.items():
        if isinstance(abbrev, widgets.ValueWidget):
            control = abbrev
        else:
            control = widgets.interactive.widget_from_abbrev(abbrev, defaults.get(name, inspect.Parameter.empty))
            if control is None:
                raise ValueError(f"control {name}={abbrev!r} is neither a widget nor an ipywidgets abbreviation")
        if not control.description:
            control.description = name
        built[name] = control
    return Explorer(draw, built, dpi)


def _script_json(value) -> str:
    """``value`` as a JavaScript literal safe inside an HTML ``<script>`` element: JSON with ``<``,
    ``>`` and ``&`` (and the line separators JavaScript reads as line ends) written as escapes, so a
    value holding ``</script>`` or ``<!--`` cannot end the script or open a comment."""
    text = json.dumps(value)  # ensure_ascii: U+2028 and U+2029 are escaped already
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def frame_slider(draw, values, label: str, *, default_index: int = 0, fmt: str = "{}", dpi: int = 120, alt: str = ""):
    """A kernel-free explorer: one pre-rendered frame per value and a JavaScript range slider.

    Parameters
    ----------
    draw : callable
        ``draw(value) -> matplotlib.figure.Figure`` for one value of the parameter, built without
        pyplot.
    values : sequence
        The parameter values, in slider order.
    label : str
        Name of the parameter shown beside the slider.
    default_index : int
        Frame shown first.
    fmt : str
        Format of the value beside the slider, e.g. ``"{:.2g}"``.
    dpi : int
        Resolution of the frames, shown at their size: at the default 120, the style's 8-point
        legends are 13 pixels high, legible at the website's column width.
    alt : str
        What the frames show, in a sentence: the frame's text alternative is this sentence and
        the parameter's current value (without it, a generic one).

    Returns
    -------
    IPython.display.HTML
        Self-contained HTML (frames as inline PNG data URIs); renders in the built book and in
        trusted notebooks, and keeps its arrow keys from JupyterLab's shortcuts. The slider is a
        native range input (arrow keys, Home, End, Page Up/Down) whose accessible value
        (``aria-valuetext``) is the shown value; the value beside it is a polite live region.
    """
    from IPython.display import HTML

    values = list(values)
    if not values:
        raise ValueError("values is empty; pass at least one parameter value")
    default_index = check_positive_int(default_index, "default_index", minimum=0)
    if not 0 <= default_index < len(values):
        raise ValueError(f"default_index must be in 0..{len(values) - 1}, got {default_index}")
    frames = [
        "data:image/png;base64," + base64.b64encode(render_png(functools.partial(draw, v), {}, dpi)).decode("ascii")
        for v in values
    ]
    shown = [fmt.format(v) for v in values]
    uid = "ld-" + hashlib.sha1("|".join([label, *shown, *frames]).encode()).hexdigest()[:10]
    name = html.escape(label)
    what = (alt.strip().rstrip(".") or f"Explorer figure for {label}") + f", {label} = "
    alts = [what + v for v in shown]
    return HTML(f"""<div class="lindiff-frame-slider" id="{uid}" role="group" aria-label="{name} explorer">
<label for="{uid}-range" style="display: block">{name} = \
<span class="ld-value" aria-live="polite">{html.escape(shown[default_index])}</span></label>
<input type="range" id="{uid}-range" class="ld-range" data-lm-suppress-shortcuts="true" min="0" \
max="{len(frames) - 1}" step="1" value="{default_index}" aria-valuetext="{html.escape(shown[default_index])}" \
style="width: 60%"><br>
<img class="ld-frame" src="{frames[default_index]}" alt="{html.escape(alts[default_index])}" style="max-width: 100%">
<script>
(function() {{
  var root = document.getElementById("{uid}");
  var frames = {_script_json(frames)};
  var shown = {_script_json(shown)};
  var alts = {_script_json(alts)};
  var range = root.querySelector(".ld-range");
  range.addEventListener("input", function() {{
    var img = root.querySelector(".ld-frame");
    img.src = frames[this.value];
    img.alt = alts[this.value];
    root.querySelector(".ld-value").textContent = shown[this.value];
    this.setAttribute("aria-valuetext", shown[this.value]);
  }});
}})();
</script>
</div>""")
