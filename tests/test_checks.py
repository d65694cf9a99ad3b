"""Input checks shared by the public functions: kinds of arrays that are not real numbers, bools
taken for numbers, and seeds (issue 12: each was accepted, or failed with numpy's or torch's message)."""

import subprocess
import sys
import warnings

import numpy as np
import pytest

import lindiff as ld
from lindiff import _checks, dataset_average, gradient_flow

SCHED = ld.Schedule.linear(T=5)
NOT_REAL = [
    (np.eye(2) + 0j, "complex numbers"),
    (np.array([["1", "0"], ["0", "1"]]), "strings"),
    (np.array([["2020-01-01", "2020-01-02"], ["2020-01-02", "2020-01-03"]], dtype="datetime64[D]"), "dates"),
    (np.array([[1, 2], [3, 4]], dtype="timedelta64[s]"), "time differences"),
]


@pytest.mark.parametrize("bad, what", NOT_REAL)
def test_non_real_arrays_raise_type_error_naming_the_argument(bad, what):
    """Never cast silently (a ComplexWarning at most, before) and never read dates or strings as numbers."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no ComplexWarning on the way to the error either
        with pytest.raises(TypeError, match=f"cov_p must hold real numeric values, got {what}"):
            ld.gaussian_kl([0, 0], bad, [0, 0], np.eye(2))
        with pytest.raises(TypeError, match=f"X must hold real numeric values, got {what}"):
            ld.LinearDiffusion.fit(bad, SCHED)
        with pytest.raises(TypeError, match=f"X must hold real numeric values, got {what}"):
            ld.empirical_stats(bad)
        with pytest.raises(TypeError, match=f"eigenvalues must hold real numeric values, got {what}"):
            ld.LinearDiffusion(np.zeros(2), bad[0], np.eye(2), SCHED)


def test_real_input_of_every_numeric_kind_is_accepted():
    rows = [[1, 2], [3, 5], [0, 1]]
    for X in (np.array(rows), np.array(rows, dtype=np.uint8), np.array(rows, dtype=np.float32), rows):
        mean, _ = ld.empirical_stats(X)
        assert np.array_equal(mean, [4 / 3, 8 / 3])


@pytest.mark.parametrize("c", [True, False, np.bool_(True), "0.1", b"1", np.datetime64("2020-01-01"), 1 + 0j])
def test_a_bool_a_string_or_a_date_is_not_a_ridge(c):
    with pytest.raises(ValueError, match="c must be a finite number >= 0, got the "):
        ld.LinearDiffusion.fit(np.eye(3), SCHED, c=c)
    assert ld.LinearDiffusion.fit(np.eye(3), SCHED, c=np.float32(0.5)).c == 0.5


@pytest.mark.parametrize("seed", [-1, 1.5, "0", True])
def test_bad_seeds_name_the_seed(seed):
    model = ld.LinearDiffusion.fit(np.eye(3), SCHED)
    for call in (
        lambda: model.sample(2, seed=seed, progress_bar=False),
        lambda: ld.ddpm_sample(model, SCHED, 2, 3, seed=seed, progress_bar=False),
        lambda: ld.random_rotation(3, seed=seed),
    ):
        with pytest.raises(ValueError, match="seed must be"):
            call()


def test_good_seeds_are_passed_through():
    model = ld.LinearDiffusion.fit(np.eye(3), SCHED)
    a = model.sample(2, seed=2**70, progress_bar=False)  # numpy takes arbitrarily large seeds
    assert np.array_equal(a, model.sample(2, seed=np.random.default_rng(2**70), progress_bar=False))
    assert model.sample(2, seed=None, progress_bar=False).shape == (2, 3)


def test_training_times_and_trained_weights_refuse_non_real_input():
    from lindiff.gradient_flow import GradientFlow
    from lindiff.sampler import affine_sampler_law

    flow = GradientFlow(ld.LinearDiffusion.fit(np.random.default_rng(0).normal(size=(5, 3)), SCHED), 0.1)
    with pytest.raises(TypeError, match="tau must hold real numeric values, got strings"):
        flow.weights("soon")
    with pytest.raises(TypeError, match="weights must hold real numeric values, got complex numbers"):
        affine_sampler_law(np.zeros((5, 2, 2)) + 0j, np.zeros((5, 2)), SCHED)


# ------------------------------------------------------------------ optional dependencies


def test_missing_optional_dependency_names_the_extra_to_install():
    with pytest.raises(
        ModuleNotFoundError,
        match=r"lindiff.train needs no_such_pkg_xyz, which is not installed: "
        r"pip install 'lindiff\[train\]'",
    ):
        _checks.require_module("no_such_pkg_xyz", "train", "lindiff.train")
    with pytest.raises(ValueError, match="extra must be one of"):
        _checks.require_module("numpy", "gpu", "lindiff.x")
    assert _checks.require_module("numpy", "chapters", "lindiff.book") is np


@pytest.mark.parametrize(
    ("module", "blocked", "extra"),
    [
        ("lindiff.train", "torch", "train"),
        ("lindiff.networks", "torch", "train"),
        ("lindiff.book.style", "matplotlib", "chapters"),
        ("lindiff.book.explore", "ipywidgets", "chapters"),
    ],
)
def test_importing_a_module_without_its_extra_says_which_extra(module, blocked, extra):
    """In a fresh interpreter where the dependency cannot be imported (a None entry in sys.modules)."""
    code = (
        f"import sys; sys.modules[{blocked!r}] = None\n"
        f"try:\n    import {module}\nexcept ModuleNotFoundError as e:\n    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert f"needs {blocked}, which is not installed: pip install 'lindiff[{extra}]'" in out, out


# ------------------------------------------------------------- one home per check (issue 24)


def test_the_schedule_and_spectrum_checks_live_in_checks_only():
    """One ``check_schedule`` and one ``check_spectrum`` in lindiff/_checks.py; no module writes its own."""
    import re
    from pathlib import Path

    root = Path(ld.__file__).parent
    own = re.compile(
        r"isinstance\(schedule, Schedule\)|def _check_schedule|def _check_eigenvalues"
        r"|def _spectrum\b|def _eigenvalues\b"
    )
    offenders = [
        p.relative_to(root).as_posix()
        for p in sorted(root.rglob("*.py"))
        if p.name != "_checks.py" and own.search(p.read_text())
    ]
    assert offenders == []


@pytest.mark.parametrize(
    "call",
    [
        lambda s: ld.optimal_sampler_variances([1.0], s),
        lambda s: ld.LinearDiffusion([0.0], [1.0], [[1.0]], s),
        lambda s: ld.noisy_information([1.0], s),
        lambda s: dataset_average.averaged_train_loss_per_step([1.0, 0.5], 3, s),
        lambda s: gradient_flow.effective_ridge(1.0, 0.1, s),
    ],
)
@pytest.mark.parametrize("bad", [None, "linear", 1000])
def test_a_wrong_schedule_gets_the_one_message(call, bad):
    with pytest.raises(ValueError, match=r"schedule must be a lindiff\.Schedule \(e\.g\. Schedule\.linear\(\)\), got"):
        call(bad)


@pytest.mark.parametrize("bad", [[], [1.0, -1.0], [np.nan], [[1.0]], [1 + 1j]])
def test_check_spectrum_refuses_what_is_not_variances(bad):
    with pytest.raises((ValueError, TypeError), match="lam"):
        _checks.check_spectrum(bad, "lam")
    with pytest.raises(ValueError, match="> 0"):
        _checks.check_spectrum([1.0, 0.0], positive=True)


def test_a_tensor_that_requires_grad_gets_lindiffs_message():
    """Before: torch's "Can't call numpy() on Tensor that requires grad" came out of every function."""
    torch = pytest.importorskip("torch")
    tensor = torch.eye(3, dtype=torch.float64, requires_grad=True)
    with pytest.raises(ValueError, match=r"cov_p cannot be read as a numpy array \(a torch tensor: pass x\.detach"):
        ld.gaussian_kl(np.zeros(3), tensor, np.zeros(3), np.eye(3))
    with pytest.raises(ValueError, match="X cannot be read as a numpy array"):
        ld.empirical_stats(tensor)
    assert ld.gaussian_kl(np.zeros(3), tensor.detach().numpy(), np.zeros(3), np.eye(3)) == 0.0


def test_none_is_not_read_as_nan():
    with pytest.raises(ValueError, match="lam is None"):
        ld.optimal_sampler_variances(None, SCHED)
    with pytest.raises(ValueError, match="cov_p is None"):
        ld.gaussian_kl([0.0], None, [0.0], [[1.0]])
