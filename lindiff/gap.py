"""The generalisation gap of the optimal linear denoiser, step by step and direction by direction.

At step t, with a = abar_t, s = 1 - a, kappa_t = c + s / a and delta = mu - mu_0,

    L_test(t) - L_train(t) = (s / a) Tr[ (Sigma - Sigma_0 + delta delta^T) (Sigma_0 + kappa_t Id)^-2 ]
                           = sum_nu (s / a) (sigma~^2_nu - lambda_nu) / (lambda_nu + kappa_t)^2,

with (lambda_nu, e_nu) the eigenpairs of Sigma_0 and sigma~^2_nu = e_nu^T (Sigma + delta delta^T) e_nu.
A direction the training set never visited (lambda_nu = 0; there are d - N + 1 of them for N <= d)
contributes (s / a) sigma~^2_nu / kappa_t^2, which for c = 0 is a sigma~^2_nu / s: huge at small t.
"""
from __future__ import annotations

import numpy as np

from ._checks import as_covariance, as_mean, check_psd
from .linear import LinearDiffusion


def _second_moments(model, true_mean, true_cov):
    if not isinstance(model, LinearDiffusion):
        raise ValueError("model must be a lindiff.LinearDiffusion (e.g. LinearDiffusion.fit(X, schedule))")
    mu = as_mean(true_mean, model.d, name="true_mean")
    Sigma = as_covariance(true_cov, model.d, name="true_cov")
    check_psd(Sigma, "true_cov")
    V = model.eigenvectors
    return np.einsum("ij,ij->j", V, Sigma @ V) + (V.T @ (mu - model.mean)) ** 2


def _ratio_and_ridge(model):
    a = model.schedule.alpha_bars[:, None]
    return (1.0 - a) / a, model.c + (1.0 - a) / a


def loss_gap_per_step(model: LinearDiffusion, true_mean, true_cov, by_direction: bool = False):
    """L_test(t) - L_train(t) for t = 1..T by the trace formula of the module docstring.

    Parameters
    ----------
    model : LinearDiffusion
    true_mean, true_cov : array_like
        The true law N(mu, Sigma) (shapes (d,) and (d, d)).
    by_direction : bool
        If True, return the contribution of every eigen-direction of Sigma_0 (ascending
        eigenvalues, as ``model.eigenvalues``), shape (T, d); else their sum, shape (T,).


    Defined in :doc:`chapter 3 </book/03_train_test_loss>`, equation :eq:`eq-loss-gap`.
    """
    m2 = _second_moments(model, true_mean, true_cov)
    ratio, kappa = _ratio_and_ridge(model)
    terms = ratio * (m2 - model.eigenvalues) / (model.eigenvalues + kappa) ** 2
    return terms if by_direction else terms.sum(axis=1)


def unseen_lower_bound_per_step(model: LinearDiffusion, true_mean, true_cov) -> np.ndarray:
    """A lower bound on L_test(t) from the directions the training set never visited, t = 1..T.

    Each eigen-direction contributes E[(eps_nu - eps_theta,nu)^2] >= 0 to the test loss. In an unseen
    direction (lambda_nu = 0, k_nu = a c + s) that contribution is (1 - s/k_nu)^2 + a s sigma~^2_nu / k_nu^2
    >= (s/a) sigma~^2_nu / kappa_t^2, so

        L_test(t) >= (s / a) sum_{nu: lambda_nu = 0} sigma~^2_nu / kappa_t^2,

    the talk's "test loss >~ sum_nu Sigma_nunu / c^2" (with equality of the unseen terms at c = 0,
    where it reads a sigma~^2_nu / s). Zero when N > d.

    Defined in :doc:`chapter 3 </book/03_train_test_loss>`, equation :eq:`eq-unseen-bound`.
    """
    m2 = _second_moments(model, true_mean, true_cov)
    ratio, kappa = _ratio_and_ridge(model)
    unseen = float(np.sum(m2[model.eigenvalues == 0]))
    return (ratio * unseen / kappa**2)[:, 0]
