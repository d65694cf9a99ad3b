"""The exact optimum of the training loss for a finite training set: the memorising denoiser.

Training draws x_0 uniformly from the N training points x_1..x_N, so at step t (a = abar_t) the
noisy input x_t = sqrt(a) x_i + sqrt(1 - a) eps is distributed as the mixture
(1/N) sum_i N(sqrt(a) x_i, (1 - a) Id). The loss < || eps - f(x_t) ||^2 > is minimised over ALL
functions f by the posterior mean

    eps*(x, t) = E[eps | x_t = x] = ( x - sqrt(a) sum_i w_i(x) x_i ) / sqrt(1 - a),
    w_i(x) = softmax_i( - || x - sqrt(a) x_i ||^2 / (2 (1 - a)) ),

and the ancestral sampler run with eps* returns the training points (up to the last step's
noise sigma_1 z): the global minimum of the training loss memorises.
"""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp

from ._checks import as_data_matrix, as_finite_array, check_schedule
from .schedule import Schedule

_CHUNK_ENTRIES = 4_000_000  # (points x training rows) per block of the weight matrix


def _as_batch(x, d: int, name: str = "x") -> np.ndarray:
    x = as_finite_array(x, name, ndim=2)
    if x.shape[1] != d:
        raise ValueError(f"{name} must have shape (n, {d}), got {x.shape}")
    return x


class EmpiricalDenoiser:
    """The minimiser eps*(x, t) of the DDPM training loss over all functions, for N training rows.

    Parameters
    ----------
    X : array_like, shape (N, d)
        Training points, N >= 1.
    schedule : Schedule

    Call it as ``eps(x, t)`` with x of shape (n, d) and a step t in 1..T; it plugs into
    :func:`lindiff.ddpm_sample`.


    Defined in :doc:`chapter 1 </book/01_diffusion_models>`, equations :eq:`eq-posterior-weights` and
    :eq:`eq-empirical-denoiser`.
    """

    def __init__(self, X, schedule: Schedule):
        check_schedule(schedule)
        self.X = as_data_matrix(X, min_rows=1)
        self.schedule = schedule
        self._sq_norms = np.sum(self.X**2, axis=1)

    @property
    def d(self) -> int:
        """Data dimension."""
        return self.X.shape[1]

    def _abar(self, t) -> float:
        return float(self.schedule.alpha_bars[self.schedule.check_step(t) - 1])

    def _log_weights(self, x, a):
        """log w_i(x) for a block of points: log-softmax of -|x - sqrt(a) x_i|^2 / (2(1 - a)).

        |x|^2 is the same for every i and drops out of the softmax; the remaining logits
        (sqrt(a) x.x_i - a |x_i|^2 / 2) / (1 - a) are normalised with logsumexp, so the weights
        stay exact when 1 - a = beta_1 is tiny and all logits are huge.
        """
        logits = (np.sqrt(a) * (x @ self.X.T) - 0.5 * a * self._sq_norms) / (1.0 - a)
        return logits - logsumexp(logits, axis=1, keepdims=True)

    def posterior_weights(self, x, t) -> np.ndarray:
        """w_i(x) = P(x_0 = x_i | x_t = x), shape (n, N); each row sums to 1.

        Defined in :doc:`chapter 1 </book/01_diffusion_models>`, equation :eq:`eq-posterior-weights`.
        """
        x = _as_batch(x, self.d)
        a = self._abar(t)
        return np.concatenate([np.exp(self._log_weights(block, a)) for block in self._blocks(x)], axis=0)

    def _blocks(self, x):
        size = max(1, _CHUNK_ENTRIES // self.X.shape[0])
        return [x[i : i + size] for i in range(0, max(len(x), 1), size)]

    def denoised(self, x, t) -> np.ndarray:
        """E[x_0 | x_t = x] = sum_i w_i(x) x_i, shape (n, d).

        Defined in :doc:`chapter 1 </book/01_diffusion_models>`, equation :eq:`eq-empirical-denoiser`.
        """
        x = _as_batch(x, self.d)
        a = self._abar(t)
        out = [np.exp(self._log_weights(block, a)) @ self.X for block in self._blocks(x)]
        return np.concatenate(out, axis=0)

    def __call__(self, x, t) -> np.ndarray:
        """eps*(x, t) = (x - sqrt(abar_t) E[x_0 | x_t = x]) / sqrt(1 - abar_t), shape (n, d)."""
        x = _as_batch(x, self.d)
        a = self._abar(t)
        return (x - np.sqrt(a) * self.denoised(x, t)) / np.sqrt(1.0 - a)

    def __repr__(self) -> str:
        return f"EmpiricalDenoiser(N={self.X.shape[0]}, d={self.d}, {self.schedule!r})"


def _as_samples(samples, d: int) -> np.ndarray:
    samples = _as_batch(samples, d, "samples")
    if samples.shape[0] == 0:
        raise ValueError("samples is empty: pass an (n, d) array with n >= 1 generated samples")
    return samples


def _scaled_norms(diff: np.ndarray) -> np.ndarray:
    """|| diff ||_2 along the last axis without overflow or underflow: m sqrt(sum (diff/m)^2), m = max |diff|."""
    m = np.max(np.abs(diff), axis=-1)
    safe = np.where(m > 0, m, 1.0)
    return m * np.sqrt(np.sum(np.square(diff / safe[..., None]), axis=-1))


def _distances(samples: np.ndarray, X: np.ndarray):
    """Blocks (start, D) of the exact distances D[i, j] = || samples[start + i] - X[j] ||.

    Each distance is computed from the differences x - x_j themselves (never from
    |x|^2 + |x_j|^2 - 2 x.x_j, which cancels when the data sit far from the origin) and rescaled by
    the largest difference, so that data at scales 1e-170 or 1e160 neither underflow nor overflow.
    """
    N, d = X.shape
    size = max(1, _CHUNK_ENTRIES // (N * d))
    for start in range(0, samples.shape[0], size):
        block = samples[start : start + size]
        yield start, _scaled_norms(block[:, None, :] - X[None, :, :])


def distances_to_training_set(samples, X) -> np.ndarray:
    """The exact Euclidean distances || sample_i - x_j ||, shape (n, N), free of cancellation.

    Computed from the differences (rescaled by the largest entry: no overflow or underflow), so
    data offset far from the origin or at extreme scales keep their nearest points.

    Defined in :doc:`chapter 9 </book/09_trained_networks>`, equation :eq:`eq-memorised`.
    """
    X = as_data_matrix(X, min_rows=1)
    samples = _as_samples(samples, X.shape[1])
    return np.concatenate([D for _, D in _distances(samples, X)], axis=0)


def nearest_training_point(samples, X):
    """Distance from each sample to its nearest training row, and that row's index.

    Distances are computed from the differences, without cancellation (see
    :func:`distances_to_training_set`); ties go to the first row.

    Returns
    -------
    distance : ndarray, shape (n,)
        min_i || sample - x_i ||.
    index : ndarray of int, shape (n,)


    Defined in :doc:`chapter 5 </book/05_real_images>`.
    """
    X = as_data_matrix(X, min_rows=1)
    samples = _as_samples(samples, X.shape[1])
    distance, index = np.empty(samples.shape[0]), np.empty(samples.shape[0], dtype=int)
    for start, D in _distances(samples, X):
        i = np.argmin(D, axis=1)
        index[start : start + len(D)] = i
        distance[start : start + len(D)] = D[np.arange(len(D)), i]
    return distance, index


def two_nearest_distances(samples, X):
    """Distances from each sample to its nearest and its second-nearest *distinct* training rows.

    Duplicated training rows count once (the rows are made unique first), so a copy of a row that
    appears twice in X still has a second-nearest row at a positive distance.

    Parameters
    ----------
    samples : array_like, shape (n, d)
        n >= 1.
    X : array_like, shape (N, d)
        Training rows, at least two of them distinct.

    Returns
    -------
    ndarray, shape (n, 2)
        Columns: || x - x_(1) || and || x - x_(2) ||, exact (no cancellation).


    Defined in :doc:`chapter 9 </book/09_trained_networks>`, equation :eq:`eq-memorised`.
    """
    X = as_data_matrix(X, min_rows=2)
    samples = _as_samples(samples, X.shape[1])
    X = np.unique(X, axis=0)
    if X.shape[0] < 2:
        raise ValueError("X must hold at least two distinct training rows (all its rows are equal)")
    return np.concatenate([np.partition(D, 1, axis=1)[:, :2] for _, D in _distances(samples, X)], axis=0)


def memorised(samples, X, ratio: float = 1.0 / 3.0) -> np.ndarray:
    """Which samples sit on a training point: the ratio test of the memorisation literature.

    A sample x counts as memorised when || x - x_(1) || < ratio || x - x_(2) ||, x_(1) and x_(2)
    its nearest and second-nearest distinct training rows (ratio 1/3: Yoon et al. 2023, Gu et al.
    2023). A copy of a training point passes (distance 0); a fresh draw from a continuous law almost
    never does once the training rows are spread out. Distances are exact differences in float64
    (:func:`two_nearest_distances`): no cancellation far from the origin, no overflow or underflow at
    extreme scales, and duplicated training rows count once.

    Parameters
    ----------
    samples : array_like, shape (n, d)
        n >= 1.
    X : array_like, shape (N, d)
        Training rows, at least two distinct.
    ratio : float
        In (0, 1].

    Returns
    -------
    ndarray of bool, shape (n,)


    Defined in :doc:`chapter 9 </book/09_trained_networks>`, equation :eq:`eq-memorised`.
    """
    if not 0 < ratio <= 1:
        raise ValueError(f"ratio must be in (0, 1], got {ratio!r}")
    two = two_nearest_distances(samples, X)
    return two[:, 0] < ratio * two[:, 1]


def memorised_fraction(samples, X, ratio: float = 1.0 / 3.0) -> float:
    """The fraction of samples that :func:`memorised` counts as copies of training rows.

    Parameters
    ----------
    samples : array_like, shape (n, d)
        Generated samples, n >= 1.
    X : array_like, shape (N, d)
        Training rows, at least two distinct (duplicates count once).
    ratio : float
        In (0, 1]: a sample is a copy when its nearest training row is closer than ``ratio`` times
        its second-nearest.

    Returns
    -------
    float
        (number of samples with || x - x_(1) || < ratio || x - x_(2) ||) / n, in [0, 1].


    Defined in :doc:`chapter 9 </book/09_trained_networks>`, equation :eq:`eq-memorised`.
    """
    return float(np.mean(memorised(samples, X, ratio)))


def transition_size(Ns, fractions, level: float = 0.5) -> float:
    """The training-set size where the memorised fraction first falls through ``level``.

    With fractions f_i at increasing sizes N_i, the first i with f_i >= level > f_{i+1}, and
    log N* interpolated linearly in log N between them:

        log N* = log N_i + (f_i - level) / (f_i - f_{i+1}) (log N_{i+1} - log N_i).

    Parameters
    ----------
    Ns : array_like, shape (m,)
        Increasing training-set sizes N_i > 0, m >= 2.
    fractions : array_like, shape (m,)
        The memorised fraction f_i at each size (e.g. from :func:`memorised_fraction`).
    level : float
        In (0, 1); one half by default.

    Returns
    -------
    float
        N*, or NaN when the fraction never falls through ``level`` between two consecutive sizes
        (no transition in the range).


    Defined in :doc:`chapter 9 </book/09_trained_networks>`, equation :eq:`eq-transition-size`.
    """
    N = as_finite_array(Ns, "Ns", ndim=1)
    f = as_finite_array(fractions, "fractions", ndim=1)
    if N.shape != f.shape or N.size < 2 or np.any(N <= 0) or np.any(np.diff(N) <= 0):
        raise ValueError("Ns must be increasing positive sizes and fractions one value per size (at least two)")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    for i in range(N.size - 1):
        if f[i] >= level > f[i + 1]:
            x = (f[i] - level) / (f[i] - f[i + 1])
            return float(np.exp(np.log(N[i]) + x * (np.log(N[i + 1]) - np.log(N[i]))))
    return float("nan")
