"""Gaussian-mixture toy data: sampling, noised laws, densities and the population-optimal denoiser."""

import numpy as np
import pytest
from scipy.stats import multivariate_normal

import lindiff as ld
from lindiff.mixture import GaussianMixture


def three_blobs():
    means = np.array([[-1.5, 0.0], [1.0, 1.0], [0.5, -1.5]])
    covs = np.array([[[0.3, 0.1], [0.1, 0.2]], [[0.1, 0.0], [0.0, 0.4]], [[0.25, -0.05], [-0.05, 0.15]]])
    return GaussianMixture(means, covs, weights=[0.5, 0.3, 0.2])


def scipy_density(gm, x):
    """Mixture density summed component by component with scipy."""
    return sum(w * multivariate_normal(m, c).pdf(x) for w, m, c in zip(gm.weights, gm.means, gm.covs))


def test_ring_geometry_and_moments():
    gm = GaussianMixture.ring(K=8, radius=2.0, std=0.25)
    assert gm.n_components == 8 and gm.d == 2
    np.testing.assert_allclose(np.linalg.norm(gm.means, axis=1), 2.0)
    np.testing.assert_allclose(gm.covs, np.broadcast_to(0.0625 * np.eye(2), (8, 2, 2)), atol=1e-15)
    # points evenly on a circle: mean 0, covariance (std^2 + radius^2 / 2) Id
    np.testing.assert_allclose(gm.mean(), 0.0, atol=1e-14)
    np.testing.assert_allclose(gm.covariance(), (0.0625 + 2.0) * np.eye(2), atol=1e-13)


def test_sample_matches_moments_and_weights():
    gm = three_blobs()
    X, labels = gm.sample(60_000, seed=1, return_labels=True)
    n = len(X)
    freq = np.bincount(labels, minlength=3) / n
    assert np.all(np.abs(freq - gm.weights) < 4 * np.sqrt(gm.weights * (1 - gm.weights) / n))
    for k in range(3):
        Xk = X[labels == k]
        se = np.sqrt(np.diag(gm.covs[k]) / len(Xk))
        assert np.all(np.abs(Xk.mean(axis=0) - gm.means[k]) < 4 * se)
        np.testing.assert_allclose(np.cov(Xk.T), gm.covs[k], atol=0.02)
    np.testing.assert_allclose(np.cov(X.T), gm.covariance(), atol=0.03)
    # reproducible
    np.testing.assert_array_equal(gm.sample(5, seed=3), gm.sample(5, seed=3))


def test_noised_law_matches_forward_process():
    gm = three_blobs()
    a = 0.3
    x0 = gm.sample(80_000, seed=2)
    xt = np.sqrt(a) * x0 + np.sqrt(1 - a) * np.random.default_rng(3).standard_normal(x0.shape)
    nz = gm.noised(a)
    np.testing.assert_allclose(nz.means, np.sqrt(a) * gm.means)
    np.testing.assert_allclose(xt.mean(axis=0), nz.mean(), atol=0.015)
    np.testing.assert_allclose(np.cov(xt.T), nz.covariance(), atol=0.015)
    # the noised density integrates to one and agrees with scipy
    g = np.linspace(-6, 6, 401)
    grid = np.stack(np.meshgrid(g, g), axis=-1).reshape(-1, 2)
    dens = np.exp(nz.log_density(grid))
    assert abs(dens.sum() * (g[1] - g[0]) ** 2 - 1.0) < 1e-6
    np.testing.assert_allclose(dens, scipy_density(nz, grid), rtol=1e-10, atol=1e-300)


def test_optimal_noise_equals_brute_force_posterior_mean():
    """E[eps | x_t = x] by quadrature over x_0 on a grid, with scipy densities."""
    gm = three_blobs()
    g = np.linspace(-4.5, 4.5, 401)
    x0 = np.stack(np.meshgrid(g, g), axis=-1).reshape(-1, 2)
    prior = scipy_density(gm, x0)
    x = np.array([[0.3, -0.2], [-1.0, 0.8], [1.5, 1.2], [0.0, -2.0]])
    for a in (0.2, 0.6, 0.9):
        for xi in x:
            like = multivariate_normal(np.zeros(2), (1 - a) * np.eye(2)).pdf(xi - np.sqrt(a) * x0)
            post_mean_x0 = (prior * like) @ x0 / np.sum(prior * like)
            brute = (xi - np.sqrt(a) * post_mean_x0) / np.sqrt(1 - a)
            np.testing.assert_allclose(gm.optimal_noise(xi[None], a)[0], brute, atol=1e-6)


def test_optimal_noise_is_tweedie_score():
    """eps* = -sqrt(1 - abar) grad log p_t, by central differences of the noised density."""
    gm = three_blobs()
    x = np.random.default_rng(4).standard_normal((6, 2))
    h = 1e-5
    for a in (0.05, 0.5, 0.99):
        nz = gm.noised(a)
        grad = np.stack([(nz.log_density(x + h * e) - nz.log_density(x - h * e)) / (2 * h) for e in np.eye(2)], axis=1)
        np.testing.assert_allclose(gm.optimal_noise(x, a), -np.sqrt(1 - a) * grad, rtol=1e-6, atol=1e-7)


def test_single_gaussian_optimum_is_the_population_linear_model():
    """For Gaussian data the population-optimal denoiser is linear: W_t (x + b_t) with Sigma_0 = Sigma."""
    mean = np.array([0.5, -1.0, 2.0])
    cov = ld.rotated_covariance([4.0, 1.0, 0.0], seed=5)  # singular covariance is allowed
    gm = GaussianMixture.gaussian(mean, cov)
    sched = ld.Schedule.linear(T=100)
    lin = ld.LinearDiffusion.from_stats(mean, cov, sched)
    eps = gm.optimal_denoiser(sched)
    x = np.random.default_rng(6).standard_normal((7, 3)) * 2
    for t in (1, 7, 50, 100):
        np.testing.assert_allclose(eps(x, t), lin(x, t), rtol=1e-9, atol=1e-9)


def test_population_optimum_beats_perturbations_on_fresh_data():
    gm = three_blobs()
    a = 0.4
    rng = np.random.default_rng(7)
    x0 = gm.sample(100_000, seed=8)
    eps = rng.standard_normal(x0.shape)
    xt = np.sqrt(a) * x0 + np.sqrt(1 - a) * eps
    best = gm.optimal_noise(xt, a)
    base = np.mean(np.sum((eps - best) ** 2, axis=1))
    for g in (np.tanh(xt), np.ones_like(xt), xt**2 / 4):
        for delta in (0.05, -0.05):
            # orthogonality of the residual makes the excess exactly delta^2 <|g|^2> (Pythagoras)
            excess = np.mean(np.sum((eps - best - delta * g) ** 2, axis=1)) - base
            assert excess > 0
            assert abs(excess - delta**2 * np.mean(np.sum(g**2, axis=1))) < 0.1 * delta**2 * np.mean(
                np.sum(g**2, axis=1)
            ) + 2e-3 * abs(delta)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(means=np.zeros((2, 2)), covs=np.zeros((2, 3, 3))), "covs must have shape"),
        (dict(means=np.zeros((2, 2)), covs=np.zeros((2, 2, 2)), weights=[0.7, 0.7]), "summing to 1"),
        (dict(means=np.zeros((2, 2)), covs=np.array([np.eye(2), -np.eye(2)])), "positive semi-definite"),
        (dict(means=np.full((1, 2), np.nan), covs=np.zeros((1, 2, 2))), "NaN"),
        (dict(means=np.zeros(2), covs=np.zeros((1, 2, 2))), "2-D array"),
    ],
)
def test_bad_constructor_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        GaussianMixture(**kwargs)


def test_bad_call_input():
    gm = three_blobs()
    with pytest.raises(ValueError, match="shape"):
        gm.optimal_noise(np.zeros((3, 3)), 0.5)
    with pytest.raises(ValueError, match="abar"):
        gm.optimal_noise(np.zeros((3, 2)), 1.0)
    with pytest.raises(ValueError, match="abar"):
        gm.noised(1.5)
    with pytest.raises(ValueError, match="non-singular"):
        GaussianMixture(np.zeros((1, 2)), np.zeros((1, 2, 2))).log_density(np.zeros((1, 2)))
    with pytest.raises(ValueError, match="step t"):
        gm.optimal_denoiser(ld.Schedule.linear(T=10))(np.zeros((1, 2)), 11)
    with pytest.raises(ValueError, match="Schedule"):
        gm.optimal_denoiser(None)
    with pytest.raises(ValueError, match="n must be"):
        gm.sample(0)
