"""The many-step limit of the linear model's sampler law, as stated in chapter 2.

At fixed abar_T and vanishing step size the exact variance C(lambda) tends to
lambda [ abar_T lambda / v_T^2 + (1 - abar_T) / v_T ], v_T = abar_T lambda + 1 - abar_T, and the
mean factor is 1 - abar_T lambda / v_T exactly; abar_T -> 0 gives N(mu_0, Sigma_0 + c Id).
"""

import numpy as np
import pytest

import lindiff as ld

LAMS = np.array([0.1, 0.5, 1.0, 3.0, 30.0, 100.0, 1000.0])  # well above the floor beta_1


def continuum_ratio(lam, abar_T):
    v_T = abar_T * lam + 1 - abar_T
    return abar_T * lam / v_T**2 + (1 - abar_T) / v_T


def constant_schedule(T, abar_T):
    """T equal steps with prod (1 - beta) = abar_T."""
    return ld.Schedule(np.full(T, 1.0 - abar_T ** (1.0 / T)))


def exact_ratio(schedule, c=0.0):
    model = ld.LinearDiffusion.from_stats(np.zeros(LAMS.size), np.diag(LAMS), schedule, c=c)
    return model.sampling_variances() / (LAMS + c)


@pytest.mark.parametrize("abar_T", [6.3e-3, 0.05, 0.3])
def test_exact_law_converges_to_the_continuum_formula_at_rate_one_over_T(abar_T):
    errors = [
        np.max(np.abs(exact_ratio(constant_schedule(T, abar_T)) - continuum_ratio(LAMS, abar_T)))
        for T in (500, 2000, 8000)
    ]
    # first-order Riemann sum plus the beta_1 floor: the error shrinks like 1 / T
    assert errors[2] < 3e-3
    assert 3.0 < errors[0] / errors[1] < 5.0 and 3.0 < errors[1] / errors[2] < 5.0


def test_talk_schedule_is_close_to_its_continuum_value():
    s = ld.Schedule.linear(T=1000, beta_max=1e-2)
    ratio = exact_ratio(s)
    cont = continuum_ratio(LAMS, s.alpha_bars[-1])
    big = LAMS >= 1.0
    assert np.max(np.abs(ratio[big] - cont[big])) < 0.01
    assert ratio[LAMS == 100.0][0] == pytest.approx(0.848, abs=1e-3)


def test_limit_of_vanishing_abar_T_is_rho_N():
    """abar_T -> 0 with many steps: C(lambda) -> lambda and the mean factor -> 1."""
    s = constant_schedule(20_000, 1e-6)
    np.testing.assert_allclose(exact_ratio(s), 1.0, atol=5e-3)
    mean = np.linspace(-1, 1, LAMS.size)
    model = ld.LinearDiffusion.from_stats(mean, np.diag(LAMS), s)
    np.testing.assert_allclose(model.sampling_distribution()[0], mean, atol=1e-3)
    np.testing.assert_allclose(continuum_ratio(LAMS, 1e-12), 1.0, atol=1e-8)


def test_mean_factor_is_exact_at_finite_T():
    """E y_0 = (1 - abar_T lambda / v_T) m, checked by the scalar mean recursion of the sampler."""
    s = ld.Schedule.linear(T=300, beta_max=2e-2)
    lam, m = 50.0, 2.0
    mean = 0.0
    for t in range(s.T, 0, -1):
        i = t - 1
        a, v_t = s.alpha_bars[i], s.alpha_bars[i] * lam + 1 - s.alpha_bars[i]
        eps_mean = np.sqrt(1 - a) / v_t * (mean - np.sqrt(a) * m)
        mean = (mean - s.betas[i] / np.sqrt(1 - a) * eps_mean) / np.sqrt(s.alphas[i])
    aT = s.alpha_bars[-1]
    assert mean == pytest.approx((1 - aT * lam / (aT * lam + 1 - aT)) * m, rel=1e-10)
