"""Forward-chain and sampler paths."""
import numpy as np
import pytest

import lindiff as ld
from lindiff.memorisation import EmpiricalDenoiser
from lindiff.trajectories import forward_trajectories, sampler_trajectories

SCHED = ld.Schedule.linear(T=200, beta_max=2e-2)


def test_forward_chain_has_the_closed_form_marginal():
    """x_t = sqrt(alpha_t) x_{t-1} + sqrt(beta_t) z  =>  x_t ~ N(sqrt(abar_t) x_0, (1 - abar_t) Id)."""
    x0 = np.tile([[2.0, -1.0]], (20_000, 1))
    path = forward_trajectories(x0, SCHED, seed=1)
    assert path.shape == (201, 20_000, 2)
    np.testing.assert_array_equal(path[0], x0)
    n = len(x0)
    for t in (1, 10, 100, 200):
        a = SCHED.alpha_bars[t - 1]
        xt = path[t]
        z_mean = (xt.mean(axis=0) - np.sqrt(a) * x0[0]) / np.sqrt((1 - a) / n)
        z_var = (xt.var(axis=0) - (1 - a)) / ((1 - a) * np.sqrt(2 / n))
        assert np.all(np.abs(z_mean) < 4.5) and np.all(np.abs(z_var) < 4.5)
    # increments are independent: the lag-one correlation of the added noise is zero
    inc = path[2:] - np.sqrt(SCHED.alphas[1:, None, None]) * path[1:-1]
    assert abs(np.corrcoef(inc[0, :, 0], inc[1, :, 0])[0, 1]) < 4.5 / np.sqrt(n)


def test_sampler_trajectory_is_the_sampler():
    X = np.array([[0.0, 1.0], [1.0, 0.0], [-1.0, -1.0]])
    emp = EmpiricalDenoiser(X, SCHED)
    path = sampler_trajectories(emp, SCHED, 50, 2, seed=3, progress_bar=False)
    assert path.shape == (201, 50, 2)
    np.testing.assert_array_equal(path[0], ld.ddpm_sample(emp, SCHED, 50, 2, seed=3, progress_bar=False))
    np.testing.assert_array_equal(path[SCHED.T], np.random.default_rng(3).standard_normal((50, 2)))
    # every step is the sampler's update from the recorded previous state (up to its noise)
    t = 5
    i = t - 1
    drift = (path[t] - SCHED.betas[i] / np.sqrt(1 - SCHED.alpha_bars[i]) * emp(path[t], t)) / np.sqrt(SCHED.alphas[i])
    noise = (path[t - 1] - drift) / SCHED.sigmas[i]
    assert abs(noise.std() - 1) < 0.2


def test_bad_input():
    with pytest.raises(ValueError, match="x0"):
        forward_trajectories(np.zeros(3), SCHED)
    with pytest.raises(ValueError, match="Schedule"):
        forward_trajectories(np.zeros((2, 2)), None)
    with pytest.raises(ValueError, match="callable"):
        sampler_trajectories(3, SCHED, 2, 2)
