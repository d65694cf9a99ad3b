"""Monte-Carlo estimates of the real DDPM loss of any noise predictor on given data.

For a noise predictor eps_theta(x, t) and data rows x_0 the loss at step t is

    L(t) = < || eps - eps_theta(sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps, t) ||^2 >,

the average over eps ~ N(0, Id) and over the rows x_0 (fresh test rows give the test loss, the
training rows the training loss), and the DDPM loss is L = sum_{t=1..T} L(t). Nothing here knows
what the model is: these estimators are the independent check of the closed forms in
:class:`lindiff.LinearDiffusion`.

One level up, :func:`losses_over_training_sets` draws whole training sets and returns the exact
losses of the linear model fitted to each: the Monte Carlo over training sets against which the
dataset averages of :mod:`lindiff.dataset_average` are checked.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._checks import (
    as_covariance,
    as_data_matrix,
    as_mean,
    check_eps_model,
    check_nonnegative,
    check_positive_int,
    check_schedule,
    check_seed,
    eps_output,
    psd_eigh,
)
from .linear import LinearDiffusion
from .progress import progress
from .schedule import Schedule


@dataclass(frozen=True)
class MCEstimate:
    """A Monte-Carlo estimate and its standard error (same shape: a float or one per step)."""

    value: np.ndarray | float
    stderr: np.ndarray | float


def _check_inputs(eps_model, X0, schedule):
    check_schedule(schedule)
    check_eps_model(eps_model, schedule)
    return as_data_matrix(X0, "X0", min_rows=1)


def _balanced_rows(rng, n_rows: int, n: int) -> np.ndarray:
    """n row indices, every row used floor(n / n_rows) or ceil(n / n_rows) times, in random order.

    Each index is marginally uniform over the rows, so averages over them are unbiased for the
    average over the data set.
    """
    return rng.permutation(np.resize(rng.permutation(n_rows), n))


def _squared_errors(eps_model, X0, schedule, steps, rows, rng) -> np.ndarray:
    """|| eps - eps_theta(x_t, t) ||^2 for one fresh eps per (step, row) pair, one model call per step:
    x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps."""
    out = np.empty(steps.size)
    ab = schedule.alpha_bars
    for t in np.unique(steps):
        sel = np.flatnonzero(steps == t)
        x0 = X0[rows[sel]]
        eps = rng.standard_normal(x0.shape)
        xt = np.sqrt(ab[t - 1]) * x0 + np.sqrt(1.0 - ab[t - 1]) * eps
        pred = eps_output(eps_model(xt, int(t)), xt.shape, int(t))
        out[sel] = np.sum((eps - pred) ** 2, axis=1)
    return out


def ddpm_loss_per_step(
    eps_model, X0, schedule: Schedule, steps, n_samples: int = 2000, seed=0, draws: bool = False
) -> MCEstimate | np.ndarray:
    """Monte-Carlo estimate of L(t) at the given steps, for any noise predictor eps_theta(x, t).

    For each step, ``n_samples`` pairs (x_0, eps) are drawn, x_0 from the rows of X0, each row used
    equally often (exactly ``n_samples / M`` times when M divides ``n_samples``), in random order,
    and eps ~ N(0, Id); the estimate is the sample mean of || eps - eps_theta(x_t, t) ||^2 and its
    standard error is the sample standard deviation over sqrt(n_samples).

    The draws depend only on ``seed``, the rows, ``n_samples`` and the list of ``steps`` (one
    generator serves the steps in turn, so a step's draws change when steps before it are added),
    never on the model: the same arguments give every model the same (x_0, eps) pairs, so
    differences between models are free of the noise of separate draws. The uses of the book:
    ``n_samples = len(X0)`` (every row once: a test loss on held-out rows),
    ``n_samples = k * len(X0)`` (every training row with k noises: a training loss), and
    ``draws=True`` for the squared errors themselves (paired differences between models).

    Parameters
    ----------
    eps_model : callable
        ``eps_model(x, t)`` for a batch x of shape (n, d) and an integer step t in 1..T: a
        :class:`lindiff.LinearDiffusion`, a network's ``eps_model()``, any function. A model that
        carries a ``schedule`` must carry this one.
    X0 : array_like, shape (M, d)
        The data rows x_0 (test rows for the test loss, training rows for the training loss).
    schedule : Schedule
    steps : int or sequence of int
        Steps in 1..T.
    n_samples : int
        Samples per step, >= 2.
    seed : int or numpy Generator
    draws : bool
        Return the squared errors instead of their mean and standard error.

    Returns
    -------
    MCEstimate or ndarray
        ``value`` and ``stderr`` of shape (len(steps),), or floats for a single int step; with
        ``draws``, the squared errors, shape (len(steps), n_samples), or (n_samples,) for a single
        int step.


    Defined in :doc:`chapter 1 </book/01_diffusion_models>`, equation :eq:`eq-ddpm-loss`.
    """
    X0 = _check_inputs(eps_model, X0, schedule)
    n = check_positive_int(n_samples, "n_samples", minimum=2)
    scalar = np.ndim(steps) == 0
    steps_list = [schedule.check_step(t) for t in np.atleast_1d(steps).tolist()]
    if not steps_list:
        raise ValueError("steps is empty; pass at least one step in 1..T")
    rng = np.random.default_rng(check_seed(seed))
    err = np.empty((len(steps_list), n))
    for j, t in enumerate(steps_list):
        rows = _balanced_rows(rng, X0.shape[0], n)
        err[j] = _squared_errors(eps_model, X0, schedule, np.full(n, t), rows, rng)
    if draws:
        return err[0] if scalar else err
    value, stderr = err.mean(axis=1), err.std(axis=1, ddof=1) / np.sqrt(n)
    if scalar:
        return MCEstimate(float(value[0]), float(stderr[0]))
    return MCEstimate(value, stderr)


def geometric_strata(T: int, n_strata: int) -> list[np.ndarray]:
    """Split the steps 1..T into at most ``n_strata`` contiguous blocks of geometrically growing size.

    The block edges are the distinct integers among round(geomspace(1, T + 1, n_strata + 1)), so
    the first blocks are single small steps (where the test loss of an unseen direction, ~ 1 / kappa_t,
    varies fastest) and the last ones are long.

    Defined in :doc:`chapter 3 </book/03_train_test_loss>`.
    """
    T = check_positive_int(T, "T")
    n_strata = check_positive_int(n_strata, "n_strata")
    edges = np.unique(np.rint(np.geomspace(1, T + 1, n_strata + 1)).astype(int))
    return [np.arange(lo, hi) for lo, hi in zip(edges[:-1], edges[1:])]


def ddpm_loss(
    eps_model, X0, schedule: Schedule, n_samples: int = 4000, n_strata: int = 40, seed=0, progress_bar: bool = False
) -> MCEstimate:
    """Monte-Carlo estimate of the DDPM loss summed over steps, L = sum_{t=1..T} L(t).

    Stratified sampling over t: the steps are split into blocks B_b (:func:`geometric_strata`);
    in each block m = n_samples // (number of blocks) steps are drawn uniformly from B_b, each with
    its own x_0 (rows of X0 used equally often) and eps. With ell the squared errors of block b,

        L_hat = sum_b ``|B_b|`` mean(ell_b),   stderr^2 = sum_b ``|B_b|^2`` var(ell_b) / m,

    an unbiased estimate (each block term is ``|B_b|`` times an unbiased estimate of the block average of
    L(t)). Compared with T times the mean over uniformly drawn t, it removes the variance between
    blocks, which dominates when L(t) spans orders of magnitude across t.

    Parameters
    ----------
    eps_model, X0, schedule, seed
        As in :func:`ddpm_loss_per_step`.
    n_samples : int
        Total number of (t, x_0, eps) draws; at least 2 per block are needed.
    n_strata : int
        Requested number of blocks (fewer if T is small).
    progress_bar : bool
        Show a progress bar over the blocks.

    Returns
    -------
    MCEstimate
        Floats ``value`` and ``stderr``.


    Defined in :doc:`chapter 1 </book/01_diffusion_models>`, equation :eq:`eq-ddpm-loss`.
    """
    X0 = _check_inputs(eps_model, X0, schedule)
    n = check_positive_int(n_samples, "n_samples")
    strata = geometric_strata(schedule.T, n_strata)
    m = n // len(strata)
    if m < 2:
        raise ValueError(
            f"n_samples = {n} gives fewer than 2 draws in each of {len(strata)} strata; "
            f"pass n_samples >= {2 * len(strata)} or fewer n_strata"
        )
    rng = np.random.default_rng(check_seed(seed))
    rows = _balanced_rows(rng, X0.shape[0], m * len(strata))
    total, var = 0.0, 0.0
    for b, block in enumerate(progress(strata, desc="strata", **({} if progress_bar else {"disable": True}))):
        steps = rng.choice(block, size=m)
        err = _squared_errors(eps_model, X0, schedule, steps, rows[b * m : (b + 1) * m], rng)
        total += block.size * err.mean()
        var += block.size**2 * err.var(ddof=1) / m
    return MCEstimate(float(total), float(np.sqrt(var)))


def losses_over_training_sets(
    true_mean, true_cov, N: int, schedule: Schedule, n_sets: int = 400, c: float = 0.0, seed=None, progress_bar=False
):
    """Exact per-step losses of the optimal linear model for ``n_sets`` independent training sets.

    Each training set is N points drawn from N(mu, Sigma) = N(``true_mean``, ``true_cov``); the model
    is :meth:`lindiff.LinearDiffusion.fit` with ridge c, and its closed-form L_train(t) and L_test(t)
    (:meth:`~lindiff.LinearDiffusion.train_loss_per_step`, :meth:`~lindiff.LinearDiffusion.test_loss_per_step`)
    are recorded. The rows are independent draws of the losses of a random training set: their mean
    estimates the average over training sets, with standard error std / sqrt(n_sets), and their
    spread is the variation from one training set to the next. For the summed DDPM loss, sum each row
    over t before averaging.

    Parameters
    ----------
    true_mean, true_cov : array_like
        mu, shape (d,), and Sigma, shape (d, d) (symmetric positive semi-definite).
    N : int
        Training-set size, >= 2.
    schedule : Schedule
    n_sets : int
        Number of training sets, >= 2.
    c : float
        Ridge >= 0.
    seed : int, numpy Generator or None
        None draws fresh training sets on every call.
    progress_bar : bool
        Show a progress bar over the training sets.

    Returns
    -------
    train, test : ndarray, shape (n_sets, T)
        L_train(t) and L_test(t), t = 1..T, one row per training set.


    Defined in :doc:`chapter 3 </book/03_train_test_loss>`, equation :eq:`eq-averaged-test-loss`.
    """
    check_schedule(schedule)
    mu = as_mean(true_mean, name="true_mean")
    Sigma = as_covariance(true_cov, mu.size, name="true_cov")
    evals, evecs = psd_eigh(Sigma, "true_cov")
    root = evecs * np.sqrt(evals)  # Sigma = root @ root.T
    N = check_positive_int(N, "N", minimum=2)
    n_sets = check_positive_int(n_sets, "n_sets", minimum=2)
    c = check_nonnegative(c, "c")
    rng = np.random.default_rng(check_seed(seed))
    train, test = np.empty((n_sets, schedule.T)), np.empty((n_sets, schedule.T))
    for i in progress(range(n_sets), desc="training sets", **({} if progress_bar else {"disable": True})):
        X = mu + rng.standard_normal((N, mu.size)) @ root.T
        model = LinearDiffusion.fit(X, schedule, c=c)
        train[i], test[i] = model.train_loss_per_step(), model.test_loss_per_step(mu, Sigma)
    return train, test
