"""Training dynamics of the linear denoiser: gradient flow and gradient descent in closed form.

With the bias at its optimum b_t = -sqrt(abar_t) mu_0, the noise-averaged loss of step t is, with
a = abar_t, s = 1 - a, K_t = a (Sigma_0 + c Id) + s Id,

    L_t(W) = || Id - sqrt(s) W ||_F^2 + a Tr(W Sigma_0 W^T) + a c ||W||_F^2,
    grad L_t = 2 W K_t - 2 sqrt(s) Id.

Started from W(0) = 0, gradient flow dW/dtau = -eta grad L_t keeps W a function of Sigma_0, so each
eigen-direction nu of Sigma_0 evolves alone, dw/dtau = 2 eta (sqrt(s) - gamma_nu w), with stiffness
gamma_nu = a (lambda_nu + c) + s:

    w(tau) = sqrt(s) (1 - exp(-2 eta tau gamma_nu)) / gamma_nu            (gradient flow)
    w_n    = sqrt(s) (1 - (1 - 2 eta gamma_nu)^n) / gamma_nu              (n steps of gradient descent)

From any start W(0), W(tau) = W_inf + (W(0) - W_inf) exp(-2 eta tau K_t): the start's component along
e_nu (the column W(0) e_nu) decays by the factor exp(-2 eta tau gamma_nu) (:meth:`GradientFlow.decay`).
For a random start with i.i.d. N(0, q) entries, the expected losses exceed those of the zero start by
q d sum_t sum_nu decay^2 (s + a m_nu) (``init_variance=q``).

Directions with small gamma_nu -- unseen (lambda_nu = 0) or small-variance directions at small t, where
gamma_nu ~ s -> 0 -- learn last. A weight decay ``weight_decay`` (SGD's L2 term, a penalty
weight_decay / 2 ||W||_F^2 per step) adds weight_decay / 2 to every gamma_nu. Stopping at tau acts on a
direction with a lambda_nu << c_eff like the ridge c_eff(t) = 1 / (2 eta tau abar_t)
(:func:`effective_ridge`). Inserting w(tau) into the affine sampler
(:func:`lindiff.diagonal_sampler_law`) gives the sampled law, its KL divergence and its losses at
every training time.
"""

from __future__ import annotations

import numpy as np

from ._checks import as_times, check_nonnegative, check_schedule
from .kl import KLToTruth, refine_log_minimum
from .linear import LinearDiffusion
from .losses import directional_second_moments, loss_per_direction
from .sampler import diagonal_sampler_law
from .schedule import Schedule

_BLOCK = 2**22  # (tau, t, nu) entries computed at once


def _check_positive(value, name: str) -> float:
    v = check_nonnegative(value, name)
    if v == 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    return v


def effective_ridge(tau, eta: float, schedule: Schedule) -> np.ndarray:
    """The ridge that stopping at training time tau imitates: c_eff(t) = 1 / (2 eta tau abar_t).

    For a direction with stiffness gamma << 1 / (2 eta tau), the flow gives
    w(tau) ~ sqrt(s) 2 eta tau (1 - eta tau gamma), and the fully trained model with ridge c gives
    sqrt(s) / (a c + gamma) ~ sqrt(s) / (a c) (1 - gamma / (a c)): they agree to first order in gamma / (a c)
    when a c = 1 / (2 eta tau).

    Returns
    -------
    ndarray, shape (T,) for scalar tau, else (len(tau), T)


    Defined in :doc:`chapter 6 </book/06_early_stopping>`, equation :eq:`eq-effective-ridge`.
    """
    tau = as_times(tau)
    eta = _check_positive(eta, "eta")
    check_schedule(schedule)
    with np.errstate(divide="ignore"):
        return 1.0 / (2.0 * eta * tau[..., None] * schedule.alpha_bars)


class GradientFlow:
    """Gradient flow (and gradient descent) of the linear denoiser from W(0) = 0 or a random start, in closed form.

    Parameters
    ----------
    model : LinearDiffusion
        The fully trained model: its training statistics (mean, eigenpairs of Sigma_0), ridge c and
        schedule define the loss being descended; ``tau = inf`` reproduces it.
    eta : float
        Learning rate per step: every W_t moves by -eta grad L_t per unit of training time.
    weight_decay : float
        L2 weight decay (adds weight_decay / 2 to every stiffness); 0 by default.
    init_variance : float
        Variance q of the i.i.d. Gaussian entries of the starting weights W_t(0) (0: the zero start;
        1 / d: the random start of :class:`lindiff.train.Trainer` with ``init="random"``). Only the
        losses depend on it, as averages over the start (equation :eq:`eq-random-start-loss`);
        :meth:`weights`, the sampled law and the KL describe the zero start, which is the mean of W(tau)
        over random starts.


    Defined in :doc:`chapter 6 </book/06_early_stopping>`, equations :eq:`eq-gradient-flow`,
    :eq:`eq-gradient-descent` and :eq:`eq-random-start`.
    """

    def __init__(self, model: LinearDiffusion, eta: float, weight_decay: float = 0.0, init_variance: float = 0.0):
        if not isinstance(model, LinearDiffusion):
            raise ValueError("model must be a lindiff.LinearDiffusion, e.g. LinearDiffusion.fit(X, schedule)")
        self.model = model
        self.eta = _check_positive(eta, "eta")
        self.weight_decay = check_nonnegative(weight_decay, "weight_decay")
        self.init_variance = check_nonnegative(init_variance, "init_variance")

    @property
    def schedule(self) -> Schedule:
        return self.model.schedule

    @property
    def stiffness(self) -> np.ndarray:
        """gamma[t-1, nu] = abar_t (lambda_nu + c) + 1 - abar_t + weight_decay / 2, shape (T, d).

        Defined in :doc:`chapter 6 </book/06_early_stopping>`, equation :eq:`eq-gradient-flow`.
        """
        a = self.schedule.alpha_bars[:, None]
        return a * (self.model.eigenvalues + self.model.c) + (1.0 - a) + 0.5 * self.weight_decay

    def max_stable_eta(self) -> float:
        """Gradient descent converges for eta < 1 / max gamma (then ``|1 - 2 eta gamma| < 1`` in every direction).

        Defined in :doc:`chapter 6 </book/06_early_stopping>`, equation :eq:`eq-gradient-descent`.
        """
        return float(1.0 / np.max(self.stiffness))

    def decay(self, tau, discrete: bool = False) -> np.ndarray:
        """Factor by which the start's component along e_nu has shrunk at training time tau.

        exp(-2 eta tau gamma_nu) for the flow; (1 - 2 eta gamma_nu)^n after n steps of gradient descent
        (``discrete=True``: tau must then be whole numbers or inf, and eta < :meth:`max_stable_eta`).
        W(tau) = W_inf + (W(0) - W_inf) V diag(decay) V^T at every step t.

        Returns
        -------
        ndarray, shape (T, d) for scalar tau, (len(tau), T, d) otherwise


        Defined in :doc:`chapter 7 </book/07_early_stopping_mnist>`, equation :eq:`eq-random-start`.
        """
        tau = as_times(tau)
        gamma = self.stiffness
        x = tau[..., None, None]
        if not discrete:
            with np.errstate(under="ignore"):
                return np.exp(-2.0 * self.eta * x * gamma)
        finite = tau[np.isfinite(tau)]
        if np.any(finite != np.round(finite)):
            raise ValueError("with discrete=True, tau counts descent steps and must be whole numbers")
        if self.eta >= self.max_stable_eta():
            raise ValueError(
                f"gradient descent diverges for eta >= 1 / max gamma = {self.max_stable_eta():.4g}; lower eta"
            )
        with np.errstate(under="ignore"):
            return np.where(np.isinf(x), 0.0, (1.0 - 2.0 * self.eta * gamma) ** np.where(np.isinf(x), 0.0, x))

    def weights(self, tau, discrete: bool = False) -> np.ndarray:
        """Weights per step and eigen-direction at training time tau (from the zero start).

        w(tau) = sqrt(s) (1 - exp(-2 eta tau gamma)) / gamma for the flow; with ``discrete=True`` tau counts
        gradient-descent steps of size eta and w_n = sqrt(s) (1 - (1 - 2 eta gamma)^n) / gamma.

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
        gamma = self.stiffness
        if discrete:
            fraction = 1.0 - self.decay(tau, discrete=True)
        else:
            fraction = -np.expm1(-2.0 * self.eta * as_times(tau)[..., None, None] * gamma)
        s = 1.0 - self.schedule.alpha_bars[:, None]
        return np.sqrt(s) * fraction / gamma

    def _blocks(self, tau):
        """Training times in blocks of at most ~4 million (tau, t, nu) entries: bounded memory at d = 784, T = 1000."""
        tau = as_times(tau)
        flat = np.atleast_1d(tau)
        size = max(1, _BLOCK // (self.schedule.T * self.model.d))
        return tau.ndim == 0, [flat[i : i + size] for i in range(0, flat.size, size)]

    def _mean_centres(self) -> np.ndarray:
        """m_t = sqrt(abar_t) (e_nu . mu_0): the bias b_t = -sqrt(abar_t) mu_0 in eigen-coordinates."""
        return np.sqrt(self.schedule.alpha_bars)[:, None] * (self.model.eigenvectors.T @ self.model.mean)

    def sampling_law(self, tau, discrete: bool = False, last_step_noise: bool = True):
        """Law of the sampler's output at training time tau, in the eigenbasis of Sigma_0.

        The denoiser is diagonal in that basis, eps_nu = w_t,nu (y_nu - m_t,nu) with
        m_t = sqrt(abar_t) V^T mu_0, so :func:`lindiff.diagonal_sampler_law` gives the exact
        Gaussian law; the training times are propagated together, in blocks of bounded memory.
        ``last_step_noise``: as in :func:`lindiff.ddpm_sample` (False: no noise at t = 1, Ho et al.'s
        Algorithm 2; the unseen directions of the fully trained model then get variance 0).

        Returns
        -------
        mean, var : ndarray, shape (d,) for scalar tau, (len(tau), d) otherwise
            Mean and variance of each eigen-coordinate e_nu . u_0 (coordinates are independent).


        Defined in :doc:`chapter 6 </book/06_early_stopping>`, equation :eq:`eq-diagonal-sampler-law`.
        """
        scalar, blocks = self._blocks(tau)
        T, d = self.schedule.T, self.model.d
        means, variances = [], []
        for block in blocks:
            w, n = self.weights(block, discrete), block.size
            m = np.tile(self._mean_centres(), (1, n))
            mean, var = diagonal_sampler_law(w.transpose(1, 0, 2).reshape(T, n * d), m, self.schedule, last_step_noise)
            means.append(mean.reshape(n, d))
            variances.append(var.reshape(n, d))
        mean, var = np.concatenate(means), np.concatenate(variances)
        if not last_step_noise:
            # fully trained, a direction with gamma_1 = s_1 (lambda + c = 0, no weight decay) is
            # denoised exactly at t = 1: its gain 1 - g_1 w_1 is 0, not round-off of order 1e-16
            s_1 = 1.0 - self.schedule.alpha_bars[0]
            var[np.isinf(np.concatenate(blocks))[:, None] & (self.stiffness[0] == s_1)] = 0.0
        return (mean[0], var[0]) if scalar else (mean, var)

    def sampling_distribution(self, tau: float, discrete: bool = False, last_step_noise: bool = True):
        """The sampled law N(mean, cov) at one training time, in data coordinates.

        Defined in :doc:`chapter 6 </book/06_early_stopping>`, equation :eq:`eq-diagonal-sampler-law`.
        """
        if np.ndim(tau) != 0:
            raise ValueError("sampling_distribution takes one training time; use sampling_law for many")
        mean, var = self.sampling_law(tau, discrete, last_step_noise)
        V = self.model.eigenvectors
        cov = (V * var) @ V.T
        return V @ mean, 0.5 * (cov + cov.T)

    def _loss(self, tau, second_moments, steps, discrete):
        a = self.schedule.alpha_bars[:, None]
        rows = slice(None)
        if steps is not None:
            rows = np.asarray([self.schedule.check_step(t) for t in np.atleast_1d(steps)]) - 1
        scalar, blocks = self._blocks(tau)
        totals = []
        for block in blocks:
            terms = loss_per_direction(a, self.weights(block, discrete), second_moments)
            if self.init_variance:  # the random start's excess, averaged over the start
                excess = self.decay(block, discrete) ** 2 * ((1.0 - a) + a * second_moments)
                terms = terms + self.init_variance * self.model.d * excess
            totals.append(terms[:, rows].sum(axis=(-2, -1)))
        total = np.concatenate(totals)
        return float(total[0]) if scalar else total

    def train_loss(self, tau, steps=None, discrete: bool = False):
        """Training loss at time tau: sum_t sum_nu [1 - 2 sqrt(s) w + w^2 (a lambda_nu + s)].

        The noise- and data-averaged DDPM loss of the weights w(tau), without the ridge or weight-decay
        penalty; summed over ``steps`` (default all t = 1..T). With ``init_variance`` q > 0, averaged
        over the random start: q d sum_t sum_nu decay^2 (s + a lambda_nu) more.

        Defined in :doc:`chapter 6 </book/06_early_stopping>`, equations :eq:`eq-loss-training-time` and
        :eq:`eq-random-start-loss`.
        """
        return self._loss(tau, self.model.eigenvalues, steps, discrete)

    def test_loss(self, tau, true_mean, true_cov, steps=None, discrete: bool = False):
        """Test loss at time tau: :meth:`train_loss` with lambda_nu replaced by
        sigma~^2_nu = e_nu^T (Sigma + (mu - mu_0)(mu - mu_0)^T) e_nu.

        Defined in :doc:`chapter 6 </book/06_early_stopping>`, equations :eq:`eq-loss-training-time` and
        :eq:`eq-random-start-loss`.
        """
        m2 = directional_second_moments(self.model.eigenvectors, self.model.mean, true_mean, true_cov)
        return self._loss(tau, m2, steps, discrete)

    def kl(self, tau, true_mean, true_cov, discrete: bool = False, last_step_noise: bool = True):
        """KL(rho_tau || rho): from the law sampled at training time tau to the truth N(mu, Sigma).

        Returns a float for scalar tau, an array otherwise (see :class:`lindiff.KLToTruth`). A law
        with variance 0 in some direction (``last_step_noise=False`` at tau = inf with unseen
        directions) is singular: its KL is inf.

        Defined in :doc:`chapter 6 </book/06_early_stopping>`: the law :eq:`eq-diagonal-sampler-law` scored by
        equation :eq:`eq-gaussian-kl` of :doc:`chapter 4 </book/04_kl_divergence>`.
        """
        mean, var = self.sampling_law(tau, discrete, last_step_noise)
        return _kl_or_inf(KLToTruth(self.model.eigenvectors, true_mean, true_cov), mean, var)

    def optimal_stopping(self, true_mean, true_cov, taus, criterion: str = "kl", last_step_noise: bool = True):
        """The training time minimising KL(rho_tau || rho) (or, with ``criterion="test_loss"``, the test loss).

        The criterion is evaluated on the grid ``taus`` (increasing, > 0), then refined by a bounded
        scalar minimisation in log tau between the grid neighbours of the best point.

        Returns
        -------
        tau_star, value_star : float


        Defined in :doc:`chapter 6 </book/06_early_stopping>`, equation :eq:`eq-effective-ridge`.
        """
        taus = as_times(taus, "taus")
        if taus.ndim != 1 or taus.size < 3 or np.any(taus <= 0) or np.any(np.diff(taus) <= 0):
            raise ValueError("taus must be an increasing 1-D grid of >= 3 training times > 0")
        if criterion == "test_loss":
            m2 = directional_second_moments(self.model.eigenvectors, self.model.mean, true_mean, true_cov)
            return refine_log_minimum(lambda tau: self._loss(tau, m2, None, False), taus)
        if criterion != "kl":
            raise ValueError(f"criterion must be 'kl' or 'test_loss', got {criterion!r}")
        kl = KLToTruth(self.model.eigenvectors, true_mean, true_cov)
        return refine_log_minimum(lambda tau: _kl_or_inf(kl, *self.sampling_law(tau, False, last_step_noise)), taus)


def _kl_or_inf(kl: KLToTruth, mean, var):
    """kl(mean, var), inf for the laws with a zero variance (singular laws)."""
    regular = np.all(var > 0, axis=-1)
    if np.all(regular):
        return kl(mean, var)
    if np.ndim(regular) == 0:
        return np.inf
    out = np.full(regular.shape, np.inf)
    if np.any(regular):
        out[regular] = kl(mean[regular], var[regular])
    return out
