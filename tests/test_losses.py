"""The per-direction losses, the generalisation gap (trace formula) and the unseen-direction lower bound."""

import numpy as np
import pytest

from lindiff import LinearDiffusion, Schedule, power_law_spectrum, rotated_covariance
from lindiff.losses import loss_gap_per_step, unseen_lower_bound_per_step
from lindiff.montecarlo import ddpm_loss_per_step


def _setup(d, N, k, c, seed=0, T=150):
    sched = Schedule.linear(T=T)
    cov = rotated_covariance(power_law_spectrum(d, k), seed=seed)
    mean = np.linspace(-0.5, 0.5, d)
    rng = np.random.default_rng(seed + 1)
    X = rng.multivariate_normal(mean, cov, size=N, method="eigh")
    return LinearDiffusion.fit(X, sched, c=c), mean, cov, X


def _dense_gap(model, mean, cov, t):
    """(s/a) Tr[(Sigma - Sigma_0 + delta delta^T) (Sigma_0 + kappa_t Id)^-2] with an explicit inverse."""
    a = model.schedule.alpha_bars[t - 1]
    kappa = model.c + (1 - a) / a
    V, lam = model.eigenvectors, model.eigenvalues
    S0 = (V * lam) @ V.T
    delta = mean - model.mean
    R = np.linalg.inv(S0 + kappa * np.eye(model.d))
    return (1 - a) / a * np.trace((cov - S0 + np.outer(delta, delta)) @ R @ R)


@pytest.mark.parametrize("N, c", [(5, 0.0), (5, 0.2), (40, 0.0)])
def test_gap_formula_equals_test_minus_train_and_dense_trace(N, c):
    model, mean, cov, _ = _setup(12, N, 1.0, c)
    gap = loss_gap_per_step(model, mean, cov)
    direct = model.test_loss_per_step(mean, cov) - model.train_loss_per_step()
    assert np.allclose(gap, direct, rtol=1e-9, atol=1e-9 * np.abs(direct).max())
    for t in [1, 20, 150]:
        assert gap[t - 1] == pytest.approx(_dense_gap(model, mean, cov, t), rel=1e-7)
    by_dir = loss_gap_per_step(model, mean, cov, by_direction=True)
    assert by_dir.shape == (150, 12)
    assert np.allclose(by_dir.sum(axis=1), gap)


def test_gap_against_monte_carlo():
    model, mean, cov, X = _setup(10, 6, 0.0, 0.0, seed=2)
    rng = np.random.default_rng(3)
    X_test = rng.multivariate_normal(mean, cov, size=4000)
    steps = [1, 30, 150]
    test = ddpm_loss_per_step(model, X_test, model.schedule, steps, n_samples=4000, seed=4)
    train = ddpm_loss_per_step(model, X, model.schedule, steps, n_samples=4000, seed=5)
    gap = loss_gap_per_step(model, mean, cov)[np.array(steps) - 1]
    assert np.all(np.abs(test.value - train.value - gap) < 4.5 * np.hypot(test.stderr, train.stderr))


@pytest.mark.parametrize("c", [0.0, 0.1])
def test_unseen_bound_is_a_lower_bound_and_tight_at_small_t(c):
    d, N = 20, 6
    model, mean, cov, _ = _setup(d, N, 1.0, c, seed=6)
    assert np.sum(model.eigenvalues == 0) == d - N + 1
    bound = unseen_lower_bound_per_step(model, mean, cov)
    test = model.test_loss_per_step(mean, cov)
    assert np.all(bound <= test * (1 + 1e-12))
    if c == 0:  # the unseen directions dominate the test loss at t = 1
        assert bound[0] > 0.9 * test[0]
    # direct evaluation of the right-hand side at t = 1
    a = model.schedule.alpha_bars[0]
    kappa = c + (1 - a) / a
    V0 = model.eigenvectors[:, model.eigenvalues == 0]
    delta = mean - model.mean
    unseen = np.trace(V0.T @ (cov + np.outer(delta, delta)) @ V0)
    assert bound[0] == pytest.approx((1 - a) / a * unseen / kappa**2, rel=1e-10)


def test_unseen_bound_vanishes_for_N_above_d():
    model, mean, cov, _ = _setup(8, 30, 1.0, 0.0)
    assert np.all(unseen_lower_bound_per_step(model, mean, cov) == 0.0)


def test_bad_input_raises():
    model, mean, cov, _ = _setup(4, 10, 1.0, 0.0, T=10)
    with pytest.raises(ValueError, match="LinearDiffusion"):
        loss_gap_per_step("model", mean, cov)
    with pytest.raises(ValueError, match="length"):
        loss_gap_per_step(model, mean[:2], cov)
    with pytest.raises(ValueError, match="semi-definite"):
        unseen_lower_bound_per_step(model, mean, -cov)
