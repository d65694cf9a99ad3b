"""Dataset-averaged theory (renormalised ridge) against averages over sampled training sets.

The deterministic equivalents are exact only as d, N -> infinity; at the sizes used here their
relative error is a few 1e-3 away from N ~ d (checked below with a few-percent tolerance, well above
the Monte-Carlo error and well below the effects the chapters show).
"""

import numpy as np
import pytest

from lindiff import LinearDiffusion, Schedule, empirical_stats, expected_kl, power_law_spectrum, rotated_covariance
from lindiff import dataset_average as av
from lindiff.kl import LearnedKL


def _datasets(d, k, N, n_sets, seed):
    """(eigenvalues, mean, cov, list of training sets) for a rotated power-law Gaussian."""
    lam = power_law_spectrum(d, k)
    cov = rotated_covariance(lam, seed=seed)
    mean = np.full(d, 0.5)
    rng = np.random.default_rng(seed + 1)
    L = np.linalg.cholesky(cov)
    return lam, mean, cov, [mean + rng.standard_normal((N, d)) @ L.T for _ in range(n_sets)]


def test_renormalized_ridge_solves_its_equation():
    lam = power_law_spectrum(30, 1.5)
    kappa = np.array([0.0, 1e-6, 1e-3, 0.1, 10.0])
    for N in [3, 20, 31, 32, 200]:
        n, lp = N - 1, lam * (N - 1) / N
        kt = av.renormalized_ridge(lam, N, kappa)
        assert kt.shape == kappa.shape and np.all(kt >= kappa)
        resid = kt - kappa - kt / n * np.sum(lp / (lp + kt[:, None]), axis=1)
        assert np.all(np.abs(resid) <= 1e-10 * (kt + 1e-3))
        if n < lam.size:  # kappa -> 0 keeps a positive root that fills n directions
            assert np.sum(lp / (lp + kt[0])) == pytest.approx(n, rel=1e-10)
        else:
            assert kt[0] < 1e-8
    assert isinstance(av.renormalized_ridge(lam, 10, 0.5), float)
    assert av.renormalized_ridge(lam, 10**9, 0.5) == pytest.approx(0.5, rel=1e-6)


@pytest.mark.parametrize("N", [2, 10, 40, 41, 80])
def test_unseen_variance_isotropic_is_d_minus_N_plus_1(N):
    assert av.averaged_unseen_variance(np.full(40, 2.0), N) == pytest.approx(2.0 * max(40 - N + 1, 0), abs=1e-9)


@pytest.mark.parametrize("k, N", [(1.0, 10), (2.0, 10), (1.0, 25)])
def test_unseen_variance_against_datasets(k, N):
    lam, mean, cov, sets = _datasets(40, k, N, 200, seed=3)
    vals = []
    for X in sets:
        _, S0 = empirical_stats(X)
        w, V = np.linalg.eigh(S0)
        P0 = V[:, w < 1e-10 * w[-1]]
        assert P0.shape[1] == 40 - N + 1
        vals.append(np.trace(P0.T @ cov @ P0))
    vals = np.array(vals)
    theory = av.averaged_unseen_variance(lam, N)
    assert abs(vals.mean() - theory) < 0.03 * theory + 3 * vals.std() / np.sqrt(vals.size)
    # structure helps: the steeper the spectrum, the less variance the N points miss
    assert theory < (40 - N + 1) * lam.mean()


@pytest.mark.parametrize(
    "k, N, c", [(1.0, 10, 0.0), (1.0, 10, 0.05), (0.0, 20, 0.0), (1.0, 100, 0.0), (2.0, 100, 0.02)]
)
def test_averaged_losses_against_datasets(k, N, c):
    """E over training sets of the exact per-dataset L_train(t), L_test(t) and their sums."""
    sched = Schedule.linear(T=200)
    lam, mean, cov, sets = _datasets(40, k, N, 80, seed=int(10 * k) + N)
    train, test = [], []
    for X in sets:
        model = LinearDiffusion.fit(X, sched, c=c)
        train.append(model.train_loss_per_step())
        test.append(model.test_loss_per_step(mean, cov))
    train, test = np.array(train), np.array(test)
    th_train = av.averaged_train_loss_per_step(lam, N, sched, c)
    th_test = av.averaged_test_loss_per_step(lam, N, sched, c)
    steps = np.array([1, 10, 100, 200]) - 1
    for sim, th in [(train, th_train), (test, th_test)]:
        se = sim.std(axis=0) / np.sqrt(len(sets))
        assert np.all(np.abs(sim.mean(axis=0)[steps] - th[steps]) < 0.03 * th[steps] + 3 * se[steps])
        total = sim.sum(axis=1)
        assert abs(total.mean() - th.sum()) < 0.03 * th.sum() + 3 * total.std() / np.sqrt(len(sets))
    # the gap is real and captured: for N < d and c = 0 far larger than the tolerance used above
    if N < 40 and c == 0:
        assert th_test[0] > 10 * th_train[0]


def test_averaged_losses_near_the_transition_within_fifteen_percent():
    """At N = d the smallest eigenvalues of Sigma_0 fluctuate most: the equivalent is rougher there."""
    sched = Schedule.linear(T=200)
    lam, mean, cov, sets = _datasets(40, 1.0, 40, 100, seed=7)
    test = np.array([LinearDiffusion.fit(X, sched).test_loss_per_step(mean, cov) for X in sets])
    th = av.averaged_test_loss_per_step(lam, 40, sched)
    assert np.all(np.abs(test.mean(axis=0) - th) < 0.15 * th)


def test_averaged_losses_tend_to_the_population_optimum():
    sched = Schedule.linear(T=100)
    lam = power_law_spectrum(20, 1.0)
    a = sched.alpha_bars[:, None]
    population = np.sum(a * lam / (a * lam + 1 - a), axis=1)
    for f in (av.averaged_train_loss_per_step, av.averaged_test_loss_per_step):
        assert np.allclose(f(lam, 10**9, sched), population, rtol=1e-6)


@pytest.mark.parametrize(
    "k, N, c", [(0.0, 10, 0.01), (2.0, 10, 0.1), (1.0, 30, 0.003), (1.0, 60, 0.05), (2.0, 200, 0.01)]
)
def test_averaged_kl_against_datasets(k, N, c):
    lam, mean, cov, sets = _datasets(30, k, N, 150, seed=11)
    kls = np.array([LearnedKL(*empirical_stats(X), mean, cov)(c) for X in sets])
    th = av.averaged_kl(lam, N, c)
    assert abs(kls.mean() - th) < 0.015 * th + 3 * kls.std() / np.sqrt(kls.size)


@pytest.mark.parametrize("N", [50, 60, 100, 300])
def test_averaged_kl_at_small_c_tends_to_the_exact_digamma_formula(N):
    """With its order-one correction the equivalent reproduces the exact c = 0 average for N >= d + 10."""
    lam = power_law_spectrum(40, 1.0)
    assert av.averaged_kl(lam, N, 1e-10) == pytest.approx(expected_kl(40, N), rel=1e-3)


@pytest.mark.parametrize("k, N", [(1.0, 15), (1.0, 60), (2.0, 200)])
def test_averaged_optimal_ridge_against_grid_search(k, N):
    """Brute force: the average simulated KL on a grid of c, minimised over the grid."""
    lam, mean, cov, sets = _datasets(30, k, N, 120, seed=13)
    grid = np.geomspace(1e-5, 10.0, 400)
    kls = np.mean([LearnedKL(*empirical_stats(X), mean, cov)(grid) for X in sets], axis=0)
    c_grid = grid[np.argmin(kls)]
    c_th = av.averaged_optimal_ridge(lam, N)
    assert 0.75 < c_th / c_grid < 1.33
    # and the theory's ridge is (almost) as good as the best on the grid
    kl_at_th = np.mean([LearnedKL(*empirical_stats(X), mean, cov)(c_th) for X in sets])
    assert kl_at_th < kls.min() * 1.01


def test_bad_input_raises():
    sched = Schedule.linear(T=10)
    with pytest.raises(ValueError, match="> 0"):
        av.renormalized_ridge([1.0, 0.0], 5, 0.1)
    with pytest.raises(ValueError, match="empty"):
        av.averaged_unseen_variance([], 5)
    with pytest.raises(ValueError, match="N must be"):
        av.averaged_test_loss_per_step([1.0, 2.0], 1, sched)
    with pytest.raises(ValueError, match="kappa"):
        av.renormalized_ridge([1.0], 5, -1.0)
    with pytest.raises(ValueError, match="c must"):
        av.averaged_kl([1.0, 2.0], 5, 0.0)
    with pytest.raises(ValueError, match="c must"):
        av.averaged_train_loss_per_step([1.0], 5, sched, c=-0.1)
    with pytest.raises(ValueError, match="Schedule"):
        av.averaged_test_loss_per_step([1.0], 5, None)
    with pytest.raises(ValueError, match="Schedule"):
        av.averaged_test_loss_excess_per_step([1.0], 5, None)
    with pytest.raises(ValueError, match="NaN"):
        av.averaged_optimal_ridge([1.0, np.nan], 5)


@pytest.mark.parametrize("k, N", [(0.0, 20), (2.0, 20), (1.0, 80)])
def test_averaged_test_loss_excess_against_datasets(k, N):
    """E L_test(t) - L_*(t): simulated training sets minus the dense test loss of the model fitted on the truth."""
    sched = Schedule.linear(T=200)
    lam, mean, cov, sets = _datasets(40, k, N, 80, seed=int(10 * k) + N + 3)
    optimum = LinearDiffusion.from_stats(mean, cov, sched).test_loss_per_step(mean, cov)
    excess = np.array([LinearDiffusion.fit(X, sched).test_loss_per_step(mean, cov) - optimum for X in sets])
    theory = av.averaged_test_loss_excess_per_step(lam, N, sched)
    assert np.all(theory > 0)
    total = excess.sum(axis=1)
    assert abs(total.mean() - theory.sum()) < 0.03 * theory.sum() + 3 * total.std() / np.sqrt(len(sets))
    # and it vanishes for N -> infinity (the optimum is the population loss)
    assert np.all(np.abs(av.averaged_test_loss_excess_per_step(lam, 10**9, sched)) < 1e-6 * optimum)


def test_averaged_test_loss_excess_orders_structure():
    """Below N = d the steeper spectrum misses less variance and so has the smaller excess."""
    sched = Schedule.linear(T=200)
    excess = [av.averaged_test_loss_excess_per_step(power_law_spectrum(40, k), 20, sched).sum() for k in (0, 1, 2)]
    assert excess[0] > excess[1] > excess[2]
