"""Spectra: power laws, Haar rotations and the participation ratio against known answers."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs

from lindiff import participation_ratio, power_law_spectrum, random_rotation, rotated_covariance


@pytest.mark.parametrize("k", [0.0, 0.5, 1.0, 2.0])
def test_power_law_shape_and_trace(k):
    lam = power_law_spectrum(50, k)
    nu = np.arange(1, 51)
    assert lam.sum() == pytest.approx(50.0, rel=1e-13)
    np.testing.assert_allclose(lam[0] / lam, nu**k, rtol=1e-12)
    assert power_law_spectrum(50, k, trace=3.0).sum() == pytest.approx(3.0, rel=1e-13)


# MATH.md section 6: d_eff(d = 784) for lambda_nu ~ nu^-k, quoted to 3 significant digits.
@pytest.mark.parametrize("k, quoted", [(0, 784), (0.5, 411), (1, 31.9), (1.5, 5.37), (2, 2.50)])
def test_participation_ratio_of_power_laws_matches_quoted_values(k, quoted):
    d_eff = participation_ratio(power_law_spectrum(784, k))
    assert float(f"{d_eff:.3g}") == pytest.approx(quoted, rel=1e-12)


def test_participation_ratio_known_answers():
    assert participation_ratio(np.ones(37)) == pytest.approx(37.0, rel=1e-14)
    assert participation_ratio([0, 0, 5.0, 0]) == pytest.approx(1.0, rel=1e-14)
    # two equal spikes and zeros: exactly 2
    assert participation_ratio([3.0, 3.0, 0, 0, 0]) == pytest.approx(2.0, rel=1e-14)
    assert participation_ratio(np.eye(9) * 4.0) == pytest.approx(9.0, rel=1e-14)


@settings(max_examples=25, deadline=None)
@given(d=hs.integers(1, 30), k=hs.floats(0, 3), seed=hs.integers(0, 2**31), scale=hs.floats(1e-6, 1e6))
def test_participation_ratio_matrix_and_eigenvalues_agree(d, k, seed, scale):
    lam = scale * power_law_spectrum(d, k)
    cov = rotated_covariance(lam, seed)
    from_eigs = np.linalg.eigvalsh(cov)  # independent route: eigenvalues of the matrix
    direct = lam.sum() ** 2 / np.sum(lam**2)
    assert participation_ratio(cov) == pytest.approx(direct, rel=1e-9)
    assert participation_ratio(np.clip(from_eigs, 0, None)) == pytest.approx(direct, rel=1e-9)
    assert participation_ratio(lam) == pytest.approx(direct, rel=1e-12)
    assert 1.0 - 1e-9 <= participation_ratio(lam) <= d + 1e-9


def test_random_rotation_is_orthogonal_and_seeded():
    Q = random_rotation(20, seed=3)
    np.testing.assert_allclose(Q.T @ Q, np.eye(20), atol=1e-12)
    np.testing.assert_array_equal(Q, random_rotation(20, seed=3))
    assert not np.allclose(Q, random_rotation(20, seed=4))


def test_random_rotation_is_haar():
    # Haar: every entry has mean 0 and E Q_ij^2 = 1/d. Without the sign fix of the QR
    # factorisation the diagonal is biased (E Q_11 != 0); 3000 draws resolve that at 10 sigma.
    d, n = 3, 3000
    Q = np.array([random_rotation(d, seed=s) for s in range(n)])
    se = np.sqrt(1.0 / d / n)
    assert np.all(np.abs(Q.mean(axis=0)) < 4 * se)
    np.testing.assert_allclose((Q**2).mean(axis=0), 1.0 / d, atol=4 * np.sqrt(2.0 / 15 / n))


def test_rotated_covariance_has_the_given_spectrum():
    lam = np.array([5.0, 2.0, 1.0, 0.0])
    cov = rotated_covariance(lam, seed=1)
    np.testing.assert_array_equal(cov, cov.T)
    np.testing.assert_allclose(np.linalg.eigvalsh(cov), np.sort(lam), atol=1e-13)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: power_law_spectrum(0, 1.0), "d must be >= 1"),
        (lambda: power_law_spectrum(5.5, 1.0), "d must be an integer"),
        (lambda: power_law_spectrum(5, -1.0), "k must be a finite number >= 0"),
        (lambda: power_law_spectrum(5, float("nan")), "k must be a finite number >= 0"),
        (lambda: power_law_spectrum(5, 1.0, trace=0.0), "trace must be a finite number > 0"),
        (lambda: power_law_spectrum(5, 1.0, trace="big"), "trace must be a finite number"),
        (lambda: participation_ratio(np.zeros((3, 3))), "identically zero"),
        (lambda: random_rotation(0), "d must be >= 1"),
        (lambda: rotated_covariance([1.0, -1.0]), "eigenvalues must be >= 0"),
        (lambda: rotated_covariance([[1.0]]), "1-D"),
        (lambda: rotated_covariance([1.0, np.inf]), "NaN or inf"),
        (lambda: participation_ratio([]), "empty"),
        (lambda: participation_ratio([1.0, -0.5]), "must be >= 0"),
        (lambda: participation_ratio(np.zeros(4)), "identically zero"),
        (lambda: participation_ratio([[1.0, 0.5], [0.0, 1.0]]), "not symmetric"),
        (lambda: participation_ratio([[1.0, 2.0], [2.0, 1.0]]), "not positive semi-definite"),
        (lambda: participation_ratio([[-1.0, 0.0], [0.0, 2.0]]), "not positive semi-definite"),
        (lambda: participation_ratio(np.ones((2, 2, 2))), "1-D eigenvalues or a 2-D covariance"),
        (lambda: participation_ratio([[1.0, 0.0, 0.0]]), "must be square"),
        (lambda: participation_ratio([1.0, np.nan]), "NaN or inf"),
    ],
)
def test_spectra_reject_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize("k", [0.75, 1.5, 2.0])
def test_power_law_participation_ratio_tends_to_zeta_ratio(k):
    """For k > 1/2, d_eff -> zeta(k)^2 / zeta(2k) as d -> infinity (zeta(k) = inf for k <= 1: d_eff grows)."""
    from scipy.special import zeta

    values = [participation_ratio(power_law_spectrum(d, k)) for d in (10**3, 10**4, 10**5)]
    if k > 1:
        limit = zeta(k) ** 2 / zeta(2 * k)
        assert abs(values[-1] - limit) < abs(values[0] - limit) < 0.5 * limit
        assert abs(values[-1] / limit - 1) < 0.02
    else:
        assert values[0] < values[1] < values[2]


@pytest.mark.parametrize("scale", [1e160, 1e300, 1e-170, 1e-300])
def test_participation_ratio_is_scale_free_at_extreme_scales(scale):
    """(sum lambda)^2 / sum lambda^2 does not depend on the units: no overflow of the squares at
    1e160, no underflow to 'identically zero' at 1e-170."""
    lam = np.array([3.0, 1.0, 0.5, 0.25, 0.0])
    ref = lam.sum() ** 2 / np.sum(lam**2)  # at unit scale, where nothing over- or underflows
    assert participation_ratio(lam * scale) == pytest.approx(ref, rel=1e-14)
    assert participation_ratio(rotated_covariance(lam, seed=1) * scale) == pytest.approx(ref, rel=1e-12)
    assert participation_ratio([scale, scale]) == pytest.approx(2.0, rel=1e-15)


def test_participation_ratio_rejects_empty_and_non_real_input():
    with pytest.raises(ValueError, match=r"x is empty \(shape \(0, 0\)\)"):
        participation_ratio(np.zeros((0, 0)))
    for x, what in [
        (np.array([1 + 1j, 2.0]), "complex"),
        (["1", "2"], "strings"),
        (np.array(["2020-01-01", "2020-01-02"], dtype="datetime64[D]"), "dates"),
        (np.array([True, False]), "booleans"),
    ]:
        with pytest.raises(TypeError, match=f"x must hold real numeric values, got {what}"):
            participation_ratio(x)
