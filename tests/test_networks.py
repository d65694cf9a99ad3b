"""The nonlinear denoisers and their trainer (chapter 9): the loss, the sampler, the inputs."""

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the networks need torch: pip install 'lindiff[train]'")

import lindiff as ld  # noqa: E402
from lindiff import networks  # noqa: E402
from lindiff.montecarlo import ddpm_loss_per_step  # noqa: E402
from lindiff.train import TrainingDiverged  # noqa: E402

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
    loss_net = ddpm_loss_per_step(trainer.eps_model(), X, TINY, steps, n_samples=4000, seed=2).value
    loss_opt = ddpm_loss_per_step(optimum, X, TINY, steps, n_samples=4000, seed=2).value
    # the optimum minimises the expected loss, not the loss on these particular noises: compare values
    np.testing.assert_allclose(loss_net, loss_opt, rtol=2e-3)


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


def optimum_net(X, schedule):
    """A float64 StepwiseLinearDenoiser holding the weights of LinearDiffusion.fit(X): the optimum."""
    optimum = ld.LinearDiffusion.fit(X, schedule)
    net = networks.StepwiseLinearDenoiser(X.shape[1], schedule.T).double()
    with torch.no_grad():
        for t in range(1, schedule.T + 1):
            W, b = optimum.weights(t)
            net.W[t - 1] = torch.tensor(W)
            net.b[t - 1] = torch.tensor(b)
    return optimum, net


def test_train_and_sample_draws_the_books_samples_of_the_trained_network_at_each_checkpoint():
    """(1) With a learning rate below float64 resolution the net stays at the optimum, and the samples
    at every checkpoint are exactly ddpm_sample's for LinearDiffusion with the same seed. (2) With a
    real learning rate, the samples are those of the network trained to each checkpoint: the same as
    training and sampling by hand, step by step."""
    X = tiny_data()
    optimum, net = optimum_net(X, TINY)
    frozen = networks.NetworkTrainer(X, TINY, net, lr=1e-300, optimizer="sgd", dtype=torch.float64)
    losses, drawn = networks.train_and_sample(frozen, [2, 5], [40, 30], seed=3)
    assert losses.shape == (5,) and frozen.iteration == 5
    for s, n in zip(drawn, (40, 30)):
        book = ld.ddpm_sample(optimum, TINY, n, 3, seed=3, progress_bar=False)
        np.testing.assert_allclose(s, book, rtol=1e-12, atol=1e-12)

    def fresh_trainer():
        torch.manual_seed(0)
        net = networks.MLPDenoiser(3, TINY.T, width=8, blocks=1)
        return networks.NetworkTrainer(X, TINY, net, lr=1e-2, seed=4, dtype=torch.float64)

    losses, drawn = networks.train_and_sample(fresh_trainer(), [3, 7], 20, seed=5)
    by_hand = fresh_trainer()
    expected = []
    for stop in (3, 7):
        by_hand.train(stop - by_hand.iteration)
        expected.append(ld.ddpm_sample(by_hand.eps_model(), TINY, 20, 3, seed=5, progress_bar=False))
    assert losses.shape == (7,)
    for got, want in zip(drawn, expected):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    assert not np.allclose(expected[0], expected[1])  # training between the checkpoints moved the net


def test_train_and_score_gaussian_scores_against_independent_computations():
    """A net frozen at the linear optimum (learning rate below float32 resolution): the fitted KL of its
    samples approaches the exact KL of the sampler's law; the memorised fraction is the ratio test
    by sorting every distance; the linear KLs agree with gaussian_kl of sampling_distribution()."""
    X = tiny_data(N=6)
    mu, Sigma = np.array([1.0, 1.0, 1.0]), np.diag([4.0, 1.0, 0.25])  # the law tiny_data draws from
    optimum, net = optimum_net(X, TINY)
    out = networks.train_and_score_gaussian(X, mu, Sigma, TINY, net, [1, 2], [20000, 300], lr=1e-300, seed=2)
    assert out["losses"].shape == (2,)
    assert out["samples_1"].shape == (20000, 3) and out["samples_2"].shape == (300, 3)
    exact_c0 = ld.gaussian_kl(*optimum.sampling_distribution(), mu, Sigma)
    assert float(out["kl_linear_c0"]) == pytest.approx(exact_c0, rel=1e-9)
    # a Gaussian fitted to n = 20000 draws: KL off by O(d^2 / n) ~ 1e-3 on average
    assert abs(out["kl_fitted"][0] - exact_c0) < 0.02
    c_best = float(out["best_ridge"])
    ridged = ld.LinearDiffusion.fit(X, TINY, c=c_best)
    kl_best = ld.gaussian_kl(*ridged.sampling_distribution(), mu, Sigma)
    assert float(out["kl_linear_best_ridge"]) == pytest.approx(kl_best, rel=1e-9)
    grid = [
        ld.gaussian_kl(*ld.LinearDiffusion.fit(X, TINY, c=c).sampling_distribution(), mu, Sigma)
        for c in np.logspace(-5, 2, 300)
    ]
    assert kl_best <= min(grid) + 1e-6 and kl_best <= exact_c0
    for j, c in enumerate((1, 2)):
        s = out[f"samples_{c}"]
        dist = np.sort(np.linalg.norm(s[:, None, :] - X[None, :, :], axis=2), axis=1)
        assert out["memorised_fraction"][j] == np.mean(dist[:, 0] < dist[:, 1] / 3)
        assert out["kl_fitted"][j] == pytest.approx(ld.gaussian_kl(*ld.empirical_stats(s), mu, Sigma), rel=1e-12)


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


# ------------------------------------------------ no silent wrong value, no foreign crash (issue 24)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"lr": float("inf")}, "lr must be a finite number >= 0"),
        ({"lr": True}, "lr must be a finite number >= 0"),
        ({"lr": "0.1"}, "lr must be a finite number >= 0"),
        ({"lr": 0.0}, "lr must be a finite number > 0"),
        ({"seed": 2**70}, "seed must be < 2\\*\\*63"),
        ({"schedule": None}, "schedule must be a lindiff.Schedule"),
    ],
)
def test_network_trainer_refuses_bad_arguments_by_name(kwargs, match):
    args = {"X": np.zeros((4, 3)), "schedule": TINY, "net": networks.MLPDenoiser(3, TINY.T, width=8, blocks=1)}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        networks.NetworkTrainer(args.pop("X"), args.pop("schedule"), args.pop("net"), **args)


def test_network_trainer_says_when_the_net_does_not_fit_the_data():
    net = networks.MLPDenoiser(5, TINY.T, width=8, blocks=1)
    with pytest.raises(ValueError, match=r"net cannot take the rows of X \(d = 3\)"):
        networks.NetworkTrainer(np.zeros((4, 3)), TINY, net)


def test_stepwise_linear_denoiser_refuses_step_zero():
    net = networks.StepwiseLinearDenoiser(2, TINY.T)
    x = torch.zeros(3, 2)
    with pytest.raises(ValueError, match=f"t must be a step in 1..{TINY.T}"):
        net(x, torch.zeros(3, dtype=torch.long))
    assert net(x, torch.full((3,), TINY.T, dtype=torch.long)).shape == (3, 2)
