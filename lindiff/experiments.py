"""The experiment grids of the book, as code: ``python -m lindiff.experiments networks``.

``networks`` trains the MLP denoiser of :mod:`lindiff.networks` on Gaussian data (the power-law
truth of chapter 9, lambda_nu ~ 1/nu, rotated) over a declared grid of cells, one cell a training
run (data, d, N, width, seed) sampled after each training length in ``steps``; one results row per
(cell, training length). Each row holds the memorised fraction at five thresholds of the ratio test,
the local-coverage split, the KL of the Gaussian fitted to the network's samples and to the linear
model's samples drawn from the *same* noise (the same estimator on both sides), the linear model's
exact KL, and the wall time of the cell. After the grid, Kadkhodaie et al.'s paired test: the
networks of two seeds (independent, hence disjoint, training sets of the same size) are sampled
from the same noise (the sampler's seed is shared by all cells), and the distance between paired
samples is stored relative to the distance to the nearest training point.

The run is resumable (a finished cell is kept in the results file and skipped), parallel through
joblib (``--jobs``; any joblib backend, e.g. Dask or Ray, runs the same cells), shows a progress bar
with the time left (:func:`lindiff.progress.progress`), and writes ONE JSON file (rows plus the
provenance of every run: commit, package versions, CPU or GPU, date, load, wall time). Paired
samples are kept beside it in ``<results>.samples/`` (not committed) until every seed of a setting
is done. ``import lindiff`` does not import this module; torch is imported inside the functions.

Usage::

    python -m lindiff.experiments networks [--quick] [--device cpu|cuda] [--jobs N] [--out FILE]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ._checks import require_module
from .progress import progress

REPO = Path(__file__).resolve().parents[1]
#: thresholds of the ratio test stored for every row (1/3 is the literature's; the sweep is 1/6..2/3)
RATIOS = (1 / 6, 1 / 4, 1 / 3, 1 / 2, 2 / 3)
SAMPLER_SEED = 2024  # shared by every cell: the samples of two networks are paired (Kadkhodaie et al.)
POOL_SIZE = 1024  # training rows drawn per (d, seed); a cell uses the first N (nested sets)
SETTINGS = dict(
    k_pow=1.0, rotation_seed=1, blocks=2, emb_dim=64, lr=1e-3, batch_size=128, n_samples=500, T=1000,
    beta_min=1e-4, beta_max=1e-2, coverage_k=1,
)  # fmt: skip
GRIDS = {
    # the default grid: 4 dimensions x 3 training lengths x 2 widths x 3 seeds x 7 or 8 sizes N
    "default": dict(
        dims=(8, 16, 32, 64),
        steps=(500, 1500, 4500),
        widths=(32, 128),
        seeds=(0, 1, 2),
        Ns=(2, 4, 8, 16, 32, 64, 128),
        large_N_over_d=16,  # plus N = 16 d (width 128 only): the KL far above the transition
    ),
    # the CI subset: cells of the default grid, compared with the stored spread over seeds
    "quick": dict(dims=(8,), steps=(500, 1500), widths=(32,), seeds=(0,), Ns=(4, 16), large_N_over_d=None),
}
# (d, width, seed, steps) whose per-sample ratio and sparsity are stored (local coverage, one model)
DETAIL_CELLS = {(16, 128, 0, 4500), (32, 128, 0, 4500)}


@dataclass(frozen=True)
class Cell:
    """One training run: the MLP of ``width`` trained on the first N rows of seed ``seed``'s pool in d dimensions."""

    data: str
    d: int
    N: int
    width: int
    seed: int
    steps: tuple

    @property
    def key(self) -> str:
        return f"{self.data}-d{self.d}-N{self.N}-w{self.width}-s{self.seed}-t{'.'.join(map(str, self.steps))}"


def grid_cells(name: str = "default") -> list[Cell]:
    """The declared cells of a grid ("default" or "quick"): seed by seed (a partial run covers every
    setting with fewer seeds), and within a seed the largest d first (the slowest first)."""
    g = GRIDS[name]
    cells = []
    for seed, d, width in itertools.product(g["seeds"], sorted(g["dims"], reverse=True), g["widths"]):
        Ns = list(g["Ns"])
        if g["large_N_over_d"] and width == max(GRIDS["default"]["widths"]):
            Ns.append(g["large_N_over_d"] * d)
        for N in sorted(set(Ns)):
            cells.append(Cell("gaussian", d, N, width, seed, tuple(g["steps"])))
    return cells


def gaussian_truth(d: int):
    """The truth of the grid: mean 0 and the rotated power-law covariance (chapter 9's data)."""
    from .spectra import power_law_spectrum, rotated_covariance

    return np.zeros(d), rotated_covariance(power_law_spectrum(d, SETTINGS["k_pow"]), seed=SETTINGS["rotation_seed"])


def training_pool(d: int, seed: int) -> np.ndarray:
    """POOL_SIZE rows of the truth for one seed; the cells of that seed use the first N (nested)."""
    _, Sigma = gaussian_truth(d)
    lam, V = np.linalg.eigh(Sigma)
    z = np.random.default_rng([21, d, seed]).standard_normal((POOL_SIZE, d))
    return (z * np.sqrt(np.maximum(lam, 0.0))) @ V.T


def schedule():
    from .schedule import Schedule

    return Schedule.linear(T=SETTINGS["T"], beta_min=SETTINGS["beta_min"], beta_max=SETTINGS["beta_max"])


def coverage(samples: np.ndarray, X: np.ndarray, k: int = 1):
    """Per sample: the ratio-test distances and the local sparsity of the training set where it lands.

    The sparsity of a sample is the distance from its nearest training row x_(1) to the k-th nearest
    *other* training row (a k-nearest-neighbour distance: large where the training points are sparse),
    divided by the median of the same distance over all training rows.

    Returns
    -------
    two : ndarray, shape (n, 2)
        Distances to the nearest and second-nearest distinct training rows.
    sparsity : ndarray, shape (n,)


    Defined in :doc:`chapter 9 </book/09_trained_networks>` (the section on local coverage).
    """
    from .memorisation import distances_to_training_set, nearest_training_point, two_nearest_distances

    Xu = np.unique(X, axis=0)
    k = min(k, Xu.shape[0] - 1)
    knn = np.sort(distances_to_training_set(Xu, Xu), axis=1)[:, k]  # column 0 is the row itself
    _, idx = nearest_training_point(samples, Xu)
    return two_nearest_distances(samples, Xu), knn[idx] / np.median(knn)


def run_cell(cell: Cell, device: str = "cpu", scratch: str | None = None) -> list[dict]:
    """Train one cell, sample it after each training length, and score it: one row per training length."""
    import torch

    from . import networks
    from .kl import gaussian_kl
    from .linear import LinearDiffusion
    from .sampler import ddpm_sample
    from .stats import empirical_stats

    torch.set_num_threads(1)
    start = time.perf_counter()
    s = SETTINGS
    sched = schedule()
    mu, Sigma = gaussian_truth(cell.d)
    X = training_pool(cell.d, cell.seed)[: cell.N]
    linear = LinearDiffusion.fit(X, sched)
    n = s["n_samples"]
    lin_samples = ddpm_sample(linear, sched, n, cell.d, seed=SAMPLER_SEED, progress_bar=False)
    kl_lin_fit = gaussian_kl(*empirical_stats(lin_samples), mu, Sigma)
    kl_lin_exact = gaussian_kl(*linear.sampling_distribution(), mu, Sigma)
    torch.manual_seed(cell.seed)  # the initialisation (the same for every N of a seed)
    net = networks.MLPDenoiser(cell.d, sched.T, width=cell.width, blocks=s["blocks"], emb_dim=s["emb_dim"])
    params = sum(p.numel() for p in net.parameters())
    trainer = networks.NetworkTrainer(
        X, sched, net, lr=s["lr"], batch_size=s["batch_size"], seed=cell.seed, device=device
    )
    rows, saved = [], {}
    for steps in cell.steps:
        t0 = time.perf_counter()
        losses = trainer.train(steps - trainer.iteration)
        t1 = time.perf_counter()
        samples = ddpm_sample(trainer.eps_model(), sched, n, cell.d, seed=SAMPLER_SEED, progress_bar=False)
        t2 = time.perf_counter()
        two, sparsity = coverage(samples, X, s["coverage_k"])
        ratio = two[:, 0] / two[:, 1]
        copied = ratio < 1 / 3
        sparse = sparsity > 1.0  # the sample landed where the training points are sparser than typical
        row = dict(
            **{k: v for k, v in asdict(cell).items() if k != "steps"},
            steps=int(steps),
            params=int(params),
            **{f"mem_{r:.3f}": float(np.mean(ratio < r)) for r in RATIOS},
            mem_dense=float(np.mean(copied[~sparse])) if np.any(~sparse) else None,
            mem_sparse=float(np.mean(copied[sparse])) if np.any(sparse) else None,
            n_sparse=int(sparse.sum()),
            nearest_distance_mean=float(np.mean(two[:, 0])),
            kl_network_fitted=float(gaussian_kl(*empirical_stats(samples), mu, Sigma)),
            kl_linear_fitted=float(kl_lin_fit),
            kl_linear_exact=float(kl_lin_exact),
            final_loss=float(np.mean(losses[-50:])),
            train_s=round(t1 - t0, 2),
            sample_s=round(t2 - t1, 2),
        )
        if (cell.d, cell.width, cell.seed, steps) in DETAIL_CELLS:
            row["detail"] = dict(ratio=_rounded(ratio), sparsity=_rounded(sparsity))
        rows.append(row)
        saved[f"samples_{steps}"] = samples.astype(np.float32)
    if scratch is not None:
        path = Path(scratch) / f"{cell.key}.npz"
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(path, **saved)
    wall = time.perf_counter() - start
    for row in rows:
        row["cell_wall_s"] = round(wall, 2)
        row["key"] = cell.key
    return rows


def _rounded(a):
    return [float(f"{x:.4g}") for x in np.asarray(a, dtype=float)]


def paired_rows(rows: list[dict], scratch: Path) -> list[dict]:
    """Kadkhodaie et al.'s test from the stored samples: for each setting (d, N, width, steps) and each
    pair of seeds whose samples are in ``scratch``, the mean distance between paired samples (the same
    sampler noise), relative to the mean distance of those samples to their nearest training point."""
    from itertools import combinations

    by_setting = {}
    for r in rows:
        by_setting.setdefault((r["d"], r["N"], r["width"], r["steps"]), {})[r["seed"]] = r
    out = []
    for (d, N, width, steps), seeds in sorted(by_setting.items()):
        for s1, s2 in combinations(sorted(seeds), 2):
            files = [scratch / f"{seeds[s]['key']}.npz" for s in (s1, s2)]
            if not all(f.exists() for f in files):
                continue
            a, b = (np.load(f)[f"samples_{steps}"].astype(np.float64) for f in files)
            dist = np.linalg.norm(a - b, axis=1)
            pair = float(np.mean(dist))
            near = 0.5 * (seeds[s1]["nearest_distance_mean"] + seeds[s2]["nearest_distance_mean"])
            out.append(
                dict(
                    d=d, N=N, width=width, steps=steps, seeds=[s1, s2], pair_distance=pair,
                    pair_rms=float(np.sqrt(np.mean(dist**2))), relative=pair / near,
                )
            )  # fmt: skip
    return out


def provenance(device: str, jobs: int) -> dict:
    """Commit, package versions, machine, date and load of this run."""
    import joblib
    import scipy
    import torch

    def git(*args):
        try:
            return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return None

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpu = torch.cuda.get_device_name(0) if device.startswith("cuda") and torch.cuda.is_available() else None
    return dict(
        commit=git("rev-parse", "HEAD"),
        dirty=bool(git("status", "--porcelain", "--untracked-files=no")),
        versions=dict(
            python=platform.python_version(),
            numpy=np.__version__,
            scipy=scipy.__version__,
            torch=torch.__version__,
            joblib=joblib.__version__,
        ),  # fmt: skip
        cpu=cpu,
        cpu_count=os.cpu_count(),
        gpu=gpu,
        device=device,
        jobs=jobs,
        platform=platform.platform(),
        date_utc=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        load_average_start=list(os.getloadavg()),
    )


def _write(path: Path, results: dict) -> None:
    """JSON with one line per row (small, and readable in a diff), written atomically."""
    lines = []
    for key in sorted(results):
        value = results[key]
        if isinstance(value, list) and value and isinstance(value[0], dict):
            body = ",\n  ".join(json.dumps(v, sort_keys=True) for v in value)
            lines.append(f"{json.dumps(key)}: [\n  {body}\n ]")
        else:
            lines.append(f"{json.dumps(key)}: {json.dumps(value, sort_keys=True)}")
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text("{\n " + ",\n ".join(lines) + "\n}\n")
    os.replace(tmp, path)


def load_results(path) -> dict:
    """The results file as a dict: ``grid``, ``settings``, ``runs`` (provenance), ``rows``, ``pairs``."""
    return json.loads(Path(path).read_text())


def run_networks(grid: str = "default", device: str = "cpu", jobs: int = 2, out=None, scratch=None) -> dict:
    """Run (or resume) the networks grid; returns the results written to ``out``."""
    require_module("torch", "train", "lindiff.experiments")
    joblib = require_module("joblib", "train", "lindiff.experiments")
    Parallel, delayed = joblib.Parallel, joblib.delayed

    if out is None:
        name = "networks_cpu.json" if device == "cpu" else "networks_gpu.json"
        out = REPO / "book" / "data" / name if grid == "default" else Path(tempfile.gettempdir()) / f"quick_{name}"
    out = Path(out)
    scratch = Path(scratch) if scratch is not None else out.with_suffix(".samples")
    out.parent.mkdir(parents=True, exist_ok=True)
    results = load_results(out) if out.exists() else dict(rows=[], runs=[], pairs=[])
    if results.get("settings", SETTINGS) != SETTINGS:
        raise ValueError(f"{out} was written with other settings; move it away to start afresh")
    results.update(grid=grid, grids=GRIDS, settings=SETTINGS, ratios=list(RATIOS), sampler_seed=SAMPLER_SEED)
    done = {r["key"] for r in results["rows"]}
    todo = [c for c in grid_cells(grid) if c.key not in done]
    if not todo:  # every cell kept: only the paired test is recomputed
        results["pairs"] = paired_rows(results["rows"], scratch) or results.get("pairs", [])
        _write(out, results)
        print(f"all {len(done)} cells of {out} are done; paired test recomputed", flush=True)
        return results
    run = provenance(device, jobs)
    run.update(cells=len(todo), index=len(results["runs"]))
    results["runs"].append(run)
    start = time.perf_counter()
    print(f"{len(todo)} cells to run ({len(done)} kept from {out}), {jobs} jobs, device {device}", flush=True)
    tasks = (delayed(run_cell)(c, device, str(scratch)) for c in todo)
    for rows in progress(
        Parallel(n_jobs=jobs, return_as="generator_unordered")(tasks), total=len(todo), desc="cells", leave=True
    ):
        for row in rows:
            row["run"] = run["index"]
        results["rows"].extend(rows)
        run.update(wall_s=round(time.perf_counter() - start, 1), load_average_end=list(os.getloadavg()))
        _write(out, results)
    run.update(wall_s=round(time.perf_counter() - start, 1), load_average_end=list(os.getloadavg()))
    results["rows"].sort(key=lambda r: (r["d"], r["width"], r["steps"], r["N"], r["seed"]))
    results["pairs"] = paired_rows(results["rows"], scratch) or results.get("pairs", [])
    _write(out, results)
    print(f"wrote {out} ({len(results['rows'])} rows) in {run['wall_s']:.0f} s", flush=True)
    return results


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m lindiff.experiments", description=__doc__.split("\n\n")[0])
    parser.add_argument("grid", choices=["networks"], help="which experiment grid to run")
    parser.add_argument("--quick", action="store_true", help="a small subset of the grid (CI)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--jobs", type=int, default=2, help="parallel jobs (joblib); on a GPU use 1")
    parser.add_argument("--out", default=None, help="results file (default book/data/networks_<cpu|gpu>.json)")
    parser.add_argument("--scratch", default=None, help="folder of the paired samples (default <out>.samples)")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error("--jobs must be >= 1")
    run_networks("quick" if args.quick else "default", args.device, args.jobs, args.out, args.scratch)


if __name__ == "__main__":
    main(sys.argv[1:])


# ------------------------------------------------------------------ reading the results (chapter 9)


def settings_key(row) -> tuple:
    """(d, steps, width) of a row: the setting whose N* is measured."""
    return (row["d"], row["steps"], row["width"])


def transition_sizes(rows, ratio: float = 1 / 3, level: float = 0.5) -> dict:
    """N* per setting and seed: where the memorised fraction (ratio test ``ratio``) falls through ``level``.

    Returns ``{(d, steps, width): {"seeds": [...], "nstar": [...], "below": [...], "above": [...]}}`` with
    N* interpolated in log N (:func:`lindiff.memorisation.transition_size`, over the sizes N <= 128 common
    to all d); ``below`` marks seeds whose fraction is under ``level`` at every N (N* below the range),
    ``above`` seeds over it at every N (N* above the range); both give N* = NaN.

    Defined in :doc:`chapter 9 </book/09_trained_networks>`, equation :eq:`eq-transition-size`.
    """
    from .memorisation import transition_size

    column = f"mem_{ratio:.3f}"
    groups = {}
    for r in rows:
        groups.setdefault(settings_key(r), {}).setdefault(r["seed"], []).append((r["N"], r[column]))
    out = {}
    for key, seeds in sorted(groups.items()):
        entry = dict(seeds=[], nstar=[], below=[], above=[])
        for seed, pairs in sorted(seeds.items()):
            pairs = sorted(p for p in pairs if p[0] <= max(GRIDS["default"]["Ns"]))
            if len(pairs) < 2:
                continue
            Ns, f = np.array(pairs, dtype=float).T
            entry["seeds"].append(seed)
            entry["nstar"].append(transition_size(Ns, f, level))
            entry["below"].append(bool(np.all(f < level)))
            entry["above"].append(bool(np.all(f >= level)))
        out[key] = entry
    return out


def fit_transition(nstar: dict, params: dict, n_boot: int = 2000, seed: int = 0) -> dict:
    """Least-squares fit log N* = a + alpha log d + beta log steps + gamma log P over the settings.

    Each setting (d, steps, width) with N* measured for at least two seeds enters with the mean of
    log N* over its seeds; P is the network's parameter count ``params[(d, width)]``. Uncertainty: the
    larger of (i) the standard deviation of the coefficients over ``n_boot`` bootstrap resamples of the
    seeds within every setting and (ii) the ordinary least-squares standard error from the residuals
    (which also counts the misfit of the power law).

    Returns
    -------
    dict
        ``names``, ``coef``, ``err``, ``err_bootstrap``, ``err_ols``, ``settings`` (the keys used),
        ``residual_rms`` (in log N*), ``n_settings``.

    Defined in :doc:`chapter 9 </book/09_trained_networks>`, equation :eq:`eq-nstar-fit`.
    """
    keys, logs = [], []
    for key, e in sorted(nstar.items()):
        v = np.log([x for x in e["nstar"] if np.isfinite(x)])
        if v.size >= 2:
            keys.append(key)
            logs.append(v)
    if len(keys) < 5:
        raise ValueError(f"only {len(keys)} settings have N* for two seeds or more; at least 5 are needed")
    A = np.array([[1.0, np.log(d), np.log(steps), np.log(params[(d, width)])] for d, steps, width in keys])
    y = np.array([v.mean() for v in logs])
    coef, *_ = np.linalg.lstsq(A, y, rcond=None)
    resid = y - A @ coef
    dof = max(len(y) - A.shape[1], 1)
    cov = np.linalg.inv(A.T @ A) * (resid @ resid) / dof
    rng = np.random.default_rng(seed)
    boots = np.empty((n_boot, A.shape[1]))
    for b in range(n_boot):
        yb = np.array([rng.choice(v, v.size).mean() for v in logs])
        boots[b] = np.linalg.lstsq(A, yb, rcond=None)[0]
    err_boot, err_ols = boots.std(axis=0, ddof=1), np.sqrt(np.diag(cov))
    return dict(
        names=["log prefactor", "d", "steps", "params"],
        coef=coef,
        err=np.maximum(err_boot, err_ols),
        err_bootstrap=err_boot,
        err_ols=err_ols,
        settings=keys,
        residual_rms=float(np.sqrt(np.mean(resid**2))),
        n_settings=len(keys),
    )
