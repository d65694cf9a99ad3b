"""LinearDiffusion: every closed form against an independent computation.

- W_t, b_t against a brute-force (ridge) least-squares fit of eps on [x_t, 1] over sampled pairs;
- the sampler law against the dense d x d recursion and against samples of both samplers;
- the beta_1 variance floor in unvisited directions;
- train and test losses against Monte-Carlo estimates of the DDPM loss, and the gap identity.
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hs

from lindiff import LinearDiffusion, Schedule, ddpm_sample, empirical_stats

SCHED = Schedule.linear()  # the talk's schedule, T = 1000
SHORT = Schedule.linear(T=200, beta_min=1e-3, beta_max=0.05)  # abar_T ~ 6e-3, 5x cheaper


# ----------------------------------------------------------------------------- the optimum
def _ridge_regression(X, sched, t, c, n_per_row, rng):
    """Least squares of eps on [x_t, 1] over sampled pairs, + abar_t c ||W||_F^2; with standard errors.

    Every training row is used n_per_row times (x_0 uniform on the rows), each with fresh noise.
    The penalty is realised as d extra rows sqrt(M abar_t c) e_j with target 0. Standard errors
    are the heteroscedasticity-robust sandwich H^-1 (M Cov(d_i r_i)) H^-1, valid for c > 0 too.
    """
    N, d = X.shape
    a = sched.alpha_bars[t - 1]
    x0 = np.repeat(X, n_per_row, axis=0)
    M = x0.shape[0]
    eps = rng.standard_normal(x0.shape)
    D = np.column_stack([np.sqrt(a) * x0 + np.sqrt(1 - a) * eps, np.ones(M)])
    H = D.T @ D
    H[:d, :d] += M * a * c * np.eye(d)
    coef = np.linalg.solve(H, D.T @ eps)  # (d + 1, d): eps ~ D @ coef
    resid = eps - D @ coef
    Hinv = np.linalg.inv(H)
    se = np.empty_like(coef)
    for k in range(d):
        g = D * resid[:, k : k + 1]
        se[:, k] = np.sqrt(np.diag(Hinv @ (M * np.cov(g.T, bias=True)) @ Hinv))
    return coef[:d].T, coef[d], se[:d].T, se[d]


@pytest.mark.parametrize("N", [3, 8])
@pytest.mark.parametrize("c", [0.0, 0.3])
def test_weights_match_brute_force_least_squares(N, c, make_data):
    d = 4
    X = make_data(N, d, seed=10 * N + int(10 * c))
    model = LinearDiffusion.fit(X, SCHED, c=c)
    rng = np.random.default_rng(N)
    for t in (1, 100, 1000):
        W, b = model.weights(t)
        W_hat, beta_hat, se_W, se_beta = _ridge_regression(X, SCHED, t, c, 48_000 // N, rng)
        floor = 1e-9 * np.max(np.abs(W))
        assert np.all(np.abs(W_hat - W) <= 5 * se_W + floor), (t, W_hat - W, se_W)
        # the intercept of the regression is W_t b_t
        assert np.all(np.abs(beta_hat - W @ b) <= 5 * se_beta + floor), (t, beta_hat - W @ b, se_beta)
        if t == 100:  # where the data and the ridge both matter, the fit resolves c from c + 0.2
            W_other, _ = LinearDiffusion.fit(X, SCHED, c=c + 0.2).weights(t)
            assert np.max(np.abs(W_hat - W_other) / (se_W + floor)) > 5


@pytest.mark.parametrize("N, c", [(3, 0.0), (9, 0.0), (3, 0.7)])
def test_weights_dense_formula_and_model_call(N, c, make_data):
    d = 5
    X = make_data(N, d, seed=N)
    model = LinearDiffusion.fit(X, SCHED, c=c)
    mu0, S0 = X.mean(axis=0), np.cov(X.T, bias=True)
    x = np.random.default_rng(0).normal(size=(7, d))
    for t in (1, 37, 1000):
        a = SCHED.alpha_bars[t - 1]
        W, b = model.weights(t)
        np.testing.assert_allclose(
            W,
            np.sqrt(1 - a) * np.linalg.inv(a * (S0 + c * np.eye(d)) + (1 - a) * np.eye(d)),
            rtol=1e-9,
            atol=1e-9 * np.max(np.abs(W)),
        )
        np.testing.assert_allclose(b, -np.sqrt(a) * mu0, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(model(x, t), (x + b) @ W.T, rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(np.linalg.eigvalsh(W), np.sort(model.weight_eigenvalues(t)), rtol=1e-9)


def test_eigenvalues_are_ascending_with_exact_zeros(make_data):
    X = make_data(3, 6, seed=2)
    model = LinearDiffusion.fit(X, SCHED)
    assert np.all(np.diff(model.eigenvalues) >= 0)
    assert np.count_nonzero(model.eigenvalues == 0.0) == 6 - 2
    np.testing.assert_allclose(model.eigenvectors.T @ model.eigenvectors, np.eye(6), atol=1e-12)


# ----------------------------------------------------------------------------- the sampler law
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    d=hs.integers(1, 6),
    N=hs.integers(2, 9),
    c=hs.one_of(hs.just(0.0), hs.floats(0.01, 3.0)),
    beta_max=hs.floats(1e-3, 0.3),
    T=hs.integers(1, 30),
    seed=hs.integers(0, 2**31),
)
def test_sampling_distribution_matches_dense_recursion(d, N, c, beta_max, T, seed, dense_sampler_law):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=d) + rng.standard_normal((N, d)) * np.exp(rng.uniform(-2, 2, d))
    sched = Schedule.linear(T, beta_max / 50, beta_max)
    model = LinearDiffusion.fit(X, sched, c=c)
    mean, cov = model.sampling_distribution()
    m_ref, C_ref = dense_sampler_law(model)
    scale = max(1.0, float(np.max(np.abs(X))))
    np.testing.assert_allclose(mean, m_ref, rtol=1e-9, atol=1e-11 * scale)
    np.testing.assert_allclose(cov, C_ref, rtol=1e-8, atol=1e-11 * np.max(np.abs(C_ref)))


def test_law_at_full_schedule_matches_dense_recursion(make_data, dense_sampler_law):
    # T = 1000, the talk's schedule; N < d and N > d.
    for N, c in ((3, 0.0), (12, 0.0), (3, 0.5)):
        model = LinearDiffusion.fit(make_data(N, 6, seed=N), SCHED, c=c)
        mean, cov = model.sampling_distribution()
        m_ref, C_ref = dense_sampler_law(model)
        np.testing.assert_allclose(mean, m_ref, rtol=1e-9, atol=1e-11)
        np.testing.assert_allclose(cov, C_ref, rtol=1e-8, atol=1e-12)


def test_law_tends_to_rho_N_for_long_schedules(make_data):
    # abar_T -> 0 and beta_1 -> 0: the sampler produces N(mu_0, Sigma_0 + c Id).
    X = make_data(20, 4, seed=3)
    mu0, S0 = empirical_stats(X)
    sched = Schedule.linear(T=20_000, beta_min=1e-7, beta_max=2e-3)  # abar_T ~ e^-20
    for c in (0.0, 0.4):
        mean, cov = LinearDiffusion.fit(X, sched, c=c).sampling_distribution()
        np.testing.assert_allclose(mean, mu0, rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(cov, S0 + c * np.eye(4), rtol=2e-3, atol=2e-3 * np.max(S0))


def test_large_variances_are_shrunk_at_finite_T():
    # MATH.md section 3: with beta_max = 1e-2, C / lam = 0.85 at lam = 100.
    model = LinearDiffusion(np.zeros(1), [100.0], np.eye(1), SCHED)
    assert model.sampling_variances()[0] / 100.0 == pytest.approx(0.85, abs=0.005)


@pytest.mark.parametrize("N, c", [(3, 0.0), (10, 0.0), (3, 0.5)])
def test_samples_follow_the_law(N, c, make_data, gaussian_lr_pvalue):
    d, n = 4, 20_000
    model = LinearDiffusion.fit(make_data(N, d, seed=N + 1), SHORT, c=c)
    mean, cov = model.sampling_distribution()
    fast = model.sample(n, seed=1, progress_bar=False)
    generic = ddpm_sample(model, SHORT, n, d, seed=2, progress_bar=False)
    assert gaussian_lr_pvalue(fast, mean, cov) > 1e-3
    assert gaussian_lr_pvalue(generic, mean, cov) > 1e-3
    np.testing.assert_array_equal(fast, model.sample(n, seed=1, progress_bar=False))


def test_sample_without_a_seed_is_fresh_each_call(make_data):
    """seed=None (the default) means fresh entropy (SPEC 7); an int seed reproduces."""
    model = LinearDiffusion.fit(make_data(3, 4, seed=1), SHORT)
    a, b = model.sample(5, progress_bar=False), model.sample(5, progress_bar=False)
    assert not np.allclose(a, b)
    g1, g2 = (ddpm_sample(model, SHORT, 5, 4, progress_bar=False) for _ in range(2))
    assert not np.allclose(g1, g2)
    np.testing.assert_array_equal(
        model.sample(5, seed=7, progress_bar=False), model.sample(5, seed=7, progress_bar=False)
    )


# ----------------------------------------------------------------------------- the beta_1 floor
@pytest.mark.parametrize("N, d", [(2, 300), (3, 5), (5, 40)])
def test_beta1_floor_in_unvisited_directions(N, d, make_data):
    X = make_data(N, d, seed=d)
    model = LinearDiffusion.fit(X, SCHED)
    var = model.sampling_variances()
    assert np.all(np.isfinite(var)) and np.all(var > 0)
    zero = model.eigenvalues == 0.0
    assert np.count_nonzero(zero) == d - N + 1
    assert np.all(var[zero] == SCHED.betas[0])  # exactly beta_1
    # the dense covariance restricted to the null space of the centred data is beta_1 Id
    Vt = np.linalg.svd(X - X.mean(axis=0), full_matrices=True)[2]
    null = Vt[N - 1 :].T  # orthonormal basis of the directions the centred rows never visit
    _, cov = model.sampling_distribution()
    np.testing.assert_allclose(null.T @ cov @ null, SCHED.betas[0] * np.eye(d - N + 1), atol=1e-12)
    # with a ridge the floor is lifted to the variance of a direction of eigenvalue c, still finite
    var_c = LinearDiffusion.fit(X, SCHED, c=0.5).sampling_variances()
    assert np.all(np.isfinite(var_c)) and np.all(var_c[zero] > 0.4)


def test_floor_seen_by_the_sampler(make_data):
    # d = 5, N = 2: four unvisited directions; their sampled variance is beta_1 within chi^2 error.
    model = LinearDiffusion.fit(make_data(2, 5, seed=9), SCHED)
    y = (model.sample(4000, seed=3, progress_bar=False) - model.mean) @ model.eigenvectors[:, :4]
    n = y.shape[0]
    z = (np.sum(y**2, axis=0) / SCHED.betas[0] - n) / np.sqrt(2 * n)  # chi^2_n standardised
    assert np.all(np.abs(z) < 4)


def test_extreme_eigenvalues_stay_finite(dense_sampler_law):
    # C(lam) -> beta_1 + sum_{t>=2} beta_t / abar_{t-1} + 1 / abar_T as lam -> infinity.
    limit = SCHED.betas[0] + np.sum(SCHED.betas[1:] / SCHED.alpha_bars[:-1]) + 1.0 / SCHED.alpha_bars[-1]
    lams = np.array([0.0, 1e-300, 1e6, 1e150, 1e200, 1e300])
    model = LinearDiffusion(np.ones(6), lams, np.eye(6), SCHED)
    var = model.sampling_variances()
    mc = model.sampling_mean_coefficients()
    assert np.all(np.isfinite(var)) and np.all(np.isfinite(mc))
    assert var[0] == SCHED.betas[0] and var[1] == pytest.approx(SCHED.betas[0], rel=1e-12)
    np.testing.assert_allclose(var[3:], limit, rtol=1e-10)
    # lam = 1e6 against the dense recursion (d = 1)
    one = LinearDiffusion(np.ones(1), [1e6], np.eye(1), SCHED)
    m_ref, C_ref = dense_sampler_law(one)
    assert var[2] == pytest.approx(C_ref[0, 0], rel=1e-8)
    assert mc[2] == pytest.approx(m_ref[0], rel=1e-8, abs=1e-12)


# ----------------------------------------------------------------------------- losses
def _mc_ddpm_loss(model, draw_x0, t, n, rng):
    """Mean and variance of || eps - eps_model(x_t, t) ||^2 over n sampled (x_0, eps)."""
    a = model.schedule.alpha_bars[t - 1]
    x0 = draw_x0(n, rng)
    eps = rng.standard_normal(x0.shape)
    r = np.sum((eps - model(np.sqrt(a) * x0 + np.sqrt(1 - a) * eps, t)) ** 2, axis=1)
    return r.mean(), r.var(ddof=1)


@pytest.mark.parametrize("N, c", [(4, 0.0), (20, 0.0), (4, 0.5)])
def test_losses_against_monte_carlo(N, c):
    d = 6
    rng = np.random.default_rng(N + int(10 * c))
    mu = rng.normal(size=d)
    Sigma_sqrt = np.linalg.qr(rng.standard_normal((d, d)))[0] * np.exp(rng.uniform(-1, 1, d))
    Sigma = Sigma_sqrt @ Sigma_sqrt.T
    X = mu + rng.standard_normal((N, d)) @ Sigma_sqrt.T
    model = LinearDiffusion.fit(X, SHORT, c=c)

    def train_x0(n, r):
        return X[r.integers(N, size=n)]

    def test_x0(n, r):
        return mu + r.standard_normal((n, d)) @ Sigma_sqrt.T

    for draw, closed in ((train_x0, lambda t: model.train_loss(t)), (test_x0, lambda t: model.test_loss(mu, Sigma, t))):
        for t in (1, 20, 200):
            mean, var = _mc_ddpm_loss(model, draw, t, 20_000, rng)
            assert abs(closed(t) - mean) < 4 * np.sqrt(var / 20_000), (t, closed(t), mean)
    # summed over t: stratified Monte Carlo, 40 draws at every step
    for draw, total in ((train_x0, model.train_loss()), (test_x0, model.test_loss(mu, Sigma))):
        est = [_mc_ddpm_loss(model, draw, t, 40, rng) for t in range(1, SHORT.T + 1)]
        mean = sum(m for m, _ in est)
        se = np.sqrt(sum(v / 40 for _, v in est))
        assert abs(total - mean) < 4 * se, (total, mean, se)


@pytest.mark.parametrize("N, c", [(4, 0.0), (20, 0.0), (4, 0.5), (20, 2.0)])
def test_generalisation_gap_identity(N, c, make_data):
    # L_test(t) - L_train(t) = (s/a) Tr[(Sigma - Sigma_0 + delta delta^T) (Sigma_0 + kappa_t Id)^-2],
    # kappa_t = c + s/a: it holds for every c >= 0 (train loss without the ridge penalty).
    d = 6
    X = make_data(N, d, seed=N)
    rng = np.random.default_rng(1)
    mu = rng.normal(size=d)
    A = rng.standard_normal((d, d))
    Sigma = A @ A.T / d + 0.1 * np.eye(d)
    mu0, S0 = X.mean(axis=0), np.cov(X.T, bias=True)
    model = LinearDiffusion.fit(X, SCHED, c=c)
    gap = model.test_loss_per_step(mu, Sigma) - model.train_loss_per_step()
    delta = mu - mu0
    M = Sigma - S0 + np.outer(delta, delta)
    for t in (1, 2, 10, 300, 1000):
        a = SCHED.alpha_bars[t - 1]
        s = 1 - a
        inv = np.linalg.inv(S0 + (c + s / a) * np.eye(d))
        assert gap[t - 1] == pytest.approx((s / a) * np.trace(M @ inv @ inv), rel=1e-8)


def test_loss_bookkeeping(make_data):
    X = make_data(5, 7, seed=0)
    mu0, S0 = empirical_stats(X)
    model = LinearDiffusion.fit(X, SCHED)
    per_step = model.train_loss_per_step()
    assert per_step.shape == (SCHED.T,)
    assert model.train_loss() == pytest.approx(per_step.sum(), rel=1e-12)
    assert model.train_loss(17) == pytest.approx(per_step[16], rel=1e-12)
    # c = 0: sum_nu a lambda / (a lambda + s)
    a = SCHED.alpha_bars[:, None]
    lam = np.linalg.eigvalsh(S0)
    np.testing.assert_allclose(per_step, np.sum(a * lam / (a * lam + 1 - a), axis=1), rtol=1e-9, atol=1e-12)
    # testing on the training law itself reproduces the training loss
    np.testing.assert_allclose(model.test_loss_per_step(mu0, S0), per_step, rtol=1e-9, atol=1e-12)
    assert model.test_loss(mu0, S0, t=3) == pytest.approx(per_step[2], rel=1e-9)


# ----------------------------------------------------------------------------- validation
def test_edge_sizes(make_data):
    X = make_data(2, 1, seed=0)  # d = 1, N = 2
    model = LinearDiffusion.fit(X, SCHED)
    mean, cov = model.sampling_distribution()
    assert mean.shape == (1,) and cov.shape == (1, 1) and np.isfinite(cov).all()
    assert "d=1" in repr(model)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: LinearDiffusion.fit(np.ones((1, 3)), SCHED), "at least 2 samples"),
        (lambda: LinearDiffusion.fit(np.ones(3), SCHED), "2-D array"),
        (lambda: LinearDiffusion.fit([[0.0, np.nan], [1.0, 1.0]], SCHED), "NaN or inf"),
        (lambda: LinearDiffusion.fit(np.eye(3), SCHED, c=-1.0), "c must be a finite number >= 0"),
        (lambda: LinearDiffusion.fit(np.eye(3), SCHED, c=np.nan), "c must be a finite number >= 0"),
        (lambda: LinearDiffusion.fit(np.eye(3), SCHED, c="x"), "c must be a finite number >= 0"),
        (lambda: LinearDiffusion.fit(np.eye(3), "linear"), "schedule must be a lindiff.Schedule"),
        (lambda: LinearDiffusion.from_stats(np.zeros(2), np.eye(3), SCHED), r"expected \(2, 2\)"),
        (lambda: LinearDiffusion.from_stats(np.zeros(2), [[1.0, 0.5], [0.4, 1.0]], SCHED), "not symmetric"),
        (
            lambda: LinearDiffusion.from_stats(np.zeros(2), [[1.0, 2.0], [2.0, 1.0]], SCHED),
            "not positive semi-definite",
        ),
        (lambda: LinearDiffusion.from_stats(np.zeros(2), -1e-30 * np.eye(2), SCHED), "not positive semi-definite"),
        (lambda: LinearDiffusion(np.zeros(2), [1.0, -1.0], np.eye(2), SCHED), "eigenvalues must be >= 0"),
        (lambda: LinearDiffusion(np.zeros(2), [1.0], np.eye(2), SCHED), r"shape \(2,\)"),
        (lambda: LinearDiffusion(np.zeros(2), [1.0, np.nan], np.eye(2), SCHED), "eigenvalues contains NaN or inf"),
    ],
)
def test_construction_rejects_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.fixture(scope="module")
def small_model():
    return LinearDiffusion.fit(np.random.default_rng(0).normal(size=(5, 3)), Schedule.linear(T=10))


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda m: m.weights(0), r"step t must be an integer in 1\.\.10"),
        (lambda m: m.weights(11), r"step t must be an integer in 1\.\.10"),
        (lambda m: m.weights(2.0), r"step t must be an integer in 1\.\.10"),
        (lambda m: m.weight_eigenvalues(-1), "step t"),
        (lambda m: m(np.ones((4, 2)), 1), r"x must have shape \(n, 3\)"),
        (lambda m: m(np.ones(3), 1), "x must be a 2-D array"),
        (lambda m: m(np.full((1, 3), np.nan), 1), "NaN or inf"),
        (lambda m: m.train_loss(t=0), "step t"),
        (lambda m: m.test_loss(np.zeros(2), np.eye(3)), "true_mean has length 2, expected d = 3"),
        (lambda m: m.test_loss(np.zeros(3), np.eye(2)), r"true_cov has shape \(2, 2\)"),
        (lambda m: m.test_loss(np.zeros(3), -np.eye(3)), "true_cov is not positive semi-definite"),
        (lambda m: m.test_loss_per_step(np.zeros(3), np.eye(3) + np.triu(np.ones((3, 3)), 1)), "not symmetric"),
        (lambda m: m.sample(0), "n must be >= 1"),
        (lambda m: m.sample(2.5), "n must be an integer"),
    ],
)
def test_methods_reject_bad_input(small_model, call, match):
    with pytest.raises(ValueError, match=match):
        call(small_model)


def test_with_ridge_is_the_model_rebuilt_with_that_ridge():
    rng = np.random.default_rng(4)
    X = rng.standard_normal((5, 8))
    sched = Schedule.linear(T=20)
    base = LinearDiffusion.fit(X, sched)
    for c in (0.0, 0.3, 2.0):
        ridged = base.with_ridge(c)
        rebuilt = LinearDiffusion.fit(X, sched, c=c)
        assert ridged.c == c and base.c == 0.0  # the base model is left alone
        assert ridged.eigenvectors is base.eigenvectors  # shared, no new decomposition
        np.testing.assert_allclose(ridged.train_loss(), rebuilt.train_loss(), rtol=1e-12)
        np.testing.assert_allclose(ridged.weights(7)[0], rebuilt.weights(7)[0], rtol=1e-12, atol=1e-14)
    with pytest.raises(ValueError, match="c must be a finite number >= 0"):
        base.with_ridge(-1.0)
