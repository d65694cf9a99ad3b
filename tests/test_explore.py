"""Explorers and progress bars."""

import io
import json
import re
import threading
import time

import ipywidgets as widgets
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from PIL import Image  # noqa: E402

from lindiff.book import explore  # noqa: E402
from lindiff.progress import progress, progress_enabled, quiet  # noqa: E402


def _draw(k):
    fig = Figure(figsize=(2, 1.5))
    ax = fig.subplots()
    ax.plot([0, 1, 2], [0, k, 2 * k])
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    return fig


def _draw_math(k=1.0, n=3):
    """A figure full of math text and a tight layout: the parts that broke under threads."""
    fig = Figure(figsize=(3, 2))
    for i, ax in enumerate(fig.subplots(1, n)):
        ax.plot([0, 1], [0, k * (i + 1)], label=rf"$\rho_N = \mathcal{{N}}(\mu_0, \Sigma_0 + {k:g}\,\mathrm{{Id}})$")
        ax.set_title(rf"$\beta_\mathrm{{max}} = {k:.3g}$, $\frac{{{i}}}{{{n}}}$")
        ax.set_xlabel(r"$x^{(1)}$")
        ax.legend(fontsize=5)
    fig.tight_layout()
    return fig


def _wait_drawn(explorer, timeout=20.0):
    end = time.monotonic() + timeout
    while "lindiff-drawing" in explorer._dom_classes:
        assert time.monotonic() < end, "the explorer never finished redrawing"
        time.sleep(0.01)


def _frames(html):
    return json.loads(re.search(r"var frames = (\[.*?\]);", html).group(1))


def test_frame_slider_has_one_frame_per_value_and_is_deterministic():
    values = [0.5, 1.0, 2.0]
    first = explore.frame_slider(_draw, values, "k", default_index=1, fmt="{:.1f}").data
    second = explore.frame_slider(_draw, values, "k", default_index=1, fmt="{:.1f}").data
    assert first == second
    frames = _frames(first)
    assert len(frames) == len(values) and len(set(frames)) == len(values)
    assert all(f.startswith("data:image/png;base64,") for f in frames)
    assert 'max="2"' in first and 'value="1"' in first
    assert f'src="{frames[1]}"' in first  # the default frame is shown first
    assert json.loads(re.search(r"var shown = (\[.*?\]);", first).group(1)) == ["0.5", "1.0", "2.0"]
    assert plt.get_fignums() == []  # every frame's figure was closed


def test_frame_slider_ids_differ_for_different_figures():
    a = explore.frame_slider(_draw, [1.0], "k").data
    b = explore.frame_slider(lambda k: _draw(-k), [1.0], "k").data
    ids = [re.search(r'id="(ld-[0-9a-f]+)"', h).group(1) for h in (a, b)]
    assert ids[0] != ids[1]


def test_frame_slider_escapes_the_label():
    html = explore.frame_slider(_draw, [1.0], "<b>k</b>").data
    assert "<b>k</b>" not in html and "&lt;b&gt;k&lt;/b&gt;" in html


def test_frame_slider_escapes_every_value_that_goes_into_its_script():
    """Before: a value shown as ``</script><script>alert(1)</script>`` ended the slider's script and ran."""
    hostile = "</script><script>alert(1)</script><!--&"
    page = explore.frame_slider(_draw, [1.0, 2.0], "k", fmt="{}" + hostile).data
    script = page[page.index("<script>") + len("<script>") : page.rindex("</script>")]
    assert "<" not in script and ">" not in script and "&" not in script  # nothing the HTML parser reads
    assert page.count("<script>") == 1 and page.count("</script>") == 1
    shown = json.loads(re.search(r"var shown = (\[.*?\]);", page).group(1))
    assert shown == ["1.0" + hostile, "2.0" + hostile]  # the JavaScript reads the values unchanged
    assert "&lt;/script&gt;" in page  # and the visible text is escaped HTML


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(draw=_draw, values=[], label="k"), "values is empty"),
        (dict(draw=_draw, values=[1, 2], label="k", default_index=2), r"default_index must be in 0\.\.1"),
        (dict(draw=_draw, values=[1, 2], label="k", default_index=0.5), "default_index must be an integer"),
        (dict(draw=lambda k: None, values=[1], label="k"), "draw must return a matplotlib Figure"),
        (dict(draw=lambda k: plt.subplots()[0], values=[1], label="k"), "not pyplot"),
    ],
)
def test_frame_slider_rejects_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        explore.frame_slider(**kwargs)


def test_frame_slider_keeps_its_keys_from_jupyterlab_shortcuts():
    assert 'data-lm-suppress-shortcuts="true"' in explore.frame_slider(_draw, [1.0], "k").data


def test_render_png_from_many_threads_gives_complete_identical_images():
    reference = explore.render_png(_draw_math, {"k": 0.5}, 60)
    results, errors = [], []

    def work():
        try:
            for _ in range(4):
                results.append(explore.render_png(_draw_math, {"k": 0.5}, 60))
        except Exception as exc:  # collected: an exception in a thread would not fail the test
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(results) == 32 and all(r == reference for r in results)
    with Image.open(io.BytesIO(reference)) as im:
        im.verify()


def test_render_png_shows_no_progress_bar_and_leaves_other_threads_alone(monkeypatch):
    monkeypatch.setenv("LINDIFF_PROGRESS", "1")
    seen = []

    def draw():
        seen.append(progress_enabled())
        return _draw(1.0)

    explore.render_png(draw, {}, 50)
    assert seen == [False] and progress_enabled()


def test_interactive_builds_controls_and_a_first_frame():
    w = explore.interactive(_draw_math, k=widgets.FloatSlider(value=0.5, min=0.0, max=2.0), n=[1, 2, 3])
    k, n, image, error, keys = w.children
    assert (k.description, n.description) == ("k", "n")
    assert n.value == 3  # an abbreviation starts at draw's default
    assert w.params == {"k": 0.5, "n": 3}
    # drawn at twice the dpi, shown at the dpi's width
    png = explore.render_png(_draw_math, {"k": 0.5, "n": 3}, 200)
    assert image.value == png and int(image.width) == round(int.from_bytes(png[16:20], "big") / 2)
    assert "data-lm-suppress-shortcuts" in keys.value  # the controls keep their keys in JupyterLab
    assert error.layout.display == "none"
    assert "lindiff-explorer" in w._dom_classes and "k, n" in repr(w)


def _draw_line(k=1.0, n=3):
    """One line whose slope is k n: cheap to draw at any n (_draw_math draws n panels)."""
    fig = Figure(figsize=(3, 2))
    fig.subplots().plot([0, 1], [0, k * n])
    return fig


def test_a_selection_slider_takes_a_typed_value_and_shows_the_option_used():
    sel = widgets.SelectionSlider(options=[10, 30, 100, 300], value=100)
    w = explore.interactive(_draw_line, k=widgets.FloatSlider(value=0.5, min=0.0, max=2.0), n=sel)
    row = w.children[1]
    slider, box = row.children
    assert slider is sel and not sel.readout and box.value == "100"
    box.value = "37"  # snaps to the nearest option, and the box shows it
    assert (sel.value, box.value) == (30, "30")
    box.value = "1e9"
    assert (sel.value, box.value) == (300, "300")
    box.value = "many"  # not a number: nothing changes, the box shows the value in use
    assert (sel.value, box.value) == (300, "300")
    sel.value = 10  # the slider moved: the box follows
    assert box.value == "10"
    _wait_drawn(w)
    assert w.params["n"] == 10
    # the first option as the starting value is shown too (ipywidgets leaves its label empty)
    first = explore.interactive(_draw_math, k=widgets.SelectionSlider(options=[0.0, 1e-3], value=0.0))
    assert first.children[0].children[1].value == "0.0"


def test_interactive_rejects_no_controls_bad_abbreviations_and_a_broken_first_frame():
    with pytest.raises(ValueError, match="at least one control"):
        explore.interactive(_draw)
    with pytest.raises(ValueError, match="control k=None"):
        explore.interactive(_draw, k=None)
    with pytest.raises(ValueError, match="not pyplot"):
        explore.interactive(lambda k=1: plt.subplots()[0], k=(0, 2))
    plt.close("all")


def test_interactive_coalesces_rapid_changes_and_shows_the_last():
    calls = []

    def slow(k=0.0, n=2):
        calls.append(k)
        time.sleep(0.05)
        return _draw_math(k, n)

    w = explore.interactive(slow, k=widgets.FloatSlider(value=0.0, min=0.0, max=2.0, step=0.05), n=[1, 2])
    k = w.children[0]
    for i in range(1, 31):  # a drag: 30 values in quick succession
        k.value = i * 0.05
    _wait_drawn(w)
    assert len(calls) <= 4, f"{len(calls)} redraws for one drag"
    assert calls[-1] == pytest.approx(1.5)
    assert w.children[2].value == explore.render_png(_draw_math, {"k": 1.5, "n": 2}, 200)


def test_interactive_shows_an_error_below_the_last_good_figure_and_recovers():
    def draw(k=1.0):
        if k < 0:
            raise RuntimeError("negative k")
        return _draw(k)

    w = explore.interactive(draw, k=widgets.FloatSlider(value=1.0, min=-1.0, max=2.0))
    good = w.children[1].value
    w.children[0].value = -1.0
    _wait_drawn(w)
    assert w.children[1].value == good
    assert w.children[2].layout.display is None and "RuntimeError: negative k" in w.children[2].value
    w.children[0].value = 2.0
    _wait_drawn(w)
    assert w.children[2].layout.display == "none" and w.children[1].value != good


def test_progress_switch(monkeypatch):
    monkeypatch.setenv("LINDIFF_PROGRESS", "0")
    assert not progress_enabled()
    assert list(progress(range(3))) == [0, 1, 2]
    monkeypatch.setenv("LINDIFF_PROGRESS", "1")
    assert progress_enabled()
    with quiet():
        assert not progress_enabled()
    assert progress_enabled()


def test_frame_slider_is_labelled_and_announces_its_value():
    html = explore.frame_slider(
        _draw, [0.5, 1.0], "k", default_index=1, fmt="{:.1f}", alt="A parabola <scaled> by k."
    ).data
    uid = re.search(r'id="(ld-[0-9a-f]+)"', html).group(1)
    # the visible label names the input (label for=id), so its accessible name is "k = 1.0"
    assert f'<label for="{uid}-range"' in html and f'id="{uid}-range"' in html
    assert 'aria-valuetext="1.0"' in html and 'aria-live="polite"' in html
    assert 'role="group" aria-label="k explorer"' in html
    # the frame's text alternative describes it and names the value, escaped; the script updates both
    assert 'alt="A parabola &lt;scaled&gt; by k, k = 1.0"' in html
    alts = json.loads(re.search(r"var alts = (\[.*?\]);", html).group(1))
    assert alts == ["A parabola <scaled> by k, k = 0.5", "A parabola <scaled> by k, k = 1.0"]
    assert 'setAttribute("aria-valuetext"' in html and "img.alt = alts[this.value]" in html
    # no file-name-like or empty alternative without a description either
    plain = explore.frame_slider(_draw, [1.0], "k").data
    assert 'alt="Explorer figure for k, k = 1.0"' in plain
