"""gaussian_kl against Monte Carlo and a dense formula; expected_kl against sampled data sets."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs
from scipy.stats import multivariate_normal

from lindiff import empirical_stats, expected_kl, gaussian_kl, power_law_spectrum, rotated_covariance


def _random_spd(d, rng, spread=1.0):
    A = rng.standard_normal((d, d))
    return A @ A.T / d + np.diag(np.exp(spread * rng.uniform(-1, 1, d)))


def _dense_kl(m_p, S_p, m_q, S_q):
    """The textbook formula with explicit inverse and slogdet (nonsingular case only)."""
    d = len(m_p)
    Sq_inv = np.linalg.inv(S_q)
    dm = m_q - m_p
    return 0.5 * (np.trace(Sq_inv @ S_p) - d + dm @ Sq_inv @ dm
                  + np.linalg.slogdet(S_q)[1] - np.linalg.slogdet(S_p)[1])


@pytest.mark.parametrize("d, seed", [(1, 0), (3, 1), (6, 2)])
def test_gaussian_kl_against_monte_carlo(d, seed):
    rng = np.random.default_rng(seed)
    m_p, m_q = rng.normal(size=d), rng.normal(size=d)
    S_p, S_q = _random_spd(d, rng), _random_spd(d, rng)
    x = multivariate_normal(m_p, S_p).rvs(size=100_000, random_state=rng).reshape(-1, d)
    llr = multivariate_normal(m_p, S_p).logpdf(x) - multivariate_normal(m_q, S_q).logpdf(x)
    se = llr.std() / np.sqrt(llr.size)
    assert abs(gaussian_kl(m_p, S_p, m_q, S_q) - llr.mean()) < 4 * se


@settings(max_examples=40, deadline=None)
@given(d=hs.integers(1, 8), seed=hs.integers(0, 2**31), log_scale=hs.floats(-30, 30))
def test_gaussian_kl_against_dense_formula_and_affine_invariance(d, seed, log_scale):
    rng = np.random.default_rng(seed)
    m_p, m_q = rng.normal(size=d), rng.normal(size=d)
    S_p, S_q = _random_spd(d, rng, 2.0), _random_spd(d, rng, 2.0)
    kl = gaussian_kl(m_p, S_p, m_q, S_q)
    assert kl == pytest.approx(_dense_kl(m_p, S_p, m_q, S_q), rel=1e-8, abs=1e-10)
    # KL is invariant under x -> s R x: huge or tiny units must not change it
    s = 10.0 ** (log_scale / 3)
    R = np.linalg.qr(rng.standard_normal((d, d)))[0] * s
    assert gaussian_kl(R @ m_p, R @ S_p @ R.T, R @ m_q, R @ S_q @ R.T) == pytest.approx(kl, rel=1e-6, abs=1e-9)


def test_gaussian_kl_zero_for_identical_laws():
    rng = np.random.default_rng(0)
    S = _random_spd(5, rng)
    m = rng.normal(size=5)
    assert gaussian_kl(m, S, m, S) == pytest.approx(0.0, abs=1e-12)
    # also for a singular law (rank 2 in d = 5)
    U = np.linalg.qr(rng.standard_normal((5, 2)))[0]
    S2 = U @ np.diag([3.0, 0.5]) @ U.T
    assert gaussian_kl(m, S2, m, S2) == pytest.approx(0.0, abs=1e-10)


def test_gaussian_kl_inf_never_nan_for_singular_p(make_data):
    # rho_N with N < d: the empirical covariance has rank N - 1 < d, the true one is full rank.
    d = 10
    true_cov = rotated_covariance(power_law_spectrum(d, 1.0), seed=0)
    for N in (2, 5, 10):
        mean, cov = empirical_stats(make_data(N, d, seed=N))
        kl = gaussian_kl(mean, cov, np.zeros(d), true_cov)
        assert kl == np.inf
        # the other direction: q singular, p puts mass everywhere
        assert gaussian_kl(np.zeros(d), true_cov, mean, cov) == np.inf
    # N = d + 1: rank d, finite
    mean, cov = empirical_stats(make_data(d + 1, d, seed=1))
    assert np.isfinite(gaussian_kl(mean, cov, np.zeros(d), true_cov))


def test_gaussian_kl_on_a_common_subspace():
    # p and q both live on the span of U (d = 6, r = 3): KL equals the 3-D KL of the coordinates.
    rng = np.random.default_rng(5)
    d, r = 6, 3
    U = np.linalg.qr(rng.standard_normal((d, r)))[0]
    a_p, a_q = rng.normal(size=r), rng.normal(size=r)
    B_p, B_q = _random_spd(r, rng), _random_spd(r, rng)
    base = rng.normal(size=d)
    m_p, m_q = base + U @ a_p, base + U @ a_q
    S_p, S_q = U @ B_p @ U.T, U @ B_q @ U.T
    kl = gaussian_kl(m_p, S_p, m_q, S_q)
    assert np.isfinite(kl)
    assert kl == pytest.approx(_dense_kl(a_p, B_p, a_q, B_q), rel=1e-9)
    # Monte Carlo in the subspace coordinates
    y = multivariate_normal(a_p, B_p).rvs(size=50_000, random_state=rng)
    llr = multivariate_normal(a_p, B_p).logpdf(y) - multivariate_normal(a_q, B_q).logpdf(y)
    assert abs(kl - llr.mean()) < 4 * llr.std() / np.sqrt(llr.size)
    # a mean offset out of the common subspace makes p singular with respect to q
    n = np.linalg.qr(np.column_stack([U, rng.normal(size=d)]))[0][:, -1]
    assert gaussian_kl(m_p + 0.1 * n, S_p, m_q, S_q) == np.inf
    # p on a strictly smaller subspace than q: inf; q on a smaller subspace than p: inf
    S_small = U[:, :2] @ B_p[:2, :2] @ U[:, :2].T
    assert gaussian_kl(m_p, S_small, m_q, S_q) == np.inf
    assert gaussian_kl(m_q, S_q, m_p, S_small) == np.inf


def test_gaussian_kl_point_masses():
    z = np.zeros((2, 2))
    assert gaussian_kl([1.0, 2.0], z, [1.0, 2.0], z) == 0.0
    assert gaussian_kl([1.0, 2.0], z, [1.0, 2.5], z) == np.inf
    assert gaussian_kl([1.0, 2.0], z, [0.0, 0.0], np.eye(2)) == np.inf


@pytest.mark.parametrize("d, N, n_sets", [(5, 12, 400), (40, 60, 300)])
def test_expected_kl_against_sampled_data_sets(d, N, n_sets):
    # The average over data sets of KL(N(mu_0, Sigma_0) || N(mu, Sigma)) with a structured Sigma
    # and mu != 0; MATH.md: d = 40, N = 60 gives 9.853 against 9.852 +- 0.026 over 400 sets.
    rng = np.random.default_rng(d * 1000 + N)
    Sigma = rotated_covariance(power_law_spectrum(d, 1.0), seed=d)
    mu = rng.normal(size=d)
    L = np.linalg.cholesky(Sigma)
    kls = []
    for _ in range(n_sets):
        X = mu + rng.standard_normal((N, d)) @ L.T
        kls.append(gaussian_kl(*empirical_stats(X), mu, Sigma))
    kls = np.array(kls)
    se = kls.std(ddof=1) / np.sqrt(n_sets)
    assert abs(kls.mean() - expected_kl(d, N)) < 4 * se
    if (d, N) == (40, 60):
        assert expected_kl(d, N) == pytest.approx(9.853, abs=5e-4)


def test_expected_kl_limits():
    assert expected_kl(5, 5) == np.inf and expected_kl(5, 2) == np.inf
    assert np.isfinite(expected_kl(5, 6))
    # large N: d(d+1)/(4N) + d/(2N), to O(1/N^2)
    d, N = 20, 10**6
    assert expected_kl(d, N) == pytest.approx(d * (d + 1) / (4 * N) + d / (2 * N), rel=1e-3)


@pytest.mark.parametrize(
    "args, match",
    [
        (([0, 0], np.eye(2), [0, 0, 0], np.eye(3)), "mean_q has length 3, expected d = 2"),
        (([0, 0], np.eye(3), [0, 0], np.eye(2)), r"cov_p has shape \(3, 3\), expected \(2, 2\)"),
        (([0, 0], np.eye(2), [0, 0], [[1.0, 0.2], [0.0, 1.0]]), "cov_q is not symmetric"),
        (([0, 0], [[1.0, 2.0], [2.0, 1.0]], [0, 0], np.eye(2)), "cov_p is not positive semi-definite"),
        (([0, 0], np.eye(2), [0, 0], [[1.0, 2.0], [2.0, 1.0]]), "cov_q is not positive semi-definite"),
        (([0, np.nan], np.eye(2), [0, 0], np.eye(2)), "mean_p contains NaN"),
        (([0, 0], np.eye(2), [0, 0], np.full((2, 2), np.inf)), "cov_q contains NaN or inf"),
        (([[0, 0]], np.eye(2), [0, 0], np.eye(2)), "mean_p must be a 1-D array"),
        (([], np.zeros((0, 0)), [], np.zeros((0, 0))), "mean_p is empty"),
    ],
)
def test_gaussian_kl_rejects_bad_input(args, match):
    with pytest.raises(ValueError, match=match):
        gaussian_kl(*args)


@pytest.mark.parametrize("d, N, match", [(0, 5, "d must be >= 1"), (3, 1, "N must be >= 2"),
                                         (3.0, 5, "d must be an integer"), (3, 5.5, "N must be an integer")])
def test_expected_kl_rejects_bad_input(d, N, match):
    with pytest.raises(ValueError, match=match):
        expected_kl(d, N)


@pytest.mark.parametrize("N", [5, 12])
def test_kl_of_ridge_law_diverges_like_unseen_directions(N):
    """For N <= d, KL(N(mu_0, Sigma_0 + c Id) || N(mu, Sigma)) ~ -(d - N + 1)/2 ln c as c -> 0:
    each of the d - N + 1 unseen directions contributes -1/2 ln c (finite-difference slope in ln c)."""
    d = 12
    cov = rotated_covariance(power_law_spectrum(d, 1.0), seed=3)
    rng = np.random.default_rng(4)
    X = rng.multivariate_normal(np.zeros(d), cov, size=N)
    mu0, S0 = empirical_stats(X)

    def kl(c):
        return gaussian_kl(mu0, S0 + c * np.eye(d), np.zeros(d), cov)

    c1, c2 = 1e-9, 1e-10
    slope = (kl(c2) - kl(c1)) / (np.log(c2) - np.log(c1))
    assert slope == pytest.approx(-(d - N + 1) / 2, abs=0.01)
