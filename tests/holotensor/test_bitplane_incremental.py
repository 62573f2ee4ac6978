"""Incremental decoding: a decoder fed fragment by fragment keeps its decoding state, and every
reconstruction is byte for byte the stateless `decode` of the same fragments (every float
dtype, with and without the low-rank and rotation stages, and with the exact residual)."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest

from hologram.holotensor import (
    HoloTensorDecoder,
    HoloTensorEncoder,
    HoloTensorError,
    HotReloadController,
    encoding_named,
    stages,
)
from hologram.holotensor.bitplane import BitPlaneProgress, BitPlaneState

DTYPES = ["float16", "bfloat16", "float32", "float64"]
STAGES = {
    "plain": {"low_rank": None, "rotation": None},
    "low_rank": {"low_rank": 3, "rotation": None},
    "hadamard": {"low_rank": None, "rotation": "hadamard"},
    "both": {"low_rank": 3, "rotation": "hadamard"},
}


def weights(rng: np.random.Generator, dtype: str, shape: tuple[int, ...] = (40, 70)) -> np.ndarray:
    """Heavy-tailed values plus a low-rank part, with a size that is not a multiple of 64."""
    values = rng.standard_t(3, shape) * 0.05
    if len(shape) == 2:
        values += np.outer(rng.standard_normal(shape[0]), rng.standard_normal(shape[1])) * 0.1
    return values.astype(ml_dtypes.bfloat16 if dtype == "bfloat16" else np.dtype(dtype))


def stateless(encoded, used: list[int]) -> np.ndarray:
    """The reference: the encoding's stateless decode of the fragments `used`."""
    header = encoded.header
    payloads = {i: bytes(encoded.fragments[i].payload) for i in used}
    return encoding_named(header.encoding).decode(header, payloads)


def same_bytes(a: np.ndarray, b: np.ndarray) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("stage", list(STAGES))
def test_every_prefix_matches_the_stateless_decode(
    dtype: str, stage: str, rng: np.random.Generator
) -> None:
    tensor = weights(rng, dtype)
    encoded = HoloTensorEncoder("bitplane", **STAGES[stage]).with_fragments(7).encode(tensor)
    params = encoded.header.params
    assert params["rotation"] == ("hadamard" in stage or stage == "both")
    assert (params["rank"] > 0) == (stage in ("low_rank", "both"))
    decoder = HoloTensorDecoder(encoded.header)
    for k, fragment in enumerate(encoded.fragments, start=1):
        assert decoder.add_fragment(fragment)
        got = decoder.reconstruct()
        assert same_bytes(got, stateless(encoded, list(range(k))))
        if k < encoded.header.fragments:
            # Codes (uint16) and signs: 3 bytes per padded value, plus fp16 scales and factors.
            padded = -(-tensor.size // 64) * 64
            factors = 2 * params["rank"] * sum(tensor.shape)
            assert decoder.state_nbytes == 3 * padded + 2 * padded // 64 + factors
    # With the residual: the original bit for bit, and the state let go.
    assert same_bytes(got, tensor)
    assert decoder.state_nbytes == 0


def test_a_state_kept_over_release_and_one_dropped_give_the_same_bits(
    rng: np.random.Generator,
) -> None:
    tensor = weights(rng, "float32", (3, 50, 33))
    encoded = HoloTensorEncoder("bitplane").with_fragments(9).encode(tensor)
    kept, dropped = HoloTensorDecoder(encoded.header), HoloTensorDecoder(encoded.header)
    for k, fragment in enumerate(encoded.fragments, start=1):
        for decoder in (kept, dropped):
            decoder.add_fragment(fragment)
        a, b = kept.reconstruct(), dropped.reconstruct()
        assert same_bytes(a, b) and same_bytes(a, stateless(encoded, list(range(k))))
        kept.release()
        dropped.release(state=True)
        assert dropped.state_nbytes == 0
        assert (kept.state_nbytes > 0) == (k < encoded.header.fragments)


def test_fragments_out_of_order_fall_back_and_resume(rng: np.random.Generator) -> None:
    tensor = weights(rng, "float16", (64, 48))
    encoded = HoloTensorEncoder("bitplane").with_fragments(6).encode(tensor)
    decoder = HoloTensorDecoder(encoded.header)
    for index in rng.permutation(encoded.header.fragments):
        decoder.add_fragment(encoded.fragments[int(index)])
        if decoder.can_reconstruct():
            assert same_bytes(decoder.reconstruct(), stateless(encoded, decoder.used()))
    assert same_bytes(decoder.reconstruct(), tensor)


def test_a_one_dimensional_tensor_and_a_single_plane(rng: np.random.Generator) -> None:
    for fragments, tensor in (
        (2, weights(rng, "float32", (5,))),
        (4, weights(rng, "float64", (130,))),
    ):
        encoded = HoloTensorEncoder("bitplane").with_fragments(fragments).encode(tensor)
        decoder = HoloTensorDecoder(encoded.header)
        for k, fragment in enumerate(encoded.fragments, start=1):
            decoder.add_fragment(fragment)
            assert same_bytes(decoder.reconstruct(), stateless(encoded, list(range(k))))
        assert same_bytes(decoder.reconstruct(), tensor)


def test_low_rank_prefixes_accumulate_and_subsets_fall_back(rng: np.random.Generator) -> None:
    tensor = weights(rng, "float32", (30, 24))
    encoded = HoloTensorEncoder("low_rank").with_fragments(6).encode(tensor)
    decoder = HoloTensorDecoder(encoded.header)
    order = [0, 1, 3, 2, 5, 4]  # a gap at 2 and 4: those reconstructions are any-subset ones
    for index in order:
        decoder.add_fragment(encoded.fragments[index])
        assert same_bytes(decoder.reconstruct(), stateless(encoded, decoder.used()))
        if decoder.used() == list(range(len(decoder.used()))) and not decoder.complete():
            assert decoder.state_nbytes == tensor.size * 8
    assert decoder.state_nbytes == 0


def test_a_bad_plane_raises_and_leaves_the_codes_as_they_were(rng: np.random.Generator) -> None:
    encoded = HoloTensorEncoder("bitplane").with_fragments(5).encode(weights(rng, "float32"))
    header, payloads = encoded.header, [bytes(f.payload) for f in encoded.fragments]
    progress = BitPlaneProgress(header)
    progress.add(0, payloads[0])
    with pytest.raises(HoloTensorError, match="fragment 2 before fragment 1"):
        progress.add(2, payloads[2])
    state = progress.state
    assert isinstance(state, BitPlaneState)
    codes, negative = state.codes.copy(), state.negative.copy()
    # Plane 2's streams read as plane 1's: the bit counts disagree.
    with pytest.raises(HoloTensorError, match="plane 1"):
        state.add_plane(1, payloads[2], "tensor")
    assert np.array_equal(state.codes, codes) and np.array_equal(state.negative, negative)
    assert state.received == 1
    progress.add(1, payloads[1])
    assert same_bytes(progress.result(), stateless(encoded, [0, 1]))


def test_hot_reload_per_fragment_updates_match_a_fresh_decode(rng: np.random.Generator) -> None:
    tensor = weights(rng, "float32", (96, 80))
    encoded = HoloTensorEncoder("bitplane").encode(tensor)
    model = {"w": np.zeros(tensor.shape, np.float32)}
    controller = HotReloadController(model)
    decoder = HoloTensorDecoder(encoded.header)
    for k, fragment in enumerate(encoded.fragments, start=1):
        decoder.add_fragment(fragment)
        quality = controller.update("w", decoder)
        assert same_bytes(model["w"], stateless(encoded, list(range(k))))
        assert quality == pytest.approx(encoded.header.quality.quality(k))
    assert same_bytes(model["w"], tensor)


def test_the_stages_match_their_matrix_forms(rng: np.random.Generator) -> None:
    scipy_linalg = pytest.importorskip("scipy.linalg", reason="scipy gives the Hadamard matrix")
    groups = rng.standard_normal((37, 64))
    rotated = stages.hadamard(groups)
    oracle = groups @ scipy_linalg.hadamard(64).T / 8.0
    np.testing.assert_allclose(rotated, oracle, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(stages.hadamard(rotated), groups, rtol=1e-12, atol=1e-12)
    assert rotated.flags.c_contiguous
    a, b = rng.standard_normal((23, 5)), rng.standard_normal((31, 5))
    np.testing.assert_allclose(stages.outer_sum(a, b), a @ b.T, rtol=1e-12, atol=1e-12)
