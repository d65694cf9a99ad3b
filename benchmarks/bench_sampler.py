"""Benchmark: LinearDiffusion.sample at the talk's scale, before and after the fast chain (issue 16).

d = 784 (MNIST), T = 1000, n = 1000 samples: the real ancestral chain in the eigenbasis of Sigma_0,
T n d = 7.8e8 normal draws. Times, side by side in one run and on the same model (a power-law
spectrum lambda_nu ~ nu^-1 with the top variance 674 of CelebA at 80 x 80, under a Haar-random
rotation, and a random mean), best of a few repeats with time.perf_counter:

* before: ``dtype=numpy.float64``, the chain as it was (float64, numpy's ziggurat normals, one step
  at a time over all n rows, one thread);
* after: the default ``dtype=numpy.float32``: float32 blocks of rows that stay in cache, Box-Muller
  normals, the blocks split over the usable CPUs.

For each, the samples are checked against the exact law (``sampling_distribution``): the largest
standardised error of a coordinate's mean and variance in the eigenbasis (about 3-4 for 784
independent N(0, 1) errors). The goal is "after" under 2 s on 2 cores.

Run:  .venv/bin/python benchmarks/bench_sampler.py [--n 1000] [--d 784] [--repeats 3]
This is not a test: timings depend on the machine and its load, and are printed, not asserted.
"""

from __future__ import annotations

import argparse

import numpy as np
from bench_exact_law import best_of, machine_description

from lindiff import LinearDiffusion, Schedule, power_law_spectrum, rotated_covariance


def worst_standardised_errors(model: LinearDiffusion, samples: np.ndarray) -> tuple[float, float]:
    """max |z| over coordinates (eigenbasis) of the sample mean and of the sample variance."""
    n = samples.shape[0]
    y = samples @ model.eigenvectors
    mean = model.sampling_mean_coefficients()
    var = model.sampling_variances()
    z_mean = (y.mean(axis=0) - mean) / np.sqrt(var / n)
    z_var = (y.var(axis=0, ddof=1) / var - 1) / np.sqrt(2 / (n - 1))
    return float(np.max(np.abs(z_mean))), float(np.max(np.abs(z_var)))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--d", type=int, default=784)
    parser.add_argument("--T", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3, help="repeats of each timing (best is kept)")
    args = parser.parse_args(argv)

    for line in machine_description():
        print(line)
    sched = Schedule.linear(T=args.T)
    spectrum = power_law_spectrum(args.d, 1.0)
    cov = rotated_covariance(spectrum * 674.0 / spectrum[0], seed=args.d)
    mean = np.random.default_rng(args.d).normal(size=args.d)
    model = LinearDiffusion.from_stats(mean, cov, sched)

    print(f"\nLinearDiffusion.sample(n={args.n}) at d = {args.d}, T = {args.T}; best of {args.repeats}")
    print(f"{'':<44} {'time (s)':>9} {'max |z| mean':>13} {'max |z| var':>12}")
    times = {}
    for label, dtype in [("before: float64 chain, ziggurat, 1 thread", np.float64),
                         ("after: float32 blocks, Box-Muller, all CPUs", np.float32)]:
        sec, x = best_of(lambda: model.sample(args.n, seed=0, progress_bar=False, dtype=dtype), args.repeats)
        times[dtype] = sec
        z_mean, z_var = worst_standardised_errors(model, x)
        print(f"{label:<44} {sec:9.2f} {z_mean:13.2f} {z_var:12.2f}")
    print(f"\nspeed-up {times[np.float64] / times[np.float32]:.1f}x; goal 'under 2 s': "
          f"{'met' if times[np.float32] < 2 else 'NOT met'} ({times[np.float32]:.2f} s)")


if __name__ == "__main__":
    main()
