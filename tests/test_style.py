"""Plot helpers: covariance ellipses and the book style."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from lindiff.book import style  # noqa: E402


def test_ellipse_points_lie_on_the_mahalanobis_level_set():
    cov = np.array([[3.0, 1.2], [1.2, 1.0]])
    mean = np.array([0.5, -2.0])
    pts = style.ellipse_points(mean, cov, n_std=2.0, num=101)
    diff = pts - mean
    np.testing.assert_allclose(np.einsum("ni,ij,nj->n", diff, np.linalg.inv(cov), diff), 4.0, rtol=1e-12)
    np.testing.assert_allclose(pts[0], pts[-1])
    # the curve's second moment is that of the covariance (uniform angle over a closed curve)
    np.testing.assert_allclose(diff[:-1].T @ diff[:-1] / 100, 2.0 * cov, rtol=1e-12)


def test_singular_covariance_gives_a_segment():
    v = np.array([1.0, 1.0]) / np.sqrt(2)
    cov = 4.0 * np.outer(v, v)
    pts = style.ellipse_points([1.0, 0.0], cov, n_std=1.5, num=201)  # contains s = k pi / 2
    diff = pts - [1.0, 0.0]
    np.testing.assert_allclose(diff @ np.array([v[1], -v[0]]), 0.0, atol=1e-12)  # on the line
    assert np.max(np.abs(diff @ v)) == pytest.approx(1.5 * 2.0, rel=1e-12)  # half-length n_std * sd


def test_covariance_ellipse_draws_those_points():
    fig, ax = plt.subplots()
    line = style.covariance_ellipse(ax, [0.0, 0.0], np.eye(2), n_std=1.0, color="r", label="x")
    np.testing.assert_allclose(np.hypot(*line.get_data()), 1.0, rtol=1e-12)
    assert line.get_label() == "x"
    plt.close(fig)


def test_style_and_colors():
    style.use_style()
    assert matplotlib.rcParams["axes.spines.top"] is False
    assert set(style.COLORS) >= {"data", "train", "model", "exact"}


@pytest.mark.parametrize(
    "mean, cov, match",
    [
        ([0.0, 0.0, 0.0], np.eye(2), "length"),
        ([0.0, 0.0], np.eye(3), "shape"),
        ([0.0, 0.0], [[1.0, 0.0], [0.0, -1.0]], "positive semi-definite"),
        ([0.0, np.nan], np.eye(2), "NaN"),
    ],
)
def test_bad_input(mean, cov, match):
    with pytest.raises(ValueError, match=match):
        style.ellipse_points(mean, cov)


def _relative_luminance(hex_colour):
    rgb = np.array(matplotlib.colors.to_rgb(hex_colour))
    lin = np.where(rgb <= 0.03928, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    return float(lin @ [0.2126, 0.7152, 0.0722])


def _simulate_deuteranopia(hex_colour):
    """Machado, Oliveira and Fernandes (2009), severity 1, on linear RGB."""
    m = np.array([[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413], [-0.011820, 0.042940, 0.968881]])
    rgb = np.array(matplotlib.colors.to_rgb(hex_colour))
    return np.clip(m @ rgb, 0, 1)


def test_palette_is_okabe_ito_and_the_default_cycle():
    style.use_style()
    cycle = [matplotlib.colors.to_hex(c["color"]) for c in matplotlib.rcParams["axes.prop_cycle"]]
    assert cycle == [c.lower() for c in style.OKABE_ITO]
    # every role colour is a palette colour, and no two roles share one
    roles = list(style.COLORS.values())
    assert set(roles) <= set(style.OKABE_ITO) and len(set(roles)) == len(roles)


def test_role_colours_stay_apart_for_deuteranopes_and_on_white():
    """Pairs of role colours stay distinct after simulated deuteranopia and are visible on white.

    Contrast on white: >= 2.2 (Okabe-Ito's orange, the lightest role colour, has 2.25; the other
    roles at least 3, WCAG's level for graphics).
    """
    roles = list(style.COLORS.values())
    for i, a in enumerate(roles):
        assert 1.05 / (_relative_luminance(a) + 0.05) >= (2.2 if a == style.COLORS["model"] else 3.0), a
        for b in roles[i + 1 :]:
            assert np.abs(_simulate_deuteranopia(a) - _simulate_deuteranopia(b)).max() > 0.1, (a, b)


def test_figures_have_an_opaque_white_background_for_dark_mode():
    import io

    style.use_style()
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    buf.seek(0)
    img = plt.imread(buf)
    assert img.shape[2] == 3 or np.all(img[..., 3] == 1.0)  # no transparent pixel
    np.testing.assert_allclose(img[0, 0, :3], 1.0)  # the corner is white


def test_tell_apart_gives_each_colour_of_a_line_style_a_marker():
    style.use_style()
    fig, (ax1, ax2) = plt.subplots(1, 2)
    x = np.linspace(0, 1, 500)
    for k in range(3):
        ax1.plot(x, x * k, label=f"N = {k}")  # solid, three colours: told apart by colour only
    ax1.plot(x, x + 1, "--", color="k", label="bound")  # alone in its line style: left as it is
    ax1.plot([0.5], [0.5], "D", label="data")  # has a marker already
    ax1.plot(x, -x)  # unlabelled
    ax1.legend(loc="upper left", fontsize=7)
    ax2.plot(x, x, label="one line")
    assert style.tell_apart(fig) == 3
    solid = ax1.get_lines()[:3]
    # "D" (the first marker) is taken by the data series: the lines get the next three
    assert style.MARKERS[0] == "D"
    assert [line.get_marker() for line in solid] == list(style.MARKERS[1:4])
    assert all(line.get_markevery() == pytest.approx(1 / 8) for line in solid)
    assert [line.get_marker() for line in ax1.get_lines()[3:]] == ["None", "D", "None"]
    assert ax2.get_lines()[0].get_marker() == "None"
    legend = ax1.get_legend()  # the same legend, its handles updated
    assert [h.get_marker() for h in legend.legend_handles] == [*style.MARKERS[1:4], "None", "D"]
    assert legend._loc == 2 and [t.get_text() for t in legend.texts][:2] == ["N = 0", "N = 1"]
    # the same colour keeps the same marker, in any line style
    fig2, ax = plt.subplots()
    ax.plot([0, 1, 2], [0, 1, 2], color="r", label="a")
    ax.plot([0, 1, 2], [1, 2, 3], color="b", label="b")
    ax.plot([0, 1, 2], [2, 3, 4], color="r", label="c")
    fig2.legend()  # a figure legend is updated too
    style.tell_apart(ax)
    a, b = style.MARKERS[:2]
    assert [line.get_marker() for line in ax.get_lines()] == [a, b, a]
    assert [h.get_marker() for h in fig2.legends[0].legend_handles] == [a, b, a]
    assert ax.get_lines()[0].get_markevery() is None  # few points: a marker on each
    plt.close(fig)
    plt.close(fig2)
    with pytest.raises(ValueError, match="fig_or_ax"):
        style.tell_apart("not a figure")
    with pytest.raises(ValueError, match="n_markers"):
        style.tell_apart(ax, n_markers=1)
