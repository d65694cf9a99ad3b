"""The Monte Carlo over training sets (lindiff.montecarlo.losses_over_training_sets).

In d = 1 the average over training sets is a one-dimensional integral: N points from N(m, sigma^2)
have training variance lambda = sigma^2 chi^2_{N-1} / N and mean error delta ~ N(0, sigma^2 / N),
independent. With gamma = a (lambda + c) + s the per-step losses are
L_train = 1 - 2 s / gamma + s (a lambda + s) / gamma^2 and L_test = A(lambda) + B(lambda) delta^2,
A = 1 - 2 s / gamma + s (a sigma^2 + s) / gamma^2, B = a s / gamma^2, so the mean and the variance
over training sets follow by quadrature over the chi^2 law.
"""

import numpy as np
import pytest
from scipy import integrate, stats

from lindiff import LinearDiffusion, Schedule, power_law_spectrum, rotated_covariance
from lindiff.montecarlo import losses_over_training_sets


def _chi2_expectation(f, n):
    value, _ = integrate.quad(lambda x: f(x) * stats.chi2.pdf(x, n), 0, np.inf, epsabs=0, epsrel=1e-11, limit=200)
    return value


def _exact_d1(sigma2, N, a, c):
    """Mean of L_train, mean and variance of L_test over training sets, at one step (d = 1)."""
    s = 1 - a
    lam = lambda x: sigma2 * x / N  # noqa: E731
    gamma = lambda x: a * (lam(x) + c) + s  # noqa: E731
    train = lambda x: 1 - 2 * s / gamma(x) + s * (a * lam(x) + s) / gamma(x) ** 2  # noqa: E731
    A = lambda x: 1 - 2 * s / gamma(x) + s * (a * sigma2 + s) / gamma(x) ** 2  # noqa: E731
    B = lambda x: a * s / gamma(x) ** 2  # noqa: E731
    v = sigma2 / N  # E delta^2; E delta^4 = 3 v^2
    mean_test = _chi2_expectation(lambda x: A(x) + B(x) * v, N - 1)
    second = _chi2_expectation(lambda x: A(x) ** 2 + 2 * A(x) * B(x) * v + 3 * B(x) ** 2 * v**2, N - 1)
    return _chi2_expectation(train, N - 1), mean_test, second - mean_test**2


@pytest.mark.parametrize("N, c", [(8, 0.0), (4, 0.5)])
def test_mean_and_spread_in_one_dimension_against_quadrature(N, c):
    sched = Schedule.linear(T=60)
    sigma2, n_sets = 2.5, 6000
    train, test = losses_over_training_sets([0.7], [[sigma2]], N, sched, n_sets=n_sets, c=c, seed=1)
    assert train.shape == test.shape == (n_sets, 60)
    for t in [1, 10, 60]:
        a = sched.alpha_bars[t - 1]
        mean_train, mean_test, var_test = _exact_d1(sigma2, N, a, c)
        se_train = train[:, t - 1].std(ddof=1) / np.sqrt(n_sets)
        se_test = test[:, t - 1].std(ddof=1) / np.sqrt(n_sets)
        assert abs(train[:, t - 1].mean() - mean_train) < 4.5 * se_train
        assert abs(test[:, t - 1].mean() - mean_test) < 4.5 * se_test
        assert se_test < 0.02 * mean_test  # the check has teeth
        # the spread from one training set to the next: the variance over training sets (at large
        # t only: at small t and c = 0 it comes from rare training sets with tiny lambda, heavy
        # tails that a sample variance underestimates)
        if t == 60:
            assert test[:, t - 1].var(ddof=1) == pytest.approx(var_test, rel=0.1)


def test_rows_are_the_closed_form_losses_of_gaussian_training_sets():
    """Against an independent loop that draws each training set with numpy's multivariate_normal."""
    sched = Schedule.linear(T=80)
    d, N, n_sets = 6, 4, 3000
    cov = rotated_covariance(power_law_spectrum(d, 1.5), seed=2)
    mean = np.linspace(-1, 1, d)
    train, test = losses_over_training_sets(mean, cov, N, sched, n_sets=n_sets, c=0.1, seed=3)
    rng = np.random.default_rng(4)
    models = [LinearDiffusion.fit(rng.multivariate_normal(mean, cov, size=N), sched, c=0.1) for _ in range(n_sets)]
    ref_test = np.array([m.test_loss_per_step(mean, cov) for m in models])
    ref_train = np.array([m.train_loss_per_step() for m in models])
    for ours, ref in [(train, ref_train), (test, ref_test)]:
        se = np.hypot(ours.std(axis=0, ddof=1), ref.std(axis=0, ddof=1)) / np.sqrt(n_sets)
        assert np.all(np.abs(ours.mean(axis=0) - ref.mean(axis=0)) < 4.5 * se)
        assert ours.std(axis=0) == pytest.approx(ref.std(axis=0), rel=0.2)


def test_seeds():
    sched = Schedule.linear(T=20)
    cov = np.diag([2.0, 1.0, 0.5])
    a = losses_over_training_sets(np.zeros(3), cov, 3, sched, n_sets=4, seed=5)
    b = losses_over_training_sets(np.zeros(3), cov, 3, sched, n_sets=4, seed=5)
    fresh = losses_over_training_sets(np.zeros(3), cov, 3, sched, n_sets=4)
    assert np.array_equal(a[1], b[1]) and not np.array_equal(a[1], fresh[1])


def test_bad_input_raises():
    sched = Schedule.linear(T=10)
    cov = np.eye(2)
    with pytest.raises(ValueError, match="schedule"):
        losses_over_training_sets(np.zeros(2), cov, 3, "linear")
    with pytest.raises(ValueError, match="true_cov"):
        losses_over_training_sets(np.zeros(2), -cov, 3, sched)
    with pytest.raises(ValueError, match="true_mean must be a 1-D"):
        losses_over_training_sets(np.zeros((2, 1)), cov, 3, sched)
    with pytest.raises(ValueError, match=r"true_cov has shape \(2, 2\), expected \(3, 3\)"):
        losses_over_training_sets(np.zeros(3), cov, 3, sched)
    with pytest.raises(ValueError, match="N must be >= 2"):
        losses_over_training_sets(np.zeros(2), cov, 1, sched)
    with pytest.raises(ValueError, match="n_sets must be >= 2"):
        losses_over_training_sets(np.zeros(2), cov, 3, sched, n_sets=1)
    with pytest.raises(ValueError, match="c must be"):
        losses_over_training_sets(np.zeros(2), cov, 3, sched, c=-0.1)
