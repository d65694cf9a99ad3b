"""The resolvent form of the per-dataset losses (eq-losses-resolvent), one training set at a time.

L_train(t) = d - kappa_0 Tr R - c kappa_0 Tr R^2 and
L_test(t) = d - 2 kappa_0 Tr R + kappa_0^2 Tr R^2 + kappa_0 Tr[R (Sigma + delta delta^T) R], with
R = (Sigma_0 + kappa_t Id)^-1 built here by a dense inverse from the raw training rows, checked against
the eigenbasis losses of LinearDiffusion and against a Monte Carlo of the DDPM loss of a denoiser
built as a dense matrix, for N < d and N > d, c = 0 and c > 0, with the error of the training mean.
"""

import numpy as np
import pytest

from lindiff import LinearDiffusion, Schedule, power_law_spectrum, rotated_covariance
from lindiff.losses import losses_from_resolvent_traces
from lindiff.montecarlo import ddpm_loss_per_step

D = 12
STEPS = np.array([1, 5, 40, 150])


def _setup(N, c, seed):
    sched = Schedule.linear(T=150)
    cov = rotated_covariance(power_law_spectrum(D, 1.0), seed=seed)
    mean = np.linspace(-1.0, 1.0, D)
    rng = np.random.default_rng(seed + 1)
    X = rng.multivariate_normal(mean, cov, size=N, method="eigh")
    return sched, mean, cov, X, rng


def _training_stats(X):
    mu0 = X.mean(axis=0)
    return mu0, (X - mu0).T @ (X - mu0) / X.shape[0]


def _dense_traces(X, mean, cov, sched, c, steps, with_mean_error=True):
    """Tr R, Tr R^2, Tr[R M R] with R = (Sigma_0 + kappa_t Id)^-1 by np.linalg.inv, M = Sigma + delta delta^T."""
    mu0, S0 = _training_stats(X)
    delta = mean - mu0
    M = cov + (np.outer(delta, delta) if with_mean_error else 0.0)
    out = np.empty((3, len(steps)))
    for j, t in enumerate(steps):
        a = sched.alpha_bars[t - 1]
        R = np.linalg.inv(S0 + (c + (1 - a) / a) * np.eye(X.shape[1]))
        out[:, j] = np.trace(R), np.trace(R @ R), np.trace(R @ M @ R)
    return out


def _resolvent_losses(X, mean, cov, sched, c, steps, with_mean_error=True):
    traces = _dense_traces(X, mean, cov, sched, c, steps, with_mean_error)
    return losses_from_resolvent_traces(sched.alpha_bars[steps - 1], c, X.shape[1], *traces)


def _dense_denoiser(X, sched, c):
    """eps(x, t) = sqrt(s) [a (Sigma_0 + c Id) + s Id]^-1 (x - sqrt(a) mu_0), as a dense matrix."""
    mu0, S0 = _training_stats(X)

    def eps(x, t):
        a = sched.alpha_bars[t - 1]
        W = np.sqrt(1 - a) * np.linalg.inv(a * (S0 + c * np.eye(X.shape[1])) + (1 - a) * np.eye(X.shape[1]))
        return (x - np.sqrt(a) * mu0) @ W.T

    return eps


CASES = [(5, 0.0), (5, 0.3), (40, 0.0), (40, 0.1)]  # N < d and N > d, without and with a ridge


@pytest.mark.parametrize("N, c", CASES)
def test_resolvent_form_equals_the_eigenbasis_losses(N, c):
    sched, mean, cov, X, _ = _setup(N, c, seed=N)
    model = LinearDiffusion.fit(X, sched, c=c)
    train, test = _resolvent_losses(X, mean, cov, sched, c, STEPS)
    assert train == pytest.approx(model.train_loss_per_step()[STEPS - 1], rel=1e-9)
    assert test == pytest.approx(model.test_loss_per_step(mean, cov)[STEPS - 1], rel=1e-9)
    # the error of the training mean is part of what is checked: without it the test loss moves
    # by over a thousand times the tolerance
    _, test_no_mean = _resolvent_losses(X, mean, cov, sched, c, STEPS, with_mean_error=False)
    assert np.all(np.abs(test - test_no_mean) > 1e-6 * test)


@pytest.mark.parametrize("N, c", CASES)
def test_resolvent_form_against_monte_carlo_of_the_ddpm_loss(N, c):
    sched, mean, cov, X, rng = _setup(N, c, seed=10 + N)
    train, test = _resolvent_losses(X, mean, cov, sched, c, STEPS)
    eps = _dense_denoiser(X, sched, c)
    n = 4000
    X_test = rng.multivariate_normal(mean, cov, size=n, method="eigh")  # each row used once: iid draws
    mc_test = ddpm_loss_per_step(eps, X_test, sched, STEPS, n_samples=n, seed=1)
    mc_train = ddpm_loss_per_step(eps, X, sched, STEPS, n_samples=n, seed=2)
    assert np.all(np.abs(mc_test.value - test) < 4.5 * mc_test.stderr)
    assert np.all(np.abs(mc_train.value - train) < 4.5 * mc_train.stderr)
    assert np.all(mc_test.stderr < 0.05 * test) and np.all(mc_train.stderr < 0.05 * train)  # the check has teeth


def test_the_averaged_form_is_the_per_dataset_form_with_averaged_traces():
    """Linearity in the traces: the mean over training sets of the per-dataset losses is the formula
    evaluated at the mean traces (what the deterministic equivalent relies on)."""
    sched, mean, cov, _, rng = _setup(8, 0.2, seed=3)
    sets = [rng.multivariate_normal(mean, cov, size=8, method="eigh") for _ in range(5)]
    traces = np.array([_dense_traces(X, mean, cov, sched, 0.2, STEPS) for X in sets])
    per_set = np.array([losses_from_resolvent_traces(sched.alpha_bars[STEPS - 1], 0.2, D, *tr) for tr in traces])
    at_mean = losses_from_resolvent_traces(sched.alpha_bars[STEPS - 1], 0.2, D, *traces.mean(axis=0))
    assert np.allclose(per_set.mean(axis=0), at_mean, rtol=1e-12)


def test_bad_input_raises():
    ab = np.array([0.9, 0.5])
    tr = np.ones(2)
    with pytest.raises(ValueError, match="alpha_bars"):
        losses_from_resolvent_traces(np.array([0.0, 0.5]), 0.0, 3, tr, tr, tr)
    with pytest.raises(ValueError, match="c must be"):
        losses_from_resolvent_traces(ab, -1.0, 3, tr, tr, tr)
    with pytest.raises(ValueError, match="d must be"):
        losses_from_resolvent_traces(ab, 0.0, 0, tr, tr, tr)
    with pytest.raises(ValueError, match="trace_R2 must have the shape"):
        losses_from_resolvent_traces(ab, 0.0, 3, tr, np.ones(3), tr)
    with pytest.raises(ValueError, match="trace_RMR contains NaN"):
        losses_from_resolvent_traces(ab, 0.0, 3, tr, tr, np.array([1.0, np.nan]))
