"""Chapter 9 at the talk's size: trained nonlinear denoisers against the linear theory, on a GPU.

Usage (on a machine whose python3 has CUDA torch, numpy and scipy; nothing else is installed; the
package is run from the working tree)::

    PYTHONPATH=. python3 scripts/gpu_nonlinear.py            # full size, CUDA if available
    PYTHONPATH=. python3 scripts/gpu_nonlinear.py --smoke    # tiny sizes: a minute on a CPU

It writes ``gpu_nonlinear.json`` into ``$OUT`` (or the current directory if ``OUT`` is unset) and
then runs ``scripts/gpu_train_benchmark.py`` (``--tiny`` with ``--smoke``) in the same process
environment, so that one GPU session gives both results; ``--no-benchmark`` skips it. Copy the
JSON to ``book/data/gpu_nonlinear.json`` and commit it: chapter 9 then shows it beside its CPU-sized
results.

What it runs (the chapter's kinds of experiment, larger and with other settings, which the chapter's
GPU section lists: MLP batch 256; U-Net with 32 channels, learning rate 2e-4, batch 128, test loss at
ten evenly spaced steps):

1. Gaussian data, power-law spectrum lambda_nu ~ nu^-1 in d = 64 (``--d``), N from d/8 to 16 d,
   ``--seeds`` training sets and network initialisations; an MLP (width 256, 3 residual blocks)
   trained for ``--iterations`` Adam steps; 5,000 samples with the book's sampler (T = 1000). Per N,
   by ``lindiff.networks.train_and_score_gaussian`` (as the chapter): the memorised fraction (ratio
   test, 1/3), the KL of the Gaussian fitted to the samples, the linear model's exact KL at c = 0 and
   with the best ridge; then the transition size N* (memorised fraction through 1/2, interpolated
   in log N).
2. MNIST 28 x 28 (d = 784) with the U-Net (32 channels), N = 10 .. 60,000, and CelebA as chapter 5
   prepares it (80 x 80 grey, d = 6400; the first 10,000 faces, of which the last 1,000 are held
   out), N = 10 .. 9,000 -- each if its files are found by ``lindiff.data`` (else the JSON says so;
   ``--images`` chooses): memorised fraction of 256 samples and test loss of network and linear
   model on 1,000 held-out images.

Provenance in the JSON: git commit of the working tree (if git is there), GPU name, torch version,
date (UTC), all settings and the wall time of each part.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

import lindiff as ld
from lindiff import networks
from lindiff.memorisation import memorised_fraction, transition_size
from lindiff.montecarlo import ddpm_loss_per_step
from lindiff.train import default_device

ROOT = Path(__file__).resolve().parents[1]


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--smoke", action="store_true", help="tiny sizes on any device: checks the script runs")
    p.add_argument("--d", type=int, default=64)
    p.add_argument("--width", type=int, default=256)
    p.add_argument("--blocks", type=int, default=3)
    p.add_argument("--iterations", type=int, default=20000)
    p.add_argument("--samples", type=int, default=5000)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--image-iterations", type=int, default=20000)
    p.add_argument("--images", nargs="*", default=["mnist", "celeba"], choices=["mnist", "celeba"])
    p.add_argument("--no-benchmark", action="store_true", help="skip scripts/gpu_train_benchmark.py")
    args = p.parse_args(argv)
    if args.smoke:
        args.d, args.width, args.blocks, args.iterations, args.samples, args.seeds = 8, 32, 1, 200, 200, 1
        args.image_iterations = 20
    return args


def git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=30)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def gaussian_part(args, schedule, device) -> dict:
    d = args.d
    Sigma = ld.rotated_covariance(ld.power_law_spectrum(d, 1.0), seed=1)
    mu = np.zeros(d)
    Ns = [n for n in (d // 8, d // 4, d // 2, d, 2 * d, 4 * d, 8 * d, 16 * d) if n >= 2]
    results = {"d": d, "Ns": Ns, "seeds": []}
    for seed in range(args.seeds):
        pool = np.random.default_rng(100 + seed).multivariate_normal(mu, Sigma, size=max(Ns))
        row = {"mem_frac": [], "kl_net": [], "kl_linear_c0": [], "kl_linear_best_ridge": [], "c_best": []}
        for N in Ns:
            torch.manual_seed(seed)
            net = networks.MLPDenoiser(d, schedule.T, width=args.width, blocks=args.blocks)
            scores = networks.train_and_score_gaussian(
                pool[:N],
                mu,
                Sigma,
                schedule,
                net,
                [args.iterations],
                args.samples,
                lr=1e-3,
                batch_size=256,
                seed=seed,
                device=device,
            )
            row["mem_frac"].append(float(scores["memorised_fraction"][0]))
            row["kl_net"].append(float(scores["kl_fitted"][0]))
            row["kl_linear_c0"].append(float(scores["kl_linear_c0"]))
            row["kl_linear_best_ridge"].append(float(scores["kl_linear_best_ridge"]))
            row["c_best"].append(float(scores["best_ridge"]))
            print(f"gaussian seed {seed} N {N}: memorised {row['mem_frac'][-1]:.3f}", flush=True)
        row["transition_N_over_d"] = transition_size(Ns, row["mem_frac"]) / d
        results["seeds"].append(row)
    return results


IMAGE_SIZES = {"mnist": [10, 100, 1000, 10000, 60000], "celeba": [10, 100, 1000, 9000]}


def image_data(name: str, smoke: bool):
    """(training images, held-out images, image shape) of a data set, as lindiff.data prepares it."""
    from lindiff import data

    if name == "mnist":
        X, shape = data.load_dataset("mnist")
        X_test, _ = data.load_dataset("mnist", "test", n=1000)
        return X, X_test, shape
    X, shape = data.load_dataset("celeba", n=1200 if smoke else None, resolution=16 if smoke else None)
    return X[:-1000], X[-1000:], shape


def image_part(name: str, args, schedule, device) -> dict:
    try:
        X, X_test, shape = image_data(name, args.smoke)
    except (FileNotFoundError, ValueError, ImportError) as exc:
        return {"skipped": f"{name} not available: {exc}"}
    perm = np.random.default_rng(0).permutation(len(X))
    steps = np.unique(np.linspace(1, schedule.T, 10).astype(int))
    out = {"image_shape": list(shape), "Ns": [], "mem_frac": [], "test_loss_net": [], "test_loss_linear": []}
    sizes = [10, 100] if args.smoke else IMAGE_SIZES[name]
    for N in [n for n in sizes if n <= len(X)]:
        Xn = X[perm[:N]]
        torch.manual_seed(0)
        net = networks.UNetDenoiser(shape, schedule.T, channels=8 if args.smoke else 32)
        trainer = networks.NetworkTrainer(Xn, schedule, net, lr=2e-4, batch_size=128, seed=0, device=device)
        _, (samples,) = networks.train_and_sample(trainer, [args.image_iterations], 16 if args.smoke else 256)
        linear = ld.LinearDiffusion.fit(Xn, schedule)
        out["Ns"].append(N)
        out["mem_frac"].append(memorised_fraction(samples, Xn))
        for key, model in (("test_loss_net", trainer.eps_model()), ("test_loss_linear", linear)):
            # every held-out row once per step, the same draws for both models
            loss = ddpm_loss_per_step(model, X_test, schedule, steps, n_samples=len(X_test))
            out[key].append(float(loss.value.mean()))
        print(f"{name} N {N}: memorised {out['mem_frac'][-1]:.3f}", flush=True)
    return out


def main(argv=None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    out_dir = Path(os.environ.get("OUT", "."))
    out_dir.mkdir(parents=True, exist_ok=True)
    device = default_device()
    schedule = ld.Schedule.linear(T=50, beta_max=0.2) if args.smoke else ld.Schedule.linear(T=1000)
    result = {
        "provenance": {
            "commit": git_commit(),
            "date_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "device": torch.cuda.get_device_name(0) if device.type == "cuda" else "cpu",
            "torch": torch.__version__,
            "settings": vars(args),
            "schedule": {"T": schedule.T, "beta_1": float(schedule.betas[0]), "beta_T": float(schedule.betas[-1])},
            "dtype": "float32 networks, float64 statistics",
        },
        "wall_s": {},
    }
    start = time.time()
    result["gaussian"] = gaussian_part(args, schedule, device)
    result["wall_s"]["gaussian"] = time.time() - start
    for name in args.images:
        start = time.time()
        result[name] = image_part(name, args, schedule, device)
        result["wall_s"][name] = time.time() - start
    path = out_dir / "gpu_nonlinear.json"
    path.write_text(json.dumps(result, indent=1))
    print(json.dumps(result["wall_s"]), "->", path)
    if not args.no_benchmark:
        bench = [sys.executable, str(ROOT / "scripts" / "gpu_train_benchmark.py")] + (["--tiny"] if args.smoke else [])
        return subprocess.run(bench, check=False).returncode
    return 0


if __name__ == "__main__":
    sys.exit(main())
