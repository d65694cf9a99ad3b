"""The optimal linear denoiser eps(x, t) = W_t (x + b_t), its sampler law and its losses.

Everything is diagonal in the eigenbasis (lambda_nu, e_nu) of the training covariance Sigma_0.
With a = abar_t, s = 1 - a and a ridge c >= 0:

    b_t = -sqrt(a) mu_0,   W_t = sqrt(s) [ a (Sigma_0 + c Id) + s Id ]^{-1},

the minimiser of sum_t < || eps - W_t (x_t + b_t) ||^2 > over eps and the training rows, with
abar_t c ||W_t||_F^2 added (equivalently, training on Sigma_0 + c Id): a ridge regression with
effective ridge kappa_t = c + s / a.
"""

from __future__ import annotations

import numpy as np

from ._checks import (
    as_covariance,
    as_data_matrix,
    as_finite_array,
    as_mean,
    check_nonnegative,
    check_positive_int,
    check_schedule,
    check_spectrum,
    psd_eigh,
)
from .losses import directional_second_moments, optimal_loss_per_direction
from .sampler import diagonal_sample, optimal_sampler_mean_factors, optimal_sampler_variances
from .schedule import Schedule
from .stats import empirical_stats


class LinearDiffusion:
    """The trained (optimal) linear diffusion model for given training statistics.

    Build it with :meth:`from_stats` or :meth:`fit`. Attributes ``eigenvalues`` (ascending,
    clipped at 0, exact zeros in directions the data never visited) and ``eigenvectors``
    (orthonormal columns) are those of Sigma_0, without the ridge. The constructor takes such an
    eigendecomposition directly; orthonormality of ``eigenvectors`` is not checked (O(d^3)).

    Defined in :doc:`chapter 2 </book/02_linear_model>`, equations :eq:`eq-linear-denoiser` and
    :eq:`eq-optimal-weights`.
    """

    def __init__(self, mean, eigenvalues, eigenvectors, schedule: Schedule, c: float = 0.0):
        check_schedule(schedule)
        self.mean = as_mean(mean)
        d = self.mean.size
        self.eigenvalues = check_spectrum(eigenvalues)
        self.eigenvectors = as_finite_array(eigenvectors, "eigenvectors")
        if self.eigenvalues.shape != (d,) or self.eigenvectors.shape != (d, d):
            raise ValueError(
                f"eigenvalues must have shape ({d},) and eigenvectors ({d}, {d}) for a mean of length {d}; "
                f"got {self.eigenvalues.shape} and {self.eigenvectors.shape}"
            )
        self.schedule = schedule
        self.c = check_nonnegative(c, "c")

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_stats(cls, mean, cov, schedule: Schedule, c: float = 0.0) -> "LinearDiffusion":
        """The optimum for training mean ``mean`` (d,) and covariance ``cov`` (d, d), ridge ``c``.

        Diagonalises ``cov`` once (O(d^3), the only cubic step); eigenvalues within round-off of
        zero (``d * eps * lambda_max``) become exact zeros, the directions the data never visited.
        ``cov`` must be symmetric positive semi-definite.

        Defined in :doc:`chapter 2 </book/02_linear_model>`, equation :eq:`eq-optimal-weights`.
        """
        mean = as_mean(mean)
        cov = as_covariance(cov, mean.size)
        evals, evecs = psd_eigh(cov)
        return cls(mean, evals, evecs, schedule, c)

    @classmethod
    def fit(cls, X, schedule: Schedule, c: float = 0.0) -> "LinearDiffusion":
        """The exact minimiser of the training loss over the rows of X (N >= 2).

        Uses the ddof = 0 statistics (:func:`lindiff.empirical_stats`).

        Defined in :doc:`chapter 2 </book/02_linear_model>`, equation :eq:`eq-optimal-weights`.
        """
        mean, cov = empirical_stats(as_data_matrix(X), ddof=0)
        return cls.from_stats(mean, cov, schedule, c)

    def with_ridge(self, c: float) -> "LinearDiffusion":
        """The same model with ridge ``c`` in place of ``self.c``: the eigenpairs of Sigma_0 are shared
        (not copied nor checked again), so a sweep over c costs no decomposition.

        Defined in :doc:`chapter 2 </book/02_linear_model>`, equation :eq:`eq-optimal-weights`.
        """
        model = object.__new__(type(self))
        model.__dict__.update(self.__dict__)
        model.c = check_nonnegative(c, "c")
        return model

    # ------------------------------------------------------------------ the denoiser
    @property
    def d(self) -> int:
        """Data dimension."""
        return self.mean.size

    def _step(self, t):
        i = self.schedule.check_step(t) - 1
        return self.schedule.alpha_bars[i]

    def weight_eigenvalues(self, t) -> np.ndarray:
        """w_nu(t) = sqrt(1 - abar_t) / (abar_t (lambda_nu + c) + 1 - abar_t): W_t in the eigenbasis.

        Defined in :doc:`chapter 2 </book/02_linear_model>`, equation :eq:`eq-optimal-weights`.
        """
        a = self._step(t)
        return np.sqrt(1.0 - a) / (a * (self.eigenvalues + self.c) + 1.0 - a)

    def weights(self, t):
        """(W_t, b_t) with eps(x, t) = W_t @ (x + b_t).

        W_t = sqrt(1 - abar_t) [abar_t (Sigma_0 + c Id) + (1 - abar_t) Id]^{-1},  b_t = -sqrt(abar_t) mu_0.

        Defined in :doc:`chapter 2 </book/02_linear_model>`, equation :eq:`eq-optimal-weights`.
        """
        a = self._step(t)
        V = self.eigenvectors
        W = (V * self.weight_eigenvalues(t)) @ V.T
        return 0.5 * (W + W.T), -np.sqrt(a) * self.mean

    def __call__(self, x, t) -> np.ndarray:
        """Predicted noise eps(x, t) = W_t (x + b_t) for a batch x of shape (n, d)."""
        a = self._step(t)
        x = as_finite_array(x, "x", ndim=2)
        if x.shape[1] != self.d:
            raise ValueError(f"x must have shape (n, {self.d}), got {x.shape}")
        V = self.eigenvectors
        return (((x - np.sqrt(a) * self.mean) @ V) * self.weight_eigenvalues(t)) @ V.T

    # ------------------------------------------------------------------ what it samples
    def sampling_variances(self, last_step_noise: bool = True) -> np.ndarray:
        """Variance C(lambda_nu + c) of the sampler output along each eigenvector of Sigma_0 (exact, finite T).

        See :func:`lindiff.optimal_sampler_variances`; a direction with lambda_nu + c = 0 keeps
        the variance beta_1 (0 with ``last_step_noise=False``: no noise at t = 1, as Ho et al.).

        Defined in :doc:`chapter 2 </book/02_linear_model>`, equation :eq:`eq-sampled-variance`.
        """
        return optimal_sampler_variances(self.eigenvalues + self.c, self.schedule, last_step_noise)

    def sampling_mean_coefficients(self) -> np.ndarray:
        """Mean of the sampler output along each eigenvector: (1 - abar_T lam / v_T) (e_nu . mu_0).

        lam = lambda_nu + c and v_T = abar_T lam + 1 - abar_T (:func:`lindiff.optimal_sampler_mean_factors`).

        Defined in :doc:`chapter 2 </book/02_linear_model>`, equation :eq:`eq-sampled-variance`.
        """
        factors = optimal_sampler_mean_factors(self.eigenvalues + self.c, self.schedule)
        return factors * (self.eigenvectors.T @ self.mean)

    def sampling_distribution(self, last_step_noise: bool = True):
        """Exact law N(mean, cov) of what the finite-T ancestral sampler produces.

        mean = V m and cov = V diag(C) V^T, with V the eigenvectors of Sigma_0 and m, C from
        :meth:`sampling_mean_coefficients` and :meth:`sampling_variances`; O(d^3) for the product.
        As T -> infinity with abar_T -> 0 it tends to N(mu_0, Sigma_0 + c Id) (plus the beta_1
        floor in directions of zero variance; without noise at the last step,
        ``last_step_noise=False``, those directions get variance 0 and cov is singular).

        Returns
        -------
        mean : ndarray, shape (d,)
        cov : ndarray, shape (d, d)


        Defined in :doc:`chapter 2 </book/02_linear_model>`, equations :eq:`eq-sampled-variance` and
        :eq:`eq-sampled-variance-limit`.
        """
        V = self.eigenvectors
        B = V * np.sqrt(self.sampling_variances(last_step_noise))  # variances >= 0
        return V @ self.sampling_mean_coefficients(), B @ B.T  # B @ B.T is exactly symmetric (syrk)

    def sample(
        self, n: int, seed=None, progress_bar: bool = True, last_step_noise: bool = True, dtype=np.float32
    ) -> np.ndarray:
        """Draw n samples by running the ancestral sampler in the eigenbasis of Sigma_0.

        Same sampler (and law) as :func:`lindiff.ddpm_sample` with this model as eps, at O(T n d)
        instead of O(T n d^2) cost: u_T and every z_t are drawn in eigen-coordinates, so the random
        stream differs from ddpm_sample's for the same seed. The chain runs in float32 on all CPUs
        by default (``dtype``; see :func:`lindiff.diagonal_sample`): 1000 samples at d = 784,
        T = 1000 take about 1.7 s on 2 cores. ``seed=None`` (the default) draws fresh samples on
        every call; pass an int to reproduce them. ``last_step_noise``: as in :func:`lindiff.ddpm_sample`.

        Returns
        -------
        ndarray, shape (n, d)


        Defined in :doc:`chapter 1 </book/01_diffusion_models>`, equation :eq:`eq-ancestral-sampler`.
        """
        n = check_positive_int(n, "n")
        w = np.array([self.weight_eigenvalues(t) for t in range(1, self.schedule.T + 1)])
        m = np.sqrt(self.schedule.alpha_bars[:, None]) * (self.eigenvectors.T @ self.mean)
        y = diagonal_sample(
            w, m, self.schedule, n, seed=seed, progress_bar=progress_bar, last_step_noise=last_step_noise, dtype=dtype
        )
        return y @ self.eigenvectors.T

    # ------------------------------------------------------------------ losses
    def _loss_terms(self, second_moments, t=None):
        """sum_nu of :func:`lindiff.losses.optimal_loss_per_direction`, per step (or at step t)."""
        ab = self.schedule.alpha_bars if t is None else np.array([self._step(t)])
        per_step = np.sum(optimal_loss_per_direction(ab[:, None], self.eigenvalues + self.c, second_moments), axis=1)
        return per_step if t is None else float(per_step[0])

    def train_loss(self, t=None):
        """Training loss < || eps - W_t (x_t + b_t) ||^2 > over eps and the training rows.

        At step t, with a = abar_t, s = 1 - a, gamma_nu = a (lambda_nu + c) + s:
        L_train(t) = sum_nu [ 1 - 2 s / gamma_nu + s (a lambda_nu + s) / gamma_nu^2 ]
        (for c = 0: sum_nu a lambda_nu / (a lambda_nu + s)). For c > 0 this is the plain DDPM loss
        on the training rows at the ridge solution, without the penalty abar_t c ||W_t||_F^2.

        Parameters
        ----------
        t : int, optional
            A step in 1..T; if omitted, the loss summed over t = 1..T.


        Defined in :doc:`chapter 3 </book/03_train_test_loss>`, equation :eq:`eq-loss-per-direction`.
        """
        if t is None:
            return float(np.sum(self._loss_terms(self.eigenvalues)))
        return self._loss_terms(self.eigenvalues, t)

    def train_loss_per_step(self) -> np.ndarray:
        """L_train(t) for t = 1..T, shape (T,).

        Defined in :doc:`chapter 3 </book/03_train_test_loss>`, equation :eq:`eq-loss-per-direction`.
        """
        return self._loss_terms(self.eigenvalues)

    def test_loss(self, true_mean, true_cov, t=None):
        """Test loss: the DDPM loss with x_0 drawn from the true law N(true_mean, true_cov).

        Same as :meth:`train_loss` with lambda_nu replaced by sigma~^2_nu =
        e_nu^T (Sigma + (mu - mu_0)(mu - mu_0)^T) e_nu in the numerator term. Summed over t if t is
        omitted. The generalisation gap at step t, for every c >= 0, is

            L_test(t) - L_train(t) = (s / a) Tr[ (Sigma - Sigma_0 + delta delta^T) (Sigma_0 + kappa_t Id)^-2 ]

        with delta = mu - mu_0 and kappa_t = c + s / a.

        Defined in :doc:`chapter 3 </book/03_train_test_loss>`, equations :eq:`eq-loss-per-direction` and
        :eq:`eq-loss-gap`.
        """
        m2 = directional_second_moments(self.eigenvectors, self.mean, true_mean, true_cov)
        if t is None:
            return float(np.sum(self._loss_terms(m2)))
        return self._loss_terms(m2, t)

    def test_loss_per_step(self, true_mean, true_cov) -> np.ndarray:
        """L_test(t) for t = 1..T, shape (T,).

        Defined in :doc:`chapter 3 </book/03_train_test_loss>`, equation :eq:`eq-loss-per-direction`.
        """
        return self._loss_terms(directional_second_moments(self.eigenvectors, self.mean, true_mean, true_cov))

    def __repr__(self) -> str:
        return f"LinearDiffusion(d={self.d}, c={self.c:g}, {self.schedule!r})"
