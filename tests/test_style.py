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
