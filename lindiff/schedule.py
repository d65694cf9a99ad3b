"""The DDPM noise schedule.

Steps are t = 1..T; array entry ``i`` belongs to step ``t = i + 1``. With alpha_t = 1 - beta_t,
abar_t = prod_{s<=t} alpha_s (abar_0 = 1) and sampler noise sigma_t^2 = beta_t, the forward process is
x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._checks import as_finite_array, check_positive_int

_BETA_RTOL = 2e-8  # largest relative error of beta_t as represented by alpha_t = 1 - beta_t


@dataclass(frozen=True, eq=False)
class Schedule:
    """A variance schedule beta_1..beta_T and the quantities derived from it.

    Attributes
    ----------
    betas, alphas, alpha_bars, sigmas : ndarray, shape (T,)
        beta_t, alpha_t = 1 - beta_t, abar_t = prod_{s<=t} alpha_s, sigma_t = sqrt(beta_t).


    Defined in :doc:`chapter 1 </book/01_diffusion_models>`, equations :eq:`eq-forward-step` and
    :eq:`eq-forward-process`.
    """

    betas: np.ndarray

    def __post_init__(self):
        betas = as_finite_array(self.betas, "betas", ndim=1)
        if betas.size < 1:
            raise ValueError("betas is empty; a schedule needs T >= 1 steps")
        if np.any(betas <= 0) or np.any(betas >= 1):
            raise ValueError(f"every beta_t must lie in (0, 1); got values from {betas.min():.3g} to {betas.max():.3g}")
        # alpha_t = 1 - beta_t must carry beta_t: the forward process and abar_t see 1 - alpha_t, the
        # sampler's noise beta_t itself. Below about 1e-8, float64 rounding makes them differ by more
        # than 2e-8 relative (and below 5.6e-17, 1 - beta_t == 1: the sampler divides by 1 - abar_t = 0).
        lost = np.flatnonzero(np.abs((1.0 - (1.0 - betas)) - betas) > _BETA_RTOL * betas)
        if lost.size:
            i = int(lost[0])
            raise ValueError(
                f"betas[{i}] = {betas[i]:.3g} (step t = {i + 1}) is below float64 resolution: 1 - beta_t "
                f"stores it as {1.0 - (1.0 - betas[i]):.3g}, so the forward process and the sampler would "
                "use different noise levels; use beta_t >= 1e-8"
            )
        betas = betas.copy()
        betas.setflags(write=False)
        object.__setattr__(self, "betas", betas)

    @classmethod
    def linear(cls, T: int = 1000, beta_min: float = 1e-4, beta_max: float = 1e-2) -> "Schedule":
        """The talk's linear schedule beta_t = beta_min + (beta_max - beta_min) t / T, t = 1..T.

        ``beta_max = 1e-2`` is the talk's value; Ho et al. (2020) use ``2e-2``. Note that the first
        step has beta_1 = beta_min + (beta_max - beta_min) / T, slightly above ``beta_min``.

        Defined in :doc:`chapter 1 </book/01_diffusion_models>`, equation :eq:`eq-linear-schedule`.
        """
        T = check_positive_int(T, "T")
        try:
            beta_min, beta_max = float(beta_min), float(beta_max)
        except (TypeError, ValueError):
            raise ValueError(f"beta_min and beta_max must be numbers, got {beta_min!r}, {beta_max!r}") from None
        if not (0 < beta_min <= beta_max < 1):
            raise ValueError(f"need 0 < beta_min <= beta_max < 1, got beta_min={beta_min}, beta_max={beta_max}")
        t = np.arange(1, T + 1, dtype=np.float64)
        return cls(beta_min + (beta_max - beta_min) * t / T)

    @property
    def T(self) -> int:
        """Number of steps."""
        return int(self.betas.size)

    @property
    def alphas(self) -> np.ndarray:
        """alpha_t = 1 - beta_t.

        Defined in :doc:`chapter 1 </book/01_diffusion_models>`, equation :eq:`eq-forward-step`.
        """
        return 1.0 - self.betas

    @property
    def alpha_bars(self) -> np.ndarray:
        """abar_t = prod_{s<=t} alpha_s for t = 1..T.

        Defined in :doc:`chapter 1 </book/01_diffusion_models>`, equation :eq:`eq-forward-process`.
        """
        return np.cumprod(self.alphas)

    @property
    def alpha_bars_prev(self) -> np.ndarray:
        """abar_{t-1} for t = 1..T, with abar_0 = 1."""
        return np.concatenate(([1.0], self.alpha_bars[:-1]))

    @property
    def sigmas(self) -> np.ndarray:
        """Sampler noise sigma_t = sqrt(beta_t).

        Defined in :doc:`chapter 1 </book/01_diffusion_models>`, equation :eq:`eq-ancestral-sampler`.
        """
        return np.sqrt(self.betas)

    @property
    def snr(self) -> np.ndarray:
        """Signal-to-noise ratio abar_t / (1 - abar_t).

        Defined in :doc:`chapter 1 </book/01_diffusion_models>`.
        """
        ab = self.alpha_bars
        return ab / (1.0 - ab)

    def check_step(self, t) -> int:
        """Return ``t`` as an int after checking 1 <= t <= T."""
        if isinstance(t, bool) or not isinstance(t, (int, np.integer)) or not 1 <= t <= self.T:
            raise ValueError(f"step t must be an integer in 1..{self.T}, got {t!r}")
        return int(t)

    def __repr__(self) -> str:
        return (
            f"Schedule(T={self.T}, beta_1={self.betas[0]:.4g}, beta_T={self.betas[-1]:.4g}, "
            f"abar_T={self.alpha_bars[-1]:.3g})"
        )
