"""Training dynamics of the linear denoiser: gradient flow and gradient descent in closed form.

With the bias at its optimum b_t = -sqrt(abar_t) mu_0, the noise-averaged loss of step t is, with
a = abar_t, s = 1 - a, K_t = a (Sigma_0 + c Id) + s Id,

    L_t(W) = || Id - sqrt(s) W ||_F^2 + a Tr(W Sigma_0 W^T) + a c ||W||_F^2,
    grad L_t = 2 W K_t - 2 sqrt(s) Id.

Started from W(0) = 0, gradient flow dW/dtau = -eta grad L_t keeps W a function of Sigma_0, so each
eigen-direction nu of Sigma_0 evolves alone, dw/dtau = 2 eta (sqrt(s) - k_nu w), with stiffness
k_nu = a (lambda_nu + c) + s:

    w(tau) = sqrt(s) (1 - exp(-2 eta tau k_nu)) / k_nu            (gradient flow)
    w_n    = sqrt(s) (1 - (1 - 2 eta k_nu)^n) / k_nu              (n steps of gradient descent)

Directions with small k_nu -- unseen (lambda_nu = 0) or small-variance directions at small t, where
k_nu ~ s -> 0 -- learn last. A weight decay ``weight_decay`` (SGD's L2 term, a penalty
weight_decay / 2 ||W||_F^2 per step) adds weight_decay / 2 to every k_nu. Stopping at tau acts on a
direction with a lambda_nu << c_eff like the ridge c_eff(t) = 1 / (2 eta tau abar_t)
(:func:`effective_ridge`). Inserting w(tau) into the affine sampler
(:func:`lindiff.diagonal_sampler_law`) gives the sampled law, its KL divergence and its losses at
every training time.
"""
from __future__ import annotations

import hashlib

import numpy as np
from scipy.optimize import minimize_scalar

from ._checks import as_covariance, as_finite_array, as_mean, as_real_array, check_nonnegative, psd_eigh
from .linear import LinearDiffusion
from .sampler import diagonal_sampler_law
from .schedule import Schedule


def _as_times(tau, name="tau") -> np.ndarray:
    """Training times as a float array (inf allowed: the fully trained model), each >= 0."""
    arr = as_real_array(tau, name)
    if arr.ndim > 1:
        raise ValueError(f"{name} must be a scalar or a 1-D array, got shape {arr.shape}")
    if np.any(np.isnan(arr)) or np.any(arr < 0):
        raise ValueError(f"{name} must be >= 0 (inf for the fully trained model), got {tau!r}")
    return arr


def _check_positive(value, name: str) -> float:
    v = check_nonnegative(value, name)
    if v == 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    return v


def effective_ridge(tau, eta: float, schedule: Schedule) -> np.ndarray:
    """The ridge that stopping at training time tau imitates: c_eff(t) = 1 / (2 eta tau abar_t).

    For a direction with stiffness k << 1 / (2 eta tau), the flow gives
    w(tau) ~ sqrt(s) 2 eta tau (1 - eta tau k), and the fully trained model with ridge c gives
    sqrt(s) / (a c + k) ~ sqrt(s) / (a c) (1 - k / (a c)): they agree to first order in k / (a c)
    when a c = 1 / (2 eta tau).

    Returns
    -------
    ndarray, shape (T,) for scalar tau, else (len(tau), T)


    Defined in :doc:`chapter 6 </book/06_early_stopping>`, equation :eq:`eq-effective-ridge`.
    """
    tau = _as_times(tau)
    eta = _check_positive(eta, "eta")
    if not isinstance(schedule, Schedule):
        raise ValueError("schedule must be a lindiff.Schedule, e.g. Schedule.linear()")
    with np.errstate(divide="ignore"):
        return 1.0 / (2.0 * eta * tau[..., None] * schedule.alpha_bars)


class GradientFlow:
    """Gradient flow (and gradient descent) of the linear denoiser from W(0) = 0, in closed form.

    Parameters
    ----------
    model : LinearDiffusion
        The fully trained model: its training statistics (mean, eigenpairs of Sigma_0), ridge c and
        schedule define the loss being descended; ``tau = inf`` reproduces it.
    eta : float
        Learning rate per step: every W_t moves by -eta grad L_t per unit of training time.
    weight_decay : float
        L2 weight decay (adds weight_decay / 2 to every stiffness); 0 by default.


    Defined in :doc:`chapter 6 </book/06_early_stopping>`, equations :eq:`eq-gradient-flow` and
    :eq:`eq-gradient-descent`.
    """

    def __init__(self, model: LinearDiffusion, eta: float, weight_decay: float = 0.0):
        if not isinstance(model, LinearDiffusion):
            raise ValueError("model must be a lindiff.LinearDiffusion, e.g. LinearDiffusion.fit(X, schedule)")
        self.model = model
        self.eta = _check_positive(eta, "eta")
        self.weight_decay = check_nonnegative(weight_decay, "weight_decay")

    @property
    def schedule(self) -> Schedule:
        return self.model.schedule

    @property
    def stiffness(self) -> np.ndarray:
        """k[t-1, nu] = abar_t (lambda_nu + c) + 1 - abar_t + weight_decay / 2, shape (T, d).

        Defined in :doc:`chapter 6 </book/06_early_stopping>`, equation :eq:`eq-gradient-flow`.
        """
        a = self.schedule.alpha_bars[:, None]
        return a * (self.model.eigenvalues + self.model.c) + (1.0 - a) + 0.5 * self.weight_decay

    def max_stable_eta(self) -> float:
        """Gradient descent converges for eta < 1 / max k (then ``|1 - 2 eta k| < 1`` in every direction).

        Defined in :doc:`chapter 6 </book/06_early_stopping>`, equation :eq:`eq-gradient-descent`.
        """
        return float(1.0 / np.max(self.stiffness))

    def weights(self, tau, discrete: bool = False) -> np.ndarray:
        """Weights per step and eigen-direction at training time tau.

        w(tau) = sqrt(s) (1 - exp(-2 eta tau k)) / k for the flow; with ``discrete=True`` tau counts
        gradient-descent steps of size eta and w_n = sqrt(s) (1 - (1 - 2 eta k)^n) / k.

        Parameters
        ----------
        tau : float or 1-D array
            Training time(s) >= 0; ``inf`` gives the fully trained model.
        discrete : bool
            Gradient descent instead of gradient flow (tau must then be whole numbers or inf, and
            eta < :meth:`max_stable_eta`).

        Returns
        -------
        ndarray, shape (T, d) for scalar tau, (len(tau), T, d) otherwise


        Defined in :doc:`chapter 6 </book/06_early_stopping>`, equations :eq:`eq-gradient-flow` and
        :eq:`eq-gradient-descent`.
        """
        tau = _as_times(tau)
        k = self.stiffness
        x = tau[..., None, None]
        if discrete:
            finite = tau[np.isfinite(tau)]
            if np.any(finite != np.round(finite)):
                raise ValueError("with discrete=True, tau counts descent steps and must be whole numbers")
            if self.eta >= self.max_stable_eta():
                raise ValueError(f"gradient descent diverges for eta >= 1 / max k = {self.max_stable_eta():.4g}; "
                                 "lower eta")
            with np.errstate(under="ignore"):
                decay = np.where(np.isinf(x), 0.0, (1.0 - 2.0 * self.eta * k) ** np.where(np.isinf(x), 0.0, x))
            fraction = 1.0 - decay
        else:
            fraction = -np.expm1(-2.0 * self.eta * x * k)
        s = 1.0 - self.schedule.alpha_bars[:, None]
        return np.sqrt(s) * fraction / k

    def _mean_centres(self) -> np.ndarray:
        """m_t = sqrt(abar_t) (e_nu . mu_0): the bias b_t = -sqrt(abar_t) mu_0 in eigen-coordinates."""
        return np.sqrt(self.schedule.alpha_bars)[:, None] * (self.model.eigenvectors.T @ self.model.mean)

    def sampling_law(self, tau, discrete: bool = False):
        """Law of the sampler's output at training time tau, in the eigenbasis of Sigma_0.

        The denoiser is diagonal in that basis, eps_nu = w_t,nu (y_nu - m_t,nu) with
        m_t = sqrt(abar_t) V^T mu_0, so :func:`lindiff.diagonal_sampler_law` gives the exact
        Gaussian law; all training times are propagated in one pass.

        Returns
        -------
        mean, var : ndarray, shape (d,) for scalar tau, (len(tau), d) otherwise
            Mean and variance of each eigen-coordinate e_nu . u_0 (coordinates are independent).


        Defined in :doc:`chapter 6 </book/06_early_stopping>`, equation :eq:`eq-diagonal-sampler-law`.
        """
        w = self.weights(tau, discrete)
        scalar = w.ndim == 2
        w = w[None] if scalar else w
        n, T, d = w.shape
        m = np.tile(self._mean_centres(), (1, n))
        mean, var = diagonal_sampler_law(w.transpose(1, 0, 2).reshape(T, n * d), m, self.schedule)
        mean, var = mean.reshape(n, d), var.reshape(n, d)
        return (mean[0], var[0]) if scalar else (mean, var)

    def sampling_distribution(self, tau: float, discrete: bool = False):
        """The sampled law N(mean, cov) at one training time, in data coordinates.

        Defined in :doc:`chapter 6 </book/06_early_stopping>`, equation :eq:`eq-diagonal-sampler-law`.
        """
        if np.ndim(tau) != 0:
            raise ValueError("sampling_distribution takes one training time; use sampling_law for many")
        mean, var = self.sampling_law(tau, discrete)
        V = self.model.eigenvectors
        cov = (V * var) @ V.T
        return V @ mean, 0.5 * (cov + cov.T)

    def _loss(self, tau, second_moments, steps, discrete):
        w = self.weights(tau, discrete)
        a = self.schedule.alpha_bars[:, None]
        s = 1.0 - a
        terms = 1.0 - 2.0 * np.sqrt(s) * w + w**2 * (a * second_moments + s)
        if steps is not None:
            steps = np.asarray([self.schedule.check_step(t) for t in np.atleast_1d(steps)]) - 1
            terms = terms[..., steps, :]
        return terms.sum(axis=(-2, -1))

    def train_loss(self, tau, steps=None, discrete: bool = False):
        """Training loss at time tau: sum_t sum_nu [1 - 2 sqrt(s) w + w^2 (a lambda_nu + s)].

        The noise- and data-averaged DDPM loss of the weights w(tau), without the ridge or weight-decay
        penalty; summed over ``steps`` (default all t = 1..T).

        Defined in :doc:`chapter 6 </book/06_early_stopping>`, equation :eq:`eq-loss-training-time`.
        """
        return self._loss(tau, self.model.eigenvalues, steps, discrete)

    def test_loss(self, tau, true_mean, true_cov, steps=None, discrete: bool = False):
        """Test loss at time tau: :meth:`train_loss` with lambda_nu replaced by
        sigma~^2_nu = e_nu^T (Sigma + (mu - mu_0)(mu - mu_0)^T) e_nu.

        Defined in :doc:`chapter 6 </book/06_early_stopping>`, equation :eq:`eq-loss-training-time`.
        """
        return self._loss(tau, self.model._test_second_moments(true_mean, true_cov), steps, discrete)

    def kl(self, tau, true_mean, true_cov, discrete: bool = False):
        """KL(rho_tau || rho): from the law sampled at training time tau to the truth N(mu, Sigma).

        Returns a float for scalar tau, an array otherwise (see :class:`KLToTruth`).

        Defined in :doc:`chapter 6 </book/06_early_stopping>`: the law :eq:`eq-diagonal-sampler-law` scored by
        equation :eq:`eq-gaussian-kl` of :doc:`chapter 4 </book/04_kl_divergence>`.
        """
        mean, var = self.sampling_law(tau, discrete)
        return KLToTruth(self.model.eigenvectors, true_mean, true_cov)(mean, var)

    def optimal_stopping(self, true_mean, true_cov, taus):
        """The training time minimising KL(rho_tau || rho).

        The KL is evaluated on the grid ``taus`` (increasing, > 0), then refined by a bounded scalar
        minimisation in log tau between the grid neighbours of the best point.

        Returns
        -------
        tau_star, kl_star : float


        Defined in :doc:`chapter 6 </book/06_early_stopping>`, equation :eq:`eq-effective-ridge`.
        """
        taus = _as_times(taus, "taus")
        if taus.ndim != 1 or taus.size < 3 or np.any(taus <= 0) or np.any(np.diff(taus) <= 0):
            raise ValueError("taus must be an increasing 1-D grid of >= 3 training times > 0")
        kl = KLToTruth(self.model.eigenvectors, true_mean, true_cov)
        return _refine_log_minimum(lambda tau: kl(*self.sampling_law(tau)), taus)


_TRUTH_CACHE: dict = {}


def _truth_eigh(cov: np.ndarray):
    """psd_eigh of the true covariance, remembered for the last few distinct matrices (a sweep over
    training sets compares many models with one truth). Keyed by the matrix's bytes."""
    key = (cov.shape, hashlib.sha1(np.ascontiguousarray(cov).tobytes()).hexdigest())
    if key not in _TRUTH_CACHE:
        if len(_TRUTH_CACHE) >= 4:
            _TRUTH_CACHE.pop(next(iter(_TRUTH_CACHE)))
        lam, U = psd_eigh(cov, "true_cov")
        lam.setflags(write=False)
        U.setflags(write=False)
        _TRUTH_CACHE[key] = (lam, U)
    return _TRUTH_CACHE[key]


class KLToTruth:
    """KL(N(V m, V diag(v) V^T) || N(mu, Sigma)) for many laws diagonal in one orthonormal basis V.

    With Q = V^T Sigma^{-1} V and delta = V^T mu - m,

        KL = 1/2 [ sum_nu Q_nunu v_nu - d + delta^T Q delta + ln det Sigma - sum_nu ln v_nu ],

    where ln det Sigma comes from Sigma's eigenvalues, computed once (O(d^3)); each law then costs
    O(d^2). If Sigma is singular every such law (all v_nu > 0) has KL = inf.

    Parameters
    ----------
    basis : ndarray, shape (d, d)
        Orthonormal columns (e.g. ``LinearDiffusion.eigenvectors``).
    true_mean, true_cov : array_like
        The truth N(mu, Sigma).


    Defined in :doc:`chapter 6 </book/06_early_stopping>`, with equation :eq:`eq-gaussian-kl` of
    :doc:`chapter 4 </book/04_kl_divergence>`.
    """

    def __init__(self, basis, true_mean, true_cov):
        V = as_finite_array(basis, "basis", ndim=2)
        d = V.shape[0]
        if V.shape != (d, d):
            raise ValueError(f"basis must be square (d, d), got {V.shape}")
        self._mu = V.T @ as_mean(true_mean, d, name="true_mean")
        lam, U = _truth_eigh(as_covariance(true_cov, d, name="true_cov"))
        self.singular = bool(lam[0] <= 1e-12 * lam[-1])
        if not self.singular:
            R = (V.T @ U) / np.sqrt(lam)
            self._Q = R @ R.T
            self._logdet = float(np.sum(np.log(lam)))
        self.d = d

    def __call__(self, mean, var):
        """KL for mean coordinates ``mean`` and variances ``var`` (shape (d,) or (n, d))."""
        mean = as_finite_array(mean, "mean")
        var = as_finite_array(var, "var")
        if mean.shape != var.shape or mean.shape[-1] != self.d or mean.ndim > 2:
            raise ValueError(f"mean and var must both have shape (d,) or (n, d) with d = {self.d}")
        if np.any(var <= 0):
            raise ValueError("var must be > 0 in every direction")
        if self.singular:
            kl = np.full(mean.shape[:-1], np.inf)
        else:
            delta = self._mu - mean
            trace = var @ np.diag(self._Q)
            maha = np.einsum("...i,ij,...j->...", delta, self._Q, delta)
            kl = 0.5 * (trace - self.d + maha + self._logdet - np.sum(np.log(var), axis=-1))
        return float(kl) if np.ndim(kl) == 0 else kl


def _ridge_laws(model: LinearDiffusion, cs):
    """Sampled laws (eigen-coordinate means and variances) of the fully trained model, ridge c in cs."""
    laws = [LinearDiffusion(model.mean, model.eigenvalues, model.eigenvectors, model.schedule, c)
            for c in np.atleast_1d(cs)]
    return (np.array([m.sampling_mean_coefficients() for m in laws]),
            np.array([m.sampling_variances() for m in laws]))


def ridge_kl(model: LinearDiffusion, cs, true_mean, true_cov):
    """KL(rho_N(c) || rho) of the fully trained model with ridge c, for every c in ``cs``.

    rho_N(c) is the exact law of the finite-T sampler (:meth:`~lindiff.LinearDiffusion.sampling_distribution`),
    not its T -> infinity idealisation N(mu_0, Sigma_0 + c Id) (for which see :mod:`lindiff.measures`),
    so that it compares like with like with :meth:`GradientFlow.kl`. Reuses ``model``'s
    eigendecomposition of Sigma_0 (its own c is ignored); each c costs O(T d + d^2).

    Defined in :doc:`chapter 6 </book/06_early_stopping>`: the exact sampler law :eq:`eq-sampled-variance` of
    :doc:`chapter 2 </book/02_linear_model>`, scored by equation :eq:`eq-gaussian-kl` of
    :doc:`chapter 4 </book/04_kl_divergence>`.
    """
    if not isinstance(model, LinearDiffusion):
        raise ValueError("model must be a lindiff.LinearDiffusion")
    cs = _as_times(cs, "cs")
    if not np.all(np.isfinite(cs)):
        raise ValueError("every c must be finite")
    kl = KLToTruth(model.eigenvectors, true_mean, true_cov)(*_ridge_laws(model, cs))
    return kl if cs.ndim else float(kl[0])


def optimal_ridge(model: LinearDiffusion, true_mean, true_cov, cs):
    """The ridge c minimising KL(rho_N(c) || rho) (see :func:`ridge_kl`): grid ``cs`` (increasing,
    > 0), refined in log c.

    Returns
    -------
    c_star, kl_star : float


    Defined in :doc:`chapter 6 </book/06_early_stopping>`.
    """
    if not isinstance(model, LinearDiffusion):
        raise ValueError("model must be a lindiff.LinearDiffusion")
    cs = _as_times(cs, "cs")
    if cs.ndim != 1 or cs.size < 3 or np.any(cs <= 0) or np.any(np.diff(cs) <= 0) or not np.all(np.isfinite(cs)):
        raise ValueError("cs must be an increasing 1-D grid of >= 3 finite ridges > 0")
    kl = KLToTruth(model.eigenvectors, true_mean, true_cov)

    def f(c):
        values = kl(*_ridge_laws(model, c))
        return values if np.ndim(c) else float(values[0])

    return _refine_log_minimum(f, cs)


def _refine_log_minimum(f, grid):
    """Minimise f over the grid, then by bounded Brent search in log x between the best point's
    neighbours. Returns (x*, f(x*))."""
    values = np.asarray(f(grid), dtype=np.float64)
    i = int(np.argmin(values))
    lo, hi = np.log(grid[max(i - 1, 0)]), np.log(grid[min(i + 1, grid.size - 1)])
    res = minimize_scalar(lambda u: float(f(np.exp(u))), bounds=(lo, hi), method="bounded",
                          options={"xatol": 1e-4})
    if res.fun <= values[i]:
        return float(np.exp(res.x)), float(res.fun)
    return float(grid[i]), float(values[i])
