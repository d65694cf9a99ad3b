"""Shared fixtures for the tests of the lindiff core.

The fixtures here are independent re-implementations (dense d x d recursions, likelihood-ratio
tests of a Gaussian law) against which the closed forms in :mod:`lindiff` are checked. They use
only numpy/scipy and the public weights of a model, never lindiff's internal formulas.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import settings
from scipy import stats as st

os.environ.setdefault("MPLBACKEND", "Agg")

# Property-based tests draw their examples from a fixed seed (reproducible runs, nothing written
# to a .hypothesis database); each test sets its own max_examples.
settings.register_profile("lindiff", derandomize=True, database=None, deadline=None)
settings.load_profile("lindiff")


def _make_data(N: int, d: int, seed: int, log_scale: float = 1.0) -> np.ndarray:
    """N rows from a Gaussian with a random rotated, anisotropic covariance and a non-zero mean."""
    rng = np.random.default_rng(seed)
    scales = np.exp(log_scale * rng.uniform(-1.0, 1.0, d))
    q, r = np.linalg.qr(rng.standard_normal((d, d)))
    rot = q * np.sign(np.diag(r))
    mu = rng.normal(0.0, 1.0, d)
    return mu + (rng.standard_normal((N, d)) * scales) @ rot.T


def _dense_sampler_law(model):
    """Law N(m_0, C_0) of the ancestral sampler, by the step-by-step d x d recursion.

    eps(u, t) = W_t (u + b_t) makes the step u_{t-1} = A_t u_t + o_t + sigma_t z affine, with
    g_t = beta_t / sqrt(1 - abar_t), A_t = (Id - g_t W_t) / sqrt(alpha_t), o_t = -g_t W_t b_t / sqrt(alpha_t):
    m_{t-1} = A_t m_t + o_t,  C_{t-1} = A_t C_t A_t^T + beta_t Id,  from m_T = 0, C_T = Id.
    """
    sched = model.schedule
    d = model.d
    m, C = np.zeros(d), np.eye(d)
    for t in range(sched.T, 0, -1):
        i = t - 1
        W, b = model.weights(t)
        g = sched.betas[i] / np.sqrt(1.0 - sched.alpha_bars[i])
        A = (np.eye(d) - g * W) / np.sqrt(sched.alphas[i])
        o = -g * (W @ b) / np.sqrt(sched.alphas[i])
        m = A @ m + o
        C = A @ C @ A.T + sched.betas[i] * np.eye(d)
    return m, 0.5 * (C + C.T)


def _gaussian_lr_pvalue(samples, mean, cov) -> float:
    """p-value of the likelihood-ratio test of H0: the rows of ``samples`` are iid N(mean, cov).

    With z the whitened samples, the statistic n [tr(S_0) - ln det(S_c) - d] (S_0 the second
    moment of z about 0, S_c its sample covariance) is asymptotically chi^2 with
    d + d(d+1)/2 degrees of freedom under H0: it tests the mean and every covariance entry at once.
    """
    x = np.asarray(samples, dtype=np.float64)
    n, d = x.shape
    lam, V = np.linalg.eigh(cov)
    z = ((x - mean) @ V) / np.sqrt(lam)
    S0 = z.T @ z / n
    zc = z - z.mean(axis=0)
    Sc = zc.T @ zc / n
    stat = n * (np.trace(S0) - np.linalg.slogdet(Sc)[1] - d)
    return float(st.chi2.sf(stat, d + d * (d + 1) // 2))


@pytest.fixture
def make_data():
    """make_data(N, d, seed, log_scale=1.0) -> (N, d) training rows."""
    return _make_data


@pytest.fixture
def dense_sampler_law():
    """dense_sampler_law(model) -> (mean, cov) by the d x d recursion using model.weights(t)."""
    return _dense_sampler_law


@pytest.fixture
def gaussian_lr_pvalue():
    """gaussian_lr_pvalue(samples, mean, cov) -> p-value of H0: samples ~ N(mean, cov)."""
    return _gaussian_lr_pvalue


# ---------------------------------------------------------------- browser checks (tests/browser/)
# Tests marked `browser` check a built artefact in headless Chromium: the built site
# (tests/browser/test_site.py, after the book build) or the chapters in JupyterLab
# (tests/browser/test_lab.py, minutes). They run when asked for, by their path or by `-m browser`,
# e.g. `pytest tests/browser/test_site.py -k 05_real`; a plain `pytest tests` leaves them out.
def pytest_addoption(parser):
    parser.addoption(
        "--site",
        default=os.environ.get("LINDIFF_SITE", "_build/html"),
        help="the built site tests/browser/test_site.py checks (default: $LINDIFF_SITE or _build/html)",
    )


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "browser: checks a built site or JupyterLab in headless Chromium; runs when named or with -m browser"
    )


def pytest_collection_modifyitems(config, items):
    if "browser" in (config.option.markexpr or ""):
        return
    root = config.rootpath / "tests" / "browser"
    named = [config.invocation_params.dir / a.split("::")[0] for a in config.invocation_params.args]
    if any(p.resolve() == root or root in p.resolve().parents for p in named if p.exists()):
        return
    kept = [item for item in items if item.get_closest_marker("browser") is None]
    if len(kept) < len(items):
        config.hook.pytest_deselected(items=[item for item in items if item.get_closest_marker("browser")])
        items[:] = kept
