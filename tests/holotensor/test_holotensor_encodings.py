"""Every encoding: exact with all fragments where complete, quality rising on smooth data,
the decoder's estimate equal to the measured error, and bad input refused."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest

from hologram.holotensor import (
    FragmentUnavailableError,
    HoloTensorDecoder,
    HoloTensorEncoder,
    HoloTensorError,
    relative_error,
)

pytest.importorskip("scipy", reason="the spectral encoding uses scipy.fft")


def smooth(rng: np.random.Generator, rows: int = 48, cols: int = 40) -> np.ndarray:
    """A smooth field: a few low-frequency waves with random phases."""
    y, x = np.mgrid[0:rows, 0:cols] / np.array([rows, cols])[:, None, None]
    field = sum(
        rng.normal() * np.cos(np.pi * (a * y + b * x) + rng.uniform(0, 6))
        for a, b in [(0, 1), (1, 0), (1, 2), (2, 1), (3, 3)]
    )
    return field.astype(np.float32)


def decode_prefixes(encoded) -> list[tuple[np.ndarray, float]]:
    decoder = HoloTensorDecoder(encoded.header)
    out = []
    for fragment in encoded.fragments:
        assert decoder.add_fragment(fragment)
        out.append((decoder.reconstruct(), decoder.error()))
    return out


@pytest.mark.parametrize("encoding", ["spectral", "random_projection", "low_rank"])
def test_transform_encodings_are_exact_and_rise_monotonically(
    encoding: str, rng: np.random.Generator
) -> None:
    field = smooth(rng)
    encoded = HoloTensorEncoder(encoding).with_fragments(8).with_seed(7).encode(field)
    results = decode_prefixes(encoded)
    errors = [relative_error(field, r) for r, _ in results]
    assert errors[-1] <= 1e-5
    # Rising, up to float32 rounding once the data is captured.
    assert all(b <= a + 1e-6 for a, b in zip(errors, errors[1:], strict=False))
    for (_, estimate), measured in zip(results, errors, strict=True):
        assert estimate == pytest.approx(measured, abs=1e-4)
    if encoding != "random_projection":  # smooth data concentrates: the first half is enough
        assert errors[3] < 0.05


def test_any_subset_decodes_with_an_exact_error_estimate(rng: np.random.Generator) -> None:
    field = smooth(rng)
    for encoding in ("spectral", "low_rank", "random_projection"):
        encoded = HoloTensorEncoder(encoding).with_fragments(6).encode(field)
        decoder = HoloTensorDecoder(encoded.header)
        for index in rng.permutation(6)[:3]:
            decoder.add_fragment(encoded.fragments[index])
        measured = relative_error(field, decoder.reconstruct())
        if encoding == "random_projection":
            # An upper bound: the padding of the last block (128 of 2048 values here) holds
            # part of the residual, about its share of the values.
            assert measured - 1e-4 <= decoder.error() <= measured * 1.15 + 1e-4
        else:
            assert decoder.error() == pytest.approx(measured, abs=1e-4)


@pytest.mark.parametrize("dtype", [np.float16, ml_dtypes.bfloat16, np.float32, np.float64])
def test_bitplane_is_lossless_for_every_float_dtype(dtype, rng: np.random.Generator) -> None:
    w = (rng.standard_t(4, (33, 70)) * 0.02).astype(dtype)
    w.ravel()[:4] = np.array([np.nan, np.inf, -np.inf, -0.0]).astype(dtype)
    encoded = HoloTensorEncoder("bitplane").encode(w)
    full = decode_prefixes(encoded)[-1][0]
    assert full.dtype == w.dtype and full.tobytes() == w.tobytes()


def test_bitplane_stages_pay_where_they_should(rng: np.random.Generator) -> None:
    # Position-embedding-like: a concentrated spectrum plus a little noise.
    low = rng.standard_normal((256, 6)) @ rng.standard_normal((6, 192))
    concentrated = (low + 0.05 * rng.standard_normal((256, 192))).astype(np.float32)
    # Heavy tails: a few outliers per group set the scale.
    heavy = (rng.standard_t(2, (128, 256)) * 0.02).astype(np.float32)
    for tensor, stage in [(concentrated, "low_rank"), (heavy, "rotation")]:
        auto = HoloTensorEncoder("bitplane").encode(tensor).header
        plain = HoloTensorEncoder("bitplane", low_rank=None, rotation=None).encode(tensor).header
        assert auto.params["rank"] > 0 if stage == "low_rank" else auto.params["rotation"]
        # From 3 planes on, at equal bytes (plain interpolated in log error), staged is lower.
        sizes, errors = auto.quality.sizes[3:8], auto.quality.errors[3:8]
        plain_log = np.interp(sizes, plain.quality.sizes[1:-1], np.log(plain.quality.errors[1:-1]))
        assert np.all(np.log(errors) < plain_log), stage


def test_trained_weights_choose_no_stage(trained_mlp) -> None:
    header = HoloTensorEncoder("bitplane").encode(trained_mlp["w1"]).header
    assert header.params["rank"] == 0 and header.params["rotation"] is False


def test_raw_keeps_any_dtype_and_decoder_checks_fragments() -> None:
    values = np.arange(-50, 50, dtype=np.int64).reshape(4, 25)
    encoded = HoloTensorEncoder("raw").encode(values)
    decoder = HoloTensorDecoder(encoded.header)
    assert not decoder.can_reconstruct()
    with pytest.raises(FragmentUnavailableError):
        decoder.reconstruct()
    bad = type(encoded.fragments[0])(0, encoded.fragments[0].payload[:-1] + b"\x00")
    assert not decoder.add_fragment(bad)
    assert "checksum" in str(decoder.problems[0]) or "bytes" in str(decoder.problems[0])
    assert decoder.add_fragment(encoded.fragments[0])
    np.testing.assert_array_equal(decoder.reconstruct(), values)


def test_bad_requests_raise_holotensor_errors() -> None:
    with pytest.raises(HoloTensorError, match="unknown encoding"):
        HoloTensorEncoder("jpeg")
    with pytest.raises(HoloTensorError, match="floating"):
        HoloTensorEncoder("bitplane").encode(np.arange(10))
    with pytest.raises(HoloTensorError, match="fragments"):
        HoloTensorEncoder("bitplane").with_fragments(40).encode(np.ones(100, np.float32))
    with pytest.raises(HoloTensorError, match="finite"):
        HoloTensorEncoder("spectral").encode(np.array([1.0, np.nan]))
    with pytest.raises(HoloTensorError, match="components"):
        HoloTensorEncoder("low_rank").with_fragments(8).encode(np.ones((3, 3)))
