"""Explorers and progress bars."""
import json
import re

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from lindiff.book import explore  # noqa: E402
from lindiff.progress import progress, progress_enabled  # noqa: E402


def _draw(k):
    fig, ax = plt.subplots(figsize=(2, 1.5))
    ax.plot([0, 1, 2], [0, k, 2 * k])
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    return fig


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


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(draw=_draw, values=[], label="k"), "values is empty"),
        (dict(draw=_draw, values=[1, 2], label="k", default_index=2), r"default_index must be in 0\.\.1"),
        (dict(draw=lambda k: None, values=[1], label="k"), "draw must return a matplotlib Figure"),
    ],
)
def test_frame_slider_rejects_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        explore.frame_slider(**kwargs)


def test_interactive_builds_a_widget():
    w = explore.interactive(lambda k: _draw(k), k=(0.0, 2.0, 0.5))
    assert w.children[0].description == "k"
    plt.close("all")


def test_progress_switch(monkeypatch):
    monkeypatch.setenv("LINDIFF_PROGRESS", "0")
    assert not progress_enabled()
    assert list(progress(range(3))) == [0, 1, 2]
    monkeypatch.setenv("LINDIFF_PROGRESS", "1")
    assert progress_enabled()
