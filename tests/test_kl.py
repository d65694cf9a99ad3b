"""gaussian_kl against Monte Carlo and a dense formula; expected_kl against sampled data sets; the naive
measure and its exact expectation, the learned KL and its optimal ridge."""

import mpmath as mp
import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as hs
from scipy.stats import multivariate_normal

from lindiff import (
    LinearDiffusion,
    Schedule,
    empirical_stats,
    expected_kl,
    gaussian_kl,
    participation_ratio,
    power_law_spectrum,
    random_rotation,
    rotated_covariance,
)
from lindiff.kl import (
    LearnedKL,
    expected_naive_measure,
    learned_kl,
    naive_measure,
    optimal_ridge_limit_law,
    whitened_kl_approximation,
)


def _random_spd(d, rng, spread=1.0):
    A = rng.standard_normal((d, d))
    return A @ A.T / d + np.diag(np.exp(spread * rng.uniform(-1, 1, d)))


def _dense_kl(m_p, S_p, m_q, S_q):
    """The textbook formula with explicit inverse and slogdet (nonsingular case only)."""
    d = len(m_p)
    Sq_inv = np.linalg.inv(S_q)
    dm = m_q - m_p
    return 0.5 * (np.trace(Sq_inv @ S_p) - d + dm @ Sq_inv @ dm + np.linalg.slogdet(S_q)[1] - np.linalg.slogdet(S_p)[1])


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


@pytest.mark.parametrize(
    "d, N, match",
    [
        (0, 5, "d must be >= 1"),
        (3, 1, "N must be >= 2"),
        (3.0, 5, "d must be an integer"),
        (3, 5.5, "N must be an integer"),
    ],
)
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


# ----------------------------------------------------------------- graded spectra (issue 12)
def _mp_kl(m_p, S_p, m_q, S_q, dps=60):
    """KL of the float64 inputs taken as exact rationals, by the textbook formula in mpmath."""
    with mp.workdps(dps):
        d = len(m_p)
        Sp, Sq = mp.matrix(np.asarray(S_p).tolist()), mp.matrix(np.asarray(S_q).tolist())
        dm = mp.matrix([mp.mpf(float(a)) - mp.mpf(float(b)) for a, b in zip(m_q, m_p)])
        Sq_inv = mp.inverse(Sq)
        trace = sum((Sq_inv * Sp)[i, i] for i in range(d))
        maha = (dm.T * Sq_inv * dm)[0, 0]
        return float(0.5 * (trace - d + maha + mp.log(mp.det(Sq)) - mp.log(mp.det(Sp))))


def _kl_tolerance(m_p, S_p, m_q, S_q):
    """Error a backward-stable float64 evaluation may make: the first-order change of the KL under
    perturbations of the covariances of relative size d eps (gradients 1/2 (S_q^-1 - S_p^-1) and
    1/2 (S_q^-1 - S_q^-1 (S_p + dm dm^T) S_q^-1)), plus the second-order term (d eps kappa)^2, which is
    what remains when p = q, and round-off of the result itself."""
    d, eps = len(m_p), np.finfo(np.float64).eps
    Sq_inv, Sp_inv = np.linalg.inv(S_q), np.linalg.inv(S_p)
    dm = np.asarray(m_q) - np.asarray(m_p)
    grad_p = 0.5 * (Sq_inv - Sp_inv)
    grad_q = 0.5 * (Sq_inv - Sq_inv @ (S_p + np.outer(dm, dm)) @ Sq_inv)
    first = (
        d * eps * (np.linalg.norm(grad_p) * np.linalg.norm(S_p, 2) + np.linalg.norm(grad_q) * np.linalg.norm(S_q, 2))
    )
    second = (d * eps * (np.linalg.cond(S_p) + np.linalg.cond(S_q))) ** 2
    return first, second


def _graded(d, log_scale, log_cond, u, seed):
    """A rotated covariance with eigenvalues 10^(log_scale + log_cond (u_i - 1/2)), u spread over [0, 1]."""
    u = np.sort(np.asarray(u, dtype=np.float64))
    if d > 1:
        u = (u - u[0]) / max(u[-1] - u[0], 1e-12)  # the extremes are exactly 0 and 1: the full condition number
    return rotated_covariance(10.0 ** (log_scale + log_cond * (u - 0.5)), seed=seed)


def test_gaussian_kl_issue_cases_at_condition_1e12():
    R = np.array([[1.0, -1.0], [1.0, 1.0]]) / np.sqrt(2.0)
    P = R @ np.diag([0.9, 1e12]) @ R.T
    z = np.zeros(2)
    # KL(p || p) = 0: the 0.9 direction is not q's null space (the old code said inf)
    assert gaussian_kl(z, P, z, P) <= sum(_kl_tolerance(z, P, z, P))
    # KL(N(0, diag(1, 1e12)) || N(0, diag(0.5, 1e12))) = 1/2 (2 - 1 - ln 2) (the old code said 0)
    assert gaussian_kl(z, np.diag([1.0, 1e12]), z, np.diag([0.5, 1e12])) == pytest.approx(
        0.5 * (1 - np.log(2)), rel=1e-14
    )
    # a singular pair on a common plane in d = 3, graded 1e12 : 0.9 inside the plane
    S = rotated_covariance([1e12, 0.9, 0.0], seed=2)
    assert gaussian_kl(np.zeros(3), S, np.zeros(3), S) < 1e-6
    assert gaussian_kl(np.zeros(3), S + 1e-3 * np.eye(3), np.zeros(3), S) == np.inf


@settings(max_examples=60, deadline=None)
@given(
    d=hs.integers(1, 5),
    seed=hs.integers(0, 2**31),
    log_scale=hs.floats(-12, 12),
    log_cond=hs.floats(0, 12),
    kind=hs.sampled_from(["same", "near", "far"]),
    u=hs.lists(hs.floats(0, 1), min_size=5, max_size=5),
)
@example(d=2, seed=0, log_scale=6.0, log_cond=12.0, kind="same", u=[0.0, 1.0, 0.5, 0.5, 0.5])
@example(d=4, seed=1, log_scale=-6.0, log_cond=11.5, kind="near", u=[0.0, 0.3, 0.7, 1.0, 0.5])
def test_gaussian_kl_on_graded_spectra_matches_mpmath(d, seed, log_scale, log_cond, kind, u):
    """Rotated covariances with eigenvalues over up to 12 decades, at scales from 1e-12 to 1e12:
    p equal to q, near q (perturbed rotation and eigenvalues), or unrelated (its own graded
    spectrum). The KL is finite and agrees with the exact KL of the stored inputs within what
    backward-stable float64 can promise (_kl_tolerance)."""
    rng = np.random.default_rng(seed)
    S_q = _graded(d, log_scale, log_cond, u[:d], seed)
    m_q = 10.0 ** (log_scale / 2) * rng.normal(size=d)
    if kind == "same":
        m_p, S_p = m_q.copy(), S_q.copy()
    elif kind == "near":
        lam, V = np.linalg.eigh(S_q)
        V = np.linalg.qr(V @ (np.eye(d) + 1e-3 * rng.normal(size=(d, d))))[0]
        S_p = (V * (lam * np.exp(0.3 * rng.normal(size=d)))) @ V.T
        S_p = 0.5 * (S_p + S_p.T)
        m_p = m_q + np.sqrt(lam[0]) * rng.normal(size=d)
    else:
        S_p = _graded(d, rng.uniform(-12, 12), rng.uniform(0, 12), rng.uniform(0, 1, d), seed + 1)
        m_p = np.sqrt(np.linalg.eigvalsh(S_p)[-1]) * rng.normal(size=d)
    kl = gaussian_kl(m_p, S_p, m_q, S_q)
    ref = _mp_kl(m_p, S_p, m_q, S_q)
    first, second = _kl_tolerance(m_p, S_p, m_q, S_q)
    assert np.isfinite(kl)
    assert abs(kl - ref) <= 4 * (first + second) + 1e-13 * abs(ref) + 1e-14


def test_expected_kl_at_huge_N_against_mpmath():
    """The digamma sum cancels to 1e-15 of its terms at N = 1e15; the series keeps every digit."""
    for d, N in [(2, 10**15), (2, 10**8), (3, 4), (40, 60), (200, 201), (200, 2000), (784, 800), (50, 10**12)]:
        with mp.workdps(50):
            ref = 0.5 * sum(mp.log(mp.mpf(N) / 2) - mp.digamma(mp.mpf(N - i) / 2) for i in range(1, d + 1))
        assert expected_kl(d, N) == pytest.approx(float(ref), rel=1e-13, abs=0), (d, N)


def _mp_sampler_law(eigenvalues, coords, betas, c, dps=40):
    """Mean along e_nu and variance of the sampler output, by the scalar step-by-step recursion in
    mpmath: u_{t-1} = A_t u_t + o_t + sqrt(beta_t) z, from u_T ~ N(0, 1), for eps = w_t (u - sqrt(abar_t) m),
    w_t = sqrt(1 - abar_t) / (abar_t (lambda + c) + 1 - abar_t)."""
    with mp.workdps(dps):
        betas = [mp.mpf(float(b)) for b in betas]
        abars, ab = [], mp.mpf(1)
        for b in betas:
            ab *= 1 - b
            abars.append(ab)
        means, variances = [], []
        for lam, m in zip(eigenvalues, coords):
            lam, m = mp.mpf(float(lam)) + mp.mpf(float(c)), mp.mpf(float(m))
            mean, var = mp.mpf(0), mp.mpf(1)
            for b, ab in zip(reversed(betas), reversed(abars)):
                w = mp.sqrt(1 - ab) / (ab * lam + 1 - ab)
                g = b / mp.sqrt(1 - ab)
                A = (1 - g * w) / mp.sqrt(1 - b)
                mean = A * mean + g * w * mp.sqrt(ab) * m / mp.sqrt(1 - b)
                var = A**2 * var + b
            means.append(float(mean))
            variances.append(float(var))
        return np.array(means), np.array(variances)


@settings(max_examples=30, deadline=None)
@given(
    d=hs.integers(1, 4),
    seed=hs.integers(0, 2**31),
    log_lo=hs.floats(-12, 12),
    log_span=hs.floats(0, 24),
    T=hs.integers(2, 40),
    beta_max=hs.floats(1e-3, 0.3),
    c=hs.sampled_from([0.0, 1e-9, 0.1]),
)
@example(d=3, seed=0, log_lo=-12.0, log_span=24.0, T=20, beta_max=0.02, c=0.0)
@example(d=3, seed=1, log_lo=-6.0, log_span=12.0, T=30, beta_max=0.01, c=0.0)
def test_sampler_law_on_graded_spectra_matches_mpmath(d, seed, log_lo, log_span, T, beta_max, c):
    """Training spectra from 1e-12 to 1e12: the exact law of the trained model's sampler is finite,
    agrees with the step-by-step recursion in mpmath, and, where its covariance is representable
    (condition number <= 1e12), so does its KL to the training law."""
    rng = np.random.default_rng(seed)
    lam = np.minimum(10.0 ** (log_lo + log_span * np.sort(rng.uniform(0, 1, d))), 1e12)
    sched = Schedule.linear(T=T, beta_min=1e-4, beta_max=max(beta_max, 1e-4))
    V = random_rotation(d, seed=seed)
    mu0 = 10.0 ** (log_lo / 2) * rng.normal(size=d)
    model = LinearDiffusion(mu0, lam, V, sched, c)
    var, coef = model.sampling_variances(), model.sampling_mean_coefficients()
    ref_mean, ref_var = _mp_sampler_law(lam, V.T @ mu0, sched.betas, c)
    assert np.all(np.isfinite(var)) and np.all(var > 0)
    np.testing.assert_allclose(var, ref_var, rtol=1e-10)
    np.testing.assert_allclose(coef, ref_mean, rtol=1e-9, atol=1e-12 * np.max(np.abs(ref_mean), initial=0.0))
    mean, cov = model.sampling_distribution()
    assert np.all(np.isfinite(mean)) and np.all(np.isfinite(cov))
    Sigma0 = (V * lam) @ V.T
    Sigma0 = 0.5 * (Sigma0 + Sigma0.T)
    if lam[0] > 0 and lam[-1] / lam[0] <= 1e12 and var.max() / var.min() <= 1e12:
        kl = gaussian_kl(mean, cov, mu0, Sigma0)
        ref = _mp_kl(mean, cov, mu0, Sigma0)
        first, second = _kl_tolerance(mean, cov, mu0, Sigma0)
        assert np.isfinite(kl) and abs(kl - ref) <= 4 * (first + second) + 1e-13 * abs(ref) + 1e-14


def _gaussian(d, k, seed):
    cov = rotated_covariance(power_law_spectrum(d, k), seed=seed)
    return np.linspace(0.0, 1.0, d), cov


def _stats(mean, cov, N, rng):
    X = rng.multivariate_normal(mean, cov, size=N, method="eigh")
    return empirical_stats(X)


def test_naive_measure_simple_cases():
    S = np.diag([4.0, 1.0])
    assert naive_measure(S, S) == 0.0
    assert naive_measure(np.zeros((2, 2)), S) == 1.0
    assert naive_measure(np.diag([5.0, 1.0]), S) == pytest.approx(1.0 / 17.0)


@pytest.mark.parametrize("k, N", [(0.0, 5), (1.0, 20), (2.0, 8), (2.0, 200)])
def test_expected_naive_measure_against_datasets(k, N):
    mean, cov = _gaussian(15, k, seed=1)
    rng = np.random.default_rng(2)
    vals = np.array([naive_measure(_stats(mean, cov, N, rng)[1], cov) for _ in range(3000)])
    exact = expected_naive_measure(cov, N)
    assert abs(vals.mean() - exact) < 4 * vals.std() / np.sqrt(vals.size)
    # and the talk's approximation (d_eff + 1) / N is its large-N form
    d_eff = participation_ratio(cov)
    assert exact == pytest.approx((d_eff + 1) / N, rel=2 * d_eff / N / (d_eff + 1) + 1e-12)


def test_expected_naive_measure_accepts_eigenvalues():
    lam = power_law_spectrum(30, 1.0)
    assert expected_naive_measure(lam, 50) == pytest.approx(expected_naive_measure(rotated_covariance(lam, 3), 50))


@pytest.mark.parametrize("d, N", [(8, 5), (8, 9), (8, 40)])
def test_learned_kl_equals_gaussian_kl(d, N):
    mean, cov = _gaussian(d, 1.0, seed=3)
    m0, S0 = _stats(mean, cov, N, np.random.default_rng(4))
    K = LearnedKL(m0, S0, mean, cov)
    cs = np.array([0.0, 1e-4, 0.03, 1.0, 30.0])
    expect = np.array([gaussian_kl(m0, S0 + c * np.eye(d), mean, cov) for c in cs])
    got = K(cs)
    assert got.shape == cs.shape
    if N <= d:
        assert np.isinf(got[0]) and np.isinf(expect[0])
    assert np.allclose(got[1:], expect[1:], rtol=1e-8)
    if N > d:
        assert got[0] == pytest.approx(expect[0], rel=1e-8)
    assert learned_kl(m0, S0, mean, cov, 0.03) == pytest.approx(expect[2], rel=1e-8)


@pytest.mark.parametrize("d, N, k", [(10, 4, 1.0), (10, 11, 0.0), (10, 30, 2.0), (20, 10, 2.0)])
def test_optimal_ridge_against_grid_search(d, N, k):
    """Brute force with gaussian_kl (dense, independent of the closed form in c) on a fine grid."""
    mean, cov = _gaussian(d, k, seed=5)
    m0, S0 = _stats(mean, cov, N, np.random.default_rng(6))
    c_star = optimal_ridge_limit_law(m0, S0, mean, cov)
    grid = np.geomspace(1e-6, 10.0, 600)
    kls = np.array([gaussian_kl(m0, S0 + c * np.eye(d), mean, cov) for c in grid])
    i = int(np.argmin(kls))
    assert 0 < i < grid.size - 1  # an interior minimum
    assert grid[i - 1] <= c_star <= grid[i + 1]
    assert learned_kl(m0, S0, mean, cov, c_star) <= kls.min() + 1e-9


def test_optimal_ridge_is_zero_when_the_data_overestimate_every_variance():
    """Sigma_0 = 2 Sigma: sum 1/lambda = Tr Sigma^-1 / 2 < Tr Sigma^-1, so KL increases with c."""
    mean, cov = _gaussian(6, 1.0, seed=7)
    assert optimal_ridge_limit_law(mean, 2.0 * cov, mean, cov) == 0.0
    K = LearnedKL(mean, 2.0 * cov, mean, cov)
    assert np.all(np.diff(K(np.linspace(0, 1, 50))) > 0)


def test_measures_reject_bad_input():
    mean, cov = _gaussian(3, 1.0, seed=0)
    with pytest.raises(ValueError, match="singular"):
        LearnedKL(mean, cov, mean, np.diag([1.0, 1.0, 0.0]))
    with pytest.raises(ValueError, match="c must"):
        learned_kl(mean, cov, mean, cov, -1.0)
    with pytest.raises(ValueError, match="shape"):
        naive_measure(np.eye(2), cov)
    with pytest.raises(ValueError, match="zero"):
        naive_measure(cov, np.zeros((3, 3)))
    with pytest.raises(ValueError, match="N must be"):
        expected_naive_measure(cov, 1)
    with pytest.raises(ValueError, match="symmetric"):
        optimal_ridge_limit_law(mean, np.triu(np.ones((3, 3))), mean, cov)
    with pytest.raises(ValueError, match="semi-definite"):
        naive_measure(cov, -cov)


def test_whitened_kl_approximation_against_monte_carlo():
    """The formula is the average of 1/4 Tr A^2 + 1/2 delta^T Sigma^-1 delta over sampled training sets."""
    rng = np.random.default_rng(5)
    d, N, n_sets = 20, 60, 4000
    cov = rotated_covariance(power_law_spectrum(d, 1.5), seed=3)
    L = np.linalg.cholesky(cov)
    W = np.linalg.inv(L)  # W Sigma W^T = Id: whitening
    values = []
    for _ in range(n_sets):
        mean0, cov0 = empirical_stats(rng.standard_normal((N, d)) @ L.T)
        A = W @ cov0 @ W.T - np.eye(d)
        delta = W @ mean0
        values.append(0.25 * np.sum(A * A) + 0.5 * delta @ delta)
    values = np.array(values)
    assert abs(values.mean() - whitened_kl_approximation(d, N)) < 3 * values.std() / np.sqrt(n_sets)


@pytest.mark.parametrize("d", [50, 100, 400])
def test_whitened_kl_approximation_range_of_validity(d):
    """Against the exact digamma average: low by ~ q / 3 (q = d / N), within 5 % for N >= 8 d and 10 % for
    N >= 4 d (the range chapter 4 states), a factor ~ 2 at N = d + 1 and finite where the KL is infinite."""
    for q in [0.02, 0.05, 0.1, 0.125, 0.2, 0.25]:
        N = int(np.ceil(d / q))
        rel = whitened_kl_approximation(d, N) / expected_kl(d, N) - 1
        assert abs(rel + q / 3) < q**2 + 2 * q / d  # the leading correction is the one stated (+ O(q^2, q / d))
        assert abs(rel) < (0.05 if q <= 0.125 else 0.10)
    assert whitened_kl_approximation(d, d + 1) / expected_kl(d, d + 1) < 0.55  # broken near N = d
    assert np.isfinite(whitened_kl_approximation(d, d)) and np.isinf(expected_kl(d, d))
    with pytest.raises(ValueError, match="N"):
        whitened_kl_approximation(d, 1)


def test_gaussian_kl_beyond_float64_is_inf_not_nan():
    """A KL of about 1.5e320 nats (cov_q = 1e-320 Id) exceeds float64: inf, as documented, and never NaN."""
    assert gaussian_kl(np.zeros(3), np.eye(3), np.zeros(3), 1e-320 * np.eye(3)) == np.inf
