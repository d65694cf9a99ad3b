"""Collapse and speciation of the memorising sampler (chapter 8): the criteria against independent
computations (Gaussian entropies, brute-force densities, quadrature) and the collapse step against a
backward run of the empirical denoiser."""

import numpy as np
import pytest
from scipy import integrate
from scipy import stats as st

from lindiff import Schedule, ddpm_sample
from lindiff.collapse import (
    blurred_training_kl,
    class_posteriors,
    collapse_size,
    collapse_step,
    noisy_information,
    speciation_step,
)
from lindiff.memorisation import EmpiricalDenoiser, memorised_fraction
from lindiff.mixture import GaussianMixture

SCHED = Schedule.linear()


def test_information_is_the_mutual_information_of_gaussians():
    # I(x_0; x_t) = h(x_t) - h(x_t | x_0) = 1/2 [ln det(a Sigma + (1 - a) Id) - d ln(1 - a)]
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.standard_normal((5, 5)))
    lam = np.array([0.0, 0.1, 1.0, 3.0, 20.0])
    Sigma = (q * lam) @ q.T
    info = noisy_information(lam, SCHED)
    for t in (1, 100, 500, 1000):
        a = SCHED.alpha_bars[t - 1]
        ref = 0.5 * (np.linalg.slogdet(a * Sigma + (1 - a) * np.eye(5))[1] - 5 * np.log(1 - a))
        assert info[t - 1] == pytest.approx(ref, rel=1e-9)
    assert np.all(np.diff(info) < 0)


def test_collapse_step_solves_the_criterion():
    d = 8
    lam = np.ones(d)
    for N in (10, 200, 5000):
        t = collapse_step(lam, N, SCHED)
        i = int(np.floor(t))
        # isotropic data: snr at collapse = N^(2/d) - 1 (Biroli et al.'s e^{2 t_C} = 1 + sigma^2 / (N^(2/d) - 1))
        snr = SCHED.snr
        assert snr[i - 1] >= N ** (2 / d) - 1 >= snr[i]
    steps = collapse_step(lam, np.array([10, 200, 5000]), SCHED)
    assert np.all(np.diff(steps) < 0)  # more points: later collapse (smaller step)
    assert collapse_step(lam, 1, SCHED) == SCHED.T  # one point: collapsed from the start
    assert collapse_step(lam, 1e40, SCHED) == 0.0  # never within the schedule
    assert collapse_size(lam, 250, SCHED) == pytest.approx((1 + SCHED.snr[249]) ** (d / 2))


def test_speciation_step():
    t = speciation_step(17.0, SCHED)
    i = int(np.floor(t))
    assert SCHED.alpha_bars[i - 1] * 17 >= 1 >= SCHED.alpha_bars[i] * 17
    assert speciation_step(0.5, SCHED) == 0.0
    assert speciation_step(1e6, SCHED) == SCHED.T


def test_class_posteriors_against_scipy():
    mix = GaussianMixture(np.array([[2.0, 0.0], [-1.0, 1.0]]), np.array([np.eye(2), [[0.5, 0.1], [0.1, 0.3]]]))
    x = np.random.default_rng(1).standard_normal((5, 2))
    a = 0.4
    post = class_posteriors(mix, x, a)
    dens = np.array(
        [
            0.5 * st.multivariate_normal(np.sqrt(a) * m, a * C + (1 - a) * np.eye(2)).pdf(x)
            for m, C in zip(mix.means, mix.covs)
        ]
    ).T
    np.testing.assert_allclose(post, dens / dens.sum(1, keepdims=True), rtol=1e-10)


def test_blurred_training_kl_against_quadrature():
    X = np.array([[-1.0], [0.3], [1.2]])
    c, s2 = 0.2, 1.5

    def p(y):
        return np.mean(st.norm.pdf(y, X[:, 0], np.sqrt(c)))

    ref = integrate.quad(lambda y: p(y) * np.log(p(y) / st.norm.pdf(y, 0, np.sqrt(s2))), -12, 12, limit=200)[0]
    kl, se = blurred_training_kl(X, c, np.zeros(1), np.array([[s2]]), n=200_000, seed=0)
    assert abs(kl - ref) < 5 * se + 1e-3


def test_collapse_step_against_the_backward_run():
    # d = 8, N = 200 white data: the step where half of the Tweedie estimates are copies (ratio test)
    d, N = 8, 200
    X = np.random.default_rng(3).standard_normal((N, d))
    den = EmpiricalDenoiser(X, SCHED)
    theory = collapse_step(np.ones(d), N, SCHED)
    fractions = {}
    for t0 in (int(theory) - 80, int(theory) + 80):
        u = ddpm_sample(den, SCHED, 150, d, seed=t0, progress_bar=False, t0=t0)
        fractions[t0] = memorised_fraction(den.denoised(u, t0), X)
    low, high = sorted(fractions)
    assert fractions[low] > 0.6 and fractions[high] < 0.4


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: noisy_information([-1.0, 1.0], SCHED), "eigenvalues"),
        (lambda: collapse_step([1.0], 0.5, SCHED), "N"),
        (lambda: collapse_step([1.0], 10, "schedule"), "schedule"),
        (lambda: collapse_size([1.0], 0, SCHED), "step"),
        (lambda: speciation_step(-1.0, SCHED), "top_eigenvalue"),
        (lambda: class_posteriors("mix", np.zeros((1, 2)), 0.5), "mixture"),
        (lambda: blurred_training_kl(np.zeros((2, 1)), 0.0, np.zeros(1), np.eye(1)), "c"),
    ],
)
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()
