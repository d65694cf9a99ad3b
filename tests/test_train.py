"""Tests of lindiff.train: the torch trainer of the linear denoiser on the DDPM loss.

Checked against independent computations: torch autograd of the loss written over the training
rows, the closed-form optimum (LinearDiffusion.weights), the closed-form gradient descent of
lindiff.gradient_flow, Monte-Carlo losses, and the sampler run with the trained weights.
"""

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the trainer needs torch: pip install 'lindiff[train]'")

import lindiff as ld  # noqa: E402
from lindiff.gradient_flow import GradientFlow  # noqa: E402
from lindiff.train import Trainer  # noqa: E402

SCHED = ld.Schedule.linear(T=10, beta_min=1e-3, beta_max=0.3)
torch.set_num_threads(1)  # tiny tensors: extra threads only add overhead on a shared machine
ROOT = Path(__file__).resolve().parents[1]


def _data(N=3, d=4, seed=0, centred=False):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((N, d)) * np.linspace(2.0, 0.5, d) + 0.8
    return X - X.mean(axis=0) if centred else X


def _loss_over_rows(W, b, X, steps, c):
    """Noise-averaged loss written over the rows, for autograd:
    sum_t ||Id - sqrt(s) W_t||^2 + (1/N) sum_i ||W_t (sqrt(a) x_i + b_t)||^2 + a c ||W_t||^2."""
    a = torch.tensor(SCHED.alpha_bars[steps - 1])
    Xt = torch.tensor(X)
    eye = torch.eye(X.shape[1], dtype=torch.float64)
    total = 0.0
    for i in range(len(steps)):
        Y = torch.sqrt(a[i]) * Xt + b[i]
        total = (
            total
            + ((eye - torch.sqrt(1 - a[i]) * W[i]) ** 2).sum()
            + ((Y @ W[i].T) ** 2).sum(1).mean()
            + a[i] * c * (W[i] ** 2).sum()
        )
    return total


def _trained(X, iterations, sched=SCHED, **options):
    """A CPU trainer after ``iterations`` steps of its generator."""
    tr = Trainer(X, sched, device="cpu", **options)
    for _ in tr.iterate(iterations):
        pass
    return tr


def _log(tr, iterations, log_at, record):
    """``record(tr)`` at the iterations ``log_at``, over the trainer before the first step and after each."""
    states = itertools.chain([tr], tr.iterate(iterations))
    return [record(state) for state in states if state.iteration in log_at]


def _randomise(tr, seed=0):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        tr.W.copy_(0.3 * torch.randn(tr.W.shape, generator=g, dtype=torch.float64))
        if tr.bias == "learned":
            tr.b.copy_(torch.randn(tr.b.shape, generator=g, dtype=torch.float64))


@pytest.mark.parametrize("c", [0.0, 0.4])
def test_full_batch_gradient_matches_autograd(c):
    X = _data()
    tr = Trainer(X, SCHED, lr=0.1, full_batch=True, c=c, steps=[2, 5, 9], device="cpu")
    _randomise(tr)
    tr._full_batch_grad()
    W = tr.W.detach().clone().requires_grad_(True)
    b = tr.b.detach().clone().requires_grad_(True)
    _loss_over_rows(W, b, X, tr.steps, c).backward()
    np.testing.assert_allclose(tr.W.grad.numpy(), W.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(tr.b.grad.numpy(), b.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_minibatch_gradient_is_unbiased():
    """E[minibatch gradient] over rows, steps and noises = the exact full-batch gradient."""
    X = _data()
    tr = Trainer(X, SCHED, lr=0.1, optimizer="adam", batch_size=40, steps=[1, 4, 10], c=0.3, device="cpu")
    _randomise(tr, seed=1)
    full = Trainer(X, SCHED, lr=0.1, optimizer="adam", full_batch=True, steps=[1, 4, 10], c=0.3, device="cpu")
    with torch.no_grad():
        full.W.copy_(tr.W)
        full.b.copy_(tr.b)
    full._full_batch_grad()
    draws_W, draws_b = [], []
    for _ in range(8000):
        tr._minibatch_grad()
        draws_W.append(tr.W.grad.numpy().copy())
        draws_b.append(tr.b.grad.numpy().copy())
    for draws, exact in ((np.array(draws_W), full.W.grad.numpy()), (np.array(draws_b), full.b.grad.numpy())):
        se = draws.std(axis=0) / np.sqrt(len(draws))
        z = np.abs(draws.mean(axis=0) - exact) / se
        assert z.max() < 5.0, z.max()


def test_expected_loss_matches_monte_carlo():
    X = _data()
    tr = Trainer(X, SCHED, lr=0.1, steps=[3, 7], device="cpu")
    _randomise(tr, seed=2)
    rng = np.random.default_rng(0)
    mu, Sigma = np.full(4, 0.5), np.diag([2.0, 1.0, 0.5, 0.1])
    W, b = tr.W.detach().numpy(), tr.b.detach().numpy()
    for mean, cov, x_draw in (
        (None, None, lambda n: X[rng.integers(3, size=n)]),
        (mu, Sigma, lambda n: rng.multivariate_normal(mu, Sigma, size=n)),
    ):
        total, var = 0.0, 0.0
        n = 200_000
        for i, t in enumerate(tr.steps):
            a = SCHED.alpha_bars[t - 1]
            eps = rng.standard_normal((n, 4))
            xt = np.sqrt(a) * x_draw(n) + np.sqrt(1 - a) * eps
            per = np.sum((eps - (xt + b[i]) @ W[i].T) ** 2, axis=1)
            total += per.mean()
            var += per.var() / n
        assert abs(tr.expected_loss(mean, cov) - total) < 5 * np.sqrt(var)


@pytest.mark.parametrize("bias, centred", [("optimal", False), ("learned", True)])
def test_full_batch_descent_follows_the_discrete_formula(bias, centred):
    X = _data(N=3, d=5, centred=centred)
    mu, Sigma = np.zeros(5), np.diag(np.linspace(2.0, 0.2, 5))
    model = ld.LinearDiffusion.fit(X, SCHED)
    flow = GradientFlow(model, eta=0.08)
    log_at = [0, 1, 5, 40, 200]
    V = model.eigenvectors
    tr = Trainer(X, SCHED, lr=0.08, full_batch=True, bias=bias, device="cpu")
    log = _log(
        tr,
        200,
        log_at,
        lambda s: (s.iteration, s.weights()[0], s.expected_loss(), s.expected_loss(mu, Sigma), s.weights_in_basis(V)),
    )
    iterations, weights, train_loss, test_loss, in_basis = (np.array(v) for v in zip(*log))
    np.testing.assert_array_equal(iterations, log_at)
    for i, n in enumerate(log_at):
        expect = np.einsum("ik,tk,jk->tij", V, flow.weights(n, discrete=True), V)
        np.testing.assert_allclose(weights[i], expect, atol=1e-11)
    np.testing.assert_allclose(train_loss, flow.train_loss(log_at, discrete=True), rtol=1e-11)
    np.testing.assert_allclose(test_loss, flow.test_loss(log_at, mu, Sigma, discrete=True), rtol=1e-11)
    np.testing.assert_allclose(in_basis, flow.weights(log_at, discrete=True), atol=1e-11)


@pytest.mark.parametrize("c, weight_decay", [(0.0, 0.0), (0.3, 0.0), (0.0, 0.2)])
def test_full_batch_training_converges_to_the_closed_form_optimum(c, weight_decay):
    """Learned bias, uncentred data: (W_t, b_t) -> LinearDiffusion.weights(t); weight decay wd
    converges to the ridge c_t = wd / (2 abar_t)."""
    X = _data(N=3, d=4)
    tr = _trained(X, 4000, lr=0.05, optimizer="sgd", momentum=0.9, full_batch=True, c=c, weight_decay=weight_decay)
    weights, biases = tr.weights()
    for t in (1, 4, 10):
        c_t = c + weight_decay / (2 * SCHED.alpha_bars[t - 1])
        W, b = ld.LinearDiffusion.fit(X, SCHED, c=c_t).weights(t)
        np.testing.assert_allclose(weights[t - 1], W, atol=1e-8)
        np.testing.assert_allclose(biases[t - 1], b, atol=1e-6)


@pytest.mark.parametrize("optimizer, bias", [("sgd", "optimal"), ("adam", "learned")])
def test_minibatch_training_converges_to_the_closed_form_optimum(optimizer, bias):
    """The real DDPM loss (random rows, steps and noises); the learning rate is lowered in stages
    to shrink the SGD noise, and the weights land on the optimum within that noise. (A learned
    bias under plain SGD converges slowly along directions where W_t is small: the full-batch test
    above checks that case exactly.)"""
    X = _data(N=3, d=3)
    steps = [2, 6, 10]
    tr = Trainer(X, SCHED, lr=0.05, optimizer=optimizer, batch_size=256, steps=steps, bias=bias, seed=4, device="cpu")
    for lr in (0.05 if optimizer == "sgd" else 0.01, 0.01, 0.002):
        tr.lr = lr
        for _ in tr.iterate(1500):
            pass
    model = ld.LinearDiffusion.fit(X, SCHED)
    for i, t in enumerate(steps):
        W, b = model.weights(t)
        assert np.linalg.norm(tr.W[i].detach().numpy() - W) < 0.03 * np.linalg.norm(W)
        assert np.linalg.norm(tr.b[i].detach().numpy() - b) < 0.03 * np.linalg.norm(b)
    assert (
        tr.expected_loss() < model.train_loss(steps[0]) + model.train_loss(steps[1]) + model.train_loss(steps[2]) + 0.01
    )


def test_minibatch_sgd_follows_gradient_descent_in_expectation():
    """With b_t at its optimum the SGD update is linear in W, so E[W_n] is exactly the gradient-descent
    iterate: the mean over independent runs matches w_n = (1 - (1 - 2 eta k)^n) sqrt(s) / k."""
    X = _data(N=3, d=4)
    model = ld.LinearDiffusion.fit(X, SCHED)
    steps, eta, n = np.array([1, 5, 10]), 0.05, 12
    expect = GradientFlow(model, eta).weights(n, discrete=True)[steps - 1]
    runs = np.array(
        [
            _trained(X, n, lr=eta, batch_size=24, steps=steps, bias="optimal", seed=s).weights_in_basis(
                model.eigenvectors
            )
            for s in range(120)
        ]
    )
    z = np.abs(runs.mean(axis=0) - expect) / (runs.std(axis=0) / np.sqrt(len(runs)) + 1e-15)
    assert z.max() < 5.0, z.max()
    assert np.max(np.abs(runs.mean(axis=0) - expect)) < 0.05 * np.max(np.abs(expect))


def test_fused_sgd_equals_generic_sgd():
    X = _data()
    kw = dict(lr=0.05, batch_size=16, c=0.2, weight_decay=0.1, bias="learned", seed=7, device="cpu")
    fused = Trainer(X, SCHED, **kw)
    assert fused._fused_sgd
    generic = Trainer(X, SCHED, momentum=1e-300, **kw)  # same update, through torch.optim
    assert not generic._fused_sgd
    for _ in range(30):
        fused.step()
        generic.step()
    np.testing.assert_allclose(fused.W.detach().numpy(), generic.W.detach().numpy(), rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(fused.b.detach().numpy(), generic.b.detach().numpy(), rtol=1e-11, atol=1e-13)


def test_sampler_with_trained_weights_matches_the_analytic_law():
    X = _data(N=3, d=4)
    model = ld.LinearDiffusion.fit(X, SCHED)
    flow = GradientFlow(model, eta=0.1)
    tr = _trained(X, 15, lr=0.1, full_batch=True, bias="optimal")
    mean, cov = flow.sampling_distribution(15, discrete=True)
    mean_rec, cov_rec = tr.sampling_distribution()
    np.testing.assert_allclose(mean_rec, mean, atol=1e-11)
    np.testing.assert_allclose(cov_rec, cov, atol=1e-11)
    n = 40_000
    se_mean = np.sqrt(np.diag(cov) / n)
    se_cov = np.sqrt((np.outer(np.diag(cov), np.diag(cov)) + cov**2) / n)
    W, b = tr.weights()

    def copied(x, t):  # the weights handed out, applied in numpy
        return (x + b[t - 1]) @ W[t - 1].T

    for eps in (tr.eps_model(), copied):  # the torch model and the copied weights
        samples = ld.ddpm_sample(eps, SCHED, n, 4, seed=2, progress_bar=False)
        assert np.all(np.abs(samples.mean(axis=0) - mean) < 5 * se_mean)
        assert np.all(np.abs(np.cov(samples.T) - cov) < 5 * se_cov)


def test_subset_of_steps_and_float32():
    X = _data()
    tr = Trainer(X, SCHED, lr=0.05, steps=[3, 1], dtype=torch.float32, device="cpu")
    log = _log(tr, 5, [0, 5], lambda s: (s.weights(), s.expected_loss()))
    assert list(tr.steps) == [1, 3] and tr.iteration == 5
    (W0, b0), loss0 = log[0]
    (W5, _), loss5 = log[1]
    assert W0.shape == (2, 4, 4) and b0.shape == (2, 4) and W0.dtype == b0.dtype == np.float64
    assert loss0 == pytest.approx(2 * 4)  # W = 0 predicts nothing: loss d per step
    assert np.all(W0 == 0) and np.any(W5 != 0) and loss5 < loss0  # copies: the first log kept its zeros
    assert tr.weights_in_basis(np.eye(4)).shape == (2, 4)
    np.testing.assert_array_equal(tr.weights_in_basis(np.eye(4)), np.diagonal(W5, axis1=1, axis2=2))
    with pytest.raises(ValueError, match="every step"):
        tr.eps_model()
    with pytest.raises(ValueError, match="every step"):
        tr.sampling_distribution()
    with pytest.raises(ValueError, match="basis must have shape"):
        tr.weights_in_basis(np.eye(3))
    with pytest.raises(ValueError, match="basis"):
        tr.weights_in_basis(np.full((4, 4), np.nan))


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(optimizer="rmsprop"),
        dict(bias="zero"),
        dict(lr=0.0),
        dict(lr=-1.0),
        dict(steps=[0, 1]),
        dict(steps=[2, 2]),
        dict(steps=[11]),
        dict(steps=[1.5]),
        dict(batch_size=0),
        dict(c=-0.1),
        dict(weight_decay=np.nan),
        dict(momentum=1.0),
        dict(optimizer="adam", momentum=0.5),
        dict(dtype=torch.int64),
        dict(seed=-1),
        dict(seed="one"),
        dict(device="abacus"),
    ],
)
def test_bad_trainer_options_raise(kwargs):
    opts = dict(lr=0.1, device="cpu")
    opts.update(kwargs)
    with pytest.raises(ValueError):
        Trainer(_data(), SCHED, **opts)


def test_bad_data_and_run_arguments_raise():
    with pytest.raises(ValueError):
        Trainer(np.array([[1.0, np.nan], [0.0, 1.0]]), SCHED, lr=0.1)
    with pytest.raises(ValueError):
        Trainer(np.ones((1, 3)), SCHED, lr=0.1)
    with pytest.raises(ValueError):
        Trainer(_data(), "schedule", lr=0.1)
    tr = Trainer(_data(), SCHED, lr=0.1, device="cpu")
    for bad_lr in (0.0, -0.1, np.inf):
        with pytest.raises(ValueError):
            tr.lr = bad_lr
    for bad in (-1, 2.5, "3"):
        with pytest.raises(ValueError, match="iterations"):
            next(tr.iterate(bad))
    for mean, cov, match in (
        (np.zeros(3), np.eye(4), "mean has length 3"),
        (np.zeros(4), np.eye(3), r"cov has shape \(3, 3\)"),
        (np.zeros(4), -np.eye(4), "not positive semi-definite"),
        (np.zeros(4), None, "both mean and cov"),
        (None, np.eye(4), "both mean and cov"),
        (np.zeros(4), np.ones((4, 3)), "square"),
    ):
        with pytest.raises(ValueError, match=match):
            tr.expected_loss(mean, cov)
    assert tr.iteration == 0


def test_gpu_benchmark_script_runs_tiny_on_cpu(tmp_path):
    """The GPU script's --tiny mode: trains, times and writes its JSON and PNG on the CPU."""
    env = dict(os.environ, OUT=str(tmp_path), PYTHONPATH=str(ROOT), LINDIFF_PROGRESS="0", CUDA_VISIBLE_DEVICES="")
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gpu_train_benchmark.py"), "--tiny"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads((tmp_path / "gpu_train_benchmark.json").read_text())
    assert result["device"] == "cpu"
    assert result["config"]["d"] < 100
    assert result["timing"]["sgd"]["ms_per_step"] > 0
    curve = result["loss_curve"]
    assert len(curve["iterations"]) == len(curve["train_loss"]) == len(curve["analytic_train_loss"])
    assert (tmp_path / "gpu_train_benchmark.png").stat().st_size > 1000


# ----------------------------------------------------------------- divergence (issue 12)
def _stable_limit(X, sched, momentum=0.0):
    """(1 + m) / max_t,nu gamma, gamma = abar_t lambda_nu + 1 - abar_t, from numpy's covariance (ddof = 0)."""
    lam_max = np.linalg.eigvalsh(np.cov(X.T, ddof=0))[-1]
    ab = sched.alpha_bars
    return (1.0 + momentum) / np.max(ab * lam_max + 1.0 - ab)


@pytest.mark.parametrize(
    "opts",
    [
        dict(lr=1.0, optimizer="sgd", batch_size=20),  # the case: plain SGD, 20 points, T = 20
        dict(lr=100.0, optimizer="adam", batch_size=20),
        dict(lr=1.0, optimizer="sgd", momentum=0.5, batch_size=20),
    ],
)
def test_minibatch_divergence_stops_and_names_the_learning_rate(opts):
    X = np.random.default_rng(0).normal(size=(20, 3))
    sched = ld.Schedule.linear(T=20)
    with pytest.raises(ld.train.TrainingDiverged, match=rf"with lr = {opts['lr']:g}: .*Lower lr"):
        _trained(X, 3000, sched, **opts)


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_full_batch_divergence_past_the_stable_limit_names_it(momentum):
    """1.01 times the stable limit: each iteration multiplies the top mode by about -1.02; the run
    stops with an error quoting the limit, computed here independently."""
    X = _data(N=20, d=3)
    sched = ld.Schedule.linear(T=20)
    limit = _stable_limit(X, sched, momentum)
    tr = Trainer(X, sched, lr=1.01 * limit, full_batch=True, bias="optimal", momentum=momentum, device="cpu")
    with pytest.raises(ld.train.TrainingDiverged, match=rf"is stable for lr < .* = {limit:.4g}") as info:
        for _ in tr.iterate(20000):
            pass
    assert tr.iteration < 20000
    assert f"lr = {1.01 * limit:g}" in str(info.value)


def test_full_batch_just_below_the_stable_limit_runs_without_alarm():
    X = _data(N=20, d=3)
    sched = ld.Schedule.linear(T=20)
    tr = Trainer(X, sched, lr=0.99 * _stable_limit(X, sched), full_batch=True, bias="optimal", device="cpu")
    train_loss = _log(tr, 3000, [0, 1000, 3000], Trainer.expected_loss)
    assert len(train_loss) == 3 and np.all(np.diff(train_loss) <= 1e-12)
    assert train_loss[-1] == pytest.approx(ld.LinearDiffusion.fit(X, sched).train_loss(), rel=1e-9)


def test_step_by_step_training_also_stops_on_divergence():
    """Trainer.step, used without iterate(), checks every 16 iterations."""
    tr = Trainer(_data(), SCHED, lr=0.05, device="cpu")
    with torch.no_grad():
        tr.W[0, 0, 0] = np.inf
    with pytest.raises(ld.train.TrainingDiverged, match="NaN or inf"):
        for _ in range(16):
            tr.step()


def test_seed_and_device_errors_name_the_argument():
    with pytest.raises(ValueError, match=r"seed must be < 2\*\*63"):
        Trainer(_data(), SCHED, lr=0.1, seed=2**70, device="cpu")
    Trainer(_data(), SCHED, lr=0.1, seed=2**63 - 1, device="cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="device must be an available torch device .* got 'cuda'"):
            Trainer(_data(), SCHED, lr=0.1, device="cuda")


@pytest.mark.parametrize("bias", ["optimal", "learned"])
def test_the_loss_watched_for_divergence_is_the_exact_full_batch_loss(bias):
    """Full batch: the loss read off the gradient equals the exact loss of the weights before the step,
    with the ridge penalty sum_t abar_t c ||W_t||_F^2 (the objective being descended)."""
    X, c = _data(N=6, d=4), 0.3
    tr = Trainer(X, SCHED, lr=0.05, full_batch=True, bias=bias, c=c, device="cpu")
    _randomise(tr, seed=3)
    W = tr.W.detach().numpy().copy()
    penalty = c * np.sum(SCHED.alpha_bars * np.sum(W**2, axis=(1, 2)))
    expected = tr.expected_loss() + penalty
    tr.step()
    assert float(tr._loss) == pytest.approx(expected, rel=1e-12)


def test_the_minibatch_loss_watched_for_divergence_is_unbiased():
    X = _data(N=5, d=3)
    tr = Trainer(X, SCHED, lr=1e-12, batch_size=64, bias="learned", device="cpu")
    _randomise(tr, seed=4)
    exact = tr.expected_loss()
    draws = []
    for _ in range(400):
        tr.step()  # lr = 1e-12: the weights do not move
        draws.append(float(tr._loss))
    draws = np.array(draws)
    assert abs(draws.mean() - exact) < 4 * draws.std() / np.sqrt(draws.size)


def test_iterate_yields_every_step_and_is_seeded():
    """The generator yields the trainer after every step; the same seed takes the same steps, another
    seed other ones; the weights handed out are copies; stopping early is allowed."""
    X = _data()
    opts = dict(lr=0.05, batch_size=8, seed=4, device="cpu")
    tr = Trainer(X, SCHED, **opts)
    seen, losses, weights = [], [], {}
    for state in tr.iterate(6):
        assert state is tr
        seen.append(state.iteration)
        losses.append(state.expected_loss())
        if state.iteration in (2, 6):
            weights[state.iteration] = state.weights()
    assert seen == [1, 2, 3, 4, 5, 6] and np.isfinite(tr.loss)
    assert len(set(losses)) == 6  # every step moved the weights
    assert not np.array_equal(weights[2][0], weights[6][0])  # copies, not views of the live weights
    again = Trainer(X, SCHED, **opts)
    np.testing.assert_array_equal(_log(again, 6, range(1, 7), Trainer.expected_loss), losses)
    np.testing.assert_array_equal(again.weights()[0], weights[6][0])
    other = _trained(X, 6, lr=0.05, batch_size=8, seed=5)
    assert not np.array_equal(other.weights()[0], weights[6][0])
    assert next(Trainer(X, SCHED, **opts).iterate(3)).iteration == 1  # stopping early is allowed
    assert np.isnan(Trainer(X, SCHED, **opts).loss)  # no step taken yet


def test_importing_lindiff_imports_neither_torch_nor_matplotlib():
    code = (
        "import sys, lindiff, lindiff.kl, lindiff.losses, lindiff.sampler, lindiff.gradient_flow, "
        "lindiff.dataset_average, lindiff.mixture, lindiff.montecarlo, lindiff.memorisation; "
        "print(sorted(m for m in ('torch', 'matplotlib') if m in sys.modules))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_random_start_is_seeded_scaled_and_relaxes_as_full_batch_descent_predicts():
    """W_n = W_inf + (W_0 - W_inf)(Id - 2 lr K_t)^n, with the matrix power taken in numpy (no eigenbasis)."""
    X = _data(N=3, d=6)
    lr, n = 0.08, 25
    opts = dict(lr=lr, full_batch=True, bias="optimal", init="random", seed=4, device="cpu")
    W0 = Trainer(X, SCHED, **opts).weights()[0]
    np.testing.assert_array_equal(W0, Trainer(X, SCHED, **opts).weights()[0])  # seeded
    assert not np.array_equal(W0, Trainer(X, SCHED, **{**opts, "seed": 5}).weights()[0])
    big = Trainer(np.random.default_rng(0).standard_normal((5, 200)), SCHED, **opts).weights()[0]
    assert abs(big.mean()) < 5 * np.sqrt(1 / 200 / big.size) and abs(big.var() * 200 - 1) < 0.02

    W_n = _trained(X, n, **{k: v for k, v in opts.items() if k != "device"}).weights()[0]
    model = ld.LinearDiffusion.fit(X, SCHED)
    _, cov0 = ld.empirical_stats(X, ddof=0)
    d = X.shape[1]
    for i, t in enumerate(range(1, SCHED.T + 1)):
        a = SCHED.alpha_bars[t - 1]
        K = a * cov0 + (1 - a) * np.eye(d)
        W_inf = model.weights(t)[0]
        expect = W_inf + (W0[i] - W_inf) @ np.linalg.matrix_power(np.eye(d) - 2 * lr * K, n)
        np.testing.assert_allclose(W_n[i], expect, atol=1e-11)


def test_random_start_uses_the_same_minibatches_as_the_zero_start():
    """With the bias held at its optimum, a minibatch SGD step is affine in W for given draws; the random start
    has a generator of its own, so the draws do not depend on the start, and the runs from 0, W_0 and 2 W_0
    end at W(2 W_0) - W(W_0) = W(W_0) - W(0)."""
    X = _data(N=4, d=5)
    opts = dict(lr=0.05, batch_size=8, bias="optimal", seed=3)
    zero = _trained(X, 30, init="zero", **opts).weights()[0]
    rand = _trained(X, 30, init="random", **opts).weights()[0]
    tr = Trainer(X, SCHED, init="random", device="cpu", **opts)
    with torch.no_grad():
        tr.W.mul_(2.0)
    for _ in tr.iterate(30):
        pass
    twice = tr.weights()[0]
    # linearity in the start: twice - rand = rand - zero, exactly up to round-off
    np.testing.assert_allclose(twice - rand, rand - zero, atol=1e-10)
    assert np.abs(rand - zero).max() > 1e-3


def test_bad_init_raises():
    with pytest.raises(ValueError, match="init"):
        Trainer(_data(), SCHED, lr=0.1, init="uniform", device="cpu")
