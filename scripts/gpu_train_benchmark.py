"""Train the full linear diffusion model (d = 784, T = 1000: 615 million weights) once, on a GPU.

Usage (on a machine whose python3 has CUDA torch, numpy and scipy; nothing else is needed)::

    PYTHONPATH=. python3 scripts/gpu_train_benchmark.py            # full size, CUDA if available
    PYTHONPATH=. python3 scripts/gpu_train_benchmark.py --tiny     # d = 16, T = 50: seconds on a CPU

It writes ``gpu_train_benchmark.json`` and ``gpu_train_benchmark.png`` into ``$OUT`` (or the
current directory if ``OUT`` is unset) and prints the JSON.

What it measures
----------------
1. Time per training step (CUDA events around many steps after a warm-up, or wall time on the CPU)
   and peak memory (``torch.cuda.max_memory_allocated``) of :class:`lindiff.train.Trainer` on the
   real DDPM loss (random rows, steps and noises, batch 1024), for plain SGD and for Adam, and of
   a naive reference step (``--baseline``): gather W_t per sample into a (B, d, d) tensor, autograd,
   dense Adam over all weights.
2. One SGD training run with the bias held at its optimum, logging the exact (noise-averaged) train
   and test loss at log-spaced iterations, against the analytic prediction: the expected SGD weights
   follow gradient descent exactly, w_n = (1 - (1 - 2 lr k)^n) sqrt(s) / k per eigen-direction
   (:class:`lindiff.gradient_flow.GradientFlow` with ``discrete=True``). The measured loss may sit above
   the prediction by the SGD noise (the prediction is the loss of the mean weights).

Design of the trainer step (see lindiff/train.py): the batch is grouped by step into a zero-padded
(T, m, d) array (m = largest number of samples drawn for one step, about 6), so prediction and
update are two batched products over all T steps that read W directly, with no (B, d, d) gather.
Plain SGD updates W in place inside the second product (``baddbmm_``): no gradient buffer, so the
step reads W twice and writes it once (7.4 GB at float32, about 2 ms at H200 bandwidth) and the
peak memory is W itself (2.46 GB) plus small buffers. Adam needs a gradient buffer and its two
moment buffers (four copies of W, about nine passes over W per step). The naive step holds
the (B, d, d) gather and its gradient on top of dense Adam state (12.7 GB, 17.7 ms on an H200).

Data: a synthetic truth N(0, Sigma), Sigma = O diag(lambda) O^T with a power-law spectrum
lambda_nu ~ nu^-1 (trace d) and a random rotation O, and N training points drawn from it (no data
files are needed on the GPU machine). Imports from lindiff need only numpy, scipy and torch (the
progress bar falls back to none without tqdm; the PNG falls back to a plain raster without
matplotlib).
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import struct
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import torch

import lindiff as ld
from lindiff.gradient_flow import GradientFlow
from lindiff.train import Trainer, default_device


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--tiny", action="store_true", help="d = 16, T = 50, few iterations: runs on a CPU in seconds")
    p.add_argument("--d", type=int, default=784)
    p.add_argument("--T", type=int, default=1000)
    p.add_argument("--n-train", type=int, default=500, help="training points N (N < d: the overfitting regime)")
    p.add_argument("--batch", type=int, default=1024)
    p.add_argument("--iterations", type=int, default=5000, help="SGD steps of the logged training run")
    p.add_argument("--lr", type=float, default=None,
                   help="learning rate per step (default 0.05 B / (T max_t E||z_t||^2): SGD noise ~ 5 %%)")
    p.add_argument("--timed-steps", type=int, default=50)
    p.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    p.add_argument("--no-baseline", action="store_true", help="skip the naive gather + autograd + Adam step")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    if args.tiny:
        args.d, args.T, args.n_train, args.batch = 16, 50, 12, 64
        args.iterations, args.timed_steps = 1000, 20
    return args


def synchronize(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def reset_peak(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def peak_gb(device):
    return torch.cuda.max_memory_allocated(device) / 1e9 if device.type == "cuda" else None


def time_steps(step, n, device, warmup=5):
    """Milliseconds per call of ``step`` (CUDA events on a GPU, wall time on a CPU)."""
    for _ in range(warmup):
        step()
    synchronize(device)
    if device.type == "cuda":
        start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(n):
            step()
        stop.record()
        torch.cuda.synchronize(device)
        return start.elapsed_time(stop) / n
    t0 = time.perf_counter()
    for _ in range(n):
        step()
    return (time.perf_counter() - t0) * 1e3 / n


def naive_step_factory(X, schedule, batch, lr, device, dtype, seed):
    """The reference: gather W_t per sample, autograd through (B, d, d), dense Adam on everything."""
    T, d = schedule.T, X.shape[1]
    W = torch.zeros((T, d, d), device=device, dtype=dtype, requires_grad=True)
    Xt = torch.tensor(X, device=device, dtype=dtype)
    mu0 = Xt.mean(0)
    sa = torch.tensor(np.sqrt(schedule.alpha_bars), device=device, dtype=dtype)
    ss = torch.tensor(np.sqrt(1 - schedule.alpha_bars), device=device, dtype=dtype)
    opt = torch.optim.Adam([W], lr=lr)
    gen = torch.Generator(device=device).manual_seed(seed)

    def step():
        rows = torch.randint(X.shape[0], (batch,), device=device, generator=gen)
        t = torch.randint(T, (batch,), device=device, generator=gen)
        eps = torch.randn((batch, d), device=device, dtype=dtype, generator=gen)
        z = sa[t, None] * (Xt[rows] - mu0) + ss[t, None] * eps
        pred = torch.bmm(W[t], z[:, :, None])[:, :, 0]
        loss = ((pred - eps) ** 2).sum() * (T / batch)
        opt.zero_grad(set_to_none=False)
        loss.backward()
        opt.step()

    return step


def write_png(path, result):
    """Loss curves on log-log axes; matplotlib if present, else a plain raster (no text)."""
    c = result["loss_curve"]
    it = np.maximum(np.asarray(c["iterations"], dtype=float), 0.5)
    curves = [("train (measured)", c["train_loss"], "o", (31, 119, 180)),
              ("train (analytic GD)", c["analytic_train_loss"], "-", (31, 119, 180)),
              ("test (measured)", c["test_loss"], "s", (214, 39, 40)),
              ("test (analytic GD)", c["analytic_test_loss"], "-", (214, 39, 40))]
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return write_raster_png(path, it, curves)
    fig, ax = plt.subplots(figsize=(6, 4))
    for label, y, style, rgb in curves:
        colour = tuple(v / 255 for v in rgb)
        if style == "-":
            ax.plot(it, y, "-", color=colour, label=label)
        else:
            ax.plot(it, y, style, color=colour, mfc="none", label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    cfg = result["config"]
    ax.set_xlabel("SGD iteration n (iteration 0 drawn at 0.5)")
    ax.set_ylabel("DDPM loss, summed over t")
    ax.set_title(f"d={cfg['d']}, T={cfg['T']}, N={cfg['n_train']}, B={cfg['batch']}, lr={cfg['lr']:.3g} "
                 f"({result['device']})", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_raster_png(path, x, curves, width=640, height=400):
    img = np.full((height, width, 3), 255, dtype=np.uint8)
    lx = np.log(x)
    ys = [np.log(np.maximum(np.asarray(y, float), 1e-300)) for _, y, _, _ in curves]
    y_lo, y_hi = min(v.min() for v in ys), max(v.max() for v in ys)

    def px(u, lo, hi, size):
        return np.clip(((u - lo) / max(hi - lo, 1e-12) * (size - 21) + 10).astype(int), 0, size - 1)

    for (_, _, style, rgb), y in zip(curves, ys):
        fine = np.linspace(lx[0], lx[-1], 4 * width) if style == "-" else lx
        cols = px(fine, lx[0], lx[-1], width)
        rows = height - 1 - px(np.interp(fine, lx, y), y_lo, y_hi, height)
        for dr in (-1, 0, 1):
            for dc in (-1, 0, 1):
                img[np.clip(rows + dr, 0, height - 1), np.clip(cols + dc, 0, width - 1)] = rgb
    raw = b"".join(b"\x00" + row.tobytes() for row in img)

    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    Path(path).write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
                           + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    device = default_device()
    dtype = getattr(torch, args.dtype)
    out = Path(os.environ.get("OUT", "."))
    out.mkdir(parents=True, exist_ok=True)
    if device.type == "cpu" and not args.tiny:
        print("warning: no CUDA device; the full-size run on a CPU takes hours (use --tiny)", file=sys.stderr)
    if args.tiny:
        torch.set_num_threads(1)  # tiny tensors: threads only add overhead (and contention)

    d, T, N = args.d, args.T, args.n_train
    schedule = ld.Schedule.linear(T=T)
    rng = np.random.default_rng(args.seed)
    lam = ld.power_law_spectrum(d, 1.0)
    Sigma = ld.rotated_covariance(lam, seed=args.seed + 1)
    mu = np.zeros(d)
    X = rng.standard_normal((N, d)) * np.sqrt(lam) @ ld.random_rotation(d, args.seed + 1).T
    model = ld.LinearDiffusion.fit(X, schedule)
    # SGD noise: each W_t sees about B / T samples per iteration, so the stationary excess loss of a
    # step, relative to the loss itself, is about lr (T / B) E||z_t||^2 with E||z_t||^2 = a tr Sigma_0 + s d.
    # The default keeps it near 5 %, so the measured curve can be read against the analytic one.
    ab = schedule.alpha_bars
    z2 = float(np.max(ab * model.eigenvalues.sum() + (1 - ab) * d))
    lr = args.lr if args.lr is not None else 0.05 * args.batch / (T * z2)
    result = {"device": str(device) if device.type == "cpu" else torch.cuda.get_device_name(device),
              "torch": torch.__version__,
              "config": {"d": d, "T": T, "n_train": N, "batch": args.batch, "lr": lr, "dtype": args.dtype,
                         "weights": T * d * d, "iterations": args.iterations, "timed_steps": args.timed_steps,
                         "spectrum": "power law k=1, trace d, random rotation", "bias": "optimal (logged run)"},
              "timing": {}}

    # 1. timing and peak memory per step
    for name, opts in (("sgd", dict(optimizer="sgd")), ("adam", dict(optimizer="adam"))):
        reset_peak(device)
        tr = Trainer(X, schedule, lr=lr if name == "sgd" else 1e-4, batch_size=args.batch, bias="learned",
                     device=device, dtype=dtype, seed=args.seed, **opts)
        ms = time_steps(tr.step, args.timed_steps, device)
        result["timing"][name] = {"ms_per_step": ms, "peak_memory_gb": peak_gb(device)}
        del tr
    if not args.no_baseline:
        reset_peak(device)
        step = naive_step_factory(X, schedule, args.batch, 1e-4, device, dtype, args.seed)
        result["timing"]["naive_gather_autograd_adam"] = {
            "ms_per_step": time_steps(step, max(5, args.timed_steps // 5), device), "peak_memory_gb": peak_gb(device)}
        del step
    weight_bytes = T * d * d * (4 if dtype == torch.float32 else 8)
    result["timing"]["bytes_per_copy_of_W"] = weight_bytes
    # plain SGD streams W three times per step (two reads, one write): the implied bandwidth
    result["timing"]["sgd"]["implied_TB_per_s"] = 3 * weight_bytes / (result["timing"]["sgd"]["ms_per_step"] * 1e9)

    # 2. one logged SGD run against the analytic prediction
    reset_peak(device)
    log_at = np.unique(np.r_[0, np.round(np.logspace(0, np.log10(max(args.iterations, 1)), 25))].astype(int))
    tr = Trainer(X, schedule, lr=lr, batch_size=args.batch, bias="optimal", device=device, dtype=dtype,
                 seed=args.seed)
    t0 = time.perf_counter()
    wanted, train_loss, test_loss = set(log_at.tolist()), [], []
    for state in itertools.chain([tr], tr.iterate(args.iterations)):  # the trainer before and after each step
        if state.iteration in wanted:
            train_loss.append(state.expected_loss())
            test_loss.append(state.expected_loss(mu, Sigma))
    train_loss, test_loss = np.array(train_loss), np.array(test_loss)
    synchronize(device)
    wall = time.perf_counter() - t0
    flow = GradientFlow(model, eta=lr)
    analytic_train = flow.train_loss(log_at, discrete=True)
    analytic_test = flow.test_loss(log_at, mu, Sigma, discrete=True)
    result["training_run"] = {"wall_s_including_logging": wall, "peak_memory_gb": peak_gb(device)}
    result["loss_curve"] = {
        "iterations": log_at.tolist(),
        "train_loss": train_loss.tolist(), "analytic_train_loss": analytic_train.tolist(),
        "test_loss": test_loss.tolist(), "analytic_test_loss": analytic_test.tolist(),
        "max_relative_excess_train": float(np.max(np.abs(train_loss / analytic_train - 1))),
        "sgd_noise_estimate_relative": lr * T / args.batch * z2,
        "optimum_train_loss": model.train_loss(), "optimum_test_loss": model.test_loss(mu, Sigma)}

    (out / "gpu_train_benchmark.json").write_text(json.dumps(result, indent=1))
    write_png(out / "gpu_train_benchmark.png", result)
    print(json.dumps({k: result[k] for k in ("device", "config", "timing", "training_run")}, indent=1))
    curve = result["loss_curve"]
    print("iteration  train(measured)  train(analytic)  test(measured)  test(analytic)")
    for row in zip(curve["iterations"], curve["train_loss"], curve["analytic_train_loss"],
                   curve["test_loss"], curve["analytic_test_loss"]):
        print("{:9d}  {:15.6g}  {:15.6g}  {:14.6g}  {:14.6g}".format(*row))
    return 0


if __name__ == "__main__":
    sys.exit(main())
