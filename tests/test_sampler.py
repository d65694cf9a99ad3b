"""The generic and the diagonal samplers against independent recursions and against each other; the
affine law; the forward-chain and sampler paths."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs

import lindiff as ld
from lindiff import (
    LinearDiffusion,
    Schedule,
    ddpm_sample,
    diagonal_sample,
    diagonal_sampler_law,
    optimal_sampler_mean_factors,
    optimal_sampler_variances,
)
from lindiff.memorisation import EmpiricalDenoiser
from lindiff.sampler import affine_sampler_law, forward_trajectories, sampler_trajectories

SHORT = Schedule.linear(T=100, beta_min=1e-3, beta_max=0.08)
PATHS = Schedule.linear(T=200, beta_max=2e-2)  # forward-chain and sampler paths
STEEP = Schedule.linear(T=10, beta_min=1e-3, beta_max=0.3)  # the affine law


def _scalar_law(w, m, sched, nu, last_step_noise=True):
    """The sampler law of one coordinate by a plain Python loop over the steps (no numpy arrays);
    ``last_step_noise=False``: z = 0 at t = 1, as Ho et al.'s Algorithm 2."""
    mean, var = 0.0, 1.0
    for t in range(sched.T, 0, -1):
        beta, abar = float(sched.betas[t - 1]), float(sched.alpha_bars[t - 1])
        wt, mt = float(w[t - 1, nu]), float(m[t - 1, nu])
        # u <- (u - beta / sqrt(1 - abar) * wt (u - mt)) / sqrt(1 - beta) + sqrt(beta) z
        gain = (1.0 - beta / (1.0 - abar) ** 0.5 * wt) / (1.0 - beta) ** 0.5
        mean = gain * mean + beta / (1.0 - abar) ** 0.5 * wt * mt / (1.0 - beta) ** 0.5
        var = gain**2 * var + (beta if t > 1 or last_step_noise else 0.0)
    return mean, var


@settings(max_examples=25, deadline=None)
@given(seed=hs.integers(0, 2**31), d=hs.integers(1, 5), T=hs.integers(1, 40))
def test_diagonal_law_against_scalar_loop(seed, d, T):
    rng = np.random.default_rng(seed)
    sched = Schedule.linear(T, 1e-3, 0.1)
    w = rng.uniform(-1, 3, (T, d))  # arbitrary weights, e.g. during training
    m = rng.normal(size=(T, d))
    mean, var = diagonal_sampler_law(w, m, sched)
    for nu in range(d):
        ref_mean, ref_var = _scalar_law(w, m, sched, nu)
        assert mean[nu] == pytest.approx(ref_mean, rel=1e-10, abs=1e-12)
        assert var[nu] == pytest.approx(ref_var, rel=1e-10)


def test_diagonal_law_of_the_optimum_is_the_closed_form(make_data):
    # with w = the optimum's weight eigenvalues and m_t = sqrt(abar_t) V^T mu_0, the recursion
    # reproduces C(lam) and (1 - abar_T lam / v_T) (e . mu_0) of MATH.md section 3.
    sched = Schedule.linear()
    for N, c in ((3, 0.0), (12, 0.0), (3, 0.4)):
        model = LinearDiffusion.fit(make_data(N, 8, seed=N), sched, c=c)
        w = np.array([model.weight_eigenvalues(t) for t in range(1, sched.T + 1)])
        m = np.sqrt(sched.alpha_bars)[:, None] * (model.eigenvectors.T @ model.mean)
        mean, var = diagonal_sampler_law(w, m, sched)
        lam = model.eigenvalues + c
        ab = np.concatenate(([1.0], sched.alpha_bars))[:, None]
        v = ab * lam + 1 - ab
        with np.errstate(divide="ignore", invalid="ignore"):
            sums = sched.alpha_bars[-1] / v[-1] ** 2 + np.sum(sched.betas[:, None] * ab[:-1] / v[:-1] ** 2, axis=0)
            closed = np.where(lam > 0, lam**2 * sums, sched.betas[0])
        np.testing.assert_allclose(var, closed, rtol=1e-9)
        np.testing.assert_allclose(var, model.sampling_variances(), rtol=1e-9)
        np.testing.assert_allclose(mean, model.sampling_mean_coefficients(), rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(
            mean, (1 - ab[-1] * lam / v[-1]) * (model.eigenvectors.T @ model.mean), rtol=1e-9, atol=1e-12
        )


@pytest.mark.parametrize("beta_max", [1e-2, 2e-2])
def test_shrinkage_of_large_variances_against_scalar_loop(beta_max):
    """C(lam)/lam and the mean factor along a spectrum up to lam = 1e4 (CelebA's top eigenvalue at 80x80
    grey is about 674), T = 1000, for the talk's and Ho et al.'s beta_max: the closed forms against the
    step-by-step loop with the optimal weight sqrt(1 - abar_t) / v_t and centre sqrt(abar_t)."""
    sched = Schedule.linear(T=1000, beta_max=beta_max)
    lam = np.array([1e-3, 1.0, 20.5, 107.7, 673.7, 1e4])
    ab = sched.alpha_bars[:, None]
    w = np.sqrt(1.0 - ab) / (ab * lam + 1.0 - ab)
    m = np.sqrt(ab) * np.ones_like(lam)
    ratio = optimal_sampler_variances(lam, sched) / lam
    factor = optimal_sampler_mean_factors(lam, sched)
    for nu in range(lam.size):
        ref_mean, ref_var = _scalar_law(w, m, sched, nu)
        assert ratio[nu] == pytest.approx(ref_var / lam[nu], rel=1e-9)
        assert factor[nu] == pytest.approx(ref_mean, rel=1e-9)
    # the shrinkage grows with lam and is strong for the talk's schedule only
    assert np.all(np.diff(ratio[1:]) < 0) and np.all(np.diff(factor) < 0)
    assert (ratio[4] < 0.5) if beta_max == 1e-2 else (ratio[4] > 0.99)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_diagonal_sample_follows_its_law(dtype, gaussian_lr_pvalue):
    rng = np.random.default_rng(4)
    d, n = 5, 20_000
    w = rng.uniform(0, 2, (SHORT.T, d))
    m = rng.normal(size=d)  # broadcast over steps
    mean, var = diagonal_sampler_law(w, m, SHORT)
    y = diagonal_sample(w, m, SHORT, n, seed=1, progress_bar=False, dtype=dtype)
    assert y.dtype == np.float64
    assert gaussian_lr_pvalue(y, mean, np.diag(var)) > 1e-3
    np.testing.assert_array_equal(y, diagonal_sample(w, m, SHORT, n, seed=1, progress_bar=False, dtype=dtype))


def test_float32_chain_at_the_talks_scale():
    """d = 784, T = 1000: every coordinate's sample mean and variance against the exact law
    (coordinates are independent in the basis, so the standardised errors are i.i.d. N(0, 1))."""
    sched = Schedule.linear()
    d, n = 784, 2000
    lam = np.geomspace(1e-3, 700, d)  # up to CelebA's top variance; the smallest ones near the beta_1 floor
    w = np.sqrt(1 - sched.alpha_bars)[:, None] / (sched.alpha_bars[:, None] * lam + 1 - sched.alpha_bars[:, None])
    m = np.sqrt(sched.alpha_bars)[:, None] * np.linspace(-30, 30, d)  # means up to 30: float32 rounding
    mean, var = diagonal_sampler_law(w, m, sched)
    y = diagonal_sample(w, m, sched, n, seed=5, progress_bar=False)
    z_mean = (y.mean(axis=0) - mean) / np.sqrt(var / n)
    z_var = (y.var(axis=0, ddof=1) / var - 1) / np.sqrt(2 / (n - 1))
    for z in (z_mean, z_var):
        assert np.max(np.abs(z)) < 5 and abs(np.mean(z)) < 4 / np.sqrt(d) and 0.85 < np.std(z) < 1.15


def test_diagonal_sample_rejects_other_dtypes():
    with pytest.raises(ValueError, match="dtype must be numpy.float32 or numpy.float64"):
        diagonal_sample(np.ones((SHORT.T, 2)), 0.0, SHORT, 3, dtype=np.float16)


def test_likelihood_ratio_check_has_power(gaussian_lr_pvalue):
    # the acceptance test used above rejects laws that are off by 10 % in one variance or by
    # 0.05 standard deviations in one mean, at the sample sizes used
    rng = np.random.default_rng(0)
    d, n = 4, 20_000
    x = rng.standard_normal((n, d))
    assert gaussian_lr_pvalue(x, np.zeros(d), np.eye(d)) > 1e-3
    assert gaussian_lr_pvalue(x, np.zeros(d), np.diag([1.10, 1, 1, 1])) < 1e-3
    assert gaussian_lr_pvalue(x, np.array([0.05, 0, 0, 0]), np.eye(d)) < 1e-3


def test_ddpm_sample_with_zero_model(gaussian_lr_pvalue):
    # eps = 0: u_{t-1} = u_t / sqrt(alpha_t) + sigma_t z, so Var u_0 = 1/abar_T + sum_t beta_t / abar_{t-1}
    d, n = 3, 20_000
    u = ddpm_sample(lambda x, t: np.zeros_like(x), SHORT, n, d, seed=0, progress_bar=False)
    var = 1.0 / SHORT.alpha_bars[-1] + np.sum(SHORT.betas / SHORT.alpha_bars_prev)
    assert gaussian_lr_pvalue(u, np.zeros(d), var * np.eye(d)) > 1e-3
    _, ref_var = diagonal_sampler_law(np.zeros((SHORT.T, d)), 0.0, SHORT)
    np.testing.assert_allclose(ref_var, var, rtol=1e-12)


def test_ddpm_sample_calls_every_step_in_order():
    seen = []

    def eps(x, t):
        seen.append(t)
        return np.zeros_like(x)

    ddpm_sample(eps, Schedule.linear(T=7), 2, 3, progress_bar=False)
    assert seen == [7, 6, 5, 4, 3, 2, 1]


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: ddpm_sample(None, SHORT, 2, 3), "eps_model must be a callable"),
        (
            lambda: ddpm_sample(lambda x, t: x[:, :1], SHORT, 2, 3, progress_bar=False),
            r"eps_model returned shape \(2, 1\) at t=100, expected \(2, 3\)",
        ),
        (lambda: ddpm_sample(lambda x, t: x, "linear", 2, 3), "schedule must be a lindiff.Schedule"),
        (lambda: ddpm_sample(lambda x, t: x, SHORT, 0, 3), "n must be >= 1"),
        (lambda: ddpm_sample(lambda x, t: x, SHORT, 2, 0), "d must be >= 1"),
        (lambda: diagonal_sampler_law(np.ones((99, 3)), 0.0, SHORT), r"w must have shape \(T, d\) with T = 100"),
        (lambda: diagonal_sampler_law(np.ones(100), 0.0, SHORT), r"w must have shape \(T, d\)"),
        (lambda: diagonal_sampler_law(np.ones((100, 3)), np.ones(4), SHORT), "does not broadcast"),
        (lambda: diagonal_sampler_law(np.full((100, 3), np.nan), 0.0, SHORT), "w contains NaN"),
        (lambda: diagonal_sampler_law(np.ones((100, 3)), np.inf, SHORT), "m contains NaN"),
        (lambda: diagonal_sample(np.ones((100, 3)), 0.0, SHORT, 0), "n must be >= 1"),
    ],
)
def test_samplers_reject_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize("t", [2, 10, 50])
def test_sampler_update_is_the_forward_posterior_mean(t):
    """The ancestral update (u_t - beta_t / sqrt(1 - abar_t) eps) / sqrt(alpha_t) is the mean of
    q(x_{t-1} | x_t, x_0) with x_0 = (x_t - sqrt(1 - abar_t) eps) / sqrt(abar_t), and beta_t is no
    more than its variance: checked by conditioning the joint Gaussian of (x_{t-1}, x_t) given x_0."""
    from lindiff import Schedule

    sched = Schedule.linear(T=50, beta_max=0.05)
    i = t - 1
    a_prev, a_t, alpha, beta = sched.alpha_bars[i - 1], sched.alpha_bars[i], sched.alphas[i], sched.betas[i]
    # x_{t-1} = sqrt(a_prev) x0 + sqrt(1 - a_prev) e1,  x_t = sqrt(alpha) x_{t-1} + sqrt(beta) e2
    var_prev, cov, var_t = 1 - a_prev, np.sqrt(alpha) * (1 - a_prev), alpha * (1 - a_prev) + beta
    x0, xt = 0.7, -1.3
    m_prev, m_t = np.sqrt(a_prev) * x0, np.sqrt(a_t) * x0
    posterior_mean = m_prev + cov / var_t * (xt - m_t)
    posterior_var = var_prev - cov**2 / var_t
    eps = (xt - np.sqrt(a_t) * x0) / np.sqrt(1 - a_t)
    update = (xt - beta / np.sqrt(1 - a_t) * eps) / np.sqrt(alpha)
    assert update == pytest.approx(posterior_mean, rel=1e-12)
    assert posterior_var == pytest.approx(beta * (1 - a_prev) / (1 - a_t), rel=1e-12)
    assert posterior_var <= beta


# ----------------------------------------------------------------- broken models (issue 12)
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_sampler_refuses_a_non_finite_noise_prediction_naming_the_step(bad):
    """The first step whose prediction is not finite is named; nothing after it runs."""
    sched = Schedule.linear(T=12)
    calls = []

    def eps(x, t):
        calls.append(t)
        return np.full_like(x, bad) if t <= 7 else 0.1 * x

    with pytest.raises(ValueError, match=r"eps_model returned NaN or inf at step t=7"):
        ddpm_sample(eps, sched, n=3, d=2, progress_bar=False)
    assert calls == list(range(12, 6, -1))


def test_sampler_of_a_diverged_trained_model_raises():
    torch = pytest.importorskip("torch", reason="the trainer needs torch: pip install 'lindiff[train]'")

    from lindiff.train import Trainer

    sched = Schedule.linear(T=6)
    X = np.random.default_rng(0).normal(size=(10, 3))
    tr = Trainer(X, sched, lr=0.05, device="cpu")
    with torch.no_grad():
        tr.W[2, 0, 0] = np.nan  # step t = 3 broken
    with pytest.raises(ValueError, match=r"at step t=3"):
        ddpm_sample(tr.eps_model(), sched, n=4, d=3, progress_bar=False)


def test_sampler_refuses_a_schedule_other_than_the_models():
    """Same T, other betas: the sampler would draw from another law than the model's (it did, silently)."""
    sched = Schedule.linear(T=20)
    other = Schedule(sched.betas * 1.5)
    model = LinearDiffusion.fit(np.random.default_rng(1).normal(size=(30, 2)), sched)
    with pytest.raises(ValueError, match="differs from the schedule eps_model was built for"):
        ddpm_sample(model, other, n=2, d=2, progress_bar=False)
    with pytest.raises(ValueError, match="differs from the schedule eps_model was built for"):
        sampler_trajectories(model, other, n=2, d=2, progress_bar=False)
    # an equal schedule built separately is the same schedule
    assert ddpm_sample(model, Schedule.linear(T=20), n=2, d=2, progress_bar=False).shape == (2, 2)


def test_sampler_refuses_samples_that_overflow_from_a_finite_prediction():
    """A finite but absurd prediction (1e308) overflows the update at a step with a large beta."""
    with np.errstate(over="ignore"), pytest.raises(ValueError, match="overflowed to NaN or inf although eps_model"):
        ddpm_sample(lambda x, t: np.full_like(x, 1e308), Schedule(np.array([0.9])), n=2, d=2, progress_bar=False)


def test_affine_sampler_law_reduces_to_the_diagonal_law():
    rng = np.random.default_rng(1)
    w = rng.uniform(0, 2, size=(STEEP.T, 3))
    m = rng.standard_normal((STEEP.T, 3))
    mean, var = diagonal_sampler_law(w, m, STEEP)
    W = np.einsum("tk,kl->tkl", w, np.eye(3))
    mean_d, cov_d = affine_sampler_law(W, -m, STEEP)
    np.testing.assert_allclose(mean_d, mean, atol=1e-13)
    np.testing.assert_allclose(cov_d, np.diag(var), atol=1e-13)


def test_no_noise_at_the_last_step_exact_laws(make_data):
    """last_step_noise=False: closed form, diagonal and dense recursions against a scalar loop; an
    unvisited direction (lambda = 0) gets variance 0 instead of beta_1."""
    model = LinearDiffusion.fit(make_data(3, 5, seed=4), SHORT)  # N = 3 < d = 5: two unvisited
    T, d = SHORT.T, model.d
    w = np.array([model.weight_eigenvalues(t) for t in range(1, T + 1)])
    m = np.sqrt(SHORT.alpha_bars[:, None]) * (model.eigenvectors.T @ model.mean)
    mean, var = diagonal_sampler_law(w, m, SHORT, last_step_noise=False)
    for nu in range(d):
        ref_mean, ref_var = _scalar_law(w, m, SHORT, nu, last_step_noise=False)
        assert np.isclose(mean[nu], ref_mean, rtol=1e-12, atol=1e-14)
        assert np.isclose(var[nu], ref_var, rtol=1e-12, atol=1e-14)
    closed = model.sampling_variances(last_step_noise=False)
    np.testing.assert_allclose(closed, var, rtol=1e-10, atol=1e-15)
    np.testing.assert_allclose(model.sampling_variances() - closed, SHORT.betas[0], rtol=1e-10)
    assert np.all(closed[model.eigenvalues == 0] == 0.0) and np.sum(model.eigenvalues == 0) == 3
    V = model.eigenvectors
    W = np.stack([V @ np.diag(w[t]) @ V.T for t in range(T)])
    b = -np.sqrt(SHORT.alpha_bars)[:, None] * model.mean
    dense_mean, dense_cov = affine_sampler_law(W, b, SHORT, last_step_noise=False)
    law_mean, law_cov = model.sampling_distribution(last_step_noise=False)
    np.testing.assert_allclose(dense_mean, law_mean, atol=1e-10)
    np.testing.assert_allclose(dense_cov, law_cov, atol=1e-10)


def test_no_noise_at_the_last_step_samplers_follow_the_law(make_data, gaussian_lr_pvalue):
    """Both samplers without z_1 sample the exact law of last_step_noise=False; the default is unchanged."""
    d, n = 4, 20_000
    model = LinearDiffusion.fit(make_data(10, d, seed=6), SHORT)
    mean, cov = model.sampling_distribution(last_step_noise=False)
    fast = model.sample(n, seed=1, progress_bar=False, last_step_noise=False)
    generic = ddpm_sample(model, SHORT, n, d, seed=2, progress_bar=False, last_step_noise=False)
    assert gaussian_lr_pvalue(fast, mean, cov) > 1e-3
    assert gaussian_lr_pvalue(generic, mean, cov) > 1e-3
    # N < d: along an unvisited direction the samples keep variance beta_1 with z_1, none without
    small = LinearDiffusion.fit(make_data(3, d + 1, seed=7), SHORT)
    unseen = small.eigenvectors[:, small.eigenvalues == 0]
    for noise, expected in [(True, SHORT.betas[0]), (False, 0.0)]:
        for u in (
            small.sample(4000, seed=4, progress_bar=False, last_step_noise=noise),
            ddpm_sample(small, SHORT, 4000, d + 1, seed=5, progress_bar=False, last_step_noise=noise),
        ):
            spread = ((u - small.mean) @ unseen).var(axis=0)
            assert np.allclose(spread, expected, rtol=0.1, atol=1e-20), (noise, spread)
    np.testing.assert_array_equal(
        ddpm_sample(model, SHORT, 5, d, seed=3, progress_bar=False),
        ddpm_sample(model, SHORT, 5, d, seed=3, progress_bar=False, last_step_noise=True),
    )


def test_affine_sampler_law_rejects_bad_input():
    with pytest.raises(ValueError):
        affine_sampler_law(np.zeros((9, 2, 2)), np.zeros((9, 2)), STEEP)
    with pytest.raises(ValueError):
        affine_sampler_law(np.full((10, 2, 2), np.nan), np.zeros((10, 2)), STEEP)


def test_forward_chain_has_the_closed_form_marginal():
    """x_t = sqrt(alpha_t) x_{t-1} + sqrt(beta_t) z  =>  x_t ~ N(sqrt(abar_t) x_0, (1 - abar_t) Id)."""
    x0 = np.tile([[2.0, -1.0]], (20_000, 1))
    path = forward_trajectories(x0, PATHS, seed=1)
    assert path.shape == (201, 20_000, 2)
    np.testing.assert_array_equal(path[0], x0)
    n = len(x0)
    for t in (1, 10, 100, 200):
        a = PATHS.alpha_bars[t - 1]
        xt = path[t]
        z_mean = (xt.mean(axis=0) - np.sqrt(a) * x0[0]) / np.sqrt((1 - a) / n)
        z_var = (xt.var(axis=0) - (1 - a)) / ((1 - a) * np.sqrt(2 / n))
        assert np.all(np.abs(z_mean) < 4.5) and np.all(np.abs(z_var) < 4.5)
    # increments are independent: the lag-one correlation of the added noise is zero
    inc = path[2:] - np.sqrt(PATHS.alphas[1:, None, None]) * path[1:-1]
    assert abs(np.corrcoef(inc[0, :, 0], inc[1, :, 0])[0, 1]) < 4.5 / np.sqrt(n)


def test_sampler_trajectory_is_the_sampler():
    X = np.array([[0.0, 1.0], [1.0, 0.0], [-1.0, -1.0]])
    emp = EmpiricalDenoiser(X, PATHS)
    path = sampler_trajectories(emp, PATHS, 50, 2, seed=3, progress_bar=False)
    assert path.shape == (201, 50, 2)
    np.testing.assert_array_equal(path[0], ddpm_sample(emp, PATHS, 50, 2, seed=3, progress_bar=False))
    np.testing.assert_array_equal(path[PATHS.T], np.random.default_rng(3).standard_normal((50, 2)))
    # every step is the sampler's update from the recorded previous state (up to its noise)
    t = 5
    i = t - 1
    drift = (path[t] - PATHS.betas[i] / np.sqrt(1 - PATHS.alpha_bars[i]) * emp(path[t], t)) / np.sqrt(PATHS.alphas[i])
    noise = (path[t - 1] - drift) / PATHS.sigmas[i]
    assert abs(noise.std() - 1) < 0.2


def test_trajectories_reject_bad_input():
    with pytest.raises(ValueError, match="x0"):
        forward_trajectories(np.zeros(3), PATHS)
    with pytest.raises(ValueError, match="Schedule"):
        forward_trajectories(np.zeros((2, 2)), None)
    with pytest.raises(ValueError, match="callable"):
        sampler_trajectories(3, PATHS, 2, 2)


# ------------------------------------------------ no silent wrong value (issue 24)
@pytest.mark.parametrize(
    "lam, error, match",
    [
        ([-1.0], ValueError, "lam must be >= 0"),
        ([np.nan], ValueError, "lam contains NaN"),
        ([1.0 + 1j], TypeError, "lam must hold real numeric values"),
        ([], ValueError, "lam is empty"),
    ],
)
def test_optimal_sampler_laws_refuse_what_is_not_a_variance(lam, error, match):
    """Before: optimal_sampler_variances([-1.0], S) returned 1.535, NaN and complex passed through, and
    optimal_sampler_mean_factors([-1], S) returned -0.126."""
    sched = Schedule.linear(T=50)
    with pytest.raises(error, match=match):
        optimal_sampler_variances(lam, sched)
    with pytest.raises(error, match=match):
        optimal_sampler_mean_factors(lam, sched)


def test_optimal_sampler_laws_refuse_a_missing_schedule():
    for f in (optimal_sampler_variances, optimal_sampler_mean_factors):
        with pytest.raises(ValueError, match="schedule must be a lindiff.Schedule"):
            f([1.0], None)


def test_a_sample_beyond_float32_is_refused_not_returned_as_nan():
    """Before: from_stats(mean=1e300 * ones, I).sample(3) returned NaN."""
    sched = Schedule.linear(T=50)
    model = LinearDiffusion.from_stats(1e300 * np.ones(3), np.eye(3), sched)
    with pytest.raises(ValueError, match="overflowed.*dtype=numpy.float64"):
        model.sample(3, seed=0, progress_bar=False)
    x = model.sample(3, seed=0, progress_bar=False, dtype=np.float64)  # float64 holds it
    np.testing.assert_allclose(x.mean(axis=0) / 1e300, model.sampling_distribution()[0] / 1e300, rtol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_diagonal_sample_with_unstable_gains_raises(dtype):
    """Before: gains far above 1 returned inf."""
    sched = Schedule.linear(T=200)
    w = np.full((sched.T, 2), -1e4)
    with pytest.raises(ValueError, match="overflowed to NaN or inf; the weights make the chain diverge"):
        diagonal_sample(w, 0.0, sched, 4, seed=0, progress_bar=False, dtype=dtype)
    with pytest.raises(ValueError, match="sampler's law overflowed"):
        diagonal_sampler_law(w, 0.0, sched)


def test_affine_sampler_law_overflow_raises():
    """Before: affine_sampler_law(1e200 * I, ...) returned a NaN covariance."""
    sched = Schedule.linear(T=20)
    W = 1e200 * np.stack([np.eye(2)] * sched.T)
    with pytest.raises(ValueError, match="sampler's law overflowed"):
        affine_sampler_law(W, np.zeros((sched.T, 2)), sched)


# ---- the paired test of Kadkhodaie et al. for the linear model (issue 21)


def _affine(model):
    pairs = [model.weights(t) for t in range(1, model.schedule.T + 1)]
    return np.array([w for w, _ in pairs]), np.array([b for _, b in pairs])


def test_paired_difference_law_against_simulation():
    """Two linear models on disjoint training sets, sampled from the same noise: mean, covariance and
    mean squared length of the paired difference against 20,000 simulated pairs (ddpm_sample, one seed)."""
    from lindiff.sampler import affine_sampler_law, paired_sampler_difference_law

    sched = ld.Schedule.linear(T=200)
    rng = np.random.default_rng(3)
    d = 3
    Xa, Xb = rng.standard_normal((5, d)) + 0.5, rng.standard_normal((5, d)) * 1.5
    ma, mb = ld.LinearDiffusion.fit(Xa, sched), ld.LinearDiffusion.fit(Xb, sched)
    mean, cov = paired_sampler_difference_law(*_affine(ma), *_affine(mb), sched)
    n = 20_000
    D = ld.ddpm_sample(ma, sched, n, d, seed=11, progress_bar=False) - ld.ddpm_sample(
        mb, sched, n, d, seed=11, progress_bar=False
    )
    se = np.sqrt(np.diag(cov) / n)
    assert np.max(np.abs(D.mean(axis=0) - mean) / se) < 4.5
    emp_cov = np.cov(D.T)
    se_cov = np.sqrt((cov**2 + np.outer(np.diag(cov), np.diag(cov))) / n)  # Gaussian: var of a covariance
    assert np.max(np.abs(emp_cov - cov) / se_cov) < 4.5
    msq = np.sum(D**2, axis=1)
    assert abs(msq.mean() - (mean @ mean + np.trace(cov))) < 4.5 * msq.std() / np.sqrt(n)
    # the same model twice: the paired difference vanishes; its marginal is affine_sampler_law's
    m0, c0 = paired_sampler_difference_law(*_affine(ma), *_affine(ma), sched)
    assert np.max(np.abs(m0)) < 1e-12 and np.max(np.abs(c0)) < 1e-12
    # independent noise would give cov_a + cov_b: shared noise gives less here (the samples are paired)
    ca, cb = affine_sampler_law(*_affine(ma), sched)[1], affine_sampler_law(*_affine(mb), sched)[1]
    assert np.trace(cov) < np.trace(ca + cb)


def test_paired_difference_law_checks_shapes():
    from lindiff.sampler import paired_sampler_difference_law

    sched = ld.Schedule.linear(T=10)
    W, b = np.zeros((10, 2, 2)), np.zeros((10, 2))
    with pytest.raises(ValueError, match="weights_b"):
        paired_sampler_difference_law(W, b, W[:5], b[:5], sched)
    with pytest.raises(ValueError, match="same shape"):
        paired_sampler_difference_law(W, b, np.zeros((10, 3, 3)), np.zeros((10, 3)), sched)
