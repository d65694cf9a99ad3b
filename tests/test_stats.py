"""empirical_stats against numpy's own mean and covariance."""

import numpy as np
import pytest

from lindiff import empirical_stats


@pytest.mark.parametrize("N, d", [(2, 1), (2, 30), (7, 3), (50, 5)])
def test_matches_numpy(N, d, make_data):
    X = make_data(N, d, seed=N + d)
    mean, cov = empirical_stats(X)
    np.testing.assert_allclose(mean, X.mean(axis=0), rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(cov, np.atleast_2d(np.cov(X.T, bias=True)), rtol=1e-11, atol=1e-12)
    _, cov1 = empirical_stats(X, ddof=1)
    np.testing.assert_allclose(cov1, np.atleast_2d(np.cov(X.T, ddof=1)), rtol=1e-11, atol=1e-12)
    np.testing.assert_array_equal(cov, cov.T)
    # rank N - 1 at most: the main case N <= d has exact null directions
    assert np.linalg.matrix_rank(cov) == min(N - 1, d)


@pytest.mark.parametrize(
    "X, kwargs, match",
    [
        (np.ones((1, 3)), {}, "N = 1 rows; at least 2 samples"),
        (np.ones(3), {}, "2-D array"),
        (np.ones((4, 0)), {}, "no columns"),
        (np.array([[1.0, np.nan], [0.0, 1.0]]), {}, "NaN or inf"),
        (np.array([[object(), 1.0], [0.0, 1.0]], dtype=object), {}, "numeric"),
        (np.ones((3, 2)), {"ddof": 2}, "ddof must be 0 or 1"),
    ],
)
def test_rejects_bad_input(X, kwargs, match):
    with pytest.raises(ValueError, match=match):
        empirical_stats(X, **kwargs)
