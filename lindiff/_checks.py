"""Input validation shared by the public functions of :mod:`lindiff`.

Every check raises :class:`ValueError` (:class:`TypeError` for an array of the wrong kind:
complex, dates, strings) with a message that names the argument, what was wrong and what to pass
instead.
"""

from __future__ import annotations

import importlib

import numpy as np

# What each optional extra of pyproject.toml brings, and what a reader should know when it is missing.
_EXTRA_HINTS = {
    "train": " (on Linux without a GPU, install PyTorch's CPU build first: README, 'Troubleshooting')",
    "chapters": "",
}


def require_module(module: str, extra: str, user: str):
    """Import an optional dependency, or say which extra of lindiff brings it.

    ``require_module("torch", "train", "lindiff.train")`` returns :mod:`torch`, or raises
    :class:`ModuleNotFoundError` saying ``lindiff.train needs torch, which is not installed: pip
    install 'lindiff[train]'`` instead of Python's bare ``No module named 'torch'``.
    """
    if extra not in _EXTRA_HINTS:
        raise ValueError(f"extra must be one of {sorted(_EXTRA_HINTS)}, got {extra!r}")
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        top = module.split(".")[0]
        if exc.name is not None and exc.name.split(".")[0] != top:
            raise  # the package is there but something it needs is broken: its own message says what
        raise ModuleNotFoundError(
            f"{user} needs {top}, which is not installed: pip install 'lindiff[{extra}]'{_EXTRA_HINTS[extra]}",
            name=top,
        ) from exc


# dtype kinds that are not real numbers: bool, complex, timedelta, datetime, bytes, str, void
_NOT_REAL = {
    "b": "booleans",
    "c": "complex numbers",
    "m": "time differences",
    "M": "dates",
    "S": "bytes",
    "U": "strings",
    "V": "raw records",
}


def as_real_array(x, name: str) -> np.ndarray:
    """Return ``x`` as a float64 array (NaN and inf pass), refusing what is not real numbers.

    Complex, boolean, date and string input (even numeric strings such as ``"1"``) raises
    :class:`TypeError` rather than being cast, since a cast drops the imaginary part or invents a
    number.
    """
    if x is None:  # numpy would read it as NaN
        raise ValueError(f"{name} is None; pass an array of real numbers")
    try:
        raw = np.asarray(x)
    except ValueError as exc:  # ragged nested sequences
        raise ValueError(f"{name} must be numeric (got {type(x).__name__}): {exc}") from None
    except (RuntimeError, TypeError) as exc:  # e.g. a torch tensor that requires grad, or on a GPU
        hint = " (a torch tensor: pass x.detach().cpu().numpy())" if type(x).__module__.startswith("torch") else ""
        raise ValueError(f"{name} cannot be read as a numpy array{hint}; got a {type(x).__name__}") from exc
    if raw.dtype.kind in _NOT_REAL:
        raise TypeError(
            f"{name} must hold real numeric values, got {_NOT_REAL[raw.dtype.kind]}; "
            "pass a float array (take the real part or parse the values first)"
        )
    try:
        return raw.astype(np.float64, copy=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be numeric (got {type(x).__name__}): {exc}") from None


def as_finite_array(x, name: str, ndim: int | None = None) -> np.ndarray:
    """Return ``x`` as a finite float64 array (see :func:`as_real_array`), checking its dimension."""
    arr = as_real_array(x, name)
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name} must be a {ndim}-D array, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or inf; clean the input before passing it")
    return arr


def as_times(tau, name="tau") -> np.ndarray:
    """Training times (or ridges) as a scalar or 1-D float array, each >= 0; inf is allowed (the fully
    trained model), NaN is not."""
    arr = as_real_array(tau, name)
    if arr.ndim > 1:
        raise ValueError(f"{name} must be a scalar or a 1-D array, got shape {arr.shape}")
    if np.any(np.isnan(arr)) or np.any(arr < 0):
        raise ValueError(f"{name} must be >= 0 (inf for the fully trained model), got {tau!r}")
    return arr


def as_data_matrix(X, name: str = "X", min_rows: int = 2) -> np.ndarray:
    """An (N, d) float64 array with N >= ``min_rows`` finite rows."""
    arr = as_finite_array(X, name, ndim=2)
    if arr.shape[0] < min_rows:
        raise ValueError(
            f"{name} has N = {arr.shape[0]} rows; at least {min_rows} samples are needed "
            "(pass an (N, d) array with one sample per row)"
        )
    if arr.shape[1] < 1:
        raise ValueError(f"{name} has no columns; pass an (N, d) array with d >= 1")
    return arr


def as_mean(mean, d: int | None = None, name: str = "mean") -> np.ndarray:
    """A finite 1-D mean vector, of length ``d`` if given."""
    arr = as_finite_array(mean, name, ndim=1)
    if arr.size == 0:
        raise ValueError(f"{name} is empty; pass a vector of length d >= 1")
    if d is not None and arr.shape[0] != d:
        raise ValueError(f"{name} has length {arr.shape[0]}, expected d = {d}")
    return arr


def as_covariance(cov, d: int | None = None, name: str = "cov", rtol: float = 1e-8) -> np.ndarray:
    """A finite, symmetric, positive semi-definite (d, d) matrix.

    Symmetry is checked to relative tolerance ``rtol`` of the largest entry; the returned
    matrix is the exactly symmetric part (C + C^T) / 2.
    """
    arr = as_finite_array(cov, name, ndim=2)
    if arr.shape[0] != arr.shape[1]:
        raise ValueError(f"{name} must be square, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape}); pass a (d, d) matrix with d >= 1")
    if d is not None and arr.shape[0] != d:
        raise ValueError(f"{name} has shape {arr.shape}, expected ({d}, {d})")
    scale = max(float(np.max(np.abs(arr))), 1e-300)
    if np.max(np.abs(arr - arr.T)) > rtol * scale:
        raise ValueError(f"{name} is not symmetric; pass a covariance matrix (C == C.T)")
    return 0.5 * (arr + arr.T)


def psd_eigh(cov: np.ndarray, name: str = "cov", rtol: float = 1e-10):
    """Eigendecomposition of a symmetric PSD matrix, eigenvalues ascending.

    With lambda_max the largest |eigenvalue|, an eigenvalue below ``-rtol * d * lambda_max``
    means the matrix is not positive semi-definite and raises. Eigenvalues within round-off of
    zero (``|lambda| <= d * eps * lambda_max``, numpy's matrix-rank tolerance) are set to exactly
    0, so that a rank-deficient covariance (N <= d) has exact zeros in its unvisited directions.
    Both tolerances are relative, so the check does not depend on the units of the data.
    """
    evals, evecs = np.linalg.eigh(cov)
    _check_psd_eigenvalues(evals, name, rtol)
    d = cov.shape[0]
    top = float(np.max(np.abs(evals))) if evals.size else 0.0
    evals = np.where(np.abs(evals) <= d * np.finfo(np.float64).eps * top, 0.0, evals)
    return np.clip(evals, 0.0, None), evecs


def _check_psd_eigenvalues(evals: np.ndarray, name: str, rtol: float) -> None:
    top = float(np.max(np.abs(evals))) if evals.size else 0.0
    if evals.size and evals[0] < -rtol * evals.size * top:
        raise ValueError(
            f"{name} is not positive semi-definite (smallest eigenvalue {evals[0]:.3g}, largest "
            f"{evals[-1]:.3g}); a covariance matrix has no negative variances"
        )


def check_psd(cov: np.ndarray, name: str = "cov", rtol: float = 1e-10) -> None:
    """Raise unless the symmetric matrix ``cov`` is positive semi-definite (to round-off).

    Same criterion as :func:`psd_eigh` (smallest eigenvalue >= ``-rtol * d * lambda_max``), without
    eigenvectors: a Cholesky factorisation of ``cov + rtol * d * m * Id`` (m the largest diagonal
    entry, m <= lambda_max) is tried first, at a fraction of the cost of an eigendecomposition; its
    success proves the criterion. Only if it fails are the eigenvalues computed, to decide and to
    report the smallest one.
    """
    d = cov.shape[0]
    m = max(float(np.max(np.diag(cov))) if d else 0.0, 1e-300)
    try:
        np.linalg.cholesky(cov + (rtol * d * m) * np.eye(d))
        return
    except np.linalg.LinAlgError:
        pass
    _check_psd_eigenvalues(np.linalg.eigvalsh(cov), name, rtol)


def check_nonnegative(value, name: str) -> float:
    """A finite float >= 0 (a bool, a string or a date is refused, not read as a number)."""
    if isinstance(value, (bool, np.bool_, str, bytes)) or np.asarray(value).dtype.kind in _NOT_REAL:
        raise ValueError(f"{name} must be a finite number >= 0, got the {type(value).__name__} {value!r}")
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}") from None
    if not np.isfinite(v) or v < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return v


def check_positive_int(value, name: str, minimum: int = 1) -> int:
    """An integer >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def check_seed(seed, name: str = "seed"):
    """A seed for :func:`numpy.random.default_rng`, returned unchanged: None, an integer >= 0, or a
    numpy Generator, BitGenerator or SeedSequence."""
    if seed is None or isinstance(seed, (np.random.Generator, np.random.BitGenerator, np.random.SeedSequence)):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"{name} must be None, an integer >= 0 or a numpy Generator, got {seed!r}")
    if seed < 0:
        raise ValueError(f"{name} must be an integer >= 0, got {seed}")
    return seed


def check_schedule(schedule, name: str = "schedule"):
    """Return ``schedule`` if it is a :class:`lindiff.Schedule`, else raise naming ``name``."""
    from .schedule import Schedule  # schedule.py imports this module

    if not isinstance(schedule, Schedule):
        raise ValueError(f"{name} must be a lindiff.Schedule (e.g. Schedule.linear()), got {type(schedule).__name__}")
    return schedule


def check_spectrum(eigenvalues, name: str = "eigenvalues", positive: bool = False) -> np.ndarray:
    """Variances lambda_nu as a finite, non-empty 1-D float64 array, each >= 0 (> 0 with
    ``positive=True``, for a true covariance that must be invertible)."""
    lam = as_finite_array(eigenvalues, name, ndim=1)
    if lam.size == 0:
        raise ValueError(f"{name} is empty; pass the d >= 1 eigenvalues of a covariance matrix")
    if positive and np.any(lam <= 0):
        raise ValueError(
            f"{name} must be > 0 (the eigenvalues of an invertible covariance; "
            "use lindiff.power_law_spectrum or np.linalg.eigvalsh(Sigma))"
        )
    if np.any(lam < 0):
        raise ValueError(f"{name} must be >= 0 (variances cannot be negative)")
    return lam


def check_finite_result(what: str, hint: str, *arrays):
    """Return ``arrays`` (one array alone) unless one holds NaN or inf, which raises a ValueError
    saying that ``what`` overflowed, and ``hint`` (what to change): a result is never returned with
    NaN or inf that its finite inputs did not contain."""
    for arr in arrays:
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{what} overflowed to NaN or inf; {hint}")
    return arrays[0] if len(arrays) == 1 else arrays


def check_eps_model(eps_model, schedule) -> None:
    """``eps_model`` must be callable, and run with the schedule it carries, if it carries one."""
    if not callable(eps_model):
        raise ValueError("eps_model must be a callable eps_model(x, t) returning the predicted noise")
    own = getattr(eps_model, "schedule", None)
    betas = getattr(own, "betas", None)
    if betas is not None and not np.array_equal(np.asarray(betas), np.asarray(schedule.betas)):
        raise ValueError(
            f"schedule {schedule!r} differs from the schedule eps_model was built for, {own!r}; "
            "the sampler would draw from another law: pass eps_model.schedule"
        )


def eps_output(eps, shape: tuple, t: int) -> np.ndarray:
    """The noise predicted at step ``t`` as a float64 array of ``shape``, refused if not finite."""
    eps = np.asarray(eps)
    if eps.dtype.kind in _NOT_REAL:
        raise TypeError(f"eps_model returned {_NOT_REAL[eps.dtype.kind]} at step t={t}; it must return real noise")
    eps = eps.astype(np.float64, copy=False)
    if eps.shape != shape:
        raise ValueError(f"eps_model returned shape {eps.shape} at t={t}, expected {shape}")
    if not np.all(np.isfinite(eps)):
        raise ValueError(
            f"eps_model returned NaN or inf at step t={t}; the model is broken or diverged "
            "(e.g. trained with too large a learning rate)"
        )
    return eps
