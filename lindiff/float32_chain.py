"""The float32 engine of :func:`lindiff.diagonal_sample`: the diagonal ancestral chain on blocks of rows.

The chain y <- a_t y + o_t + sigma_t z runs in float32 on blocks of rows that stay in cache, with
Box-Muller normals drawn from raw random bits, one random stream per block, the blocks split over
the available CPUs by threads (numpy's ufuncs release the GIL). Nothing here is mathematics of the
book: it is how the T n d normal draws of the sampler are made fast; :mod:`lindiff.sampler` holds
the law they sample.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .progress import progress

_BLOCK_ELEMENTS = 1 << 17  # at most this many entries in a block of rows of the chain (512 KB in float32)
_BLOCK_MULTIPLE = 4  # the number of blocks is a multiple of 4: an even load on 1, 2 or 4 CPUs
_EXPONENT_ONE = np.uint32(0x3F800000)  # the bits of 1.0f: or-ed with 23 random mantissa bits, [1, 2)
_TWO_PI32 = np.float32(2.0 * np.pi)


def _fill_normal32(bitgen: np.random.BitGenerator, out: np.ndarray, angle: np.ndarray, scale: float) -> None:
    """Fill the flat float32 array ``out`` (size 2 h) with scale * z, z i.i.d. standard normal (Box-Muller).

    Each 64-bit word of ``bitgen`` gives two 23-bit uniforms u in (0, 1] and v in [0, 1), and each
    pair the two independent normals sqrt(-2 ln u) (cos 2 pi v, sin 2 pi v) (Box & Muller 1958), all
    in vectorised float32 ufuncs: about twice as fast as numpy's float32 ziggurat on 2 cores. The
    23-bit uniforms cut the tails at |z| = sqrt(46 ln 2) = 5.65, where the normal has mass 1.6e-8.
    ``angle`` is a float32 scratch array of size h.
    """
    half = angle.size
    bits = bitgen.random_raw(half).view(np.uint32)
    radius, angle_bits, radius_bits = out[:half], angle.view(np.uint32), out[:half].view(np.uint32)
    np.right_shift(bits[half:], 9, out=angle_bits)  # 23 random mantissa bits under the exponent of 1:
    angle_bits |= _EXPONENT_ONE  # 1 + v, an exact uniform on a 2^-23 grid of [1, 2)
    angle *= _TWO_PI32  # 2 pi (1 + v): the same angle as 2 pi v
    np.right_shift(bits[:half], 9, out=radius_bits)
    radius_bits |= _EXPONENT_ONE
    np.subtract(np.float32(2.0), radius, out=radius)  # u = 2 - (1 + v') in (0, 1]
    np.log(radius, out=radius)
    radius *= np.float32(-2.0 * scale * scale)
    np.sqrt(radius, out=radius)  # scale sqrt(-2 ln u)
    np.sin(angle, out=out[half:])
    out[half:] *= radius
    np.cos(angle, out=angle)
    radius *= angle


def _run_chain32(gain, offset, noise_sd, y: np.ndarray, bitgen: np.random.BitGenerator) -> None:
    """y <- gain_t y + offset_t + noise_sd_t z for t = T..1, in place on the float32 rows y."""
    z = np.empty(y.size + y.size % 2, dtype=np.float32)
    angle = np.empty(z.size // 2, dtype=np.float32)
    noise = z[: y.size].reshape(y.shape)
    with np.errstate(over="ignore", invalid="ignore"):  # a diverging chain is reported by the caller
        for i in range(gain.shape[0] - 1, -1, -1):
            y *= gain[i]
            y += offset[i]
            if noise_sd[i] > 0:
                _fill_normal32(bitgen, z, angle, noise_sd[i])
                y += noise


def _worker_count() -> int:
    """The CPUs this process may use (threads of the sampler: numpy's ufuncs release the GIL)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


def float32_chain(gain, offset, noise_sd, y: np.ndarray, rng: np.random.Generator, progress_bar: bool = True):
    """Run y <- gain_t y + offset_t + noise_sd_t z for t = T..1 from the rows of ``y``, in float32.

    ``gain`` and ``offset`` have shape (T, d), ``noise_sd`` shape (T,), ``y`` (n, d) holds the
    starting points u_T (float64, drawn by the caller from ``rng``). Two integers drawn from ``rng``
    seed one :class:`numpy.random.SFC64` stream per block of rows, so the result does not depend on
    the number of CPUs. Returns the float64 samples, shape (n, d).
    """
    n = y.shape[0]
    bar = {} if progress_bar else {"disable": True}
    with np.errstate(over="ignore"):  # values beyond float32's range become inf, reported by the caller
        y32 = y.astype(np.float32)
        gain32, offset32 = gain.astype(np.float32), offset.astype(np.float32)
    n_blocks = -(-n * y.shape[1] // _BLOCK_ELEMENTS)
    rows = -(-n // (_BLOCK_MULTIPLE * -(-n_blocks // _BLOCK_MULTIPLE)))
    blocks = [y32[start : start + rows] for start in range(0, n, rows)]
    streams = np.random.SeedSequence(rng.integers(0, 2**63, size=2)).spawn(len(blocks))
    with ThreadPoolExecutor(min(_worker_count(), len(blocks))) as pool:
        runs = pool.map(
            lambda job: _run_chain32(gain32, offset32, noise_sd, job[0], np.random.SFC64(job[1])),
            zip(blocks, streams),
        )
        for _ in progress(runs, desc="sampling", total=len(blocks), unit="block", **bar):
            pass
    return y32.astype(np.float64)
