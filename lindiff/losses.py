"""Losses of the linear denoiser: the per-direction formula, the test second moments, the gap.

Everything is diagonal in the eigenbasis (lambda_nu, e_nu) of Sigma_0. At step t, with a = abar_t,
s = 1 - a, a denoiser with weight w_nu in direction nu and bias at its optimum has the noise-averaged loss

    L(t) = sum_nu [ 1 - 2 sqrt(s) w_nu + w_nu^2 (a m_nu + s) ],

with m_nu the second moment of x_0 about the training mean along e_nu: lambda_nu on the training set,
sigma~^2_nu = e_nu^T (Sigma + delta delta^T) e_nu (delta = mu - mu_0) under the truth N(mu, Sigma).
At the optimum w_nu = sqrt(s) / gamma_nu, gamma_nu = a (lambda_nu + c) + s. The gap between the two, with
kappa_t = c + s / a,

    L_test(t) - L_train(t) = (s / a) Tr[ (Sigma - Sigma_0 + delta delta^T) (Sigma_0 + kappa_t Id)^-2 ]
                           = sum_nu (s / a) (sigma~^2_nu - lambda_nu) / (lambda_nu + kappa_t)^2.

A direction the training set never visited (lambda_nu = 0; there are d - N + 1 of them for N <= d)
contributes (s / a) sigma~^2_nu / kappa_t^2, which for c = 0 is a sigma~^2_nu / s: huge at small t.

The same losses in terms of the resolvent R = (Sigma_0 + kappa_t Id)^-1 and kappa_0 = s / a
(:func:`losses_from_resolvent_traces`) need only the traces Tr R, Tr R^2 and Tr[R M R]: the form the
averages over training sets (:mod:`lindiff.dataset_average`) start from.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ._checks import as_covariance, as_finite_array, as_mean, check_nonnegative, check_positive_int, check_psd

if TYPE_CHECKING:  # only for the annotations: linear imports this module
    from .linear import LinearDiffusion


def loss_per_direction(alpha_bars, weights, second_moments) -> np.ndarray:
    """1 - 2 sqrt(s) w_nu + w_nu^2 (a m_nu + s) for every step and direction, any weights w.

    Parameters
    ----------
    alpha_bars : ndarray, shape (T, 1)
        abar_t = a, per step (s = 1 - a).
    weights : ndarray, shape (..., T, d)
        w_nu per step and direction (a leading axis for several training times).
    second_moments : ndarray, shape (d,)
        m_nu: lambda_nu for the training loss, sigma~^2_nu (:func:`directional_second_moments`) for the test loss.


    Defined in :doc:`chapter 6 </book/06_early_stopping>`, equation :eq:`eq-loss-training-time`.
    """
    a = alpha_bars
    s = 1.0 - a
    return 1.0 - 2.0 * np.sqrt(s) * weights + weights**2 * (a * second_moments + s)


def optimal_loss_per_direction(alpha_bars, lam, second_moments) -> np.ndarray:
    """1 - 2 s / gamma_nu + s (a m_nu + s) / gamma_nu^2 with gamma_nu = a lam_nu + s: the loss of the optimal weights.

    :func:`loss_per_direction` with w_nu = sqrt(s) / gamma_nu, written without the square roots.

    Parameters
    ----------
    alpha_bars : ndarray, shape (T, 1)
    lam : ndarray, shape (d,)
        lambda_nu + c, the regularised training variances.
    second_moments : ndarray, shape (d,)
        As in :func:`loss_per_direction`.


    Defined in :doc:`chapter 3 </book/03_train_test_loss>`, equation :eq:`eq-loss-per-direction`.
    """
    a = alpha_bars
    s = 1.0 - a
    gamma = a * lam + s
    return 1.0 - 2.0 * s / gamma + s * (a * second_moments + s) / gamma**2


def directional_second_moments(eigenvectors, train_mean, true_mean, true_cov) -> np.ndarray:
    """sigma~^2_nu = e_nu^T (Sigma + (mu - mu_0)(mu - mu_0)^T) e_nu for the columns e_nu of ``eigenvectors``.

    Defined in :doc:`chapter 3 </book/03_train_test_loss>`, equation :eq:`eq-loss-per-direction`.
    """
    V = eigenvectors
    d = V.shape[0]
    mu = as_mean(true_mean, d, name="true_mean")
    Sigma = as_covariance(true_cov, d, name="true_cov")
    check_psd(Sigma, "true_cov")
    return np.einsum("ij,ij->j", V, Sigma @ V) + (V.T @ (mu - train_mean)) ** 2


def losses_from_resolvent_traces(alpha_bars, c, d: int, trace_R, trace_R2, trace_RMR):
    """(L_train(t), L_test(t)) from the traces of the resolvent R = (Sigma_0 + kappa_t Id)^-1.

    With a = abar_t, kappa_0 = (1 - a) / a and kappa_t = c + kappa_0,

        L_train(t) = d - kappa_0 Tr R - c kappa_0 Tr R^2,
        L_test(t)  = d - 2 kappa_0 Tr R + kappa_0^2 Tr R^2 + kappa_0 Tr[R M R],

    with M = Sigma + delta delta^T (delta = mu - mu_0) the second moment of the test data about the
    training mean. Exact for one training set; with the traces replaced by their averages over
    training sets it gives the averaged losses.

    Parameters
    ----------
    alpha_bars : array_like, shape (T,)
        abar_t per step.
    c : float
        Ridge >= 0.
    d : int
        Dimension.
    trace_R, trace_R2, trace_RMR : array_like, shape (T,)
        Tr R, Tr R^2 and Tr[R M R] per step.

    Returns
    -------
    train, test : ndarray, shape (T,)


    Defined in :doc:`chapter 3 </book/03_train_test_loss>`, equation :eq:`eq-losses-resolvent`.
    """
    a = as_finite_array(alpha_bars, "alpha_bars")
    if np.any(a <= 0) or np.any(a > 1):
        raise ValueError("alpha_bars must lie in (0, 1]; pass schedule.alpha_bars")
    c = check_nonnegative(c, "c")
    d = check_positive_int(d, "d")
    traces = []
    for x, name in [(trace_R, "trace_R"), (trace_R2, "trace_R2"), (trace_RMR, "trace_RMR")]:
        traces.append(as_finite_array(x, name))
        if traces[-1].shape != a.shape:
            raise ValueError(f"{name} must have the shape of alpha_bars, {a.shape}; got {traces[-1].shape}")
    tr_R, tr_R2, tr_RMR = traces
    k0 = (1.0 - a) / a
    train = d - k0 * tr_R - c * k0 * tr_R2
    test = d - 2.0 * k0 * tr_R + k0**2 * tr_R2 + k0 * tr_RMR
    return train, test


def _second_moments(model, true_mean, true_cov):
    from .linear import LinearDiffusion  # linear imports this module

    if not isinstance(model, LinearDiffusion):
        raise ValueError("model must be a lindiff.LinearDiffusion (e.g. LinearDiffusion.fit(X, schedule))")
    return directional_second_moments(model.eigenvectors, model.mean, true_mean, true_cov)


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
    direction (lambda_nu = 0, gamma_nu = a c + s) that contribution is (1 - s/gamma_nu)^2 + a s sigma~^2_nu / gamma_nu^2
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
