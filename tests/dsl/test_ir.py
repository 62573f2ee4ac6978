"""The JSON IR: round trips, validation errors, adversarial documents and a structural fuzz.

Whatever a document holds, reading and lowering it either succeeds or raises a KernelError
(KernelIRError for a malformed document); never another exception.
"""

from __future__ import annotations

import contextlib
import copy
import json
import random
from typing import Any

import golden_kernels
import pytest
import test_control_flow
import test_memory

import hologram as hg
from hologram.dsl import ir
from hologram.dsl.builtins import BUILTINS
from hologram.dsl.lower import lower
from hologram.errors import KernelError, KernelIRError
from hologram.isa import DType

SIGNATURES = {
    "saxpy": {"y": "f32", "out": "f32"},
    "clamp_shift": {"x": "f32", "out": "f64"},
    "block_sums": {"x": "f32", "partial": "f32"},
    "cast_scale": {"x": "i32", "out": "f32"},
    "control": {},
    "atomics": {"x": "f32", "extremes": "f32", "total": "f32"},
    "transpose": {"x": "i32", "out": "i32"},
}
KERNELS = [golden_kernels.saxpy, golden_kernels.clamp_shift, golden_kernels.block_sums,
           golden_kernels.cast_scale, test_control_flow.control, test_memory.atomics,
           test_memory.transpose]  # fmt: skip


@pytest.mark.parametrize("kernel", KERNELS, ids=[k.name for k in KERNELS])
def test_round_trip_gives_the_same_program(kernel):
    text = kernel.to_json()
    stored = hg.Kernel.from_ir(text)
    assert stored.name == kernel.name and stored.ir == kernel.ir
    assert ir.to_json(ir.from_json(text)) == text  # re-encoding is byte-identical
    signature = SIGNATURES[kernel.name]
    assert stored.specialize(signature).digest == kernel.specialize(signature).digest
    assert hg.Kernel.from_ir(json.loads(text)).specialize(signature).digest == (
        kernel.specialize(signature).digest
    )


def test_source_paths_do_not_depend_on_the_working_directory(tmp_path, monkeypatch):
    expected = "tests/dsl/golden_kernels.py"
    assert golden_kernels.saxpy.ir["source"]["file"] == expected
    monkeypatch.chdir(tmp_path)
    fresh = hg.Kernel(golden_kernels.saxpy.fn)
    assert fresh.ir["source"]["file"] == expected
    assert fresh.to_json() == golden_kernels.saxpy.to_json()


def saxpy_doc() -> dict[str, Any]:
    return copy.deepcopy(golden_kernels.saxpy.ir)


def clamp_doc() -> dict[str, Any]:
    return copy.deepcopy(golden_kernels.clamp_shift.ir)


def edit(doc: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """`doc` with the item at `path` (keys and indices separated by '/') set or deleted."""
    *parents, last = path.split("/")
    node: Any = doc
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    key: Any = int(last) if isinstance(node, list) else last
    if value is DELETE:
        del node[key]
    else:
        node[key] = value
    return doc


DELETE = object()
VALIDATION_ERRORS = [
    (saxpy_doc, "schema", "hologram.program", "$: schema is 'hologram.program'"),
    (saxpy_doc, "version", [2, 0], "$: version 2.0 is not readable by IR 1.x"),
    (saxpy_doc, "version", [1], "$: version must be [major, minor]"),
    (saxpy_doc, "name", "not a name", "$: 'not a name' is not an identifier"),
    (saxpy_doc, "extra", 1, "$: unknown field 'extra'"),
    (saxpy_doc, "params/1/kind", "tensor", "$.params[1]: unknown parameter kind 'tensor'"),
    (saxpy_doc, "params/1/dtype", "f128", "$.params[1]: unknown dtype 'f128'"),
    (saxpy_doc, "params/2/name", "x", "$.params: 'x' is declared twice"),
    (saxpy_doc, "body/0/value", DELETE, "$.body[0]: missing field 'value'"),
    (saxpy_doc, "body/0/line", "6", "$.body[0]: field 'line' has the wrong type (str)"),
    (saxpy_doc, "body/0/node", "goto", "$.body[0]: unknown statement node 'goto'"),
    (saxpy_doc, "body/1/test/op", "in", "$.body[1].test: op must be one of"),
    (saxpy_doc, "body/1/test/left/node", "lambda", "$.body[1].test.left: unknown expression"),
    (saxpy_doc, "body/1/body/0/index", [7], "$.body[1].body[0].index[0]: is not an object"),
    (saxpy_doc, "body/1/body/0/value/right/colour", "red",
     "$.body[1].body[0].value.right: unknown field 'colour' in a 'load' node"),
    (saxpy_doc, "body/0/value/builtin", "launch_missiles", "unknown builtin 'launch_missiles'"),
    (saxpy_doc, "funcs", [], "$: field 'funcs' has the wrong type (list)"),
    (clamp_doc, "funcs/clamp/body/0/value/args/1/id", "1x", "$.funcs.clamp.body[0].value.args[1]"),
    (clamp_doc, "funcs/clamp/params/0", "v", "$.funcs.clamp.params[0]: is not an object"),
    (clamp_doc, "body/1/body/0/value/left/func", "clamp2", "call of unknown func 'clamp2'"),
    (lambda: copy.deepcopy(golden_kernels.cast_scale.ir), "params/3/default", {"dtype": "f99"},
     "$.params[3].default: unknown dtype 'f99'"),
    (lambda: copy.deepcopy(golden_kernels.cast_scale.ir), "params/4/default", "0.5",
     "$.params[4].default: a string default must be one of"),
]  # fmt: skip


@pytest.mark.parametrize(("make", "path", "value", "message"), VALIDATION_ERRORS)
def test_validation_errors_name_the_path(make, path, value, message):
    doc = edit(make(), path, value)
    with pytest.raises(KernelIRError) as info:
        hg.Kernel.from_ir(doc)
    assert message in str(info.value)
    with pytest.raises(KernelIRError):
        ir.from_json(json.dumps(doc))


def test_a_newer_minor_version_is_read():
    doc = saxpy_doc()
    doc["version"] = [1, 7]
    assert hg.Kernel.from_ir(doc).specialize(y="f32", out="f32")


def test_truncated_documents_raise_ir_errors():
    text = golden_kernels.clamp_shift.to_json()
    for end in range(0, len(text) - 2, 3):
        with pytest.raises(KernelIRError):
            hg.Kernel.from_ir(text[:end])


def test_byte_flips_raise_ir_errors_or_still_lower():
    data = golden_kernels.block_sums.to_json().encode()
    rng = random.Random(1234)
    for _ in range(400):
        flipped = bytearray(data)
        for _ in range(rng.randint(1, 3)):
            flipped[rng.randrange(len(flipped))] ^= 1 << rng.randrange(8)
        with contextlib.suppress(KernelError):
            hg.Kernel.from_ir(bytes(flipped)).specialize(x="f32", partial="f32")


@pytest.mark.parametrize(
    "text",
    [b"", b"null", b"[]", b"42", b'"kernel"', b"\xff\xfe", b"{" * 100000, b"[" * 100000,
     b'{"schema": "hologram.kernel", "version": [1, 0]}', b'{"schema": NaN}'],
    ids=["empty", "null", "list", "number", "string", "not-utf8", "deep-objects", "deep-lists",
         "incomplete", "nan"],
)  # fmt: skip
def test_adversarial_documents_raise_ir_errors(text):
    with pytest.raises(KernelIRError):
        hg.Kernel.from_ir(text)


def nested_doc(depth: int) -> dict[str, Any]:
    """saxpy storing a + a + ... + a, `depth` additions deep."""
    doc = saxpy_doc()
    value: dict[str, Any] = {"node": "name", "id": "a"}
    for _ in range(depth):
        value = {
            "node": "binop",
            "op": "add",
            "left": value,
            "right": {"node": "const", "value": 1},
        }
    doc["body"][1]["body"][0]["value"] = value
    return doc


def test_deep_but_reasonable_nesting_lowers_and_absurd_nesting_is_refused():
    assert hg.Kernel.from_ir(nested_doc(150)).specialize(y="f32", out="f32")
    with pytest.raises(KernelIRError, match="nested too deeply"):
        hg.Kernel.from_ir(nested_doc(20000))


# ---------------------------------------------------------------- structural fuzz
NODE_KINDS = sorted(set(ir.STMT_FIELDS) | set(ir.EXPR_FIELDS))
NAMES = ["i", "x", "y", "out", "n", "a", "lo", "hi", "tile", "lane", "stride", "k", "T", "zz"]
SWAPS: dict[str, list[Any]] = {
    "node": NODE_KINDS,
    "op": [*ir.BINOPS, *ir.UNOPS, *ir.CMPOPS],
    "builtin": sorted(BUILTINS),
    "dtype": [d.value for d in DType] + [None],
    "id": NAMES, "target": NAMES, "array": NAMES, "var": NAMES,
    "func": ["clamp", "first_at_least"],
    "value": [0, 1, -1, 2, 0.5, -2.5, 2**31, -(2**63), 2**70, "nan", "inf", "-inf", True, 1e300],
}  # fmt: skip
WRONG = [0, -1, 2**70, 1.5, "x", "", "f32", None, True, [], {}, [1], {"node": "const", "value": 1}]


def containers(value: Any, found: list[Any]) -> list[Any]:
    if isinstance(value, (dict, list)):
        found.append(value)
        for item in value.values() if isinstance(value, dict) else value:
            containers(item, found)
    return found


def mutate(doc: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """`doc` with one to three structural mutations: swapped node kinds, operators and
    names; deleted keys and items; values replaced by wrong types or other subtrees."""
    doc = copy.deepcopy(doc)
    for _ in range(rng.randint(1, 3)):
        every = containers(doc, [])
        target = rng.choice(every)
        roll = rng.random()
        if isinstance(target, dict) and target:
            key = rng.choice(list(target))
            if roll < 0.4 and key in SWAPS:
                target[key] = rng.choice(SWAPS[key])
            elif roll < 0.55:
                del target[key]
            elif roll < 0.8:
                target[key] = copy.deepcopy(rng.choice(WRONG))
            else:
                target[key] = copy.deepcopy(rng.choice(every))
        elif isinstance(target, list) and target:
            k = rng.randrange(len(target))
            if roll < 0.3:
                del target[k]
            elif roll < 0.6:
                target.insert(k, copy.deepcopy(rng.choice(every)))
            else:
                target[k] = copy.deepcopy(rng.choice(WRONG))
    return doc


FUZZED = [golden_kernels.saxpy, golden_kernels.clamp_shift, golden_kernels.block_sums,
          golden_kernels.cast_scale]  # fmt: skip


@pytest.mark.parametrize("kernel", FUZZED, ids=[k.name for k in FUZZED])
def test_structural_fuzz_only_raises_kernel_errors(kernel):
    rng = random.Random(f"fuzz-{kernel.name}")
    signature = {k: DType.of(v) for k, v in SIGNATURES[kernel.name].items()}
    outcomes = {"lowered": 0, "refused": 0}
    for _ in range(400):
        doc = mutate(kernel.ir, rng)
        try:
            ir.validate(doc)
            lower(doc, signature)
            outcomes["lowered"] += 1
        except KernelError:
            outcomes["refused"] += 1
    assert outcomes["lowered"] and outcomes["refused"]  # the fuzz reaches both outcomes
