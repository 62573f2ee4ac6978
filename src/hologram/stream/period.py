"""Period detection: the element size, the record size, or a repeating stride in the data.

The period of a stream is the number of bytes that must never be split across chunks. It is
at least the element size (the record size for structured records); a stride found by
autocorrelation on a sample of the data makes it a whole number of elements larger, so that
interleaved data (pixels of three channels, rows of a fixed width) stays whole too.
"""

from __future__ import annotations

import numpy as np

SAMPLE_BYTES = 64 * 1024
"""How much of the stream's start the autocorrelation looks at."""
MAX_STRIDE = 1024
"""The longest stride (in elements) that detection looks for."""
THRESHOLD = 0.9
"""The normalised autocorrelation a stride needs to count as a repeat of the data."""


def detect_stride(sample: np.ndarray, max_stride: int = MAX_STRIDE) -> int:
    """The smallest stride k >= 2 (in elements) at which `sample` repeats itself, else 1.

    A stride is the first lag whose unbiased, normalised autocorrelation is at least
    `THRESHOLD` and a local maximum, so that smooth data (highly correlated at every short lag)
    gives 1 rather than 2. Structured records, constant data and non-finite values give 1.
    """
    if sample.dtype.fields is not None or sample.dtype.kind not in "biuf":
        return 1
    x = np.asarray(sample, dtype=np.float64).reshape(-1)
    n = x.size
    max_lag = min(max_stride, n // 2)
    if max_lag < 3 or not np.isfinite(x).all():
        return 1
    x = x - x.mean()
    energy = float(np.dot(x, x))
    if energy == 0.0:
        return 1
    size = 1 << (2 * n - 1).bit_length()
    spectrum = np.fft.rfft(x, size)
    raw = np.fft.irfft(spectrum * np.conj(spectrum), size)[: max_lag + 1]
    lags = np.arange(max_lag + 1)
    r = (raw / (n - lags)) / (energy / n)
    for k in range(2, max_lag):
        if r[k] >= THRESHOLD and r[k] >= r[k - 1] and r[k] >= r[k + 1]:
            return k
    return 1


def choose_period(
    itemsize: int, sample: np.ndarray | None, total: int | None, detect: bool
) -> tuple[int, str]:
    """(period in bytes, how it was found) for elements of `itemsize` bytes.

    A detected stride is taken only when the stream's length is known and is a whole number of
    strides: a stride that would leave a partial record at the end is not one.
    """
    if detect and sample is not None and total is not None:
        stride = detect_stride(sample)
        period = stride * itemsize
        if stride > 1 and total % period == 0:
            return period, f"autocorrelation stride of {stride} elements"
    return itemsize, "element size"
