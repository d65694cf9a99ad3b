"""Power-law fits, the Gaussian surrogate, learning curves on image data and image mosaics."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from test_data import random_images, register, write_idx  # noqa: E402  (fixture writers)

import lindiff as ld  # noqa: E402
from lindiff import data  # noqa: E402
from lindiff.book import images  # noqa: E402
from lindiff.data import cache, learning_curves  # noqa: E402
from lindiff.kl import expected_naive_measure  # noqa: E402
from lindiff.montecarlo import ddpm_loss  # noqa: E402


@pytest.fixture(autouse=True)
def cache_in_tmp(tmp_path, monkeypatch):
    monkeypatch.setenv("LINDIFF_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("LINDIFF_DATA_DIR", raising=False)


# ------------------------------------------------------------------------------- power-law fit
@pytest.mark.parametrize("k, window", [(1.3, (10, 100)), (0.5, (1, 50)), (2.0, (5, 7))])
def test_fit_power_law_recovers_an_exact_power_law(k, window):
    lam = 3.7 * np.arange(1, 201, dtype=float) ** (-k)
    shuffled = np.random.default_rng(0).permutation(lam)  # the order of the input does not matter
    k_fit, C_fit = ld.fit_power_law(shuffled, window)
    assert k_fit == pytest.approx(k, rel=1e-10) and C_fit == pytest.approx(3.7, rel=1e-10)


def test_fit_power_law_uses_only_the_window():
    lam = np.arange(1, 101, dtype=float) ** -1.0
    lam[50:] = lam[50:] * np.exp(-np.arange(50))  # a steep cut-off outside the window
    assert ld.fit_power_law(lam, (5, 50))[0] == pytest.approx(1.0, rel=1e-10)
    assert ld.fit_power_law(lam, (5, 80))[0] > 1.5


@pytest.mark.parametrize(
    "lam, window, match",
    [
        (np.ones(10), (5, 20), "window"),
        (np.ones(10), (5, 5), "window"),
        (np.r_[np.ones(5), np.zeros(5)], (2, 8), "zero"),
        (-np.ones(10), (1, 5), ">= 0"),
    ],
)
def test_fit_power_law_rejects(lam, window, match):
    with pytest.raises(ValueError, match=match):
        ld.fit_power_law(lam, window)


# ------------------------------------------------------------------------------- Gaussian surrogate
def _rotation_and_mean(d, seed):
    return ld.random_rotation(d, seed), np.linspace(-1.0, 2.0, d)


@pytest.mark.parametrize("lam", [ld.power_law_spectrum(6, 1.0), np.array([3.0, 1.0, 0.5, 0.2, 0.0, 0.0])])
def test_surrogate_equals_the_rotated_and_shifted_problem(lam):
    """The surrogate works in the eigenbasis with mu = 0; the same draws rotated by any Q and shifted
    by any mu give the same losses and KL (computed here the direct way, in d dimensions)."""
    schedule = ld.Schedule.linear(T=60)
    Ns, cs = [3, 12], [0.0, 0.05]
    out = data.gaussian_surrogate(lam, Ns, schedule, cs, reps=1, seed=4)
    Q, mu = _rotation_and_mean(lam.size, 1)
    Sigma = (Q * lam) @ Q.T
    support = lam > 0
    rng = np.random.default_rng(4)
    for j, N in enumerate(Ns):
        Z = rng.standard_normal((N, lam.size)) * np.sqrt(lam)
        X = Z @ Q.T + mu
        for i, c in enumerate(cs):
            model = ld.LinearDiffusion.fit(X, schedule, c)
            assert out["test_loss"][i, j, 0] == pytest.approx(model.test_loss(mu, Sigma), rel=1e-9)
            assert out["train_loss"][i, j, 0] == pytest.approx(model.train_loss(), rel=1e-9)
            # KL in the support of Sigma, whose basis is Q[:, support]
            B = Q[:, support]
            m0, S0 = ld.empirical_stats(X @ B)
            kl = ld.gaussian_kl(m0, S0 + c * np.eye(B.shape[1]), mu @ B, B.T @ Sigma @ B)
            assert out["kl"][i, j, 0] == pytest.approx(kl, rel=1e-8) or (np.isinf(kl) and np.isinf(out["kl"][i, j, 0]))
        assert out["cov_error"][j, 0] == pytest.approx(
            np.sum((np.cov(X, rowvar=False, bias=True) - Sigma) ** 2) / np.sum(lam**2), rel=1e-9
        )
    assert np.isinf(out["kl"][0, 0, 0])  # c = 0, N = 3 <= rank: the learned law is singular


def test_surrogate_averages_match_the_exact_expectations():
    lam = ld.power_law_spectrum(6, 1.0)
    N, reps = 20, 400
    out = data.gaussian_surrogate(lam, [N], ld.Schedule.linear(T=10), [0.0], reps=reps, seed=0)
    kl, err = out["kl"][0, 0], out["cov_error"][0]
    assert abs(kl.mean() - ld.expected_kl(6, N)) < 4 * kl.std() / np.sqrt(reps)
    assert abs(err.mean() - expected_naive_measure(lam, N)) < 4 * err.std() / np.sqrt(reps)


def test_surrogate_is_cached(monkeypatch):
    lam = ld.power_law_spectrum(5, 1.0)
    schedule = ld.Schedule.linear(T=20)
    first = data.gaussian_surrogate(lam, [4, 8], schedule, [0.0], reps=2)
    monkeypatch.setattr(learning_curves, "empirical_stats", lambda *a, **k: pytest.fail("recomputed"))
    again = data.gaussian_surrogate(lam, [4, 8], schedule, [0.0], reps=2)
    assert np.array_equal(first["test_loss"], again["test_loss"])
    assert list((cache.cache_dir() / "surrogate").glob("*.npz"))
    with pytest.raises(pytest.fail.Exception):  # another seed is another entry
        data.gaussian_surrogate(lam, [4, 8], schedule, [0.0], reps=2, seed=1)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"eigenvalues": [1.0, -1.0]}, ">= 0"),
        ({"Ns": [1]}, "N must be >= 2"),
        ({"reps": 0}, "reps"),
        ({"cs": [-1.0]}, "c must be"),
        ({"schedule": "linear"}, "Schedule"),
    ],
)
def test_surrogate_rejects(kwargs, match):
    args = {"eigenvalues": [1.0, 0.5], "Ns": [3], "schedule": ld.Schedule.linear(T=5)} | kwargs
    with pytest.raises(ValueError, match=match):
        data.gaussian_surrogate(**args)


# ------------------------------------------------------------------------------- learning curve
def test_learning_curve_on_image_files(tmp_path, monkeypatch):
    """Models fitted on the first N images of a (tiny) data set, scored with held-out moments; the
    closed-form test loss is the DDPM loss on the held-out images themselves."""
    root = tmp_path / "data"
    train = random_images((9, 4, 4), seed=1)
    path = write_idx(root / "mnist" / "train.gz", train)
    register(monkeypatch, "mnist", "train", ("mnist/train.gz", path, None))
    held_out = random_images((6, 4, 4), seed=2).reshape(6, -1) / 127.5 - 1
    mt, St = ld.empirical_stats(held_out)
    schedule = ld.Schedule.linear(T=40)
    out = data.learning_curve("mnist", [3, 9], mt, St, schedule, cs=[0.0, 0.1], data_dir=root)
    X = train.reshape(9, -1) / 127.5 - 1
    for j, N in enumerate([3, 9]):
        for i, c in enumerate([0.0, 0.1]):
            model = ld.LinearDiffusion.fit(X[:N], schedule, c)
            assert out["test_loss"][i, j] == pytest.approx(model.test_loss(mt, St), rel=1e-9)
            assert out["train_loss"][i, j] == pytest.approx(model.train_loss(), rel=1e-9)
    model = ld.LinearDiffusion.fit(X, schedule, 0.1)
    mc = ddpm_loss(model, held_out, schedule, n_samples=40000, n_strata=10, seed=3)
    assert abs(mc.value - out["test_loss"][1, 1]) < 4 * mc.stderr


# ------------------------------------------------------------------------------- mosaics
def test_tile_images_layout():
    X = np.arange(3 * 6, dtype=float).reshape(3, 6)
    grid = images.tile_images(X, (2, 3), ncols=2, pad=1)
    assert grid.shape == (5, 7)
    assert np.array_equal(grid[0:2, 0:3], X[0].reshape(2, 3))
    assert np.array_equal(grid[0:2, 4:7], X[1].reshape(2, 3))
    assert np.array_equal(grid[3:5, 0:3], X[2].reshape(2, 3))
    assert np.all(np.isnan(grid[2])) and np.all(np.isnan(grid[3:5, 4:7]))
    colour = images.tile_images(np.ones((2, 12)), (2, 2, 3), ncols=2, fill=0.0)
    assert colour.shape == (2, 5, 3) and np.all(colour[:, 2] == 0)
    with pytest.raises(ValueError, match="image_shape"):
        images.tile_images(X, (2, 2), ncols=2)


def test_show_images_clips_to_the_pixel_range_and_symmetric_scales():
    fig, (a, b) = plt.subplots(1, 2)
    images.show_images(a, np.array([[-2.0, -1.0, 0.0, 3.0]]), (2, 2), ncols=1)
    assert np.allclose(a.images[0].get_array(), [[0.0, 0.0], [0.5, 1.0]])
    images.show_images(b, np.array([[-2.0, 1.0, 0.0, 0.5]]), (2, 2), ncols=1, symmetric=True)
    assert np.allclose(b.images[0].get_array(), [[-1.0, 0.5], [0.0, 0.25]])
    with pytest.raises(ValueError, match="grey"):
        images.show_images(a, np.ones((1, 12)), (2, 2, 3), ncols=1, symmetric=True)
    with pytest.raises(ValueError, match="scale"):
        images.show_images(a, np.ones((1, 4)), (2, 2), ncols=1, scale="raw")
    plt.close(fig)
