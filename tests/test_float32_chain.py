"""The float32 engine of the diagonal sampler (lindiff/float32_chain.py): its normals and its
independence from the number of CPUs; the law it samples is tested in tests/test_sampler.py."""

import numpy as np
import pytest

from lindiff import Schedule, diagonal_sample, float32_chain

SHORT = Schedule.linear(T=100, beta_min=1e-3, beta_max=0.08)


def test_the_engine_lives_outside_the_sampler_module():
    """sampler.py, the file the chapters show, holds the mathematics; the engine is a module of its own."""
    import inspect

    import lindiff.sampler as sampler

    source = inspect.getsource(sampler)
    assert "random_raw" not in source and "ThreadPoolExecutor" not in source
    assert "random_raw" in inspect.getsource(float32_chain)


def test_float32_samples_do_not_depend_on_the_cpu_count(monkeypatch):
    w, m = np.full((SHORT.T, 300), 0.5), 0.0
    runs = []
    for workers in (1, 3):
        monkeypatch.setattr(float32_chain, "_worker_count", lambda workers=workers: workers)
        runs.append(diagonal_sample(w, m, SHORT, 700, seed=2, progress_bar=False))  # 4 blocks of rows
    np.testing.assert_array_equal(*runs)


def test_box_muller_normals():
    """The float32 normals of the fast chain: the normal law (Kolmogorov-Smirnov), independent pairs,
    the scale, and the tails cut only beyond 5.65."""
    from scipy import stats

    bitgen = np.random.SFC64(0)
    z = np.empty(2_000_000, dtype=np.float32)
    float32_chain._fill_normal32(bitgen, z, np.empty(1_000_000, dtype=np.float32), 1.0)
    assert stats.kstest(z.astype(np.float64), "norm").pvalue > 1e-3
    half = z.size // 2
    assert abs(np.corrcoef(z[:half], z[half:])[0, 1]) < 5 / np.sqrt(half)  # the pair of one draw
    assert abs(np.mean(z.astype(np.float64) ** 4) - 3) < 0.03  # kurtosis: 3 +- 0.01 (s.e.)
    assert 5.0 < np.max(np.abs(z)) <= 5.66
    float32_chain._fill_normal32(bitgen, z, np.empty(1_000_000, dtype=np.float32), 0.01)
    assert np.std(z.astype(np.float64)) == pytest.approx(0.01, rel=0.005)
