"""The empirical (memorising) denoiser: the exact minimiser of the training loss for N points."""

import numpy as np
import pytest
from scipy.stats import multivariate_normal

import lindiff as ld
import lindiff.memorisation as mem
from lindiff.memorisation import EmpiricalDenoiser, nearest_training_point
from lindiff.mixture import GaussianMixture
from lindiff.montecarlo import ddpm_loss_per_step

SCHED = ld.Schedule.linear(T=1000)


def training_set(N=6, d=2, seed=0):
    return (
        GaussianMixture.ring().sample(N, seed=seed) if d == 2 else np.random.default_rng(seed).standard_normal((N, d))
    )


def test_equals_bayes_posterior_mean_by_direct_summation():
    """w_i from Bayes' rule with scipy Gaussian densities, one training point at a time."""
    X = training_set()
    emp = EmpiricalDenoiser(X, SCHED)
    x = np.random.default_rng(1).standard_normal((5, 2)) * 1.5
    for t in (20, 150, 600, 1000):
        a = SCHED.alpha_bars[t - 1]
        for xi, got in zip(x, emp(x, t)):
            lik = np.array([multivariate_normal(np.sqrt(a) * p, (1 - a) * np.eye(2)).pdf(xi) for p in X])
            w = lik / lik.sum()
            expected = sum(wi * (xi - np.sqrt(a) * p) / np.sqrt(1 - a) for wi, p in zip(w, X))
            np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12)


def test_equals_posterior_mean_by_monte_carlo_binning():
    """In d = 1: draw (x_i, eps), bin x_t, average eps per bin; compare with eps* at the bin centre."""
    X = np.array([[-1.0], [0.2], [1.5]])
    t = 300
    a = SCHED.alpha_bars[t - 1]
    rng = np.random.default_rng(2)
    n = 2_000_000
    eps = rng.standard_normal(n)
    xt = np.sqrt(a) * X[rng.integers(0, 3, n), 0] + np.sqrt(1 - a) * eps
    edges = np.linspace(-1.5, 1.5, 31)
    which = np.digitize(xt, edges) - 1
    inside = (which >= 0) & (which < 30)
    count = np.bincount(which[inside], minlength=30)
    mean_eps = np.bincount(which[inside], weights=eps[inside], minlength=30) / count
    sq = np.bincount(which[inside], weights=eps[inside] ** 2, minlength=30) / count
    se = np.sqrt((sq - mean_eps**2) / count)
    centres = 0.5 * (edges[1:] + edges[:-1])
    predicted = EmpiricalDenoiser(X, SCHED)(centres[:, None], t)[:, 0]
    # bin width 0.1: the within-bin bias of a smooth conditional mean is far below the noise
    z = (mean_eps - predicted) / se
    assert np.max(np.abs(z)) < 4.5, z


def test_equals_mixture_of_point_masses():
    """The empirical law is a Gaussian mixture with zero covariances: a second, independent code path."""
    X = training_set(N=7, d=3, seed=3)
    emp = EmpiricalDenoiser(X, SCHED)
    deltas = GaussianMixture(X, np.zeros((7, 3, 3))).optimal_denoiser(SCHED)
    x = np.random.default_rng(4).standard_normal((9, 3))
    for t in (1, 2, 40, 999):
        np.testing.assert_allclose(emp(x, t), deltas(x, t), rtol=1e-8, atol=1e-9)


def test_weights_and_denoised():
    X = training_set()
    emp = EmpiricalDenoiser(X, SCHED)
    x = np.random.default_rng(5).standard_normal((8, 2))
    w = emp.posterior_weights(x, 250)
    assert w.shape == (8, 6) and np.all(w >= 0)
    np.testing.assert_allclose(w.sum(axis=1), 1.0, rtol=1e-13)
    np.testing.assert_allclose(emp.denoised(x, 250), w @ X, rtol=1e-13)
    # at t = T the data are almost forgotten: weights close to uniform
    assert np.max(np.abs(emp.posterior_weights(x, 1000) - 1 / 6)) < 0.1


def test_stable_when_logits_are_huge():
    """t = 1 (1 - abar = beta_1 = 1e-4) and points far apart: a naive exp would give 0/0."""
    X = np.array([[1000.0, 0.0], [0.0, 1000.0], [-700.0, -700.0]])
    emp = EmpiricalDenoiser(X, SCHED)
    a = SCHED.alpha_bars[0]
    x = np.sqrt(a) * X + 0.01 * np.array([[1.0, -2.0], [0.5, 0.5], [-1.0, 0.0]])
    out = emp(x, 1)
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(out, (x - np.sqrt(a) * X) / np.sqrt(1 - a), rtol=1e-6)
    np.testing.assert_allclose(emp.posterior_weights(x, 1), np.eye(3), atol=1e-300)


def test_blocks_give_the_same_result(monkeypatch):
    X = training_set(N=50, seed=6)
    x = np.random.default_rng(7).standard_normal((33, 2))
    full = EmpiricalDenoiser(X, SCHED)(x, 77)
    monkeypatch.setattr(mem, "_CHUNK_ENTRIES", 120)  # blocks of 2 points
    np.testing.assert_allclose(EmpiricalDenoiser(X, SCHED)(x, 77), full, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("t", [5, 100, 400])
def test_lower_training_loss_than_any_perturbation_and_the_linear_optimum(t):
    """Pythagoras: L(eps* + delta g) - L(eps*) = delta^2 <|g(x_t)|^2>; the linear optimum is worse."""
    X = training_set(N=5, seed=8)
    emp = EmpiricalDenoiser(X, SCHED)
    n = 20_000 * len(X)  # every training row with 20,000 noises, the same for every model

    def draws(model):
        return ddpm_loss_per_step(model, X, SCHED, t, n_samples=n, seed=9, draws=True)

    base = draws(emp)
    # <|g(x_t)|^2> from independent draws of the noised training set
    a = SCHED.alpha_bars[t - 1]
    x0 = X[np.random.default_rng(98).integers(0, len(X), 200_000)]
    xt = np.sqrt(a) * x0 + np.sqrt(1 - a) * np.random.default_rng(99).standard_normal(x0.shape)
    for g in (np.tanh, np.ones_like, lambda x: x[:, ::-1] ** 2 / 4):
        for delta in (0.1, -0.1):
            pert = draws(lambda x, s: emp(x, s) + delta * g(x))
            excess = np.mean(pert - base)
            expected = delta**2 * np.mean(np.sum(g(xt) ** 2, axis=1))
            assert excess > 0
            assert abs(excess - expected) < 0.05 * expected
    lin = ld.LinearDiffusion.fit(X, SCHED)
    lin_draws = draws(lin)
    assert np.mean(lin_draws - base) > 0
    # the Monte-Carlo estimator agrees with the linear model's closed-form training loss
    assert abs(lin_draws.mean() - lin.train_loss(t)) < 4 * lin_draws.std() / np.sqrt(lin_draws.size)


def test_sampling_reproduces_training_points_up_to_the_last_step_noise():
    """With eps*, the sampler's output is x_i + sigma_1 z: mean squared distance d beta_1."""
    X = training_set(N=4, seed=10)
    n = 400
    u = ld.ddpm_sample(EmpiricalDenoiser(X, SCHED), SCHED, n, 2, seed=11, progress_bar=False)
    dist, idx = nearest_training_point(u, X)
    beta1 = SCHED.betas[0]
    msd = np.mean(dist**2)
    # |z|^2 ~ chi^2_2: mean 2 beta_1, standard error 2 beta_1 / sqrt(n)
    assert abs(msd - 2 * beta1) < 4 * 2 * beta1 / np.sqrt(n)
    assert dist.max() < 6 * np.sqrt(beta1)
    assert np.all(np.bincount(idx, minlength=4) > 0.1 * n)
    # control: the population-optimal denoiser of the same ring generates new points
    fresh = ld.ddpm_sample(GaussianMixture.ring().optimal_denoiser(SCHED), SCHED, 200, 2, seed=11, progress_bar=False)
    assert np.median(nearest_training_point(fresh, X)[0]) > 30 * np.sqrt(beta1)


def test_nearest_training_point_brute_force():
    X = training_set(N=9, d=3, seed=12)
    s = np.random.default_rng(13).standard_normal((15, 3))
    dist, idx = nearest_training_point(s, X)
    for k in range(15):
        all_d = [np.linalg.norm(s[k] - p) for p in X]
        assert idx[k] == int(np.argmin(all_d))
        assert dist[k] == pytest.approx(min(all_d), rel=1e-12)


def test_bad_input():
    X = training_set()
    emp = EmpiricalDenoiser(X, SCHED)
    with pytest.raises(ValueError, match="shape"):
        emp(np.zeros((2, 3)), 5)
    with pytest.raises(ValueError, match="step t"):
        emp(np.zeros((2, 2)), 0)
    with pytest.raises(ValueError, match="NaN"):
        EmpiricalDenoiser(np.array([[np.nan, 0.0]]), SCHED)
    with pytest.raises(ValueError, match="Schedule"):
        EmpiricalDenoiser(X, schedule=1000)
    with pytest.raises(ValueError, match="callable"):
        ddpm_loss_per_step(None, X, SCHED, 1)
    with pytest.raises(ValueError, match="returned shape"):
        ddpm_loss_per_step(lambda x, t: x[:, :1], X, SCHED, 1)
    with pytest.raises(ValueError, match="n_samples"):
        ddpm_loss_per_step(emp, X, SCHED, 1, n_samples=0)
    with pytest.raises(ValueError, match="samples must have shape"):
        nearest_training_point(np.zeros((2, 3)), X)


# ------------------------------------------------------------------ the ratio test (chapter 9)
def _memorised_by_loops(samples, X, ratio):
    """Brute force: sort the distances of each sample to every training row."""
    out = []
    for s in samples:
        dist = sorted(float(np.sqrt(np.sum((s - x) ** 2))) for x in X)
        out.append(dist[0] < ratio * dist[1])
    return np.array(out)


def test_memorised_agrees_with_sorting_every_distance():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((30, 4))
    samples = np.concatenate([X[:10] + 0.2 * rng.standard_normal((10, 4)), rng.standard_normal((40, 4))])
    for ratio in (1 / 3, 0.5, 0.9):
        got = mem.memorised(samples, X, ratio)
        np.testing.assert_array_equal(got, _memorised_by_loops(samples, X, ratio))
    assert 0 < got.sum() < len(samples)  # the case mixes both answers


def test_copies_of_training_points_are_memorised_and_fresh_draws_are_not():
    rng = np.random.default_rng(4)
    X = rng.standard_normal((200, 20))
    copies = X[rng.integers(200, size=300)] + 1e-3 * rng.standard_normal((300, 20))
    assert mem.memorised_fraction(copies, X) == 1.0
    assert mem.memorised_fraction(rng.standard_normal((300, 20)), X) < 0.01


def test_samples_of_the_empirical_denoiser_are_memorised():
    """The exact optimum of the training loss returns the training points (up to sigma_1 z)."""
    X = np.random.default_rng(5).standard_normal((8, 10))
    out = ld.ddpm_sample(EmpiricalDenoiser(X, SCHED), SCHED, 50, 10, seed=6, progress_bar=False)
    assert mem.memorised_fraction(out, X) == 1.0


def test_memorised_rejects_bad_input():
    X = np.zeros((5, 3))
    with pytest.raises(ValueError, match="ratio"):
        mem.memorised(np.zeros((2, 3)), X, ratio=0.0)
    with pytest.raises(ValueError, match="samples"):
        mem.memorised(np.zeros((2, 4)), X)
    with pytest.raises(ValueError, match="X"):
        mem.memorised(np.zeros((2, 3)), np.zeros((1, 3)))


def test_transition_size_interpolates_in_log_n():
    # f falls from 0.8 at N = 10 to 0.2 at N = 1000: 1/2 is crossed half way in log N, at N = 100
    assert mem.transition_size([1, 10, 1000, 5000], [1.0, 0.8, 0.2, 0.0]) == pytest.approx(100.0)
    # a crossing at a quarter of the way: 0.8 -> 0.4 crosses 0.7 at log N = log 10 + 0.25 log 100
    assert mem.transition_size([10, 1000], [0.8, 0.4], level=0.7) == pytest.approx(10 * 100**0.25)
    assert np.isnan(mem.transition_size([1, 2, 4], [0.3, 0.2, 0.1]))  # never above 1/2
    with pytest.raises(ValueError, match="Ns"):
        mem.transition_size([2, 1], [1.0, 0.0])


# ---- the distances of the ratio test: exact, whatever the offset and scale of the data (issue 21)


def _exact_two_nearest(samples, X):
    """Indices of the nearest and second-nearest distinct rows, from exact rational squared distances."""
    from fractions import Fraction

    rows = [tuple(r) for r in np.unique(X, axis=0)]
    out = []
    for x in samples:
        sq = [sum((Fraction(float(a)) - Fraction(float(b))) ** 2 for a, b in zip(x, r)) for r in rows]
        order = sorted(range(len(rows)), key=lambda j: sq[j])
        out.append((rows[order[0]], sq[order[0]], sq[order[1]]))
    return out


def test_issue_examples_offset_far_from_origin_and_duplicates():
    rng = np.random.default_rng(0)
    X = 1e6 + 1e-3 * rng.standard_normal((50, 2))
    assert mem.memorised_fraction(X[:20] + 1e-6 * rng.standard_normal((20, 2)), X) == 1.0
    Y = rng.standard_normal((10, 3))
    assert mem.memorised_fraction(Y[:5], np.vstack([Y, Y])) == 1.0
    assert mem.memorised_fraction(Y[:5] + 10.0, np.vstack([Y, Y])) == 0.0  # far from all: no copy


def test_empty_samples_and_equal_rows_raise():
    X = np.random.default_rng(1).standard_normal((4, 3))
    for f in (mem.memorised, mem.memorised_fraction, mem.nearest_training_point, mem.two_nearest_distances):
        with pytest.raises(ValueError, match="samples"):
            f(np.zeros((0, 3)), X)
    with pytest.raises(ValueError, match="distinct"):
        mem.memorised(X[:1], np.vstack([X[:1]] * 3))


@pytest.mark.parametrize("offset, scale", [(1e6, 1.0), (0.0, 1e-170), (0.0, 1e160), (1e8, 1e-3), (-3e160, 1e150)])
def test_two_nearest_match_exact_rational_distances(offset, scale):
    """Nearest rows and distance ratios agree with exact (rational) arithmetic at extreme offsets and scales."""
    rng = np.random.default_rng(2)
    X = offset + scale * rng.standard_normal((30, 4))
    samples = X[:6] + scale * 10.0 ** rng.uniform(-6, 0, (6, 1)) * rng.standard_normal((6, 4))
    two = mem.two_nearest_distances(samples, X)
    _, idx = mem.nearest_training_point(samples, X)
    for (row, sq1, sq2), (d1, d2), i in zip(_exact_two_nearest(samples, X), two, idx):
        assert tuple(X[i]) == row
        np.testing.assert_allclose(d1 / d2, np.sqrt(float(sq1 / sq2)), rtol=1e-9)
        assert np.isfinite(d1) and np.isfinite(d2) and d2 > 0


def test_ratio_test_property_hypothesis():
    """Hypothesis: memorised() equals the ratio test on exact distances for any offset and scale."""
    from fractions import Fraction

    from hypothesis import given, settings
    from hypothesis import strategies as st

    @settings(max_examples=60, deadline=None)
    @given(
        seed=st.integers(0, 10_000),
        log_scale=st.floats(-170, 160),
        offset_units=st.floats(-1e8, 1e8),
        ratio=st.sampled_from([1 / 6, 1 / 3, 1 / 2, 2 / 3]),
    )
    def check(seed, log_scale, offset_units, ratio):
        rng = np.random.default_rng(seed)
        scale = 10.0**log_scale
        X = scale * (offset_units + rng.standard_normal((12, 3)))
        X = np.vstack([X, X[:3]])  # duplicated rows
        samples = X[rng.integers(0, 12, 5)] + scale * 10.0 ** rng.uniform(-4, 0.5) * rng.standard_normal((5, 3))
        got = mem.memorised(samples, X, ratio)
        expected = [sq1 < Fraction(ratio) ** 2 * sq2 for _, sq1, sq2 in _exact_two_nearest(samples, X)]
        # a ratio within 1e-9 of the threshold may fall either way in floating point
        two = mem.two_nearest_distances(samples, X)
        clear = np.abs(two[:, 0] / two[:, 1] - ratio) > 1e-9
        assert np.array_equal(got[clear], np.array(expected)[clear])

    check()
