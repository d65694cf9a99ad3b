"""Benchmark: the exact law of the optimal linear diffusion model at image sizes.

For d = 784 (MNIST, 28 x 28) and d = 6400 (80 x 80), T = 1000, from given training statistics
(a power-law spectrum lambda_nu ~ nu^-1 under a Haar-random rotation, and a random mean), times
separately, best of a few repeats with time.perf_counter:

1. the eigendecomposition of Sigma_0            ``LinearDiffusion.from_stats``       O(d^3)
2. the law in the eigenbasis                     ``sampling_variances`` + ``sampling_mean_coefficients``   O(T d)
3. the dense (mean, covariance) of the sampler   ``sampling_distribution``            O(d^3)
4. n = 1000 samples from the sampler             ``sample(1000)`` (d = 784 only)      O(T n d)

and, for scale, the naive step-by-step d x d recursion C_{t-1} = A_t C_t A_t^T + beta_t Id (two
d x d matrix products per step, ~ 4 T d^3 flops), timed for a few steps at d = 784 and
extrapolated to T steps. The goal is the eigenbasis law at d = 6400 in under 0.5 s.

Run:  .venv/bin/python benchmarks/bench_exact_law.py [--sizes 784 6400] [--repeats 3]
This is not a test: timings depend on the machine and its load, and are printed, not asserted.
"""
from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np

from lindiff import LinearDiffusion, Schedule, power_law_spectrum, rotated_covariance


def machine_description() -> list[str]:
    """CPU model, core counts and the BLAS numpy uses (threadpoolctl if installed)."""
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    lines = [f"CPU: {model}; {os.cpu_count()} logical cores, {usable} usable",
             f"Python {platform.python_version()}, numpy {np.__version__}"]
    try:
        from threadpoolctl import threadpool_info

        for info in threadpool_info():
            if info.get("user_api") == "blas":
                lines.append(f"BLAS: {info.get('internal_api')} {info.get('version')}, "
                             f"{info.get('num_threads')} threads ({info.get('threading_layer', '?')})")
    except ImportError:
        try:
            blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
            lines.append(f"BLAS: {blas.get('name')} {blas.get('version')} (threadpoolctl not installed; "
                         f"thread count not reported)")
        except Exception:  # noqa: BLE001 - older numpy: report nothing rather than fail
            lines.append("BLAS: unknown (threadpoolctl not installed)")
    try:
        lines.append("load average at start: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    except OSError:
        pass
    return lines


def best_of(fn, repeats: int):
    """(best wall time in seconds, last result) over ``repeats`` calls of fn()."""
    best, out = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def dense_recursion_per_step(model: LinearDiffusion, steps: int) -> float:
    """Seconds per step of the naive d x d covariance recursion (best step of ``steps``)."""
    sched, d = model.schedule, model.d
    C = np.eye(d)
    best = float("inf")
    for t in range(sched.T, sched.T - steps, -1):
        t0 = time.perf_counter()
        W, _ = model.weights(t)
        g = sched.betas[t - 1] / np.sqrt(1.0 - sched.alpha_bars[t - 1])
        A = (np.eye(d) - g * W) / np.sqrt(sched.alphas[t - 1])
        C = A @ C @ A.T
        C[np.diag_indices(d)] += sched.betas[t - 1]
        best = min(best, time.perf_counter() - t0)
    return best


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[784, 6400])
    parser.add_argument("--repeats", type=int, default=3, help="repeats of each timing (best is kept)")
    parser.add_argument("--T", type=int, default=1000)
    args = parser.parse_args(argv)

    for line in machine_description():
        print(line)
    sched = Schedule.linear(T=args.T)
    rows = []
    for d in args.sizes:
        rng = np.random.default_rng(d)
        cov = rotated_covariance(power_law_spectrum(d, 1.0), seed=d)
        mean = rng.normal(size=d)
        # the O(d^3) steps get fewer repeats at large d: each takes tens of seconds on 2 cores
        heavy = args.repeats if d <= 2000 else min(args.repeats, 2)
        t_eig, model = best_of(lambda: LinearDiffusion.from_stats(mean, cov, sched), heavy)
        t_law, (var, mcoef) = best_of(lambda: (model.sampling_variances(),
                                               model.sampling_mean_coefficients()), max(args.repeats, 5))
        t_dense, (m, C) = best_of(model.sampling_distribution, heavy)
        assert np.all(np.isfinite(var)) and np.all(np.isfinite(C))
        rows.append((d, "eigendecomposition (from_stats)", t_eig))
        rows.append((d, "law in eigenbasis (variances + mean coefficients)", t_law))
        rows.append((d, "dense (mean, cov) (sampling_distribution)", t_dense))
        if d <= 1000:
            t_sample, x = best_of(lambda: model.sample(1000, seed=0, progress_bar=False), args.repeats)
            rows.append((d, "sample(n=1000)", t_sample))
            per_step = dense_recursion_per_step(model, steps=5)
            rows.append((d, f"naive d x d recursion, 5 steps extrapolated to T={sched.T}", per_step * sched.T))
        if d == max(args.sizes) and d > 1000:
            rows.append((d, f"naive d x d recursion (estimate: 4 T d^3 = {4 * sched.T * d**3:.1e} flops)", float("nan")))
        del model, C

    print(f"\nT = {sched.T}, best of {args.repeats} (2 for O(d^3) steps at d > 2000); seconds")
    print(f"{'d':>6}  {'step':<66} {'time (s)':>10}")
    for d, what, sec in rows:
        shown = "       n/a" if np.isnan(sec) else f"{sec:10.3f}"
        print(f"{d:>6}  {what:<66} {shown}")
    law_6400 = [sec for d, what, sec in rows if d == 6400 and what.startswith("law in eigenbasis")]
    if law_6400:
        verdict = "met" if law_6400[0] < 0.5 else "NOT met"
        print(f"\ngoal 'eigenbasis law at d = 6400 under 0.5 s': {verdict} ({law_6400[0]:.3f} s)")


if __name__ == "__main__":
    main()
