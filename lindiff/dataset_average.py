"""Dataset-averaged theory: what a typical training set of N Gaussian points gives.

The per-dataset formulas (:class:`lindiff.LinearDiffusion`, :func:`lindiff.gaussian_kl`) depend on
the training set through traces of the resolvent R = (Sigma_0 + kappa Id)^-1. Averaged over training
sets of N points from N(mu, Sigma), those traces have deterministic equivalents given by one scalar,
the renormalised ridge kappa~ >= kappa (Atanasov, Zavatone-Veth & Pehlevan 2024).

The ddof = 0 covariance of N Gaussian points is exactly Sigma_0 = (1/n) sum_{j=1..n} z_j z_j^T with
n = N - 1 and z_j iid N(0, Sigma'), Sigma' = (n / N) Sigma (mean removal costs one sample). With
lambda'_nu = (n / N) lambda_nu the eigenvalues of Sigma', kappa~ is the unique root kappa~ >= kappa of

    kappa~ = kappa + (kappa~ / n) sum_nu lambda'_nu / (lambda'_nu + kappa~),

and to leading order in 1/d, for any fixed matrix A,

    E Tr[A (Sigma_0 + kappa Id)^-1] = (kappa~ / kappa) Tr[A (Sigma' + kappa~ Id)^-1].

For large N (n ~ N, lambda' ~ lambda) this is the equation kappa~ = kappa + (kappa~/N) sum_nu
lambda_nu / (lambda_nu + kappa~); keeping n = N - 1 and lambda' makes it accurate down to N = 2.
Second-order traces (Tr R^2, Tr Sigma R^2) follow by differentiating in kappa.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar

from ._checks import as_finite_array, check_nonnegative, check_positive_int, check_schedule, check_spectrum
from .losses import losses_from_resolvent_traces
from .schedule import Schedule


def _effective(lam, N):
    """(lambda', n): the spectrum and sample count of the equivalent mean-zero sample covariance."""
    N = check_positive_int(N, "N", minimum=2)
    n = N - 1
    return lam * (n / N), n


def _solve(lam_eff, n, kappa):
    """Root kappa~ >= kappa of g(x) = x - (x/n) sum lam/(lam + x) = kappa, vectorised over kappa.

    g is convex and increasing on the branch x >= kappa, with kappa <= root <= kappa + sum(lam)/n;
    Newton's method started at the upper bound decreases monotonically to the root.
    """
    kappa = np.asarray(kappa, dtype=np.float64)
    flat = kappa.reshape(-1, 1)
    x = flat + lam_eff.sum() / n
    for _ in range(200):
        r = lam_eff / (lam_eff + x)
        g = x * (1.0 - r.sum(axis=1, keepdims=True) / n) - flat
        dg = 1.0 - np.sum(r**2, axis=1, keepdims=True) / n
        step = g / np.maximum(dg, 1e-300)
        x_new = np.maximum(x - step, flat)
        if np.all(np.abs(x_new - x) <= 1e-12 * x_new):  # near round-off of g; quadratic before
            x = x_new
            break
        x = x_new
    return x.reshape(kappa.shape)


def renormalized_ridge(eigenvalues, N: int, kappa):
    """The renormalised ridge kappa~(kappa) for N training points and true spectrum ``eigenvalues``.

    Solves kappa~ = kappa + (kappa~ / n) sum_nu lambda'_nu / (lambda'_nu + kappa~) with n = N - 1,
    lambda' = (n / N) lambda (see the module docstring). For kappa -> 0 and n < d the root tends to
    kappa~_0 > 0 with sum_nu lambda'_nu / (lambda'_nu + kappa~_0) = n; for n >= d it tends to 0.

    Parameters
    ----------
    eigenvalues : array_like, shape (d,)
        Eigenvalues of the true covariance Sigma, all > 0.
    N : int
        Training-set size, >= 2.
    kappa : float or array_like
        Ridge(s) >= 0.

    Returns
    -------
    float or ndarray
        kappa~, same shape as ``kappa``.


    Defined in :doc:`chapter 3 </book/03_train_test_loss>`, equation :eq:`eq-deterministic-equivalent`.
    """
    lam, n = _effective(check_spectrum(eigenvalues, positive=True), N)
    k = as_finite_array(kappa, "kappa")
    if np.any(k < 0):
        raise ValueError("kappa must be >= 0")
    out = _solve(lam, n, k)
    return float(out) if out.ndim == 0 else out


def _resolvent_traces(lam_true, N, kappa):
    """Deterministic equivalents of E Tr R, E Tr R^2 and E Tr[Sigma R^2], R = (Sigma_0 + kappa)^-1.

    With f = kappa~ / kappa and kappa~' = d kappa~ / d kappa = 1 / (1 - sum lambda'^2/(lambda'+kappa~)^2 / n):
    E Tr R = f sum 1/(lambda'+kappa~), E Tr[Sigma' R] = f sum lambda'/(lambda'+kappa~), and the
    second-order traces are minus their kappa-derivatives; Sigma = (N/n) Sigma'.
    """
    lam, n = _effective(lam_true, N)
    kt = _solve(lam, n, kappa)[:, None]
    kap = kappa[:, None]
    inv = 1.0 / (lam + kt)
    dkt = 1.0 / (1.0 - np.sum((lam * inv) ** 2, axis=1, keepdims=True) / n)
    f = kt / kap
    df = (dkt * kap - kt) / kap**2
    tr_R = f * inv.sum(axis=1, keepdims=True)
    tr_R2 = -(df * inv.sum(axis=1, keepdims=True) - f * dkt * np.sum(inv**2, axis=1, keepdims=True))
    tr_SR2 = -(
        df * np.sum(lam * inv, axis=1, keepdims=True) - f * dkt * np.sum(lam * inv**2, axis=1, keepdims=True)
    ) * (N / n)
    return tr_R[:, 0], tr_R2[:, 0], tr_SR2[:, 0]


def _averaged_losses(eigenvalues, N, schedule, c):
    check_schedule(schedule)
    lam = check_spectrum(eigenvalues, positive=True)
    c = check_nonnegative(c, "c")
    a = schedule.alpha_bars
    k0 = (1.0 - a) / a
    tr_R, tr_R2, tr_SR2 = _resolvent_traces(lam, N, c + k0)
    # <Tr[R (Sigma + delta delta^T) R]> = (1 + 1/N) <Tr[Sigma R^2]>: the mean error delta is independent of R
    return losses_from_resolvent_traces(a, c, lam.size, tr_R, tr_R2, (1.0 + 1.0 / N) * tr_SR2)


def averaged_train_loss_per_step(eigenvalues, N: int, schedule: Schedule, c: float = 0.0) -> np.ndarray:
    """E over training sets of L_train(t), t = 1..T (deterministic equivalent).

    With kappa_0 = s / a (a = abar_t, s = 1 - a), kappa = c + kappa_0 and R = (Sigma_0 + kappa Id)^-1,
    the training loss of the optimal model is L_train(t) = d - kappa_0 Tr R - c kappa_0 Tr R^2; the
    traces are replaced by their dataset averages.

    Parameters
    ----------
    eigenvalues : array_like, shape (d,)
        Eigenvalues of the true covariance (the average depends on Sigma only through them).
    N : int
        Training-set size, >= 2.
    schedule : Schedule
    c : float
        Ridge >= 0.

    Returns
    -------
    ndarray, shape (T,)


    Defined in :doc:`chapter 3 </book/03_train_test_loss>`, equations :eq:`eq-losses-resolvent` and
    :eq:`eq-deterministic-equivalent`.
    """
    return _averaged_losses(eigenvalues, N, schedule, c)[0]


def averaged_test_loss_per_step(eigenvalues, N: int, schedule: Schedule, c: float = 0.0) -> np.ndarray:
    """E over training sets of L_test(t), t = 1..T (deterministic equivalent).

    L_test(t) = d - 2 kappa_0 Tr R + kappa_0^2 Tr R^2 + kappa_0 Tr[R (Sigma + delta delta^T) R] with
    delta = mu - mu_0. For Gaussian data delta ~ N(0, Sigma / N) is independent of Sigma_0, so
    E[delta^T R^2 delta] = E Tr[Sigma R^2] / N and

        E L_test(t) = d - 2 kappa_0 E Tr R + kappa_0^2 E Tr R^2 + kappa_0 (1 + 1/N) E Tr[Sigma R^2].

    Parameters and returns as in :func:`averaged_train_loss_per_step`.

    Defined in :doc:`chapter 3 </book/03_train_test_loss>`, equation :eq:`eq-averaged-test-loss`.
    """
    return _averaged_losses(eigenvalues, N, schedule, c)[1]


def averaged_test_loss_excess_per_step(eigenvalues, N: int, schedule: Schedule, c: float = 0.0) -> np.ndarray:
    """E over training sets of L_test(t) - L_*(t), t = 1..T: the test loss above its optimum.

    L_*(t) is the test loss of the model fitted on the true law (Sigma_0 = Sigma, mu_0 = mu, c = 0),
    the smallest any linear denoiser reaches; with a = abar_t, s = 1 - a and kappa_0 = s / a,

        L_*(t) = d - kappa_0 Tr (Sigma + kappa_0 Id)^-1 = sum_nu a lambda_nu / (a lambda_nu + s),

    and E L_test(t) is :func:`averaged_test_loss_per_step`. The excess is >= 0 and vanishes as N -> infinity
    at c = 0.

    Parameters and returns as in :func:`averaged_train_loss_per_step`.

    Defined in :doc:`chapter 4 </book/04_kl_divergence>`, equation :eq:`eq-test-loss-excess`.
    """
    test = _averaged_losses(eigenvalues, N, schedule, c)[1]  # validates every argument
    lam, a = check_spectrum(eigenvalues, positive=True), schedule.alpha_bars[:, None]
    return test - np.sum(a * lam / (a * lam + (1.0 - a)), axis=1)


def averaged_unseen_variance(eigenvalues, N: int) -> float:
    """E Tr[P_0 Sigma]: the true variance in the directions the N training points never visit.

    P_0 is the projector on the null space of Sigma_0 (rank d - N + 1 for N <= d). Since
    P_0 = lim_{kappa -> 0} kappa (Sigma_0 + kappa Id)^-1, its average is
    kappa~_0 (Sigma' + kappa~_0 Id)^-1 with kappa~_0 = renormalized_ridge(eigenvalues, N, 0), so

        E Tr[P_0 Sigma] = (N / n) kappa~_0 sum_nu lambda'_nu / (lambda'_nu + kappa~_0)  (0 for N > d).

    For Sigma = Id it is d - N + 1 exactly; the steeper the spectrum, the smaller it is.

    Defined in :doc:`chapter 3 </book/03_train_test_loss>`, equation :eq:`eq-averaged-unseen-variance`.
    """
    lam, n = _effective(check_spectrum(eigenvalues, positive=True), N)
    k0 = float(_solve(lam, n, np.array(0.0)))
    return float((N / n) * k0 * np.sum(lam / (lam + k0)))


def averaged_log_det(eigenvalues, N: int, c) -> np.ndarray | float:
    """E ln det(Sigma_0 + c Id) over training sets, c > 0 (deterministic equivalent + correction).

    With kappa~ = kappa~(c), the leading term is

        F(c) = sum_nu ln(lambda'_nu + kappa~) + (d - n) ln(c / kappa~) + n (c / kappa~ - 1),

    the function with F'(c) = (kappa~ / c) sum_nu 1 / (lambda'_nu + kappa~) (= the equivalent of
    E Tr (Sigma_0 + c)^-1) and F(c) - d ln c -> 0 as c -> infinity. The Gaussian fluctuations of the
    spectrum add an order-one term, (1/2) ln(1 - (1/n) sum_nu lambda'^2_nu / (lambda'_nu + kappa~)^2)
    (the mean shift of a linear spectral statistic, Bai & Silverstein 2004); at c -> 0, n > d it is
    (1/2) ln(1 - d/n), and the sum reproduces the exact digamma average (:func:`lindiff.expected_kl`)
    to better than 0.1 % for N >= d + 10.

    Returns
    -------
    float or ndarray
        Same shape as ``c``.


    Defined in :doc:`chapter 4 </book/04_kl_divergence>`, equation :eq:`eq-averaged-log-det`.
    """
    lam, n = _effective(check_spectrum(eigenvalues, positive=True), N)
    c_arr = as_finite_array(c, "c")
    if np.any(c_arr <= 0):
        raise ValueError(
            "c must be > 0 (at c = 0 the average is -inf for N <= d; "
            "use lindiff.expected_kl for the exact c = 0 result when N > d)"
        )
    kt = _solve(lam, n, c_arr.reshape(-1))[:, None]
    r = c_arr.reshape(-1, 1) / kt
    d = lam.size
    F = np.sum(np.log(lam + kt), axis=1, keepdims=True) + (d - n) * np.log(r) + n * (r - 1.0)
    F += 0.5 * np.log(1.0 - np.sum((lam / (lam + kt)) ** 2, axis=1, keepdims=True) / n)
    out = F.reshape(c_arr.shape)
    return float(out) if out.ndim == 0 else out


def averaged_kl(eigenvalues, N: int, c) -> np.ndarray | float:
    """E KL(N(mu_0, Sigma_0 + c Id) || N(mu, Sigma)) over training sets, c > 0.

    The trace and mean terms average exactly: E Tr[Sigma^-1 Sigma_0] + E delta^T Sigma^-1 delta =
    d (n/N) + d/N = d, so

        E KL = 1/2 [ c Tr Sigma^-1 + ln det Sigma - E ln det(Sigma_0 + c Id) ],

    with the last term from :func:`averaged_log_det`. Depends on Sigma only through its eigenvalues.

    Defined in :doc:`chapter 4 </book/04_kl_divergence>`, equations :eq:`eq-averaged-kl` and
    :eq:`eq-averaged-log-det`.
    """
    lam = check_spectrum(eigenvalues, positive=True)
    c_arr = as_finite_array(c, "c")
    out = 0.5 * (c_arr * np.sum(1.0 / lam) + np.sum(np.log(lam)) - averaged_log_det(lam, N, c_arr))
    return float(out) if np.ndim(out) == 0 else out


def averaged_optimal_ridge(eigenvalues, N: int) -> float:
    """The ridge c > 0 that minimises :func:`averaged_kl` for N training points.

    E KL(c) is convex in c (ln det is concave) and its slope at c = 0+ is
    1/2 Tr Sigma^-1 (1 - N / (N - d - 2)) < 0 for N > d + 2 and -infinity for N <= d, so the
    minimiser is positive; it is found by a bounded scalar search in ln c.

    Defined in :doc:`chapter 4 </book/04_kl_divergence>`, equation :eq:`eq-averaged-kl`.
    """
    lam = check_spectrum(eigenvalues, positive=True)
    N = check_positive_int(N, "N", minimum=2)
    scale = float(lam.max())
    res = minimize_scalar(
        lambda u: averaged_kl(lam, N, np.exp(u)),
        bounds=(np.log(scale * 1e-10), np.log(scale * 1e2)),
        method="bounded",
        options={"xatol": 1e-6},
    )
    return float(np.exp(res.x))
