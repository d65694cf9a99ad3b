"""Cached sweeps of the linear model on real spectra: the Gaussian surrogate and learning curves.

What the theory predicts if the data were Gaussian with a data set's covariance
(:func:`~lindiff.data.gaussian_surrogate`), and the train and test loss of the linear model fitted on
the first N images of a data set (:func:`~lindiff.data.learning_curve`).
"""

from __future__ import annotations

import numpy as np

from .._checks import check_nonnegative, check_positive_int, check_schedule, check_spectrum
from ..kl import gaussian_kl, naive_measure
from ..linear import LinearDiffusion
from ..progress import progress
from ..schedule import Schedule
from ..stats import empirical_stats
from . import cache
from .covariance import dataset_spectrum


def gaussian_surrogate(eigenvalues, Ns, schedule: Schedule, cs=(0.0,), reps: int = 2, seed: int = 0) -> dict:
    """What the theory predicts for Gaussian data N(mu, Sigma) with the spectrum ``eigenvalues``.

    For every N in ``Ns`` and repetition, draw N points from N(0, diag(lambda)) (the losses and the
    KL are invariant under rotations and shifts, so the eigenbasis of Sigma and mu = 0 lose no
    generality), fit the linear model (ddof = 0 statistics) and record, for each ridge c in ``cs``:

    - ``train_loss``, ``test_loss``: :meth:`~lindiff.LinearDiffusion.train_loss` and ``test_loss(mu, Sigma)``,
      summed over the T steps;
    - ``kl``: KL(N(mu_0, Sigma_0 + c Id) || N(mu, Sigma)) (:func:`lindiff.gaussian_kl`), computed in
      the r-dimensional support of Sigma (the directions with lambda > 0; the truth puts no mass
      elsewhere, so this is the only place a finite KL can live); ``inf`` for c = 0 and N <= r;
    - ``cov_error``: the naive measure ||Sigma_0 - Sigma||_F^2 / ||Sigma||_F^2
      (:func:`lindiff.naive_measure`), independent of c.

    Results are cached on disk (:func:`lindiff.data.cache.cached_arrays`), keyed by the spectrum, the
    schedule and every argument (and the package's source, :func:`lindiff.data.cache.package_digest`).

    Returns
    -------
    dict of ndarray
        ``train_loss``, ``test_loss``, ``kl`` of shape (len(cs), len(Ns), reps); ``cov_error`` of
        shape (len(Ns), reps); ``Ns``, ``cs`` as passed.


    Defined in :doc:`chapter 5 </book/05_real_images>`.
    """
    lam = check_spectrum(eigenvalues)
    Ns = [check_positive_int(N, "N", minimum=2) for N in Ns]
    cs = [check_nonnegative(c, "c") for c in cs]
    reps = check_positive_int(reps, "reps")
    seed = check_positive_int(seed, "seed", minimum=0)
    check_schedule(schedule)
    support = lam > 0
    Sigma = np.diag(lam)
    Sigma_s = np.diag(lam[support])
    zero = np.zeros(lam.size)

    def compute():
        rng = np.random.default_rng(seed)
        shape = (len(cs), len(Ns), reps)
        out = {
            "train_loss": np.empty(shape),
            "test_loss": np.empty(shape),
            "kl": np.empty(shape),
            "cov_error": np.empty((len(Ns), reps)),
        }
        for j, N in enumerate(progress(Ns, desc="Gaussian surrogate")):
            for r in range(reps):
                X = rng.standard_normal((N, lam.size)) * np.sqrt(lam)
                mu0, S0 = empirical_stats(X, ddof=0)
                out["cov_error"][j, r] = naive_measure(S0, Sigma)
                base = LinearDiffusion.from_stats(mu0, S0, schedule)
                S0_s = S0[np.ix_(support, support)]
                for i, c in enumerate(cs):
                    model = base.with_ridge(c)
                    out["train_loss"][i, j, r] = model.train_loss()
                    out["test_loss"][i, j, r] = model.test_loss(zero, Sigma)
                    out["kl"][i, j, r] = gaussian_kl(
                        mu0[support], S0_s + c * np.eye(S0_s.shape[0]), zero[support], Sigma_s
                    )
        return out

    key = {
        "spectrum": cache.arrays_digest({"eigenvalues": lam}),
        "schedule": cache.arrays_digest({"betas": schedule.betas}),
        "Ns": Ns,
        "cs": cs,
        "reps": reps,
        "seed": seed,
    }
    out = cache.cached_arrays("surrogate", key, compute)
    out.update(Ns=np.array(Ns), cs=np.array(cs))
    return out


def learning_curve(name: str, Ns, true_mean, true_cov, schedule: Schedule, cs=(0.0,), **preprocessing) -> dict:
    """Train and test loss of the linear model fitted on the first N images of a real data set.

    For each N the model is built from :func:`lindiff.data.dataset_spectrum` (cached) with
    ``n=N`` and the given preprocessing; the test loss is :meth:`~lindiff.LinearDiffusion.test_loss` with the
    test distribution's mean and covariance, which is exact for any test distribution with those
    two moments (the loss is quadratic in x_0), in particular for the empirical distribution of a
    held-out set.

    Returns
    -------
    dict of ndarray
        ``train_loss``, ``test_loss`` of shape (len(cs), len(Ns)), summed over the T steps.


    Defined in :doc:`chapter 5 </book/05_real_images>`.
    """
    Ns = [check_positive_int(N, "N", minimum=2) for N in Ns]
    cs = [check_nonnegative(c, "c") for c in cs]
    out = {"train_loss": np.empty((len(cs), len(Ns))), "test_loss": np.empty((len(cs), len(Ns)))}
    for j, N in enumerate(progress(Ns, desc=f"learning curve {name}")):
        base = LinearDiffusion(*dataset_spectrum(name, n=N, **preprocessing), schedule)
        for i, c in enumerate(cs):
            model = base.with_ridge(c)
            out["train_loss"][i, j] = model.train_loss()
            out["test_loss"][i, j] = model.test_loss(true_mean, true_cov)
    return out
