"""Monte-Carlo DDPM losses against the closed forms, and their standard errors against repetition."""

import numpy as np
import pytest

from lindiff import LinearDiffusion, Schedule, power_law_spectrum, rotated_covariance
from lindiff.montecarlo import MCEstimate, ddpm_loss, ddpm_loss_per_step, geometric_strata


def _gaussian(d, k, seed):
    cov = rotated_covariance(power_law_spectrum(d, k), seed=seed)
    mean = np.linspace(-1.0, 1.0, d)
    return mean, cov


def _draw(mean, cov, n, rng):
    return rng.multivariate_normal(mean, cov, size=n, method="eigh")


@pytest.mark.parametrize("N, c", [(8, 0.0), (8, 0.3), (60, 0.0)])
def test_per_step_loss_matches_closed_form(N, c):
    """Fresh test rows give L_test(t), the training rows L_train(t): N < d (c = 0 and c > 0) and N > d."""
    sched = Schedule.linear(T=200)
    mean, cov = _gaussian(12, 1.0, seed=1)
    rng = np.random.default_rng(2)
    X = _draw(mean, cov, N, rng)
    model = LinearDiffusion.fit(X, sched, c=c)
    X_test = _draw(mean, cov, 3000, rng)
    steps = [1, 7, 50, 200]
    test = ddpm_loss_per_step(model, X_test, sched, steps, n_samples=3000, seed=3)
    train = ddpm_loss_per_step(model, X, sched, steps, n_samples=3000, seed=4)
    exact_test = np.array([model.test_loss(mean, cov, t) for t in steps])
    exact_train = np.array([model.train_loss(t) for t in steps])
    assert np.all(np.abs(test.value - exact_test) < 4.5 * test.stderr)
    assert np.all(np.abs(train.value - exact_train) < 4.5 * train.stderr)
    assert np.all(test.stderr < 0.1 * test.value)  # the check has teeth


@pytest.mark.parametrize("N, c", [(8, 0.0), (60, 0.05)])
def test_summed_loss_matches_closed_form(N, c):
    sched = Schedule.linear(T=300)
    mean, cov = _gaussian(12, 2.0, seed=5)
    rng = np.random.default_rng(6)
    X = _draw(mean, cov, N, rng)
    model = LinearDiffusion.fit(X, sched, c=c)
    X_test = _draw(mean, cov, 4000, rng)
    test = ddpm_loss(model, X_test, sched, n_samples=4000, n_strata=30, seed=7)
    train = ddpm_loss(model, X, sched, n_samples=4000, n_strata=30, seed=8)
    assert abs(test.value - model.test_loss(mean, cov)) < 4.5 * test.stderr
    assert abs(train.value - model.train_loss()) < 4.5 * train.stderr
    assert test.stderr < 0.05 * test.value and train.stderr < 0.05 * train.value  # the check has teeth


def test_zero_predictor_has_loss_d_per_step():
    """eps_theta = 0 gives || eps ||^2, of mean d at every step: T d summed, for any data."""
    sched = Schedule.linear(T=100)
    d = 7
    X = np.random.default_rng(0).normal(size=(5, d)) * 100.0
    zero = lambda x, t: np.zeros_like(x)  # noqa: E731
    est = ddpm_loss(zero, X, sched, n_samples=2000, n_strata=20, seed=1)
    assert abs(est.value - sched.T * d) < 4.5 * est.stderr
    step = ddpm_loss_per_step(zero, X, sched, 3, n_samples=4000, seed=2)
    assert isinstance(step.value, float)
    assert abs(step.value - d) < 4.5 * step.stderr


def test_standard_errors_are_calibrated():
    """The reported stderr matches the spread of the estimate over independent seeds."""
    sched = Schedule.linear(T=100)
    mean, cov = _gaussian(6, 1.0, seed=9)
    rng = np.random.default_rng(10)
    X = _draw(mean, cov, 4, rng)  # N < d: the loss spans orders of magnitude across t
    model = LinearDiffusion.fit(X, sched)
    # fresh test rows for every repetition: the target is the expectation over the true law
    summed = [
        ddpm_loss(model, _draw(mean, cov, 400, rng), sched, n_samples=400, n_strata=20, seed=s) for s in range(60)
    ]
    values = np.array([e.value for e in summed])
    spread, reported = values.std(ddof=1), np.mean([e.stderr for e in summed])
    assert 0.7 < spread / reported < 1.4
    per = [
        ddpm_loss_per_step(model, _draw(mean, cov, 300, rng), sched, [2, 40], n_samples=300, seed=s) for s in range(60)
    ]
    spread = np.std([e.value for e in per], axis=0, ddof=1)
    reported = np.mean([e.stderr for e in per], axis=0)
    assert np.all((0.7 < spread / reported) & (spread / reported < 1.4))


def test_stratification_beats_plain_uniform_sampling():
    """For N < d the stratified stderr is far below T * sd(loss) / sqrt(n) of uniform sampling in t."""
    sched = Schedule.linear(T=200)
    mean, cov = _gaussian(10, 0.0, seed=11)
    rng = np.random.default_rng(12)
    model = LinearDiffusion.fit(_draw(mean, cov, 5, rng), sched)
    X_test = _draw(mean, cov, 2000, rng)
    est = ddpm_loss(model, X_test, sched, n_samples=2000, n_strata=25, seed=13)
    per_step = model.test_loss_per_step(mean, cov)
    # variance of one uniform-t draw is at least the variance of L(t) over t
    plain = sched.T * per_step.std() / np.sqrt(2000)
    assert est.stderr < 0.5 * plain


def test_geometric_strata_partition_the_steps():
    for T, n in [(1000, 40), (10, 40), (7, 1), (1, 3)]:
        blocks = geometric_strata(T, n)
        assert np.array_equal(np.concatenate(blocks), np.arange(1, T + 1))
        assert len(blocks) <= n
        assert all(b.size >= 1 for b in blocks)
    sizes = [b.size for b in geometric_strata(1000, 40)]
    assert sizes[0] == 1 and sizes[-1] > 50


def test_reproducible_with_seed():
    sched = Schedule.linear(T=50)
    mean, cov = _gaussian(4, 1.0, seed=0)
    X = _draw(mean, cov, 20, np.random.default_rng(0))
    model = LinearDiffusion.fit(X, sched)
    a = ddpm_loss(model, X, sched, n_samples=200, n_strata=10, seed=5)
    b = ddpm_loss(model, X, sched, n_samples=200, n_strata=10, seed=5)
    assert a == b and isinstance(a, MCEstimate)


def test_bad_input_raises():
    sched = Schedule.linear(T=20)
    X = np.zeros((3, 2))
    model = lambda x, t: x  # noqa: E731
    with pytest.raises(ValueError, match="callable"):
        ddpm_loss(None, X, sched)
    with pytest.raises(ValueError, match="Schedule"):
        ddpm_loss(model, X, "linear")
    with pytest.raises(ValueError, match="NaN"):
        ddpm_loss(model, np.full((3, 2), np.nan), sched)
    with pytest.raises(ValueError, match="2-D"):
        ddpm_loss(model, np.zeros(3), sched)
    with pytest.raises(ValueError, match="strata"):
        ddpm_loss(model, X, sched, n_samples=5, n_strata=10)
    with pytest.raises(ValueError, match="step t"):
        ddpm_loss_per_step(model, X, sched, [0, 3])
    with pytest.raises(ValueError, match="empty"):
        ddpm_loss_per_step(model, X, sched, [])
    with pytest.raises(ValueError, match="n_samples"):
        ddpm_loss_per_step(model, X, sched, 3, n_samples=1)
    with pytest.raises(ValueError, match="returned shape"):
        ddpm_loss_per_step(lambda x, t: x[:, :1], X, sched, 3)


def test_losses_of_a_model_that_returns_nan_raise_naming_the_step():
    """A NaN prediction used to give a NaN loss with no error."""
    sched = Schedule.linear(T=10)
    X = np.random.default_rng(0).normal(size=(8, 2))

    def eps(x, t):
        return np.full_like(x, np.nan) if t == 4 else np.zeros_like(x)

    with pytest.raises(ValueError, match="eps_model returned NaN or inf at step t=4"):
        ddpm_loss_per_step(eps, X, sched, steps=[2, 4], n_samples=50)
    with pytest.raises(ValueError, match="eps_model returned NaN or inf at step t=4"):
        ddpm_loss(eps, X, sched, n_samples=100, n_strata=10)
    with pytest.raises(ValueError, match="eps_model returned NaN or inf at step t=4"):
        ddpm_loss_per_step(eps, X, sched, 4, n_samples=24, draws=True)


def test_rows_are_used_equally_often_and_draws_are_the_squared_errors():
    """eps_theta(x, t) = x / sqrt(1 - abar_t) leaves the error -sqrt(abar_t / (1 - abar_t)) x_0, whatever
    eps: each draw is abar_t / (1 - abar_t) ||x_0||^2 of its row, so the draws show which rows were used.
    With n_samples = 3 M every row appears exactly 3 times; the estimate is the draws' mean and error."""
    sched = Schedule.linear(T=20)
    X = np.random.default_rng(1).normal(size=(7, 3)) + np.arange(7)[:, None]
    ab = sched.alpha_bars

    def reveal(x, t):
        return x / np.sqrt(1 - ab[t - 1])

    steps = [2, 15]
    draws = ddpm_loss_per_step(reveal, X, sched, steps, n_samples=21, seed=3, draws=True)
    assert draws.shape == (2, 21)
    for row, t in zip(draws, steps):
        per_row = ab[t - 1] / (1 - ab[t - 1]) * np.sum(X**2, axis=1)
        np.testing.assert_allclose(np.sort(row), np.sort(np.repeat(per_row, 3)), rtol=1e-12)
        assert not np.allclose(row, np.repeat(per_row, 3))  # in random order
    est = ddpm_loss_per_step(reveal, X, sched, steps, n_samples=21, seed=3)
    np.testing.assert_array_equal(est.value, draws.mean(axis=1))
    np.testing.assert_array_equal(est.stderr, draws.std(axis=1, ddof=1) / np.sqrt(21))
    one = ddpm_loss_per_step(reveal, X, sched, 2, n_samples=21, seed=3, draws=True)
    assert one.shape == (21,)
    np.testing.assert_array_equal(one, draws[0])


def test_a_model_of_another_schedule_and_a_bad_seed_are_refused():
    sched = Schedule.linear(T=4, beta_min=0.05, beta_max=0.5)
    X = np.random.default_rng(0).standard_normal((6, 2))
    model = LinearDiffusion.fit(X, Schedule.linear(T=4, beta_min=0.05, beta_max=0.6))
    with pytest.raises(ValueError, match="differs from the schedule eps_model was built for"):
        ddpm_loss_per_step(model, X, sched, [1])
    with pytest.raises(ValueError, match="differs from the schedule eps_model was built for"):
        ddpm_loss(model, X, sched, n_samples=20, n_strata=2)
    for seed in (-1, 1.5, "one"):
        with pytest.raises(ValueError, match="seed must be"):
            ddpm_loss_per_step(lambda x, t: 0 * x, X, sched, [1], seed=seed)
