"""Train the linear denoiser eps(x, t) = W_t (x + b_t) with torch, as a diffusion model is trained.

One d x d matrix W_t and one vector b_t per step t in a chosen set S of steps (default all
t = 1..T), started from zero. Two objectives:

* **minibatch** (the real DDPM loss): each iteration draws B training rows x_i, B steps t_i
  uniform on S and B noises eps_i, and descends

      L_hat = (``|S|`` / B) sum_i || eps_i - W_{t_i} (x_{t_i} + b_{t_i}) ||^2 + sum_{t in S} abar_t c ||W_t||_F^2,

  x_t = sqrt(abar_t) x + sqrt(1 - abar_t) eps. The factor ``|S|`` makes L_hat an unbiased estimate of the
  summed loss sum_{t in S} L_t, so the learning rate is a rate *per step*: in expectation every W_t
  moves by -lr grad L_t, whatever ``|S|`` is.
* **full batch** (``full_batch=True``): exact gradient descent on the loss averaged over the noise
  exactly and over all N rows, with a = abar_t, s = 1 - a, ybar_t = sqrt(a) mu_0 + b_t,

      L_t = || Id - sqrt(s) W_t ||_F^2 + a Tr(W_t Sigma_0 W_t^T) + || W_t ybar_t ||^2 + a c ||W_t||_F^2,

  which depends on the data only through mu_0 and Sigma_0 (ddof = 0). With ``bias="optimal"`` (b_t
  held at -sqrt(a) mu_0) or centred data, W_t then follows :class:`lindiff.gradient_flow.GradientFlow`
  with ``discrete=True`` exactly; minibatch SGD follows it in expectation.

Training is one generator, :meth:`~lindiff.train.TrainingLoop.iterate`: ``for tr in trainer.iterate(n)``
takes n steps and hands over the trainer after each one, and the caller records what it needs where
it needs it (:meth:`~lindiff.train.Trainer.expected_loss`, :meth:`~lindiff.train.Trainer.weights`,
:meth:`~lindiff.train.Trainer.weights_in_basis`, :meth:`~lindiff.train.Trainer.sampling_distribution`);
``itertools.chain([trainer], trainer.iterate(n))`` includes the start.

Gradients are written out by hand (the loss is quadratic): for a sample at step t with
z = x_t + b_t and residual r = W_t z - eps, d||r||^2/dW_t = 2 r z^T and d||r||^2/db_t = 2 W_t^T r.

Design (so that d = 784, T = 1000, 615 million weights, trains at a few ms per step on a GPU): the
batch is grouped by step, not gathered. The sampled steps are sorted and each sample gets a slot in
a zero-padded ``(|S|, m, d)`` array, m the largest count of one step in the batch (about 6 for B = 1024,
T = 1000). Prediction and gradient are then two batched products over all steps, bmm(Z, W^T) and
bmm(R^T, Z): each reads W (or writes the gradient) once, with no (B, d, d) copy of the gathered W_t
(2.5 GB at float32) and no autograd graph; padded slots have z = eps = 0 and contribute nothing.
Plain minibatch SGD (no momentum) needs no gradient buffer at all: the update
W_t <- W_t - lr R_t^T Z_t is one in-place batched product (``baddbmm_``), so a step reads W twice
and writes it once (7.4 GB at float32 for d = 784, T = 1000, against a memory-traffic floor of
one read and one write of W). Other optimizers (SGD with momentum, Adam, fused on CUDA; and the
full-batch mode) write the gradient into a buffer allocated once and step with ``torch.optim``:
Adam then costs about nine passes over W.
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
    check_psd,
    check_schedule,
    require_module,
)
from .sampler import affine_sampler_law
from .schedule import Schedule
from .stats import empirical_stats

torch = require_module("torch", "train", "lindiff.train")

_OPTIMIZERS = ("sgd", "adam")
_BIASES = ("learned", "optimal")
_CHECK_EVERY = 16  # iterations between two divergence checks (each one waits for the device)
_EXPLODED = 1e6  # a loss this many times that of the zero model (|S| d) has diverged


class TrainingDiverged(RuntimeError):
    """Training produced a non-finite or exploding loss: the learning rate is too large."""


def default_device() -> torch.device:
    """CUDA when available, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _check_options(optimizer, bias, dtype, momentum) -> float:
    """Check the trainer's choices; returns the momentum as a float."""
    if optimizer not in _OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {_OPTIMIZERS}, got {optimizer!r}")
    if bias not in _BIASES:
        raise ValueError(f"bias must be one of {_BIASES}, got {bias!r}")
    if dtype not in (torch.float32, torch.float64):
        raise ValueError(f"dtype must be torch.float32 or torch.float64, got {dtype!r}")
    momentum = check_nonnegative(momentum, "momentum")
    if momentum >= 1 or (momentum and optimizer != "sgd"):
        raise ValueError("momentum must be in [0, 1) and is an SGD option")
    return momentum


def checked_device(device) -> torch.device:
    """``device`` as a :class:`torch.device` that works here (None: :func:`default_device`), or a
    ValueError naming it (shared with :class:`lindiff.networks.NetworkTrainer`)."""
    try:
        checked = torch.device(device) if device is not None else default_device()
        torch.empty(0, device=checked)
    except (RuntimeError, TypeError, AssertionError) as exc:  # AssertionError: a build without CUDA
        raise ValueError(
            f"device must be an available torch device such as 'cpu' or 'cuda', got {device!r} ({exc})"
        ) from None
    return checked


def _check_steps(steps, schedule: Schedule) -> np.ndarray:
    if steps is None:
        return np.arange(1, schedule.T + 1)
    arr = np.atleast_1d(np.asarray(steps))
    if arr.ndim != 1 or arr.size == 0 or not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"steps must be a non-empty 1-D sequence of integers in 1..{schedule.T}, got {steps!r}")
    if np.any(arr < 1) or np.any(arr > schedule.T) or np.unique(arr).size != arr.size:
        raise ValueError(f"steps must be distinct integers in 1..{schedule.T}, got {steps!r}")
    return np.sort(arr)


def _stable_limit(trainer):
    """The largest stable learning rate, where one is known: full-batch SGD, on the W_t.

    Gradient descent multiplies a mode of W_t by 1 - lr (2 gamma + weight_decay), with the stiffness
    gamma = a (lambda + c) + s, and heavy-ball momentum m is stable while lr (2 gamma + weight_decay)
    < 2 (1 + m): the limit is (1 + m) / (max gamma + weight_decay / 2), which is 1 / max gamma for
    plain gradient descent.
    """
    if not trainer.full_batch or not isinstance(trainer.optimizer, torch.optim.SGD):
        return None
    lam_max = max(float(np.linalg.eigvalsh(trainer._cov0)[-1]), 0.0)
    gamma_max = float(torch.max(trainer._a * (lam_max + trainer.c) + trainer._s))
    momentum = trainer.optimizer.param_groups[0]["momentum"]
    return (1.0 + momentum) / (gamma_max + trainer.weight_decay / 2.0)


def _divergence_message(trainer, worst: float, finite: bool) -> str:
    """What diverged, and the stable learning rate where one is known."""
    limit = _stable_limit(trainer)
    known = ""
    if limit is not None:
        rule = (
            "1 / max gamma"
            if trainer.optimizer.param_groups[0]["momentum"] == 0 and trainer.weight_decay == 0
            else "(1 + momentum) / (max gamma + weight_decay / 2)"
        )
        known = (
            f"; full-batch descent on the W_t is stable for lr < {rule} = {limit:.4g}, "
            "gamma = abar_t (lambda + c) + 1 - abar_t over the eigenvalues lambda of Sigma_0"
            + ("" if trainer.bias == "optimal" else " (exact with bias='optimal'; a learned bias lowers it)")
        )
    what = (
        "weights that are NaN or inf"
        if not finite
        else f"a loss of {worst:.3g}"
        if np.isfinite(worst)
        else "a loss that is NaN or inf"
    )
    zero = trainer.d * trainer.steps.size
    return (
        f"training diverged by iteration {trainer.iteration} with lr = {trainer.lr:g}: {what} (the zero model's "
        f"loss is {zero}){known}. Lower lr and train again."
    )


class TrainingLoop:
    """The loop every trainer shares: steps, the divergence watch, and the step generator.

    A subclass sets ``iteration = 0``, ``_loss = None`` and ``_worst`` (a zero device scalar) in its
    ``__init__`` (``_start_loop``) and implements ``_update`` (one optimizer step that leaves the
    loss of the weights before the step in ``_loss``, a device scalar), ``_zero_loss`` (the loss of
    the model that predicts zero noise), ``_weights_finite`` and ``_divergence_message``. Used by
    :class:`Trainer` (the linear denoiser) and :class:`lindiff.networks.NetworkTrainer`.


    Defined in :doc:`chapter 6 </book/06_early_stopping>`, equation :eq:`eq-sgd-loss`.
    """

    def _start_loop(self, device, dtype) -> None:
        self.iteration = 0
        self._loss = None  # loss of the weights before the last step (a device scalar: no wait)
        self._worst = torch.zeros((), device=device, dtype=dtype)  # largest such loss since the last check

    def step(self):
        """One optimizer step; every 16 steps, raises :class:`TrainingDiverged` if the loss diverged."""
        self._update()
        torch.maximum(self._worst, self._loss.detach(), out=self._worst)  # NaN propagates
        self.iteration += 1
        if self.iteration % _CHECK_EVERY == 0:
            self._check_divergence()

    @torch.no_grad()
    def _check_divergence(self, weights: bool = False) -> None:
        """Raise :class:`TrainingDiverged` if a loss since the last check is not finite or exceeds 1e6
        times the loss of the zero model, or (with ``weights``) a weight is not finite.

        A weight that is NaN or inf makes every later loss NaN, so between steps the losses suffice;
        ``weights`` (one pass over the weights) catches the last step of a run, whose loss is never computed.
        """
        worst = float(self._worst)
        finite = not weights or self._weights_finite()
        if not finite or not worst <= _EXPLODED * self._zero_loss():
            raise TrainingDiverged(self._divergence_message(worst, finite))

    @property
    def loss(self) -> float:
        """The loss of the weights before the last step (the minibatch estimate, or in the linear
        trainer's full-batch mode the exact value); reading it waits for the device."""
        return float("nan") if self._loss is None else float(self._loss)

    def iterate(self, iterations: int):
        """Take ``iterations`` optimizer steps, yielding the trainer after each one.

        The caller decides what to record at each step: ``iteration``, :attr:`loss`, the weights,
        or nothing (reading a value waits for the device). Breaking out early is allowed. Every 16
        steps, and on the weights after the last one, raises :class:`TrainingDiverged` if training
        diverged.

        Examples
        --------
        >>> losses = [trainer.loss for trainer in Trainer(X, schedule, lr=0.05).iterate(100)]  # doctest: +SKIP


        Defined in :doc:`chapter 6 </book/06_early_stopping>`, equation :eq:`eq-sgd-loss`.
        """
        iterations = check_positive_int(iterations, "iterations", minimum=0)
        for _ in range(iterations):
            self.step()
            yield self
        self._check_divergence(weights=True)


class Trainer(TrainingLoop):
    """State of one training run of the linear denoiser (see the module docstring for the losses).

    Parameters
    ----------
    X : array_like, shape (N, d)
        Training rows, N >= 2.
    schedule : Schedule
    lr : float
        Learning rate per step (see the module docstring).
    optimizer : {"sgd", "adam"}
    batch_size : int
        Minibatch size B (ignored with ``full_batch``).
    full_batch : bool
        Exact gradient descent on the noise- and data-averaged loss instead of minibatches.
    steps : sequence of int, optional
        The steps t to train (default all). The loss is a sum of independent terms, one per step,
        each with its own parameters, so training a subset leaves the dynamics of each W_t unchanged.
    c : float
        Ridge: adds abar_t c ||W_t||_F^2 to each step's loss (= training on Sigma_0 + c Id).
    weight_decay : float
        The optimizer's L2 weight decay on the W_t (SGD: a penalty weight_decay / 2 ||W_t||_F^2).
    momentum : float
        SGD momentum (0: plain SGD).
    bias : {"learned", "optimal"}
        Learn b_t (from 0) or hold it at its optimum -sqrt(abar_t) mu_0.
    init : {"zero", "random"}
        Start the W_t at 0, or with i.i.d. N(0, 1/d) entries (drawn from ``seed`` by a generator of
        their own, so the minibatches are those of the zero start); the gradient flow from such a start is
        :class:`lindiff.gradient_flow.GradientFlow` with ``init_variance=1/d`` (equation :eq:`eq-random-start`).
    seed : int
        Seeds the rows, steps and noises drawn, and the random start; 0 <= seed < 2**63.
    device : str or torch.device, optional
        Default: CUDA when available, else the CPU.
    dtype : torch.dtype
        Default float64.

    Raises
    ------
    TrainingDiverged
        From :meth:`~lindiff.train.TrainingLoop.step` and :meth:`~lindiff.train.TrainingLoop.iterate`,
        when the loss becomes NaN or inf or exceeds 1e6 times the loss of the zero model: the
        minibatch loss or, in full-batch mode, the exact loss, watched on the device and read every
        16 iterations; at the end of :meth:`~lindiff.train.TrainingLoop.iterate`, the weights are
        checked too. The message names the learning rate and, for full-batch SGD, the stable limit
        1 / max gamma.


    Defined in :doc:`chapter 6 </book/06_early_stopping>`, equation :eq:`eq-sgd-loss`.
    """

    def __init__(
        self,
        X,
        schedule: Schedule,
        *,
        lr: float,
        optimizer: str = "sgd",
        batch_size: int = 256,
        full_batch: bool = False,
        steps=None,
        c: float = 0.0,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        bias: str = "learned",
        init: str = "zero",
        seed: int = 0,
        device=None,
        dtype=torch.float64,
    ):
        check_schedule(schedule)
        X = as_data_matrix(X)
        momentum = _check_options(optimizer, bias, dtype, momentum)
        if init not in ("zero", "random"):
            raise ValueError(f"init must be 'zero' or 'random', got {init!r}")
        self.batch_size = check_positive_int(batch_size, "batch_size")
        self.c = check_nonnegative(c, "c")
        weight_decay = check_nonnegative(weight_decay, "weight_decay")
        self.optimizer = None
        self.lr = lr
        self.schedule, self.full_batch, self.bias = schedule, bool(full_batch), bias
        self.steps = _check_steps(steps, schedule)
        self.device = checked_device(device)
        seed = check_positive_int(seed, "seed", minimum=0)
        if seed >= 2**63:
            raise ValueError(f"seed must be < 2**63 (torch's generators take 64-bit seeds), got {seed}")
        self.dtype = dtype
        self._start_loop(self.device, dtype)

        N, d = X.shape
        self.N, self.d = N, d
        mu0, cov0 = empirical_stats(X, ddof=0)
        self.mean = mu0
        self._cov0 = cov0
        opts = dict(device=self.device, dtype=dtype)
        ab = schedule.alpha_bars[self.steps - 1]
        self._a = torch.tensor(ab, **opts)
        self._sqrt_a = torch.tensor(np.sqrt(ab), **opts)
        self._s = torch.tensor(1.0 - ab, **opts)
        self._sqrt_s = torch.tensor(np.sqrt(1.0 - ab), **opts)
        self._X = torch.tensor(X, **opts)
        self._mu0 = torch.tensor(mu0, **opts)
        self._Sigma0 = torch.tensor(cov0, **opts)

        n = self.steps.size
        self.W = torch.zeros((n, d, d), **opts, requires_grad=True)
        if init == "random":
            with torch.no_grad():
                gen = torch.Generator(device=self.device).manual_seed(seed + 2)
                self.W.normal_(0.0, d**-0.5, generator=gen)
        self.b = torch.zeros((n, d), **opts, requires_grad=(bias == "learned"))
        with torch.no_grad():
            if bias == "optimal":
                self.b.copy_(-self._sqrt_a[:, None] * self._mu0)
        self.weight_decay = weight_decay
        # Plain minibatch SGD updates W in place inside the gradient product: no gradient buffer.
        self._fused_sgd = optimizer == "sgd" and momentum == 0 and not self.full_batch
        if not self._fused_sgd:
            self.optimizer = self._torch_optimizer(optimizer, momentum)
        self._hessian = None
        self._gen_cpu = torch.Generator().manual_seed(seed)
        self._gen_dev = torch.Generator(device=self.device).manual_seed(seed + 1)

    def _torch_optimizer(self, optimizer: str, momentum: float):
        """A ``torch.optim`` optimizer over W (and a learned b), with gradient buffers allocated once."""
        self.W.grad = torch.zeros_like(self.W)
        groups = [{"params": [self.W], "weight_decay": self.weight_decay}]
        if self.bias == "learned":
            self.b.grad = torch.zeros_like(self.b)
            groups.append({"params": [self.b], "weight_decay": 0.0})
        if optimizer == "sgd":
            return torch.optim.SGD(groups, lr=self.lr, momentum=momentum)
        return torch.optim.Adam(groups, lr=self.lr, fused=self.device.type == "cuda")

    @property
    def lr(self) -> float:
        """The learning rate per step; setting it changes it for the following steps."""
        return self._lr

    @lr.setter
    def lr(self, value):
        value = check_nonnegative(value, "lr")
        if value == 0:
            raise ValueError("lr must be > 0")
        self._lr = value
        for group in self.optimizer.param_groups if self.optimizer is not None else []:
            group["lr"] = value

    # ------------------------------------------------------------------ gradients
    @torch.no_grad()
    def _minibatch(self):
        """Draw a minibatch and group it by step: returns Z ``(|S|, m, d)`` and the residuals R of
        the same shape, scaled by 2 ``|S|`` / B (see the module docstring)."""
        B, n, d = self.batch_size, self.steps.size, self.d
        rows = torch.randint(self.N, (B,), generator=self._gen_cpu)
        j = torch.sort(torch.randint(n, (B,), generator=self._gen_cpu)).values
        counts = torch.bincount(j, minlength=n)
        slot = torch.arange(B) - (torch.cumsum(counts, 0) - counts)[j]
        m = int(counts.max())
        if self.device.type == "cuda":  # pinned: the copy neither waits for the GPU nor stalls it
            rows, j, slot = (v.pin_memory().to(self.device, non_blocking=True) for v in (rows, j, slot))
        eps = torch.randn((B, d), generator=self._gen_dev, device=self.device, dtype=self.dtype)
        z = self._sqrt_a[j, None] * self._X[rows] + self._sqrt_s[j, None] * eps + self.b[j]
        Z = torch.zeros((n, m, d), device=self.device, dtype=self.dtype)
        E = torch.zeros_like(Z)
        Z[j, slot] = z
        E[j, slot] = eps
        R = torch.bmm(Z, self.W.transpose(1, 2)).sub_(E).mul_(2.0 * n / B)  # rows 2 (|S|/B) r_i
        self._loss = R.square().sum() * (B / (4.0 * n))  # the minibatch estimate of sum_t L_t
        return Z, R

    @torch.no_grad()
    def _minibatch_grad(self):
        """Gradients of L_hat (module docstring) into W.grad and b.grad."""
        Z, R = self._minibatch()
        torch.bmm(R.transpose(1, 2), Z, out=self.W.grad)
        if self.c:
            self.W.grad.addcmul_(self.W, (2.0 * self.c * self._a)[:, None, None])
        if self.bias == "learned":
            torch.sum(torch.bmm(R, self.W), dim=1, out=self.b.grad)

    @torch.no_grad()
    def _fused_sgd_step(self):
        """W_t <- (1 - lr (2 c abar_t + weight_decay)) W_t - lr sum_i 2 (``|S|``/B) r_i z_i^T, in place."""
        Z, R = self._minibatch()
        if self.bias == "learned":  # from the old W, before it is overwritten
            self.b.sub_(torch.sum(torch.bmm(R, self.W), dim=1), alpha=self.lr)
        if self.c or self.weight_decay:
            self.W.mul_((1.0 - self.lr * (2.0 * self.c * self._a + self.weight_decay))[:, None, None])
        self.W.baddbmm_(R.transpose(1, 2), Z, alpha=-self.lr)

    @torch.no_grad()
    def _full_batch_grad(self):
        """Exact gradients of the noise- and data-averaged loss, sum over t in S of L_t."""
        W, g = self.W, self.W.grad
        if self._hessian is None:  # 2 K_t = 2 [a (Sigma_0 + c Id) + s Id], built once
            eye = torch.eye(self.d, device=self.device, dtype=self.dtype)
            self._hessian = 2.0 * (
                self._a[:, None, None] * (self._Sigma0 + self.c * eye) + self._s[:, None, None] * eye
            )
        torch.bmm(W, self._hessian, out=g)
        g.diagonal(dim1=1, dim2=2).sub_(2.0 * self._sqrt_s[:, None])
        # sum_t L_t with the ridge, from this gradient 2 W_t K_t - 2 sqrt(s) Id: with ybar_t = 0,
        # L_t = d - 2 sqrt(s) Tr W_t + Tr(W_t K_t W_t^T) = d + <W_t, g_t> / 2 - sqrt(s) Tr W_t
        self._loss = (
            self.d * self.steps.size
            + 0.5 * torch.dot(W.view(-1), g.view(-1))
            - torch.dot(self._sqrt_s, W.diagonal(dim1=1, dim2=2).sum(-1))
        )
        if self.bias == "optimal":  # ybar_t = 0
            return
        ybar = self._sqrt_a[:, None] * self._mu0 + self.b
        Wy = torch.bmm(W, ybar[:, :, None])
        self._loss = self._loss + Wy.square().sum()
        g.baddbmm_(Wy, ybar[:, None, :], alpha=2.0)
        self.b.grad.copy_(torch.bmm(W.transpose(1, 2), Wy)[:, :, 0]).mul_(2.0)

    def _update(self):
        if self._fused_sgd:
            self._fused_sgd_step()
        else:
            (self._full_batch_grad if self.full_batch else self._minibatch_grad)()
            self.optimizer.step()

    def _zero_loss(self) -> float:
        return float(self.d * self.steps.size)

    def _weights_finite(self) -> bool:
        # a NaN or inf weight makes the sum NaN or inf (so do weights near 1e300: diverged as well)
        return bool(torch.isfinite(self.W.sum() + self.b.sum()))

    def _divergence_message(self, worst: float, finite: bool) -> str:
        return _divergence_message(self, worst, finite)

    # ------------------------------------------------------------------ evaluation
    @torch.no_grad()
    def expected_loss(self, mean=None, cov=None, chunk: int = 64) -> float:
        """Exact DDPM loss of the current weights, summed over the trained steps, no penalty terms.

        For x_0 ~ (mean, cov) (default: the training mu_0, Sigma_0) and exact noise averaging,
        L_t = d - 2 sqrt(s) Tr W_t + s ||W_t||_F^2 + a Tr(W_t cov W_t^T) + ||W_t (sqrt(a) mean + b_t)||^2.
        Evaluated ``chunk`` steps at a time to bound memory; accumulated in float64.
        """
        if (mean is None) != (cov is None):
            raise ValueError("pass both mean and cov (the law of x_0), or neither (the training rows)")
        if mean is None:
            mean, cov = self.mean, self._cov0
        cov = as_covariance(cov, self.d)
        check_psd(cov)
        mean = torch.tensor(as_mean(mean, self.d, name="mean"), device=self.device, dtype=self.dtype)
        cov = torch.tensor(cov, device=self.device, dtype=self.dtype)
        total = 0.0
        for lo in range(0, self.steps.size, chunk):
            sl = slice(lo, lo + chunk)
            W, a, s = self.W[sl], self._a[sl], self._s[sl]
            ybar = self._sqrt_a[sl, None] * mean + self.b[sl]
            per = (
                self.d
                - 2.0 * self._sqrt_s[sl] * W.diagonal(dim1=1, dim2=2).sum(-1)
                + s * W.square().sum((1, 2))
                + a * (torch.matmul(W, cov) * W).sum((1, 2))
                + torch.bmm(W, ybar[:, :, None]).square().sum((1, 2))
            )
            total += float(per.double().sum())
        return total

    def eps_model(self):
        """The current torch model as ``eps(x, t)`` on numpy arrays, for :func:`lindiff.ddpm_sample`
        (needs every step t = 1..T trained)."""
        if self.steps.size != self.schedule.T:
            raise ValueError("the sampler needs every step t = 1..T; this trainer has only a subset (steps=...)")

        @torch.no_grad()
        def eps(x, t):
            i = self.schedule.check_step(t) - 1
            u = torch.as_tensor(np.asarray(x, dtype=np.float64), device=self.device, dtype=self.dtype)
            return ((u + self.b[i]) @ self.W[i].T).double().cpu().numpy()

        eps.schedule = self.schedule  # lets the sampler refuse another schedule
        return eps

    def weights(self):
        """The current (W_t, b_t) of the trained steps as float64 numpy copies, shapes (n_steps, d, d), (n_steps, d)."""
        return (self.W.detach().double().cpu().numpy().copy(), self.b.detach().double().cpu().numpy().copy())

    def weights_in_basis(self, basis) -> np.ndarray:
        """The weights w_nu(t) = v_nu^T W_t v_nu of the trained steps in an orthonormal basis V (columns v_nu),
        float64, shape (n_steps, d): in the eigenbasis of the training covariance, the weights of
        :meth:`lindiff.gradient_flow.GradientFlow.weights`.


        Defined in :doc:`chapter 6 </book/06_early_stopping>`, equation :eq:`eq-gradient-descent`.
        """
        V = as_finite_array(basis, "basis")
        if V.shape != (self.d, self.d):
            raise ValueError(f"basis must have shape ({self.d}, {self.d}), got {V.shape}")
        return np.einsum("ik,sij,jk->sk", V, self.weights()[0], V, optimize=True)

    def sampling_distribution(self):
        """Exact law N(mean, cov) that the sampler draws from with the current weights
        (:func:`lindiff.affine_sampler_law`; needs every step t = 1..T trained).


        Defined in :doc:`chapter 6 </book/06_early_stopping>`, equation :eq:`eq-gradient-descent`.
        """
        if self.steps.size != self.schedule.T:
            raise ValueError("the sampler needs every step t = 1..T; this trainer has only a subset (steps=...)")
        return affine_sampler_law(*self.weights(), self.schedule)
