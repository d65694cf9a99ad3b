"""The nonlinear denoisers and their trainer (chapter 7): the loss, the sampler, the inputs."""

import numpy as np
import pytest
import torch

import lindiff as ld
from lindiff import networks
from lindiff.train import TrainingDiverged

torch.set_num_threads(1)  # tiny networks: extra threads only add overhead on a shared machine
TINY = ld.Schedule.linear(T=4, beta_min=0.05, beta_max=0.5)


def tiny_data(N=6, d=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((N, d)) * np.array([2.0, 1.0, 0.5])[:d] + 1.0


def test_stepwise_linear_net_reaches_the_exact_optimum_of_chapter_2():
    """The optimum lies in the class eps = W_t (x + b_t): trained with the network trainer, the module
    recovers W_t of LinearDiffusion.fit and reaches its loss (same noises for both)."""
    X = tiny_data()
    torch.manual_seed(0)
    net = networks.StepwiseLinearDenoiser(3, TINY.T)
    trainer = networks.NetworkTrainer(X, TINY, net, lr=3e-2, batch_size=2048, seed=1, dtype=torch.float64)
    trainer.train(600)
    trainer.optimizer.param_groups[0]["lr"] = 3e-3
    trainer.train(600)
    optimum = ld.LinearDiffusion.fit(X, TINY)
    for t in range(1, TINY.T + 1):
        W, b = optimum.weights(t)
        got_W = net.W[t - 1].detach().numpy()
        got_Wb = got_W @ net.b[t - 1].detach().numpy()
        np.testing.assert_allclose(got_W, W, atol=0.03)
        np.testing.assert_allclose(got_Wb, W @ b, atol=0.03)
    steps = range(1, TINY.T + 1)
    loss_net = networks.loss_at_steps(trainer.eps_model(), X[np.arange(4000) % 6], TINY, steps, seed=2)
    loss_opt = networks.loss_at_steps(optimum, X[np.arange(4000) % 6], TINY, steps, seed=2)
    assert np.all(loss_net >= loss_opt - 1e-9)  # the optimum is optimal on these very noises ...
    np.testing.assert_allclose(loss_net, loss_opt, rtol=2e-3)  # ... and the trained net gets there


def test_network_sampler_equals_the_books_sampler_for_the_same_eps():
    """eps_model() of a network holding the optimal W_t, b_t samples exactly what ddpm_sample draws
    with LinearDiffusion itself (same seed)."""
    X = tiny_data()
    optimum = ld.LinearDiffusion.fit(X, TINY)
    net = networks.StepwiseLinearDenoiser(3, TINY.T).double()
    with torch.no_grad():
        for t in range(1, TINY.T + 1):
            W, b = optimum.weights(t)
            net.W[t - 1] = torch.tensor(W)
            net.b[t - 1] = torch.tensor(b)
    trainer = networks.NetworkTrainer(X, TINY, net, dtype=torch.float64)
    ours = ld.ddpm_sample(trainer.eps_model(), TINY, 50, 3, seed=3, progress_bar=False)
    book = ld.ddpm_sample(optimum, TINY, 50, 3, seed=3, progress_bar=False)
    np.testing.assert_allclose(ours, book, rtol=1e-12, atol=1e-12)
    _, drawn = networks.train_and_sample(trainer, [1, 2], [5, 7], seed=3)
    assert [s.shape for s in drawn] == [(5, 3), (7, 3)]


def test_loss_at_steps_is_the_monte_carlo_ddpm_loss():
    """For the zero predictor the loss is E||eps||^2 = d at every step, up to Monte Carlo error."""
    X = tiny_data(N=2000)
    loss = networks.loss_at_steps(lambda x, t: np.zeros_like(x), X, TINY, [1, 4], seed=0)
    np.testing.assert_allclose(loss, 3.0, rtol=0.05)


def test_mlp_and_unet_learn_and_have_the_right_shapes():
    torch.manual_seed(0)
    X = tiny_data(N=20)
    mlp = networks.MLPDenoiser(3, TINY.T, width=32, blocks=2)
    losses = networks.NetworkTrainer(X, TINY, mlp, lr=3e-3, batch_size=256).train(300)
    assert losses[-30:].mean() < 0.8 * losses[:30].mean()
    unet = networks.UNetDenoiser((4, 6), TINY.T, channels=8)
    out = unet(torch.zeros(5, 24), torch.ones(5, dtype=torch.long))
    assert out.shape == (5, 24)
    imgs = np.random.default_rng(0).standard_normal((4, 24))
    assert networks.NetworkTrainer(imgs, TINY, unet).train(3).shape == (3,)


def test_time_embedding_is_the_sinusoidal_formula():
    t = torch.tensor([1, 3])
    emb = networks.time_embedding(t, 4, 10).numpy()
    w = np.array([1.0, 0.01])  # 10000^(-k/2), k = 0, 1
    angles = 100.0 * np.array([1.0, 3.0])[:, None] * w  # t' = 1000 t / T
    np.testing.assert_allclose(emb, np.concatenate([np.sin(angles), np.cos(angles)], axis=1), rtol=1e-6)


def test_training_that_diverges_raises():
    X = tiny_data()
    net = networks.MLPDenoiser(3, TINY.T, width=8, blocks=1)
    trainer = networks.NetworkTrainer(X, TINY, net, lr=1e6, optimizer="sgd")
    with pytest.raises(TrainingDiverged, match="lr"):
        trainer.train(64)


def test_bad_input_is_refused():
    X = tiny_data()
    net = networks.MLPDenoiser(3, TINY.T, width=8)
    with pytest.raises(ValueError, match="schedule"):
        networks.NetworkTrainer(X, "linear", net)
    with pytest.raises(ValueError, match="net"):
        networks.NetworkTrainer(X, TINY, lambda x, t: x)
    with pytest.raises(ValueError, match="optimizer"):
        networks.NetworkTrainer(X, TINY, net, optimizer="lbfgs")
    with pytest.raises(ValueError, match="lr"):
        networks.NetworkTrainer(X, TINY, net, lr=0)
    with pytest.raises(ValueError, match="emb_dim"):
        networks.MLPDenoiser(3, 4, emb_dim=7)
    with pytest.raises(ValueError, match="image_shape"):
        networks.UNetDenoiser((5, 6), 4)
    with pytest.raises(ValueError, match="channels"):
        networks.UNetDenoiser((4, 6), 4, channels=12)
    with pytest.raises(ValueError, match="emb_dim"):
        networks.UNetDenoiser((4, 6), 4, emb_dim=9)
    with pytest.raises(ValueError, match="checkpoints"):
        networks.train_and_sample(networks.NetworkTrainer(X, TINY, net), [2, 1], 3)


def test_gpu_script_smoke_run_writes_its_json(tmp_path):
    """scripts/gpu_nonlinear.py --smoke runs on a CPU, from the working tree, and records provenance."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    env = dict(os.environ, OUT=str(tmp_path), PYTHONPATH=str(root), LINDIFF_PROGRESS="0", OMP_NUM_THREADS="1")
    cmd = [sys.executable, str(root / "scripts" / "gpu_nonlinear.py"), "--smoke", "--images", "--no-benchmark"]
    subprocess.run(cmd, env=env, check=True, capture_output=True, timeout=300)
    result = json.loads((tmp_path / "gpu_nonlinear.json").read_text())
    assert set(result["provenance"]) >= {"commit", "date_utc", "device", "torch", "settings", "schedule"}
    gauss = result["gaussian"]
    assert len(gauss["seeds"]) == 1 and len(gauss["seeds"][0]["mem_frac"]) == len(gauss["Ns"])
    assert all(0.0 <= f <= 1.0 for f in gauss["seeds"][0]["mem_frac"])
    assert result["wall_s"]["gaussian"] > 0
