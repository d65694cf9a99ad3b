"""Nonlinear denoisers eps_theta(x, t), trained with the book's DDPM loss, schedule and sampler.

Three torch modules, all called as ``net(x, t)`` with x of shape (B, d) and integer steps t of
shape (B,) in 1..T:

* :class:`MLPDenoiser`, for vector data: a learned map e(t) of a sinusoidal embedding of t, an
  input layer, residual blocks h <- h + W_2 silu(W_1 silu(h) + E e(t)), and an output layer;
* :class:`UNetDenoiser`, for images: a two-level convolutional U-Net (16 and 32 channels by
  default) with the time embedding added in every block;
* :class:`StepwiseLinearDenoiser`, the linear model of the book, eps = W_t (x + b_t) with separate
  parameters per step: the class in which the exact optimum of chapter 2 lies, used to test the
  trainer.

:class:`NetworkTrainer` trains any of them on the DDPM loss of the book (its equation
:eq:`eq-sgd-loss` with S = all steps): each iteration draws B training rows, B steps t uniform on
1..T and B noises, and takes an optimizer step on the minibatch mean of
|| eps - eps_theta(sqrt(abar_t) x + sqrt(1 - abar_t) eps, t) ||^2, which is an unbiased estimate of
(1/T) sum_t L_t. It reuses the loop of :class:`lindiff.train.TrainingLoop` (steps, divergence watch,
the step generator). Networks train in float32 (the default); every statistic computed from their
samples is float64. ``import lindiff`` does not import this module (it imports torch).
"""

from __future__ import annotations

import math

import numpy as np

from ._checks import (
    as_data_matrix,
    check_nonnegative,
    check_positive_int,
    check_schedule,
    require_module,
)
from .kl import gaussian_kl, optimal_ridge_sampler, sampler_ridge_kl
from .linear import LinearDiffusion
from .memorisation import memorised_fraction
from .sampler import ddpm_sample
from .schedule import Schedule
from .stats import empirical_stats
from .train import TrainingLoop, checked_device

torch = require_module("torch", "train", "lindiff.networks")
nn = torch.nn

_OPTIMIZERS = ("adam", "sgd")


def time_embedding(t, dim: int, T: int) -> torch.Tensor:
    """Sinusoidal embedding sigma(t) of the steps t: [sin(w_i t'), cos(w_i t')], t' = 1000 t / T,
    w_i = 10000^(-i / (dim/2)), i = 0..dim/2 - 1 (Vaswani et al.; Ho et al. use it for t).

    The networks read e(t) = B' silu(B sigma(t)), a learned map of it.

    Defined in :doc:`chapter 9 </book/09_trained_networks>`, equation :eq:`eq-mlp-denoiser`."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=t.device) / half)
    angles = (1000.0 / T) * t.to(freqs.dtype)[:, None] * freqs[None, :]
    return torch.cat([torch.sin(angles), torch.cos(angles)], dim=1)


class _TimeMLP(nn.Module):
    """emb(t) -> silu(Linear) -> Linear: the learned time features every block reads."""

    def __init__(self, T: int, dim: int):
        super().__init__()
        if check_positive_int(dim, "emb_dim") % 2:
            raise ValueError(f"emb_dim must be even, got {dim}")
        self.T, self.dim = check_positive_int(T, "T"), dim
        self.net = nn.Sequential(nn.Linear(dim, dim), nn.SiLU(), nn.Linear(dim, dim))

    def forward(self, t):
        return self.net(time_embedding(t, self.dim, self.T).to(self.net[0].weight.dtype))


class _ResidualBlock(nn.Module):
    def __init__(self, width: int, emb_dim: int):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(width, width), nn.Linear(width, width)
        self.emb = nn.Linear(emb_dim, width)

    def forward(self, h, e):
        return h + self.fc2(nn.functional.silu(self.fc1(nn.functional.silu(h)) + self.emb(e)))


class MLPDenoiser(nn.Module):
    """eps_theta(x, t) for vector data: time embedding, input layer, residual blocks, output layer.

    Parameters
    ----------
    d : int
        Data dimension.
    T : int
        Number of steps of the schedule (the embedding scales t by 1000 / T).
    width : int
        Hidden width.
    blocks : int
        Number of residual blocks.
    emb_dim : int
        Size of the time embedding (even).


    Defined in :doc:`chapter 9 </book/09_trained_networks>`, equation :eq:`eq-mlp-denoiser`.
    """

    def __init__(self, d: int, T: int, width: int = 128, blocks: int = 2, emb_dim: int = 64):
        super().__init__()
        self.d = check_positive_int(d, "d")
        check_positive_int(width, "width")
        check_positive_int(blocks, "blocks", minimum=0)
        self.time = _TimeMLP(T, emb_dim)
        self.inp = nn.Linear(d, width)
        self.blocks = nn.ModuleList(_ResidualBlock(width, emb_dim) for _ in range(blocks))
        self.out = nn.Linear(width, d)

    def forward(self, x, t):
        """The predicted noise eps_theta(x, t) for a batch x and steps t (one per row)."""
        e = self.time(t)
        h = self.inp(x)
        for block in self.blocks:
            h = block(h, e)
        return self.out(nn.functional.silu(h))


class _ConvBlock(nn.Module):
    """Two 3x3 convolutions with group norm and the time features added in between, plus a skip."""

    def __init__(self, c_in: int, c_out: int, emb_dim: int):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        self.norm1, self.norm2 = nn.GroupNorm(8, c_out), nn.GroupNorm(8, c_out)
        self.emb = nn.Linear(emb_dim, c_out)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, h, e):
        y = nn.functional.silu(self.norm1(self.conv1(h))) + self.emb(e)[:, :, None, None]
        y = nn.functional.silu(self.norm2(self.conv2(y)))
        return y + self.skip(h)


class UNetDenoiser(nn.Module):
    """eps_theta(x, t) for grey images: a two-level U-Net on (h, w) images given as rows of length h w.

    Level 1 works at (h, w) with ``channels`` channels, level 2 at (h/2, w/2) with 2 ``channels``
    (h and w even); the up path concatenates the level-1 features (the U-Net's skip connection).

    Parameters
    ----------
    image_shape : (int, int)
    T : int
    channels : int
        Channels at the first level (a multiple of 8: group norm uses 8 groups).
    emb_dim : int
        Size of the time embedding (even), as in :class:`MLPDenoiser`.


    Defined in :doc:`chapter 9 </book/09_trained_networks>` (the section on MNIST).
    """

    def __init__(self, image_shape, T: int, channels: int = 16, emb_dim: int = 64):
        super().__init__()
        if len(image_shape) != 2 or any(int(n) % 2 or int(n) < 2 for n in image_shape):
            raise ValueError(f"image_shape must be (h, w) with h and w even, got {image_shape!r}")
        if check_positive_int(channels, "channels") % 8:
            raise ValueError(f"channels must be a multiple of 8, got {channels}")
        self.image_shape = tuple(int(n) for n in image_shape)
        self.d = self.image_shape[0] * self.image_shape[1]
        c = channels
        self.time = _TimeMLP(T, emb_dim)
        self.inp = nn.Conv2d(1, c, 3, padding=1)
        self.down = _ConvBlock(c, c, emb_dim)
        self.mid = _ConvBlock(c, 2 * c, emb_dim)
        self.up = _ConvBlock(3 * c, c, emb_dim)
        self.out = nn.Conv2d(c, 1, 3, padding=1)

    def forward(self, x, t):
        """The predicted noise eps_theta(x, t) for a batch x and steps t (one per row)."""
        e = self.time(t)
        h = self.inp(x.reshape(-1, 1, *self.image_shape))
        h1 = self.down(h, e)
        h2 = self.mid(nn.functional.avg_pool2d(h1, 2), e)
        h = self.up(torch.cat([h1, nn.functional.interpolate(h2, scale_factor=2.0)], dim=1), e)
        return self.out(h).reshape(x.shape[0], self.d)


class StepwiseLinearDenoiser(nn.Module):
    """The book's linear denoiser as a torch module: eps = W_t (x + b_t), one (W_t, b_t) per step.

    Started from zero. Its class contains the exact optimum of chapter 2 (:class:`lindiff.LinearDiffusion`).


    Defined in :doc:`chapter 2 </book/02_linear_model>`.
    """

    def __init__(self, d: int, T: int):
        super().__init__()
        self.d = check_positive_int(d, "d")
        self.W = nn.Parameter(torch.zeros(check_positive_int(T, "T"), d, d))
        self.b = nn.Parameter(torch.zeros(T, d))

    def forward(self, x, t):
        """The predicted noise eps_theta(x, t) for a batch x and steps t (one per row), t in 1..T."""
        t = torch.as_tensor(t, device=self.W.device)
        if bool(((t < 1) | (t > self.W.shape[0])).any()):
            raise ValueError(f"t must be a step in 1..{self.W.shape[0]}, got {t.min().item()} to {t.max().item()}")
        i = t - 1
        return torch.bmm(self.W[i], (x + self.b[i])[:, :, None])[:, :, 0]


class NetworkTrainer(TrainingLoop):
    """Train a torch denoiser ``net(x, t)`` on the DDPM loss of the book (see the module docstring).

    Parameters
    ----------
    X : array_like, shape (N, d)
        Training rows, N >= 1.
    schedule : Schedule
    net : torch.nn.Module
        Called as ``net(x, t)``, x of shape (B, d), t integer steps of shape (B,); moved to
        ``device`` and ``dtype``, and trained in place.
    lr : float
        Learning rate.
    optimizer : {"adam", "sgd"}
    batch_size : int
    seed : int
        Seeds the rows, steps and noises drawn (not the network's initialisation: seed torch before
        building it).
    device : str or torch.device, optional
        Default: CUDA when available, else the CPU.
    dtype : torch.dtype
        Default float32.

    Raises
    ------
    TrainingDiverged
        From :meth:`~lindiff.train.TrainingLoop.step` and :meth:`~lindiff.train.TrainingLoop.iterate`
        when the loss is NaN or inf or exceeds 1e6 times that of the zero model (d).


    Defined in :doc:`chapter 9 </book/09_trained_networks>`, equation :eq:`eq-network-loss`.
    """

    def __init__(
        self,
        X,
        schedule: Schedule,
        net: nn.Module,
        *,
        lr: float = 1e-3,
        optimizer: str = "adam",
        batch_size: int = 128,
        seed: int = 0,
        device=None,
        dtype=torch.float32,
    ):
        check_schedule(schedule)
        if not isinstance(net, nn.Module):
            raise ValueError(f"net must be a torch.nn.Module called as net(x, t), got {type(net).__name__}")
        if optimizer not in _OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {_OPTIMIZERS}, got {optimizer!r}")
        if dtype not in (torch.float32, torch.float64):
            raise ValueError(f"dtype must be torch.float32 or torch.float64, got {dtype!r}")
        if check_nonnegative(lr, "lr") == 0:
            raise ValueError("lr must be a finite number > 0, got 0")
        X = as_data_matrix(X, min_rows=1)
        self.N, self.d = X.shape
        self.schedule, self.lr = schedule, float(lr)
        self.batch_size = check_positive_int(batch_size, "batch_size")
        seed = check_positive_int(seed, "seed", minimum=0)
        if seed >= 2**63:
            raise ValueError(f"seed must be < 2**63 (torch's generator takes a 64-bit seed), got {seed}")
        self.device, self.dtype = checked_device(device), dtype
        self.net = net.to(device=self.device, dtype=dtype)
        opts = dict(device=self.device, dtype=dtype)
        self._X = torch.tensor(X, **opts)
        self._sqrt_a = torch.tensor(np.sqrt(schedule.alpha_bars), **opts)
        self._sqrt_s = torch.tensor(np.sqrt(1.0 - schedule.alpha_bars), **opts)
        opt = torch.optim.Adam if optimizer == "adam" else torch.optim.SGD
        self.optimizer = opt(self.net.parameters(), lr=self.lr)
        self._gen = torch.Generator(device=self.device).manual_seed(seed)
        self._check_net_fits_data()
        self._start_loop(self.device, dtype)

    @torch.no_grad()
    def _check_net_fits_data(self):
        """One forward pass on a training row: a net built for another d says so, not torch."""
        t = torch.ones(1, dtype=torch.long, device=self.device)
        try:
            out = self.net(self._X[:1], t)
        except RuntimeError as exc:
            raise ValueError(f"net cannot take the rows of X (d = {self.d}): {exc}") from None
        if tuple(out.shape) != (1, self.d):
            raise ValueError(f"net returns shape {tuple(out.shape)} for one row of X, expected (1, {self.d})")

    def _update(self):
        B = self.batch_size
        rows = torch.randint(self.N, (B,), generator=self._gen, device=self.device)
        t = torch.randint(1, self.schedule.T + 1, (B,), generator=self._gen, device=self.device)
        eps = torch.randn((B, self.d), generator=self._gen, **self._opts())
        x_t = self._sqrt_a[t - 1, None] * self._X[rows] + self._sqrt_s[t - 1, None] * eps
        loss = (eps - self.net(x_t, t)).square().sum(dim=1).mean()
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self._loss = loss.detach()

    def _opts(self):
        return dict(device=self.device, dtype=self.dtype)

    def _zero_loss(self) -> float:
        return float(self.d)

    @torch.no_grad()
    def _weights_finite(self) -> bool:
        return all(bool(torch.isfinite(p).all()) for p in self.net.parameters())

    def _divergence_message(self, worst: float, finite: bool) -> str:
        what = "weights that are NaN or inf" if not finite else f"a loss of {worst:.3g}"
        return (
            f"training diverged by iteration {self.iteration} with lr = {self.lr:g}: {what} (the zero model's "
            f"loss is {self.d}). Lower lr and train again."
        )

    def train(self, iterations: int) -> np.ndarray:
        """Take ``iterations`` steps; returns the minibatch losses, float64, shape (iterations,)."""
        return np.array([float(state._loss) for state in self.iterate(iterations)])

    def eps_model(self):
        """The network as ``eps(x, t)`` on float64 numpy arrays, for :func:`lindiff.ddpm_sample`."""
        net, opts = self.net, self._opts()

        @torch.no_grad()
        def eps(x, t):
            t = self.schedule.check_step(t)
            u = torch.as_tensor(np.asarray(x), **opts)
            steps = torch.full((u.shape[0],), t, device=self.device, dtype=torch.long)
            return net(u, steps).double().cpu().numpy()

        eps.schedule = self.schedule  # lets the sampler refuse another schedule
        return eps


def train_and_sample(trainer: NetworkTrainer, checkpoints, n_samples, seed: int = 0, progress_bar: bool = False):
    """Train to each checkpoint and draw samples there with the book's sampler (:func:`lindiff.ddpm_sample`).

    Parameters
    ----------
    trainer : NetworkTrainer
    checkpoints : sequence of int
        Increasing iteration counts, > the trainer's current iteration.
    n_samples : int or sequence of int
        Samples drawn at each checkpoint (one number for all, or one per checkpoint).
    seed : int
        Seeds the sampler (the same at every checkpoint).

    Returns
    -------
    losses : ndarray, shape (checkpoints[-1] - start,)
        The minibatch loss of every iteration.
    samples : list of ndarray, float64
        One array per checkpoint, of shape (n, d) with n the samples drawn there.


    Defined in :doc:`chapter 9 </book/09_trained_networks>`.
    """
    checkpoints = [int(c) for c in checkpoints]
    if not checkpoints or any(b <= a for a, b in zip([trainer.iteration, *checkpoints], checkpoints)):
        raise ValueError(
            f"checkpoints must be increasing iteration counts above {trainer.iteration}, got {checkpoints}"
        )
    counts = np.broadcast_to(np.asarray(n_samples), (len(checkpoints),))
    losses, samples = [], []
    for stop, n in zip(checkpoints, counts):
        losses.append(trainer.train(stop - trainer.iteration))
        samples.append(
            ddpm_sample(trainer.eps_model(), trainer.schedule, int(n), trainer.d, seed=seed, progress_bar=progress_bar)
        )
    return np.concatenate(losses), samples


def train_and_score_gaussian(
    X,
    true_mean,
    true_cov,
    schedule: Schedule,
    net: nn.Module,
    checkpoints,
    n_samples,
    *,
    lr: float = 1e-3,
    batch_size: int = 128,
    seed: int = 0,
    device=None,
    ridges=None,
) -> dict:
    """Train a network on the rows X of Gaussian data, sample it, and score it against the linear model.

    Trains ``net`` with :class:`NetworkTrainer` (Adam, ``lr``, ``batch_size``, ``seed``) and draws
    samples at each checkpoint with :func:`train_and_sample` (sampler seed ``seed``). At each
    checkpoint: the memorised fraction of the samples (:func:`lindiff.memorisation.memorised_fraction`,
    the ratio test 1/3) and the KL from the Gaussian fitted to them (mean, ddof-0 covariance) to the
    truth N(true_mean, true_cov). Beside them, the exact KL of the linear model fitted to the same
    rows (:meth:`lindiff.LinearDiffusion.fit`, its finite-T sampler law) without ridge and with the
    best ridge c* on ``ridges`` (:func:`lindiff.optimal_ridge_sampler`).

    Parameters
    ----------
    X : array_like, shape (N, d)
        Training rows, N >= 2.
    true_mean : array_like, shape (d,)
    true_cov : array_like, shape (d, d)
        The truth the rows were drawn from.
    schedule : Schedule
    net : torch.nn.Module
        A fresh denoiser ``net(x, t)`` (seed torch before building it); trained in place.
    checkpoints : sequence of int
        Increasing iteration counts (>= 1) at which to sample.
    n_samples : int or sequence of int
        Samples drawn at each checkpoint.
    lr, batch_size, seed, device
        As in :class:`NetworkTrainer`; ``seed`` also seeds the sampler.
    ridges : array_like, optional
        Increasing grid of ridges c > 0 for the best ridge, refined in log c; default 29 values
        log-spaced on [1e-5, 1e2].

    Returns
    -------
    dict of ndarray
        ``losses`` (every iteration's minibatch loss), ``samples_<c>`` for each checkpoint c (float64,
        shape (n, d)), ``memorised_fraction`` and ``kl_fitted`` (one value per checkpoint),
        ``kl_linear_c0``, ``kl_linear_best_ridge`` and ``best_ridge`` (scalars). A flat dict of
        arrays, as :func:`lindiff.data.cache.cached_arrays` stores.


    Defined in :doc:`chapter 9 </book/09_trained_networks>`, equations :eq:`eq-memorised` and
    :eq:`eq-gaussian-kl`.
    """
    X = as_data_matrix(X, min_rows=2)
    checkpoints = [int(c) for c in checkpoints]
    trainer = NetworkTrainer(X, schedule, net, lr=lr, batch_size=batch_size, seed=seed, device=device)
    losses, samples = train_and_sample(trainer, checkpoints, n_samples, seed=seed)
    linear = LinearDiffusion.fit(X, schedule)
    ridges = np.logspace(-5, 2, 29) if ridges is None else ridges
    c_best, kl_best = optimal_ridge_sampler(linear, true_mean, true_cov, ridges)
    return {
        "losses": losses,
        **{f"samples_{c}": s for c, s in zip(checkpoints, samples)},
        "memorised_fraction": np.array([memorised_fraction(s, X) for s in samples]),
        "kl_fitted": np.array([gaussian_kl(*empirical_stats(s), true_mean, true_cov) for s in samples]),
        "kl_linear_c0": np.array(sampler_ridge_kl(linear, [0.0], true_mean, true_cov)[0]),
        "kl_linear_best_ridge": np.array(kl_best),
        "best_ridge": np.array(c_best),
    }
