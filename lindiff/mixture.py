"""Small seeded toy data sets in 2 or 3 dimensions: Gaussian mixtures with exact noised laws.

A mixture p(x) = sum_k pi_k N(x; m_k, C_k) stays a mixture under the forward process
x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps: the law of x_t is

    p_t(x) = sum_k pi_k N(x; sqrt(abar_t) m_k, abar_t C_k + (1 - abar_t) Id),

so its density, and the population-optimal noise predictor eps*(x, t) = E[eps | x_t = x], are
available in closed form at every step. One Gaussian (K = 1) is the data model of the linear
chapters; a ring of K Gaussians is the book's 2-D toy set.
"""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp

from ._checks import (
    as_covariance,
    as_finite_array,
    check_nonnegative,
    check_positive_int,
    check_schedule,
    check_seed,
    psd_eigh,
)
from .schedule import Schedule


class GaussianMixture:
    """The mixture p(x) = sum_k pi_k N(x; m_k, C_k) in d dimensions.

    Parameters
    ----------
    means : array_like, shape (K, d)
        Component means m_k.
    covs : array_like, shape (K, d, d)
        Component covariances C_k, symmetric positive semi-definite; a zero matrix makes
        component k a point mass at m_k.
    weights : array_like, shape (K,), optional
        Mixing weights pi_k > 0 summing to 1; equal weights if omitted.


    Defined in :doc:`chapter 1 </book/01_diffusion_models>`, equations :eq:`eq-noised-mixture` and
    :eq:`eq-ideal-denoiser`.
    """

    def __init__(self, means, covs, weights=None):
        means = as_finite_array(means, "means", ndim=2)
        K, d = means.shape
        if K < 1 or d < 1:
            raise ValueError(f"means must have shape (K, d) with K, d >= 1, got {means.shape}")
        covs = as_finite_array(covs, "covs", ndim=3)
        if covs.shape != (K, d, d):
            raise ValueError(f"covs must have shape (K, d, d) = {(K, d, d)}, got {covs.shape}")
        evals, evecs = [], []
        for k in range(K):
            lam, vec = psd_eigh(as_covariance(covs[k], d, name=f"covs[{k}]"), f"covs[{k}]")
            evals.append(lam)
            evecs.append(vec)
        if weights is None:
            weights = np.full(K, 1.0 / K)
        weights = as_finite_array(weights, "weights", ndim=1)
        if weights.shape != (K,) or np.any(weights <= 0) or abs(weights.sum() - 1.0) > 1e-9:
            raise ValueError(f"weights must be {K} positive numbers summing to 1, got {weights}")
        self.means = means
        self.eigenvalues = np.array(evals)  # (K, d), eigenvalues of each C_k
        self.eigenvectors = np.array(evecs)  # (K, d, d), columns are eigenvectors of C_k
        self.weights = weights

    # ------------------------------------------------------------------ constructors
    @classmethod
    def gaussian(cls, mean, cov) -> "GaussianMixture":
        """A single Gaussian N(mean, cov) (K = 1)."""
        mean = as_finite_array(mean, "mean", ndim=1)
        cov = as_covariance(cov, mean.size)
        return cls(mean[None, :], cov[None, :, :])

    @classmethod
    def ring(cls, K: int = 8, radius: float = 2.0, std: float = 0.25) -> "GaussianMixture":
        """K equal-weight isotropic Gaussians of standard deviation ``std`` on a circle in 2-D.

        Component k has mean radius (cos 2 pi k / K, sin 2 pi k / K) and covariance std^2 Id.

        Defined in :doc:`chapter 1 </book/01_diffusion_models>`.
        """
        K = check_positive_int(K, "K")
        radius = check_nonnegative(radius, "radius")
        std = check_nonnegative(std, "std")
        angle = 2.0 * np.pi * np.arange(K) / K
        means = radius * np.stack([np.cos(angle), np.sin(angle)], axis=1)
        return cls(means, np.broadcast_to(std**2 * np.eye(2), (K, 2, 2)))

    # ------------------------------------------------------------------ properties
    @property
    def d(self) -> int:
        """Dimension."""
        return self.means.shape[1]

    @property
    def n_components(self) -> int:
        """Number of components K."""
        return self.means.shape[0]

    @property
    def covs(self) -> np.ndarray:
        """Component covariances C_k, shape (K, d, d)."""
        V = self.eigenvectors
        return np.einsum("kij,kj,klj->kil", V, self.eigenvalues, V)

    def mean(self) -> np.ndarray:
        """Mixture mean sum_k pi_k m_k."""
        return self.weights @ self.means

    def covariance(self) -> np.ndarray:
        """Mixture covariance sum_k pi_k (C_k + m_k m_k^T) - m m^T."""
        m = self.mean()
        second = np.einsum("k,kij->ij", self.weights, self.covs + np.einsum("ki,kj->kij", self.means, self.means))
        cov = second - np.outer(m, m)
        return 0.5 * (cov + cov.T)

    # ------------------------------------------------------------------ sampling and density
    def sample(self, n: int, seed=None, return_labels: bool = False):
        """Draw n points: a component k ~ pi, then x = m_k + C_k^{1/2} z (``seed=None``: fresh ones).

        Returns
        -------
        X : ndarray, shape (n, d)
        labels : ndarray of int, shape (n,)
            The component of each point (only if ``return_labels``).
        """
        n = check_positive_int(n, "n")
        rng = np.random.default_rng(check_seed(seed))
        labels = rng.choice(self.n_components, size=n, p=self.weights)
        z = rng.standard_normal((n, self.d))
        root = self.eigenvectors[labels] * np.sqrt(self.eigenvalues[labels])[:, None, :]
        X = self.means[labels] + np.einsum("nij,nj->ni", root, z)
        return (X, labels) if return_labels else X

    def noised(self, abar: float) -> "GaussianMixture":
        """Law of x_t = sqrt(abar) x_0 + sqrt(1 - abar) eps for x_0 from this mixture.

        Components N(sqrt(abar) m_k, abar C_k + (1 - abar) Id), same weights.

        Defined in :doc:`chapter 1 </book/01_diffusion_models>`, equation :eq:`eq-noised-mixture`.
        """
        a = check_nonnegative(abar, "abar")
        if a > 1:
            raise ValueError(f"abar must lie in [0, 1], got {abar}")
        covs = a * self.covs + (1.0 - a) * np.eye(self.d)
        return GaussianMixture(np.sqrt(a) * self.means, covs, self.weights)

    def _as_points(self, x) -> np.ndarray:
        x = as_finite_array(x, "x", ndim=2)
        if x.shape[1] != self.d:
            raise ValueError(f"x must have shape (n, {self.d}), got {x.shape}")
        return x

    def _component_terms(self, x, means, lam):
        """Per component: log pi_k N(x; means_k, S_k) and S_k^{-1}(x - means_k).

        S_k has the eigenvectors of C_k and the eigenvalues lam[k] (all > 0).
        """
        diff = x[None, :, :] - means[:, None, :]  # (K, n, d)
        coords = np.einsum("knd,kde->kne", diff, self.eigenvectors)  # in each eigenbasis
        maha = np.sum(coords**2 / lam[:, None, :], axis=2)  # (K, n)
        logdet = np.sum(np.log(lam), axis=1)  # (K,)
        log_comp = np.log(self.weights)[:, None] - 0.5 * (maha + logdet[:, None] + self.d * np.log(2 * np.pi))
        precision_diff = np.einsum("kne,kde->knd", coords / lam[:, None, :], self.eigenvectors)
        return log_comp, precision_diff

    def log_density(self, x) -> np.ndarray:
        """log p(x) for a batch x of shape (n, d); every C_k must be non-singular."""
        x = self._as_points(x)
        if np.any(self.eigenvalues <= 0):
            raise ValueError(
                "log_density needs non-singular component covariances; use noised(abar) with abar < 1 to get a density"
            )
        log_comp, _ = self._component_terms(x, self.means, self.eigenvalues)
        return logsumexp(log_comp, axis=0)

    # ------------------------------------------------------------------ the ideal denoiser
    def optimal_noise(self, x, abar: float) -> np.ndarray:
        """The posterior mean E[eps | x_t = x] for x_0 from this mixture, noise level abar < 1.

        With S_k = abar C_k + (1 - abar) Id and responsibilities r_k(x) proportional to
        pi_k N(x; sqrt(abar) m_k, S_k) (Tweedie's formula, eps* = -sqrt(1 - abar) grad log p_t):

            eps*(x) = sqrt(1 - abar) sum_k r_k(x) S_k^{-1} (x - sqrt(abar) m_k).

        It minimises the DDPM loss at that step over all functions of x when x_0 ~ p (the
        population optimum): no denoiser trained on samples of p can do better on fresh data.

        Defined in :doc:`chapter 1 </book/01_diffusion_models>`, equation :eq:`eq-ideal-denoiser`.
        """
        x = self._as_points(x)
        a = check_nonnegative(abar, "abar")
        if a >= 1:
            raise ValueError(f"abar must lie in [0, 1) (no noise at abar = 1), got {abar}")
        lam = a * self.eigenvalues + (1.0 - a)
        log_comp, precision_diff = self._component_terms(x, np.sqrt(a) * self.means, lam)
        resp = np.exp(log_comp - logsumexp(log_comp, axis=0))  # (K, n)
        return np.sqrt(1.0 - a) * np.einsum("kn,knd->nd", resp, precision_diff)

    def optimal_denoiser(self, schedule: Schedule):
        """The population-optimal denoiser as a callable ``eps(x, t)`` for :func:`lindiff.ddpm_sample`.

        eps(x, t) = optimal_noise(x, abar_t); see :meth:`optimal_noise`.

        Defined in :doc:`chapter 1 </book/01_diffusion_models>`, equation :eq:`eq-ideal-denoiser`.
        """
        check_schedule(schedule)

        def eps(x, t):
            return self.optimal_noise(x, schedule.alpha_bars[schedule.check_step(t) - 1])

        eps.schedule = schedule  # lets the sampler refuse another schedule
        return eps

    def __repr__(self) -> str:
        return f"GaussianMixture(K={self.n_components}, d={self.d})"
