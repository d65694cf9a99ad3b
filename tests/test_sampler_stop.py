"""The sampler stopped at t0 and the posterior-variance noise: closed forms against step-by-step
recursions written here, against Monte Carlo, and against the ridge they imitate (chapter 8)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs

from lindiff import (
    LinearDiffusion,
    Schedule,
    ddpm_sample,
    gaussian_kl,
    optimal_sampler_stop,
    optimal_sampler_variances,
    sampler_noise_variances,
    sampler_ridge_kl,
    sampler_stop_kl,
    sampler_stop_ridge,
    stopped_sample,
    stopped_sampler_law,
)
from lindiff.sampler import affine_sampler_law, diagonal_sample, diagonal_sampler_law, sampler_trajectories

SCHED = Schedule.linear()
SHORT = Schedule.linear(T=60, beta_min=1e-3, beta_max=0.1)
LAMS = np.array([0.0, 1e-5, 1e-3, 0.05, 0.7, 3.0, 40.0])


def _posterior_noise_loop(sched):
    """beta~_t = beta_t (1 - abar_{t-1}) / (1 - abar_t), written as diffusers' DDPMScheduler does
    (fixed_small), by a Python loop over t with abar_0 = 1."""
    out, prod = [], 1.0
    for beta in sched.betas:
        prev = prod
        prod *= 1.0 - float(beta)
        out.append((1.0 - prev) / (1.0 - prod) * float(beta))
    return np.array(out)


def _stopped_loop(lam, sched, t0, output, noise):
    """Mean factor and variance of one direction's output, by a scalar loop over the sampler's steps
    with the optimal linear weight w_t = sqrt(1 - abar_t) / (abar_t lam + 1 - abar_t) and mu_0 = 1."""
    sig2 = sched.betas if noise == "beta" else _posterior_noise_loop(sched)
    mean, var = 0.0, 1.0
    for t in range(sched.T, t0, -1):
        beta, a = float(sched.betas[t - 1]), float(sched.alpha_bars[t - 1])
        w = (1 - a) ** 0.5 / (a * lam + 1 - a)
        g = beta / (1 - a) ** 0.5
        mean = ((1 - g * w) * mean + g * w * a**0.5) / (1 - beta) ** 0.5
        var = (1 - g * w) ** 2 / (1 - beta) * var + float(sig2[t - 1])
    if t0 == 0:
        return mean, var
    a = float(sched.alpha_bars[t0 - 1])
    if output == "state":
        return mean / a**0.5, var / a
    w = (1 - a) ** 0.5 / (a * lam + 1 - a)
    # x^ = (u - sqrt(1 - a) w (u - sqrt(a))) / sqrt(a)
    k = 1 - (1 - a) ** 0.5 * w
    return (k * mean + (1 - a) ** 0.5 * w * a**0.5) / a**0.5, k**2 * var / a


@pytest.mark.parametrize("noise", ["beta", "posterior"])
@pytest.mark.parametrize("output", ["state", "denoised"])
def test_stopped_law_against_scalar_loop(output, noise):
    stops = np.array([0, 1, 2, 7, 30, 59, 60])
    mean, var = stopped_sampler_law(LAMS, SHORT, stops, output, noise)
    for j, t0 in enumerate(stops):
        for nu, lam in enumerate(LAMS):
            ref_mean, ref_var = _stopped_loop(lam, SHORT, int(t0), output, noise)
            assert mean[j, nu] == pytest.approx(ref_mean, rel=1e-10, abs=1e-13)
            assert var[j, nu] == pytest.approx(ref_var, rel=1e-9, abs=1e-14)


@settings(max_examples=30, deadline=None)
@given(
    T=hs.integers(1, 30),
    lam=hs.floats(0.0, 1e3),
    frac=hs.floats(0.0, 1.0),
    output=hs.sampled_from(["state", "denoised"]),
    noise=hs.sampled_from(["beta", "posterior"]),
)
def test_stopped_law_property(T, lam, frac, output, noise):
    # any schedule length, any variance (0 included), any stopping step 0..T
    sched = Schedule.linear(T, 1e-3, 0.2)
    t0 = int(round(frac * T))
    mean, var = stopped_sampler_law(np.array([lam]), sched, t0, output, noise)
    ref_mean, ref_var = _stopped_loop(lam, sched, t0, output, noise)
    assert mean[0] == pytest.approx(ref_mean, rel=1e-9, abs=1e-12)
    assert var[0] == pytest.approx(ref_var, rel=1e-8, abs=1e-13)


def test_diagonal_sample_with_posterior_noise_monte_carlo():
    lam = np.array([0.0, 1e-3, 0.5, 5.0])
    ab = SHORT.alpha_bars[:, None]
    w = np.sqrt(1 - ab) / (ab * lam + 1 - ab)
    y = diagonal_sample(w, np.zeros_like(w), SHORT, 40_000, seed=2, progress_bar=False, noise="posterior")
    var = optimal_sampler_variances(lam, SHORT, noise="posterior")
    assert var[0] == 0 and np.all(np.abs(y[:, 0]) < 1e-12)  # the t = 1 gain is 0 up to round-off
    assert np.all(np.abs(y[:, 1:].var(0) / var[1:] - 1) < 5 * np.sqrt(2 / 40_000) + 1e-5)


def test_stopped_law_matches_the_diagonal_recursion_on_the_book_schedule():
    # the book's schedule (T = 1000) through the package's general recursion with t0
    ab = SCHED.alpha_bars[:, None]
    w = np.sqrt(1 - ab) / (ab * LAMS + 1 - ab)
    m = np.sqrt(ab) * np.ones_like(w)
    for t0 in (0, 1, 10, 250, 999, 1000):
        ref_mean, ref_var = diagonal_sampler_law(w, m, SCHED, t0=t0)
        a = 1.0 if t0 == 0 else SCHED.alpha_bars[t0 - 1]
        mean, var = stopped_sampler_law(LAMS, SCHED, t0, "state")
        np.testing.assert_allclose(mean, ref_mean / np.sqrt(a), rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(var, ref_var / a, rtol=1e-9, atol=1e-14)


def test_scalar_and_array_stops_agree_and_t0_zero_is_the_full_sampler():
    mean, var = stopped_sampler_law(LAMS, SCHED, np.arange(0, 1001, 100), "denoised")
    m5, v5 = stopped_sampler_law(LAMS, SCHED, 500, "denoised")
    np.testing.assert_array_equal(var[5], v5)
    np.testing.assert_array_equal(mean[5], m5)
    for output in ("state", "denoised"):
        _, v0 = stopped_sampler_law(LAMS, SCHED, 0, output)
        np.testing.assert_allclose(v0, optimal_sampler_variances(LAMS, SCHED), rtol=1e-12)


def test_denoised_is_the_wiener_shrunk_state():
    # x^ - mu_0 = lam / (lam + c(t0)) (x - mu_0) exactly, so var_denoised = (lam / (lam + c))^2 var_state
    for t0 in (1, 40, 300, 900):
        c = sampler_stop_ridge(t0, SCHED)
        _, vs = stopped_sampler_law(LAMS, SCHED, t0, "state")
        _, vd = stopped_sampler_law(LAMS, SCHED, t0, "denoised")
        np.testing.assert_allclose(vd, (LAMS / (LAMS + c)) ** 2 * vs, rtol=1e-10, atol=1e-300)
    assert stopped_sampler_law(LAMS, SCHED, 10, "denoised")[1][0] == 0.0  # an unseen direction


def test_the_stopped_state_is_close_to_the_ridge_sampler():
    # leading order: the state at t0, rescaled, is the ridge model with c = (1 - abar_t0) / abar_t0
    lam = np.r_[0.0, np.logspace(-6, 2.5, 40)]
    assert sampler_stop_ridge(0, SCHED) == 0.0
    for t0, tol in ((1, 0.05), (50, 0.01), (300, 0.005)):
        c = sampler_stop_ridge(t0, SCHED)
        assert c == pytest.approx((1 - SCHED.alpha_bars[t0 - 1]) / SCHED.alpha_bars[t0 - 1])
        _, var = stopped_sampler_law(lam, SCHED, t0)
        ridge = optimal_sampler_variances(lam + c, SCHED)
        assert np.max(np.abs(var / ridge - 1)) < tol
        # and not exactly: the stopped sampler is no ridge model
        assert np.max(np.abs(var / ridge - 1)) > 1e-5


@pytest.mark.parametrize("noise", ["beta", "posterior"])
@pytest.mark.parametrize("output", ["state", "denoised"])
def test_stopped_sample_monte_carlo(make_data, output, noise):
    sched = Schedule.linear(T=200, beta_max=0.05)
    model = LinearDiffusion.fit(make_data(6, 3, seed=4), sched)
    n, t0 = 40_000, 15
    x = stopped_sample(model, sched, n, 3, t0, output, seed=7, noise=noise, progress_bar=False)
    y = x @ model.eigenvectors
    factor, var = stopped_sampler_law(model.eigenvalues, sched, t0, output, noise)
    mean = factor * (model.eigenvectors.T @ model.mean)
    se_mean = np.sqrt(var / n)
    assert np.all(np.abs(y.mean(0) - mean) < 5 * se_mean)
    assert np.all(np.abs(y.var(0) / var - 1) < 5 * np.sqrt(2 / n))


def test_stopped_run_is_the_trajectory_at_t0(make_data):
    model = LinearDiffusion.fit(make_data(5, 2, seed=1), SHORT)
    path = sampler_trajectories(model, SHORT, 4, 2, seed=3, progress_bar=False)
    np.testing.assert_array_equal(ddpm_sample(model, SHORT, 4, 2, seed=3, progress_bar=False, t0=0), path[0])
    np.testing.assert_array_equal(ddpm_sample(model, SHORT, 4, 2, seed=3, progress_bar=False, t0=9), path[9])
    a = SHORT.alpha_bars[8]
    np.testing.assert_allclose(stopped_sample(model, SHORT, 4, 2, 9, seed=3, progress_bar=False), path[9] / a**0.5)


def test_posterior_noise_is_diffusers_fixed_small():
    np.testing.assert_allclose(sampler_noise_variances(SCHED, "posterior"), _posterior_noise_loop(SCHED), rtol=1e-12)
    assert sampler_noise_variances(SCHED, "posterior")[0] == 0.0
    np.testing.assert_array_equal(sampler_noise_variances(SCHED), SCHED.betas)  # the default is unchanged
    assert sampler_noise_variances(SCHED, last_step_noise=False)[0] == 0.0


def test_posterior_noise_law_closed_form_against_dense_recursion(make_data):
    model = LinearDiffusion.fit(make_data(3, 4, seed=2), SHORT, c=0.01)
    W = np.array([model.weights(t)[0] for t in range(1, SHORT.T + 1)])
    b = np.array([model.weights(t)[1] for t in range(1, SHORT.T + 1)])
    _, cov = affine_sampler_law(W, b, SHORT, noise="posterior")
    V = model.eigenvectors
    closed = optimal_sampler_variances(model.eigenvalues + model.c, SHORT, noise="posterior")
    np.testing.assert_allclose(np.diag(V.T @ cov @ V), closed, rtol=1e-9)
    # the two choices differ most in the small directions, and not at all at infinite variance
    beta_law = optimal_sampler_variances(np.array([1e-4, 1e4]), SCHED)
    post_law = optimal_sampler_variances(np.array([1e-4, 1e4]), SCHED, noise="posterior")
    assert post_law[0] < 0.8 * beta_law[0]
    assert post_law[1] == pytest.approx(beta_law[1], rel=1e-3)


def test_stop_kl_and_its_optimum(make_data):
    d = 6
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    Sigma = (q * np.linspace(0.2, 2.0, d)) @ q.T
    X = rng.multivariate_normal(np.zeros(d), Sigma, size=4)  # N < d: unseen directions
    model = LinearDiffusion.fit(X, SCHED)
    assert sampler_stop_kl(model, 0, np.zeros(d), Sigma) == pytest.approx(
        sampler_ridge_kl(model, 0.0, np.zeros(d), Sigma), rel=1e-10
    )
    stops = np.array([0, 50, 200, 600])
    kl = sampler_stop_kl(model, stops, np.zeros(d), Sigma)
    V = model.eigenvectors
    for j, t0 in enumerate(stops):  # against the dense Gaussian KL of the law in data coordinates
        factor, var = stopped_sampler_law(model.eigenvalues, SCHED, int(t0))
        ref = gaussian_kl(V @ (factor * (V.T @ model.mean)), (V * var) @ V.T, np.zeros(d), Sigma)
        assert kl[j] == pytest.approx(ref, rel=1e-8)
    assert np.all(np.isinf(sampler_stop_kl(model, stops[1:], np.zeros(d), Sigma, output="denoised")))
    t_star, kl_star = optimal_sampler_stop(model, np.zeros(d), Sigma)
    every = sampler_stop_kl(model, np.arange(SCHED.T + 1), np.zeros(d), Sigma)
    assert kl_star == every.min() and t_star == int(np.argmin(every)) and 0 < t_star < SCHED.T


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: stopped_sampler_law(LAMS, SCHED, 1001), "t0"),
        (lambda: stopped_sampler_law(LAMS, SCHED, 2.5), "t0"),
        (lambda: stopped_sampler_law(LAMS, SCHED, 3, output="mean"), "output"),
        (lambda: stopped_sampler_law(-LAMS - 1, SCHED, 3), "lam"),
        (lambda: stopped_sampler_law(LAMS, SCHED, 3, noise="small"), "noise"),
        (lambda: sampler_noise_variances(SCHED, "fixed_small"), "noise"),
        (lambda: sampler_stop_ridge(-1, SCHED), "t0"),
        (lambda: ddpm_sample(lambda x, t: 0 * x, SCHED, 2, 2, t0=True), "t0"),
        (lambda: stopped_sample(lambda x, t: 0 * x, SCHED, 2, 2, 5, output="x"), "output"),
        (lambda: sampler_stop_kl("model", 3, np.zeros(2), np.eye(2)), "model"),
    ],
)
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize("output", ["state", "denoised"])
def test_stopped_law_of_a_huge_variance_is_finite_and_continuous(output):
    """Before: lam = 1e300 gave a NaN variance (v_t^2 overflowed); the variance is bounded in lam, and
    from lam = 1e6 on it has reached its limit to round-off."""
    sched = Schedule.linear(T=50)
    stops = np.array([0, 1, 5, 49, 50])
    _, var_huge = stopped_sampler_law([1e300], sched, stops, output=output)
    _, var_big = stopped_sampler_law([1e12], sched, stops, output=output)
    assert np.all(np.isfinite(var_huge))
    np.testing.assert_allclose(var_huge, var_big, rtol=1e-9)
