"""The experiment grid (lindiff.experiments): its declared cells, the stored results file, and the CI check
that the quick subset, rerun here, falls inside the stored spread over seeds."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lindiff import experiments as ex

RESULTS = Path(__file__).resolve().parents[1] / "book" / "data" / "networks_cpu.json"


def test_import_does_not_load_torch():
    code = "import sys, lindiff.experiments; print(any(m.split('.')[0] == 'torch' for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "False"


def test_default_grid_is_at_least_what_the_issue_asks():
    cells = ex.grid_cells("default")
    assert len({c.d for c in cells}) >= 4 and len({c.width for c in cells}) >= 2
    assert len({c.seed for c in cells}) >= 3 and len(cells[0].steps) >= 3
    assert len({c.key for c in cells}) == len(cells)
    # every quick cell's rows are rows of the default grid (same d, N, width, seed, training lengths)
    default = {(c.d, c.N, c.width, c.seed, s) for c in cells for s in c.steps}
    assert {(c.d, c.N, c.width, c.seed, s) for c in ex.grid_cells("quick") for s in c.steps} <= default


def test_coverage_sparsity_and_ratio_on_a_known_configuration():
    """A tight cluster of 5 training points and one isolated point: a copy of the isolated point is a
    copy (ratio ~ 0) with sparsity far above 1; a copy of a cluster point has sparsity ~ 1 or below."""
    rng = np.random.default_rng(0)
    X = np.vstack([0.1 * rng.standard_normal((5, 2)), [[10.0, 0.0]]])
    samples = np.vstack([X[5] + 1e-6, X[0] + 1e-6])
    two, sparsity = ex.coverage(samples, X, k=1)
    assert two[0, 0] / two[0, 1] < 1e-5 and two[1, 0] / two[1, 1] < 1e-3
    assert sparsity[0] > 20 and sparsity[1] < 2


def test_paired_rows_from_scratch(tmp_path):
    a, b = np.zeros((4, 2), np.float32), np.ones((4, 2), np.float32)
    rows = []
    for seed, arr in ((0, a), (1, b)):
        key = f"k{seed}"
        np.savez(tmp_path / f"{key}.npz", samples_10=arr)
        rows.append(dict(d=2, N=3, width=8, steps=10, seed=seed, key=key, nearest_distance_mean=0.5))
    (pair,) = ex.paired_rows(rows, tmp_path)
    assert pair["pair_distance"] == pytest.approx(np.sqrt(2)) and pair["relative"] == pytest.approx(2 * np.sqrt(2))


def _stored():
    assert RESULTS.exists(), f"{RESULTS} is missing: run `python -m lindiff.experiments networks` and commit it"
    return ex.load_results(RESULTS)


def test_stored_results_hold_the_whole_default_grid_with_provenance():
    res = _stored()
    have = {(r["d"], r["N"], r["width"], r["seed"], r["steps"]) for r in res["rows"]}
    want = {(c.d, c.N, c.width, c.seed, s) for c in ex.grid_cells("default") for s in c.steps}
    assert want <= have, f"{len(want - have)} rows of the default grid are missing"
    for run in res["runs"]:
        assert run["commit"] and run["versions"]["torch"] and run["cpu"] and run["date_utc"]
    assert all(r["cell_wall_s"] > 0 for r in res["rows"])


def _tolerance(values, n_samples):
    """The band the rerun must fall in: [min - 2 s, max + 2 s] of the stored seeds, where s is the larger
    of their standard deviation and the binomial standard error of a fraction from n_samples samples."""
    v = np.asarray(values, dtype=float)
    f = np.clip(v.mean(), 0.02, 0.98)
    s = max(v.std(ddof=1), np.sqrt(f * (1 - f) / n_samples))
    return v.min() - 2 * s, v.max() + 2 * s


def test_quick_subset_reruns_inside_the_stored_spread_over_seeds(tmp_path):
    """CI: rerun the quick cells (about a minute on 2 cores) and compare each row's memorised fraction
    (ratio 1/3) with the stored rows of the same (d, N, width, training length) over the stored seeds."""
    pytest.importorskip("torch", reason="the networks need torch: pip install 'lindiff[train]'")
    res = _stored()
    out = tmp_path / "quick.json"
    quick = ex.run_networks("quick", "cpu", jobs=2, out=out)
    assert len(quick["rows"]) == sum(len(c.steps) for c in ex.grid_cells("quick"))
    n = res["settings"]["n_samples"]
    report = []
    for row in quick["rows"]:
        stored = [
            r["mem_0.333"]
            for r in res["rows"]
            if (r["d"], r["N"], r["width"], r["steps"]) == (row["d"], row["N"], row["width"], row["steps"])
        ]
        assert len(stored) >= 3
        lo, hi = _tolerance(stored, n)
        report.append((row["d"], row["N"], row["steps"], row["mem_0.333"], lo, hi))
    print(json.dumps(report))
    assert all(lo <= f <= hi for *_, f, lo, hi in report), report
    # resumable: a second call keeps every finished cell and runs none
    again = ex.run_networks("quick", "cpu", jobs=2, out=out)
    assert again["rows"] == quick["rows"] and len(again["runs"]) == len(quick["runs"])
