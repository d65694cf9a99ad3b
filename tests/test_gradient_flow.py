"""Tests of lindiff.gradient_flow: the closed-form gradient flow / descent of the linear denoiser.

Every closed form is checked against an independent computation: the matrix gradient flow
integrated numerically with finite-difference gradients of the loss written over the training
rows, the sampler run step by step (dense recursion and Monte Carlo), Monte-Carlo losses, the
generic Gaussian KL, and brute-force grids for the optimal stopping time and ridge.
"""

import numpy as np
import pytest
from scipy.integrate import solve_ivp

import lindiff as ld
from lindiff import gradient_flow
from lindiff.gradient_flow import GradientFlow, effective_ridge
from lindiff.kl import KLToTruth, optimal_ridge_sampler, sampler_ridge_kl
from lindiff.sampler import affine_sampler_law

SCHED = ld.Schedule.linear(T=12, beta_min=1e-3, beta_max=0.3)


def _problem(d=4, N=3, seed=0, shift=0.7):
    """N < d training rows with a non-zero mean, and a full-rank truth."""
    rng = np.random.default_rng(seed)
    Sigma = ld.rotated_covariance(ld.power_law_spectrum(d, 1.0), seed=seed + 1)
    mu = np.full(d, 0.3)
    X = rng.multivariate_normal(mu, Sigma, size=N) + shift
    return X, mu, Sigma


def _loss_over_rows(W, t, X, c=0.0):
    """Noise-averaged loss of step t written over the rows (b_t at its optimum):
    ||Id - sqrt(s) W||^2 + (a / N) sum_i ||W (x_i - mu_0)||^2 + a c ||W||^2."""
    a = SCHED.alpha_bars[t - 1]
    Xc = X - X.mean(axis=0)
    d = W.shape[0]
    return (
        np.sum((np.eye(d) - np.sqrt(1 - a) * W) ** 2)
        + a * np.mean(np.sum((Xc @ W.T) ** 2, axis=1))
        + a * c * np.sum(W**2)
    )


def _fd_grad(W, t, X, c=0.0, h=1e-4):
    """Central finite differences of the loss (exact up to rounding: the loss is quadratic)."""
    g = np.zeros_like(W)
    for idx in np.ndindex(*W.shape):
        E = np.zeros_like(W)
        E[idx] = h
        g[idx] = (_loss_over_rows(W + E, t, X, c) - _loss_over_rows(W - E, t, X, c)) / (2 * h)
    return g


def _dense(flow, w):
    """Per-mode weights (T, d) -> matrices V diag(w_t) V^T and the optimal biases."""
    V = flow.model.eigenvectors
    W = np.einsum("ik,tk,jk->tij", V, w, V)
    b = -np.sqrt(SCHED.alpha_bars)[:, None] * flow.model.mean
    return W, b


@pytest.mark.parametrize("c", [0.0, 0.3])
def test_flow_limits_are_zero_and_the_closed_form_optimum(c):
    X, _, _ = _problem()
    model = ld.LinearDiffusion.fit(X, SCHED, c=c)
    flow = GradientFlow(model, eta=0.1)
    assert np.all(flow.weights(0.0) == 0)
    w_inf = flow.weights(np.inf)
    for t in range(1, SCHED.T + 1):
        np.testing.assert_allclose(w_inf[t - 1], model.weight_eigenvalues(t), rtol=1e-13)
    np.testing.assert_allclose(flow.weights(np.inf, discrete=True), w_inf, rtol=1e-13)


@pytest.mark.parametrize("c", [0.0, 0.2])
def test_gradient_descent_formula_matches_descent_with_numerical_gradients(c):
    X, _, _ = _problem()
    model = ld.LinearDiffusion.fit(X, SCHED, c=c)
    eta = 0.05
    flow = GradientFlow(model, eta=eta)
    V = model.eigenvectors
    for t in (1, 5, 12):
        W = np.zeros((4, 4))
        for n in range(1, 31):
            W = W - eta * _fd_grad(W, t, X, c)
            if n in (1, 7, 30):
                w = flow.weights(n, discrete=True)[t - 1]
                np.testing.assert_allclose(W, (V * w) @ V.T, atol=1e-8)


def test_flow_formula_solves_the_matrix_gradient_flow():
    X, _, _ = _problem()
    model = ld.LinearDiffusion.fit(X, SCHED)
    eta, tau, t = 0.3, 6.0, 4
    flow = GradientFlow(model, eta=eta)
    sol = solve_ivp(
        lambda _, y: -eta * _fd_grad(y.reshape(4, 4), t, X).ravel(), (0, tau), np.zeros(16), rtol=1e-10, atol=1e-12
    )
    V = model.eigenvectors
    np.testing.assert_allclose(sol.y[:, -1].reshape(4, 4), (V * flow.weights(tau)[t - 1]) @ V.T, atol=1e-7)


def test_descent_tends_to_the_flow_as_eta_shrinks():
    X, _, _ = _problem()
    model = ld.LinearDiffusion.fit(X, SCHED)
    eta, tau = 0.05, 20.0
    target = GradientFlow(model, eta).weights(tau)
    errors = []
    for m in (1, 4, 16):
        gd = GradientFlow(model, eta / m).weights(m * tau, discrete=True)
        errors.append(np.max(np.abs(gd - target)))
    assert errors[0] > 0
    # first-order convergence: each 4x smaller step cuts the error about 4x
    assert 3.0 < errors[0] / errors[1] < 5.0 and 3.0 < errors[1] / errors[2] < 5.0


def test_small_stiffness_modes_learn_last():
    X, _, _ = _problem(d=5, N=3)
    model = ld.LinearDiffusion.fit(X, SCHED)
    flow = GradientFlow(model, eta=0.1)
    gamma = flow.stiffness
    frac = flow.weights(3.0) / flow.weights(np.inf)
    # fraction learned is 1 - exp(-2 eta tau gamma): ordered like gamma, step by step
    for t in range(SCHED.T):
        order = np.argsort(gamma[t])
        assert np.all(np.diff(frac[t, order]) >= -1e-15)
    # the least learned of all: an unseen direction (lambda = 0) at t = 1, where gamma = 1 - abar_1
    i, nu = np.unravel_index(np.argmin(frac), frac.shape)
    assert i == 0 and model.eigenvalues[nu] == 0
    np.testing.assert_allclose(gamma[0, nu], 1 - SCHED.alpha_bars[0], rtol=1e-14)


def test_sampling_law_matches_dense_recursion_and_the_sampler():
    X, _, _ = _problem()
    model = ld.LinearDiffusion.fit(X, SCHED)
    flow = GradientFlow(model, eta=0.2)
    tau = 4.0
    mean, cov = flow.sampling_distribution(tau)
    W, b = _dense(flow, flow.weights(tau))
    mean_rec, cov_rec = affine_sampler_law(W, b, SCHED)
    np.testing.assert_allclose(mean, mean_rec, atol=1e-12)
    np.testing.assert_allclose(cov, cov_rec, atol=1e-12)

    n = 40_000
    samples = ld.ddpm_sample(lambda x, t: (x + b[t - 1]) @ W[t - 1].T, SCHED, n, 4, seed=3, progress_bar=False)
    se_mean = np.sqrt(np.diag(cov) / n)
    assert np.all(np.abs(samples.mean(axis=0) - mean) < 5 * se_mean)
    emp = np.cov(samples.T)
    se_cov = np.sqrt((np.outer(np.diag(cov), np.diag(cov)) + cov**2) / n)
    assert np.all(np.abs(emp - cov) < 5 * se_cov)


def test_vectorised_sampling_law_equals_one_at_a_time():
    X, _, _ = _problem()
    flow = GradientFlow(ld.LinearDiffusion.fit(X, SCHED), eta=0.2)
    taus = np.array([0.0, 1.0, 7.5, np.inf])
    mean, var = flow.sampling_law(taus)
    for i, tau in enumerate(taus):
        m1, v1 = flow.sampling_law(tau)
        np.testing.assert_allclose(mean[i], m1, rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(var[i], v1, rtol=1e-13)
    # untrained (W = 0): the sampler just rescales its own noise; fully trained: the model's law
    model = flow.model
    np.testing.assert_allclose(var[-1], model.sampling_variances(), rtol=1e-10)
    np.testing.assert_allclose(mean[-1], model.sampling_mean_coefficients(), rtol=1e-10, atol=1e-13)


def test_losses_match_monte_carlo_and_the_fully_trained_model():
    X, mu, Sigma = _problem()
    model = ld.LinearDiffusion.fit(X, SCHED, c=0.1)
    flow = GradientFlow(model, eta=0.2)
    np.testing.assert_allclose(flow.train_loss(np.inf), model.train_loss(), rtol=1e-12)
    np.testing.assert_allclose(flow.test_loss(np.inf, mu, Sigma), model.test_loss(mu, Sigma), rtol=1e-12)

    tau, t = 3.0, 6
    W, b = _dense(flow, flow.weights(tau))
    a = SCHED.alpha_bars[t - 1]
    rng = np.random.default_rng(5)
    n = 400_000
    for x0, exact in (
        (rng.multivariate_normal(mu, Sigma, size=n), flow.test_loss(tau, mu, Sigma, steps=[t])),
        (X[rng.integers(len(X), size=n)], flow.train_loss(tau, steps=[t])),
    ):
        eps = rng.standard_normal(x0.shape)
        xt = np.sqrt(a) * x0 + np.sqrt(1 - a) * eps
        per = np.sum((eps - (xt + b[t - 1]) @ W[t - 1].T) ** 2, axis=1)
        assert abs(per.mean() - exact) < 5 * per.std() / np.sqrt(n)
    steps_sum = sum(flow.train_loss(tau, steps=[s]) for s in range(1, SCHED.T + 1))
    np.testing.assert_allclose(steps_sum, flow.train_loss(tau), rtol=1e-12)


def test_kl_to_truth_matches_gaussian_kl():
    X, mu, Sigma = _problem(d=5, N=3)
    flow = GradientFlow(ld.LinearDiffusion.fit(X, SCHED), eta=0.2)
    taus = np.array([0.5, 2.0, np.inf])
    kl = flow.kl(taus, mu, Sigma)
    for i, tau in enumerate(taus):
        mean, cov = flow.sampling_distribution(tau)
        np.testing.assert_allclose(kl[i], ld.gaussian_kl(mean, cov, mu, Sigma), rtol=1e-10)
    assert isinstance(flow.kl(1.0, mu, Sigma), float)
    # a singular truth: every law of full rank is infinitely far from it
    singular = Sigma.copy()
    lam, U = np.linalg.eigh(singular)
    singular = (U * np.r_[0.0, lam[1:]]) @ U.T
    assert np.isinf(flow.kl(1.0, mu, 0.5 * (singular + singular.T)))


def test_kl_to_truth_remembers_no_stale_truth():
    """The truth's eigendecomposition is reused across calls: changing the truth must change the KL."""
    X, mu, Sigma = _problem(d=5, N=3)
    flow = GradientFlow(ld.LinearDiffusion.fit(X, SCHED), eta=0.2)
    mean, cov = flow.sampling_distribution(2.0)
    truths = [Sigma, 2.0 * Sigma, Sigma + 0.1 * np.eye(5)]
    for _ in range(2):  # twice round: the second pass reads the cache
        for S in truths:
            np.testing.assert_allclose(flow.kl(2.0, mu, S), ld.gaussian_kl(mean, cov, mu, S), rtol=1e-10)
    edited = Sigma.copy()
    flow.kl(2.0, mu, edited)
    edited[0, 0] += 1.0  # same array object, new values
    np.testing.assert_allclose(flow.kl(2.0, mu, edited), ld.gaussian_kl(mean, cov, mu, edited), rtol=1e-10)


def test_effective_ridge_matches_early_stopping_for_weak_modes():
    X, _, _ = _problem(d=5, N=3)
    model = ld.LinearDiffusion.fit(X, SCHED)
    eta = 0.1
    flow = GradientFlow(model, eta)
    t = 2
    a = SCHED.alpha_bars[t - 1]
    weak = model.eigenvalues == 0  # the d - N + 1 = 3 unseen directions
    assert weak.sum() == 3
    for tau in (0.5, 2.0, 8.0):
        c_eff = effective_ridge(tau, eta, SCHED)[t - 1]
        np.testing.assert_allclose(c_eff, 1 / (2 * eta * tau * a), rtol=1e-14)
        ridge = ld.LinearDiffusion(model.mean, model.eigenvalues, model.eigenvectors, SCHED, c=c_eff)
        ratio = flow.weights(tau)[t - 1, weak] / ridge.weight_eigenvalues(t)[weak]
        x = 2 * eta * tau * flow.stiffness[t - 1, weak]  # the small parameter
        assert np.all(x < 0.2)
        # (1 - e^-x)(1 + x) / x = 1 + x/2 + O(x^2): first-order agreement
        assert np.all(np.abs(ratio - 1 - x / 2) < x**2)
    np.testing.assert_allclose(
        effective_ridge(np.array([1.0, 2.0]), eta, SCHED)[1], effective_ridge(2.0, eta, SCHED), rtol=1e-15
    )


def test_weight_decay_is_a_step_dependent_ridge():
    X, _, _ = _problem()
    model = ld.LinearDiffusion.fit(X, SCHED)
    wd = 0.3
    w = GradientFlow(model, eta=0.1, weight_decay=wd).weights(np.inf)
    for t in (1, 6, 12):
        c_t = wd / (2 * SCHED.alpha_bars[t - 1])
        ridge = ld.LinearDiffusion(model.mean, model.eigenvalues, model.eigenvectors, SCHED, c=c_t)
        np.testing.assert_allclose(w[t - 1], ridge.weight_eigenvalues(t), rtol=1e-13)


def test_optimal_stopping_and_ridge_are_minima_of_the_kl():
    sched = ld.Schedule.linear(T=100)
    X, mu, Sigma = _problem(d=8, N=4, seed=2, shift=0.0)
    model = ld.LinearDiffusion.fit(X, sched)
    flow = GradientFlow(model, eta=0.05)
    taus = np.logspace(-1, 5, 25)
    tau_star, kl_star = flow.optimal_stopping(mu, Sigma, taus)
    dense = np.logspace(-1, 5, 3000)
    brute = flow.kl(dense, mu, Sigma)
    assert kl_star <= brute.min() + 1e-6
    assert abs(np.log(tau_star / dense[np.argmin(brute)])) < 0.02
    np.testing.assert_allclose(kl_star, flow.kl(tau_star, mu, Sigma), rtol=1e-12)
    # N < d: stopping early beats training to convergence, and beats not training
    assert kl_star < flow.kl(np.inf, mu, Sigma) and kl_star < flow.kl(0.0, mu, Sigma)

    cs = np.logspace(-3, 2, 20)
    c_star, klc = optimal_ridge_sampler(model, mu, Sigma, cs)
    dense_c = np.logspace(-3, 2, 2000)
    brute_c = sampler_ridge_kl(model, dense_c, mu, Sigma)
    assert klc <= brute_c.min() + 1e-6
    assert abs(np.log(c_star / dense_c[np.argmin(brute_c)])) < 0.02
    ridged = ld.LinearDiffusion.fit(X, sched, c=c_star)
    np.testing.assert_allclose(klc, ld.gaussian_kl(*ridged.sampling_distribution(), mu, Sigma), rtol=1e-9)


@pytest.mark.parametrize(
    "call",
    [
        lambda f: f.weights(-1.0),
        lambda f: f.weights(np.nan),
        lambda f: f.weights([[1.0]]),
        lambda f: f.weights(2.5, discrete=True),
        lambda f: f.sampling_distribution([1.0, 2.0]),
        lambda f: f.kl(1.0, np.zeros(3), np.eye(3)),
        lambda f: f.kl(1.0, np.zeros(4), -np.eye(4)),
        lambda f: f.optimal_stopping(np.zeros(4), np.eye(4), [1.0, 0.5, 2.0]),
        lambda f: f.train_loss(1.0, steps=[0]),
    ],
)
def test_bad_input_raises(call):
    X, _, _ = _problem()
    flow = GradientFlow(ld.LinearDiffusion.fit(X, SCHED), eta=0.1)
    with pytest.raises(ValueError):
        call(flow)


def test_bad_construction_raises():
    X, _, _ = _problem()
    model = ld.LinearDiffusion.fit(X, SCHED)
    with pytest.raises(ValueError):
        GradientFlow(X, eta=0.1)
    for eta in (0.0, -1.0, np.inf, "fast"):
        with pytest.raises(ValueError):
            GradientFlow(model, eta=eta)
    with pytest.raises(ValueError):
        GradientFlow(model, eta=0.1, weight_decay=-1)
    with pytest.raises(ValueError, match="diverges"):
        GradientFlow(model, eta=10.0).weights(3, discrete=True)
    with pytest.raises(ValueError):
        effective_ridge(1.0, 0.1, "schedule")
    with pytest.raises(ValueError):
        KLToTruth(np.eye(3), np.zeros(3), np.eye(3))(np.zeros(3), np.array([1.0, 0.0, 1.0]))
    with pytest.raises(ValueError):
        optimal_ridge_sampler(model, np.zeros(4), np.eye(4), [0.0, 1.0, 2.0])
    assert GradientFlow(model, eta=0.1).schedule is SCHED


@pytest.mark.parametrize("factor, converges", [(0.98, True), (1.02, False)])
def test_max_stable_eta_is_the_gradient_descent_stability_edge(factor, converges):
    """Dense matrix gradient descent on every step's noise-averaged loss, from W = 0.

    grad_W L_t = 2 W (a Sigma_0 + (a c + s) Id) - 2 sqrt(s) Id (with b_t at its optimum), iterated
    without the eigenbasis: just below 1 / max gamma it reaches LinearDiffusion.weights, just above it
    blows up."""
    sched = ld.Schedule.linear(T=20, beta_max=0.2)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((3, 5)) * np.array([4.0, 2.0, 1.0, 0.5, 0.2])
    model = ld.LinearDiffusion.fit(X, sched, c=0.1)
    eta = factor * GradientFlow(model, eta=1.0).max_stable_eta()
    _, Sigma0 = ld.empirical_stats(X)
    errors = []
    for t in range(1, sched.T + 1):
        a = sched.alpha_bars[t - 1]
        s = 1.0 - a
        H = a * Sigma0 + (a * model.c + s) * np.eye(5)
        W = np.zeros((5, 5))
        for _ in range(3000):
            W = W - eta * (2 * W @ H - 2 * np.sqrt(s) * np.eye(5))
        errors.append(np.max(np.abs(W - model.weights(t)[0])))
    if converges:
        assert max(errors) < 1e-8
    else:
        assert max(errors) > 1e3


def _scalar_sampler_law(w, m, last_step_noise):
    """The sampler recursion for one direction, written as a plain loop over t = T..1."""
    mean, var = 0.0, 1.0
    for t in range(SCHED.T, 0, -1):
        beta, abar = SCHED.betas[t - 1], SCHED.alpha_bars[t - 1]
        g = beta / np.sqrt(1 - abar)
        A = (1 - g * w[t - 1]) / np.sqrt(1 - beta)
        mean = A * mean + g * w[t - 1] * m[t - 1] / np.sqrt(1 - beta)
        var = A**2 * var + (beta if (t > 1 or last_step_noise) else 0.0)
    return mean, var


@pytest.mark.parametrize("last_step_noise", [True, False])
def test_sampling_law_without_last_step_noise(last_step_noise):
    X, mu, Sigma = _problem(d=5, N=3)
    model = ld.LinearDiffusion.fit(X, SCHED)
    flow = GradientFlow(model, eta=0.2)
    taus = np.array([0.0, 2.5, 40.0, np.inf])
    mean, var = flow.sampling_law(taus, last_step_noise=last_step_noise)
    centres = flow._mean_centres()
    for i, tau in enumerate(taus):
        w = flow.weights(tau)
        for nu in range(model.d):
            m_loop, v_loop = _scalar_sampler_law(w[:, nu], centres[:, nu], last_step_noise)
            np.testing.assert_allclose([mean[i, nu], var[i, nu]], [m_loop, v_loop], rtol=1e-12, atol=1e-14)
    # fully trained: the law of LinearDiffusion with the same convention
    np.testing.assert_allclose(var[-1], model.sampling_variances(last_step_noise), rtol=1e-10, atol=1e-14)
    ref_mean, ref_cov = model.sampling_distribution(last_step_noise)
    got_mean, got_cov = flow.sampling_distribution(np.inf, last_step_noise=last_step_noise)
    np.testing.assert_allclose(got_mean, ref_mean, atol=1e-12)
    np.testing.assert_allclose(got_cov, ref_cov, atol=1e-12)
    kl = flow.kl(taus[1:], mu, Sigma, last_step_noise=last_step_noise)
    for tau, k in zip(taus[1:3], kl):
        np.testing.assert_allclose(
            k, ld.gaussian_kl(*flow.sampling_distribution(tau, last_step_noise=last_step_noise), mu, Sigma), rtol=1e-9
        )
    # N < d without noise at t = 1: the unseen directions collapse at tau = inf and the KL is infinite
    unseen = model.eigenvalues == 0
    assert unseen.any()
    if last_step_noise:
        assert np.all(var[-1, unseen] >= SCHED.betas[0]) and np.isfinite(kl[-1])
    else:
        assert np.all(var[-1, unseen] < 1e-12) and kl[-1] == np.inf and np.all(np.isfinite(kl[:2]))
        assert flow.kl(np.inf, mu, Sigma, last_step_noise=False) == np.inf


def test_optimal_stopping_without_last_step_noise_is_finite_and_a_minimum():
    X, mu, Sigma = _problem(d=5, N=3)
    flow = GradientFlow(ld.LinearDiffusion.fit(X, SCHED), eta=0.2)
    tau_star, kl_star = flow.optimal_stopping(mu, Sigma, np.logspace(-1, 4, 30), last_step_noise=False)
    fine = np.logspace(-1, 4, 4001)
    brute = flow.kl(fine, mu, Sigma, last_step_noise=False)
    assert np.isfinite(kl_star) and kl_star <= brute.min() + 1e-9
    assert abs(np.log(tau_star / fine[np.argmin(brute)])) < 0.01


def test_optimal_stopping_of_the_test_loss_is_the_brute_force_minimum():
    X, mu, Sigma = _problem(d=5, N=3)
    flow = GradientFlow(ld.LinearDiffusion.fit(X, SCHED), eta=0.2)
    tau_star, loss_star = flow.optimal_stopping(mu, Sigma, np.logspace(-1, 4, 30), criterion="test_loss")
    fine = np.logspace(-1, 4, 4001)
    brute = flow.test_loss(fine, mu, Sigma)
    assert loss_star <= brute.min() + 1e-9 and abs(np.log(tau_star / fine[np.argmin(brute)])) < 0.01
    np.testing.assert_allclose(loss_star, flow.test_loss(tau_star, mu, Sigma), rtol=1e-12)
    with pytest.raises(ValueError, match="criterion"):
        flow.optimal_stopping(mu, Sigma, np.logspace(-1, 4, 30), criterion="loss")


def test_blocks_of_training_times_give_the_same_numbers(monkeypatch):
    X, mu, Sigma = _problem(d=5, N=3)
    flow = GradientFlow(ld.LinearDiffusion.fit(X, SCHED), eta=0.2, init_variance=0.3)
    taus = np.logspace(-1, 3, 7)
    whole = (flow.test_loss(taus, mu, Sigma), flow.kl(taus, mu, Sigma), flow.sampling_law(taus)[1])
    monkeypatch.setattr(gradient_flow, "_BLOCK", 2 * SCHED.T * 5)  # two training times per block
    blocked = (flow.test_loss(taus, mu, Sigma), flow.kl(taus, mu, Sigma), flow.sampling_law(taus)[1])
    for a, b in zip(whole, blocked):
        np.testing.assert_allclose(a, b, rtol=1e-14)


@pytest.mark.parametrize("discrete", [False, True])
def test_a_random_start_relaxes_as_the_decay_factor_says(discrete):
    """W(tau) = W_inf + (W0 - W_inf) V diag(decay) V^T: against the matrix flow integrated numerically
    with finite-difference gradients, and against gradient descent iterated with them."""
    X, _, _ = _problem()
    model = ld.LinearDiffusion.fit(X, SCHED)
    eta, tau, t = 0.05, 6.0, 3
    flow = GradientFlow(model, eta=eta)
    d = model.d
    W0 = np.random.default_rng(7).standard_normal((d, d)) / np.sqrt(d)
    V = model.eigenvectors
    W_inf = V @ np.diag(flow.weights(np.inf)[t - 1]) @ V.T
    expect = W_inf + (W0 - W_inf) @ V @ np.diag(flow.decay(tau, discrete)[t - 1]) @ V.T
    if discrete:
        W = W0.copy()
        for _ in range(int(tau)):
            W = W - eta * _fd_grad(W, t, X)
    else:
        sol = solve_ivp(
            lambda _, y: -eta * _fd_grad(y.reshape(d, d), t, X).ravel(), (0, tau), W0.ravel(), rtol=1e-10, atol=1e-12
        )
        W = sol.y[:, -1].reshape(d, d)
    np.testing.assert_allclose(W, expect, atol=1e-6)


@pytest.mark.parametrize("discrete", [False, True])
def test_random_start_losses_are_the_average_over_starts(discrete):
    """The expected loss of a random start, against the exact loss of the dense weights averaged over
    many starts W0 with i.i.d. N(0, q) entries."""
    X, mu, Sigma = _problem(d=5, N=3)
    model = ld.LinearDiffusion.fit(X, SCHED)
    q, eta, tau = 0.2, 0.1, 3.0
    flow = GradientFlow(model, eta=eta, init_variance=q)
    zero_start = GradientFlow(model, eta=eta)
    d, V = model.d, model.eigenvectors
    n = 4000
    W0 = np.random.default_rng(11).standard_normal((n, d, d)) * np.sqrt(q)
    delta = mu - model.mean
    for t in (1, 6, 12):
        a = SCHED.alpha_bars[t - 1]
        s = 1 - a
        E = V @ np.diag(flow.decay(tau, discrete)[t - 1]) @ V.T
        W_inf = V @ np.diag(flow.weights(np.inf)[t - 1]) @ V.T
        W = W_inf + (W0 - W_inf) @ E  # (n, d, d)
        for m2_matrix, exact in (
            (Sigma + np.outer(delta, delta), flow.test_loss(tau, mu, Sigma, steps=[t], discrete=discrete)),
            (np.cov(X.T, ddof=0), flow.train_loss(tau, steps=[t], discrete=discrete)),
        ):
            M = s * np.eye(d) + a * m2_matrix
            per = d - 2 * np.sqrt(s) * np.trace(W, axis1=1, axis2=2) + np.einsum("nij,jk,nik->n", W, M, W)
            assert abs(per.mean() - exact) < 5 * per.std() / np.sqrt(n)
    assert flow.test_loss(np.inf, mu, Sigma) == pytest.approx(zero_start.test_loss(np.inf, mu, Sigma), rel=1e-12)
    assert flow.test_loss(1.0, mu, Sigma) > zero_start.test_loss(1.0, mu, Sigma)
