"""The catalogue of unsupported constructs: each raises a KernelError at its exact position.

Every snippet is written to a file and imported (the frontend reads kernel source from its
file). The expected line and column (both 1-based) point at the offending construct; the
hint says what to write instead.
"""

from __future__ import annotations

import importlib.util
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from hologram.errors import KernelError, KernelSyntaxError, KernelTypeError

HEADER = "import hologram as hg\n\n\n@hg.kernel\ndef k(x: hg.Array[hg.float32], n: hg.int32):\n"
"""Lines 1 to 5 of a `body` snippet: its first line is line 6, indented by four spaces."""


@dataclass(frozen=True)
class Case:
    """A snippet, the error it raises, where, and a fragment of its hint."""

    name: str
    source: str
    error: type[KernelError]
    message: str
    line: int
    col: int
    hint: str


def body(text: str) -> str:
    """A kernel `k(x, n)` whose body is `text` (its first line is line 6)."""
    return HEADER + textwrap.indent(textwrap.dedent(text).strip("\n"), "    ") + "\n"


def module(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


SYNTAX = KernelSyntaxError
CATALOGUE = [
    Case("try", body("""
        try:
            x[0] = 1.0
        except Exception:
            pass
        """), SYNTAX, "Try is not supported", 6, 5, "check conditions with `if`"),
    Case("with", body("""
        with open("f") as f:
            x[0] = 1.0
        """), SYNTAX, "With is not supported", 6, 5, "no context managers"),
    Case("yield", body("""
        i = 0
        yield x[i]
        """), SYNTAX, "Yield is not supported", 7, 5, "cannot be generators"),
    Case("lambda", body("""
        f = lambda v: v + 1
        """), SYNTAX, "Lambda is not supported", 6, 9, "@hg.func"),
    Case("comprehension", body("""
        x[0] = 1.0
        s = [v for v in range(3)]
        """), SYNTAX, "ListComp is not supported", 7, 9, "fill it in a loop"),
    # Python places a lone generator argument at its call's parenthesis.
    Case("generator-expression", body("""
        x[0] = max(v for v in range(3))
        """), SYNTAX, "GeneratorExp is not supported", 6, 15, "use a for loop"),
    Case("nested-def", body("""
        def helper(v):
            return v
        """), SYNTAX, "FunctionDef is not supported", 6, 5, "at module level with @hg.func"),
    Case("closure-over-list", module("""
        import hologram as hg


        def make():
            table = [1.0, 2.0]

            @hg.kernel
            def k(x: hg.Array[hg.float32]):
                x[0] = table[1]

            return k


        k = make()
        """), SYNTAX, "'table' is a list, which kernels cannot use", 9, 16, "mutable state"),
    Case("closure-over-dict", module("""
        import hologram as hg

        SCALES = {"a": 2.0}


        @hg.kernel
        def k(x: hg.Array[hg.float32]):
            x[0] = x[1] * SCALES["a"]
        """), SYNTAX, "'SCALES' is a dict", 8, 19, "pass other values as parameters"),
    Case("python-object", module("""
        import hologram as hg


        class Config:
            scale = 2.0


        CONFIG = Config()


        @hg.kernel
        def k(x: hg.Array[hg.float32]):
            x[0] = CONFIG.scale
        """), SYNTAX, "attribute of a Config object", 13, 12, "pass the value as a parameter"),
    Case("python-object-call", module("""
        import hologram as hg

        import numpy as np


        @hg.kernel
        def k(x: hg.Array[hg.float32]):
            x[0] = np.sum(x)
        """), SYNTAX, "'sum' cannot be called in a kernel", 8, 12, "hg.* builtins"),
    Case("recursion", module("""
        import hologram as hg


        @hg.func
        def fact(v):
            return v * fact(v - 1) if v > 1 else 1


        @hg.kernel
        def k(x: hg.Array[hg.float32]):
            x[0] = fact(5)
        """), SYNTAX, "recursion is not supported", 6, 16, "write a loop instead"),
    Case("kernel-recursion", body("""
        k(x, n)
        """), SYNTAX, "recursion is not supported", 6, 5, "write a loop instead"),
    Case("mutual-recursion", module("""
        import hologram as hg


        @hg.func
        def ping(v):
            return pong(v - 1) if v > 0 else 0


        @hg.func
        def pong(v):
            return ping(v - 1) + 1


        @hg.kernel
        def k(x: hg.Array[hg.float32]):
            x[0] = ping(4)
        """), SYNTAX, "recursion is not supported: ping -> pong -> ping", 11, 12, "a loop"),
    Case("global", body("""
        global counter
        """), SYNTAX, "Global is not supported", 6, 5, "pass the value as a parameter"),
    Case("nonlocal", module("""
        import hologram as hg


        def make():
            total = 0

            @hg.kernel
            def k(x: hg.Array[hg.float32]):
                nonlocal total
                total = 1

            return k


        k = make()
        """), SYNTAX, "Nonlocal is not supported", 9, 9, "pass the value as a parameter"),
    Case("string", body("""
        x[0] = "one"
        """), SYNTAX, "kernels have no strings", 6, 12, "an int code"),
    Case("f-string", body("""
        s = f"{n}"
        """), SYNTAX, "JoinedStr is not supported", 6, 9, "no strings"),
    Case("list", body("""
        v = [1.0, 2.0]
        """), SYNTAX, "List is not supported", 6, 9, "use hg.shared"),
    Case("dict", body("""
        v = {1: 2.0}
        """), SYNTAX, "Dict is not supported", 6, 9, "no dicts"),
    Case("tuple", body("""
        v = (1, 2)
        """), SYNTAX, "kernels have no tuples", 6, 9, "separate variables"),
    Case("slice", body("""
        x[0:2] = 1.0
        """), SYNTAX, "Slice is not supported", 6, 7, "one element at a time"),
    Case("varargs", module("""
        import hologram as hg


        @hg.kernel
        def k(x: hg.Array[hg.float32], *rest):
            x[0] = 1.0
        """), SYNTAX, "plain positional parameters only", 5, 33, "every parameter by name"),
    Case("kwargs", module("""
        import hologram as hg


        @hg.kernel
        def k(x: hg.Array[hg.float32], **options):
            x[0] = 1.0
        """), SYNTAX, "plain positional parameters only", 5, 34, "every parameter by name"),
    Case("keyword-argument", body("""
        x[0] = hg.global_id(axis=0)
        """), SYNTAX, "keyword arguments are not supported", 6, 12, "by position"),
    Case("missing-annotation", module("""
        import hologram as hg


        @hg.kernel
        def k(x: hg.Array[hg.float32], n):
            x[0] = n
        """), SYNTAX, "parameter 'n' has no type annotation", 5, 32, "n: hg.uint32"),
    Case("kernel-returns-a-value", body("""
        return x[i]
        """), SYNTAX, "kernels return nothing", 6, 5, "write results to an output array"),
    Case("assign-parameter", body("""
        n = n - 1
        """), SYNTAX, "parameter 'n' cannot be reassigned", 6, 5, "copy it into a new variable"),
    Case("loop-over-parameter", body("""
        for n in range(3):
            x[n] = 0.0
        """), SYNTAX, "parameter 'n' cannot be reassigned", 6, 9, "copy it"),
    Case("kernel-calls-kernel", module("""
        import hologram as hg


        @hg.kernel
        def other(x: hg.Array[hg.float32]):
            x[0] = 1.0


        @hg.kernel
        def k(x: hg.Array[hg.float32]):
            other(x)
        """), SYNTAX, "a kernel cannot call another kernel", 11, 5, "make 'other' a @hg.func"),
    Case("barrier-in-if", body("""
        if n > 0:
            hg.barrier()
        """), SYNTAX, "hg.barrier() must not be inside an if", 7, 9, "neutral value"),
    Case("reduction-in-if", body("""
        if n > 0:
            x[0] = hg.block_sum(x[1])
        """), SYNTAX, "hg.block_sum() must not be inside an if", 7, 9, "neutral value"),
    Case("int-true-division", body("""
        x[0] = n / 2
        """), KernelTypeError, "`/` on integers is not supported", 6, 5, "use `//`"),
    Case("unknown-name", body("""
        x[0] = undefined_thing
        """), SYNTAX, "name 'undefined_thing' is not defined", 6, 12, "pass it as a parameter"),
    Case("for-over-array", body("""
        for v in x:
            x[0] = v
        """), SYNTAX, "kernels loop over range(...) only", 6, 14, "for k in range"),
    Case("while-else", body("""
        while i < n:
            i += 1
        else:
            x[0] = 1.0
        """), SYNTAX, "while ... else is not supported", 6, 5, "flag variable"),
    Case("assert", body("""
        assert n > 0
        """), SYNTAX, "Assert is not supported", 6, 5, "error flag"),
    Case("walrus", body("""
        if (m := n) > 0:
            x[0] = m
        """), SYNTAX, "NamedExpr is not supported", 6, 9, "own line"),
    Case("unknown-attribute", body("""
        x[0] = x.shape
        """), SYNTAX, "kernel values have no attribute 'shape'", 6, 12, "`.dtype`"),
    Case("shared-not-assigned", body("""
        x[0] = hg.shared(4, hg.float32)
        """), SYNTAX, "hg.shared must be assigned to a variable", 6, 12, "tile = hg.shared"),
    Case("func-default", module("""
        import hologram as hg


        @hg.func
        def scale(v, factor=2.0):
            return v * factor


        @hg.kernel
        def k(x: hg.Array[hg.float32]):
            x[0] = scale(x[1], 3.0)
        """), SYNTAX, "func parameters cannot have defaults", 5, 21, "every argument"),
    Case("chained-compare-effects", body("""
        if 0 < hg.atomic_add(x, 0, 1.0) < 5:
            x[1] = 1.0
        """), SYNTAX, "evaluated twice", 6, 12, "assign it to a variable"),
    Case("matmul-operator", body("""
        x[0] = x[1] @ x[2]
        """), SYNTAX, "the MatMult operator is not supported", 6, 12, "hg.matmul"),
    Case("print", body("""
        print(n)
        """), SYNTAX, "'print' cannot be called in a kernel", 6, 5, "hg.* builtins"),
    Case("async", module("""
        import hologram as hg


        @hg.kernel
        async def k(x: hg.Array[hg.float32]):
            x[0] = 1.0
        """), SYNTAX, "kernels cannot be async", 5, 1, "drop `async`"),
    Case("matmul-and-more", module("""
        import hologram as hg


        @hg.kernel
        def k(a: hg.Array[hg.float32], b: hg.Array[hg.float32], c: hg.Array[hg.float32]):
            c[0] = 1.0
            hg.matmul(a, b, c, 2, 2, 2)
        """), KernelTypeError, "may contain nothing else", 7, 5, "a kernel of its own"),
    Case("non-ascii-column", body("""
        größe = 2
        x[0] = größe + "ä"
        """), SYNTAX, "kernels have no strings", 7, 20, "an int code"),
]  # fmt: skip


def load(path: Path, source: str) -> object:
    """Write `source` to `path`, import it and return its kernel `k`."""
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(f"catalogue_{path.stem}", path)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.k


@pytest.mark.parametrize("case", CATALOGUE, ids=[c.name for c in CATALOGUE])
def test_unsupported_construct_is_reported_at_its_position(tmp_path, case):
    path = tmp_path / f"{case.name.replace('-', '_')}.py"
    kernel = load(path, case.source)
    with pytest.raises(KernelError) as info:
        kernel.specialize()  # translates the source, then lowers it
    err = info.value
    assert type(err) is case.error, f"{type(err).__name__}: {err}"
    assert case.message in err.message
    assert err.file == path.name
    assert (err.line, err.col) == (case.line, case.col), str(err)
    assert err.hint and case.hint in err.hint, err.hint
    assert str(err).startswith(f"{path.name}:{case.line}:{case.col}: ")


def test_catalogue_covers_the_required_constructs():
    names = {c.name for c in CATALOGUE}
    required = {"try", "with", "yield", "lambda", "comprehension", "nested-def",
                "closure-over-list", "closure-over-dict", "python-object", "recursion",
                "mutual-recursion", "global", "nonlocal", "string", "list", "dict", "slice",
                "varargs", "kwargs", "keyword-argument", "missing-annotation",
                "kernel-returns-a-value", "assign-parameter", "kernel-calls-kernel",
                "barrier-in-if", "int-true-division", "unknown-name"}  # fmt: skip
    assert required <= names
