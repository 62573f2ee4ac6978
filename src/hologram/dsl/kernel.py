"""`@hg.kernel` and `@hg.func`: Python functions as ISA programs, specialised per signature.

    @hg.kernel
    def saxpy(a: hg.float32, x: hg.Array[hg.float32], y: hg.Array[hg.float32], n: hg.uint32):
        i = hg.global_id()
        if i < n:
            y[i] = a * x[i] + y[i]

    saxpy[hg.blocks(n, 256), 256](2.0, x, y, n)      # NumPy arrays or Buffers

The first use translates the source to the JSON IR (`kernel.ir`); each new signature (the
dtypes of generic parameters and the values of `Const` ones) is lowered to ISA once and cached.
`Kernel.from_ir(doc)` makes a kernel from a stored IR document, without its Python source.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from hologram.dsl import ir
from hologram.dsl.types import ScalarType, dtype_of_value, resolve_dtype
from hologram.errors import (
    DTypeError,
    KernelError,
    KernelSyntaxError,
    KernelTypeError,
    LaunchError,
)
from hologram.isa.dtypes import DType
from hologram.isa.program import LaunchConfig, Program

if TYPE_CHECKING:
    from hologram.runtime.executor import Executor

Signature = tuple[tuple[str, Any], ...]


class Func:
    """A helper callable from kernels (`@hg.func`); every call is inlined."""

    def __init__(self, fn: Callable[..., Any]):
        self.fn = fn
        self.name = fn.__name__
        self.__doc__ = fn.__doc__
        self._parts: tuple[dict[str, Any], list[Func]] | None = None
        self._calls: list[tuple[Func, int, int]] = []

    def parts(self) -> tuple[dict[str, Any], list[Func]]:
        """This func's IR (params, body, source) and the funcs it calls."""
        if self._parts is None:
            from hologram.dsl.frontend import Frontend

            front = Frontend(self.fn, "func")
            params, body = front.translate()
            source = {"file": front.file, "line": front.first_line}
            self._calls = front.calls
            self._parts = ({"source": source, "params": params, "body": body}, front.funcs)
        return self._parts

    def call_sites(self) -> list[tuple[Func, int, int]]:
        """Every func this func calls, with the line and column of the call."""
        self.parts()
        return self._calls

    def __call__(self, *args: Any) -> Any:
        raise KernelError(f"@hg.func {self.name!r} can only be called from a kernel")

    def __repr__(self) -> str:
        return f"<hg.func {self.name}>"


class Kernel:
    """A compute kernel: IR on first use, one ISA program per signature."""

    def __init__(
        self,
        fn: Callable[..., Any] | None = None,
        doc: dict[str, Any] | None = None,
        signatures: Sequence[dict[str, Any]] = (),
    ):
        self.fn = fn
        self._doc = doc
        self.signatures = [dict(s) for s in signatures]
        """The signatures `hologram kernels compile` builds ahead of time."""
        self.name = fn.__name__ if fn is not None else doc["name"]  # type: ignore[index]
        self.__doc__ = fn.__doc__ if fn is not None else None
        self._programs: dict[Signature, Program] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_ir(cls, doc: dict[str, Any] | str | bytes) -> Kernel:
        """A kernel from an IR document (a dict or its JSON text), validated first."""
        if isinstance(doc, (str, bytes)):
            doc = ir.from_json(doc)
        else:
            ir.validate(doc)
        return cls(doc=doc)

    # ------------------------------------------------------------ IR
    @property
    def ir(self) -> dict[str, Any]:
        """The kernel's JSON IR document (see `docs/kernel-ir.mdx`)."""
        if self._doc is None:
            self._doc = self._translate()
        return self._doc

    def _translate(self) -> dict[str, Any]:
        from hologram.dsl.frontend import Frontend

        front = Frontend(self.fn, "kernel")  # type: ignore[arg-type]
        params, body = front.translate()
        _check_recursion(front.calls)
        funcs: dict[str, Any] = {}
        seen: dict[str, Func] = {}
        pending = list(front.funcs)
        while pending:
            func = pending.pop(0)
            other = seen.get(func.name)
            if other is func:
                continue
            if other is not None:
                raise KernelError(f"two different funcs named {func.name!r} are called by "
                                  f"kernel {self.name!r}; rename one")  # fmt: skip
            seen[func.name] = func
            part, callees = func.parts()
            funcs[func.name] = part
            pending.extend(callees)
        doc = {
            "schema": ir.SCHEMA,
            "version": list(ir.VERSION),
            "name": self.name,
            "source": {"file": front.file, "line": front.first_line},
            "params": params,
            "body": body,
            "funcs": dict(sorted(funcs.items())),
        }
        ir.validate(doc)
        return doc

    def to_json(self) -> str:
        """The IR document as JSON text."""
        return ir.to_json(self.ir)

    @property
    def params(self) -> list[dict[str, Any]]:
        """The parameters as the IR declares them."""
        return self.ir["params"]

    # ------------------------------------------------------------ specialisation
    def signature(self, args: Sequence[Any]) -> Signature:
        """The signature `args` call for: generic dtypes and Const values, by parameter name."""
        params = self.params
        if len(args) > len(params) or len(args) < sum(
            1 for p in params if not (p["kind"] == "const" and "default" in p)
        ):
            names = ", ".join(p["name"] for p in params)
            raise LaunchError(f"kernel {self.name!r} takes ({names}), got {len(args)} arguments")
        entries: list[tuple[str, Any]] = []
        for param, arg in zip(params, args, strict=False):
            kind, name = param["kind"], param["name"]
            if kind == "const":
                entries.append((name, _const_arg(self.name, param, arg)))
                continue
            declared = param.get("dtype")
            actual = _array_dtype(arg) if kind == "array" else _scalar_dtype(arg)
            if kind == "array" and actual is None:
                raise LaunchError(f"kernel {self.name!r}: argument {name!r} must be an array "
                                  f"or Buffer, got {type(arg).__name__}")  # fmt: skip
            if declared is None:
                entries.append((name, actual))
            elif kind == "array" and actual is not DType(declared):
                raise LaunchError(f"kernel {self.name!r}: argument {name!r} must be "
                                  f"{declared}, got {actual}")  # fmt: skip
        return tuple(entries)

    def specialize(self, signature: Signature | dict[str, Any] | None = None, **kw: Any) -> Program:
        """The ISA program for a signature (given as a mapping, pairs or keywords)."""
        normalized = self._complete(dict(signature or {}, **kw))
        key = _cache_key(normalized)
        program = self._programs.get(key)
        if program is None:
            from hologram.dsl.lower import lower

            with self._lock:
                program = self._programs.get(key)
                if program is None:
                    program = lower(self.ir, normalized)
                    self._programs[key] = program
        return program

    def _complete(self, signature: dict[str, Any]) -> dict[str, Any]:
        """`signature` normalised, with the defaults of the Consts it leaves out: a program
        and its cache key do not depend on whether a default was passed or omitted."""
        from hologram.dsl.lower import const_param_value

        defaults = {
            p["name"]: const_param_value(p["default"])
            for p in self.params
            if p["kind"] == "const" and "default" in p and p["name"] not in signature
        }
        return _normalized({**signature, **defaults})

    def add_program(self, signature: Signature | dict[str, Any], program: Program) -> None:
        """Cache a precompiled `program` for `signature`, so `specialize` does not lower it.

        The signature is keyed as `specialize` keys it. The caller vouches that `program` is
        what lowering this kernel for `signature` gives (a kernel bundle stores exactly that).
        """
        key = _cache_key(self._complete(dict(signature)))
        with self._lock:
            self._programs[key] = program

    def program_for(self, args: Sequence[Any]) -> tuple[Program, list[Any]]:
        """The program for `args` and the arguments it takes (Const values removed)."""
        signature = self.signature(args)
        program = self.specialize(signature)
        consts = {p["name"] for p in self.params if p["kind"] == "const"}
        runtime = [a for p, a in zip(self.params, args, strict=False) if p["name"] not in consts]
        return program, runtime

    # ------------------------------------------------------------ launching
    def __getitem__(self, config: Any) -> BoundLaunch:
        """`kernel[grid, block]` (or `kernel[LaunchConfig]`): a launch, called with args."""
        if isinstance(config, LaunchConfig):
            return BoundLaunch(self, config)
        if not isinstance(config, tuple) or len(config) != 2:
            raise LaunchError("launch a kernel as kernel[grid, block](args...)")
        return BoundLaunch(self, LaunchConfig(config[0], config[1]))

    def launch(self, executor: Executor | None, config: LaunchConfig, args: Sequence[Any]) -> None:
        """Run over `config` on `executor` (default: the Buffers' executor, else the ops one)."""
        program, runtime = self.program_for(args)
        (executor or _executor_of(args)).launch(program, config, args=runtime)

    def __call__(self, *args: Any, **kwargs: Any) -> None:
        raise LaunchError(f"launch kernel {self.name!r} as {self.name}[grid, block](args...)")

    def __repr__(self) -> str:
        return f"<hg.kernel {self.name}>"


class BoundLaunch:
    """A kernel with its launch configuration; call it with the arguments."""

    def __init__(self, kernel: Kernel, config: LaunchConfig):
        self.kernel = kernel
        self.config = config

    def __call__(self, *args: Any, executor: Executor | None = None) -> None:
        self.kernel.launch(executor, self.config, args)


def kernel(
    fn: Callable[..., Any] | None = None, *, signatures: Sequence[dict[str, Any]] = ()
) -> Any:
    """Decorator: make `fn` a kernel (translated on first use).

    `@hg.kernel(signatures=[{"x": hg.float32}, {"x": hg.float64}])` also lists the signatures
    that `hologram kernels compile` builds ahead of time (generic dtypes and Const values).
    """
    if fn is None:
        return lambda f: Kernel(f, signatures=signatures)
    return Kernel(fn, signatures=signatures)


def func(fn: Callable[..., Any]) -> Func:
    """Decorator: make `fn` a helper that kernels call (inlined at each call)."""
    return Func(fn)


def blocks(n: int, block: int = 256) -> int:
    """The number of blocks of `block` lanes that cover `n` items (at least one)."""
    return max(1, math.ceil(int(n) / int(block)))


def _normalize(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, (DType, bool, int, float)):
        return value
    try:
        return resolve_dtype(value)
    except (DTypeError, TypeError):
        raise KernelTypeError(f"a signature value must be a dtype or a number, "
                              f"got {value!r}") from None  # fmt: skip


def _normalized(signature: dict[str, Any]) -> dict[str, Any]:
    """A signature with dtypes resolved, sorted by parameter name."""
    return {name: _normalize(signature[name]) for name in sorted(signature)}


def _cache_key(normalized: dict[str, Any]) -> Signature:
    # By type and repr, so that Const values 1, 1.0 and True (equal in Python) and NaN
    # (unequal to itself) each key their own program.
    return tuple((k, type(v).__name__, repr(v)) for k, v in normalized.items())


def _array_dtype(arg: Any) -> DType | None:
    from hologram.memory.buffer import Buffer

    if isinstance(arg, Buffer):
        return arg.dtype
    dtype = getattr(arg, "dtype", None)
    if isinstance(dtype, DType):  # a planned tensor (`compiler.context.TensorRef`)
        return dtype
    if isinstance(arg, np.ndarray):
        try:
            return DType.of(arg.dtype)
        except DTypeError as exc:
            raise LaunchError(str(exc)) from None
    return None


def _scalar_dtype(arg: Any) -> DType:
    if isinstance(arg, np.ndarray) and arg.ndim == 0:
        return DType.of(arg.dtype)
    if not isinstance(arg, (int, float, bool, np.generic)):
        raise LaunchError(f"expected a number for a scalar parameter, got {type(arg).__name__}")
    return dtype_of_value(arg)


def _const_arg(kernel_name: str, param: dict[str, Any], arg: Any) -> Any:
    kind = param.get("type")
    if isinstance(arg, (ScalarType, DType, np.dtype, type, str)) and not isinstance(arg, bool):
        if kind not in (None, "dtype"):
            raise KernelTypeError(f"kernel {kernel_name!r}: Const {param['name']!r} must be {kind}")
        return resolve_dtype(arg)
    if isinstance(arg, np.generic):
        arg = arg.item()
    if not isinstance(arg, (bool, int, float)):
        raise KernelTypeError(f"kernel {kernel_name!r}: Const {param['name']!r} must be a "
                              f"number, a bool or a dtype, got {type(arg).__name__}")  # fmt: skip
    expected = {"int": int, "float": (int, float), "bool": bool}.get(kind or "")
    if expected is not None and (
        not isinstance(arg, expected) or (kind == "int" and isinstance(arg, bool))
    ):
        raise KernelTypeError(f"kernel {kernel_name!r}: Const {param['name']!r} must be {kind}")
    return float(arg) if kind == "float" else arg


def _check_recursion(calls: list[tuple[Func, int, int]]) -> None:
    """Raise KernelSyntaxError at the call that closes a cycle of funcs calling each other
    (a func calling itself directly is caught by the frontend)."""
    done: set[int] = set()

    def visit(func: Func, path: list[Func]) -> None:
        if id(func) in done:
            return
        path.append(func)
        for callee, line, col in func.call_sites():
            if any(callee is f for f in path):
                cycle = " -> ".join(f.name for f in path[path.index(callee) :])
                file = func.parts()[0]["source"]["file"]
                raise KernelSyntaxError(
                    f"recursion is not supported: {cycle} -> {callee.name}",
                    file, line, col, "write a loop instead",
                )  # fmt: skip
            visit(callee, path)
        path.pop()
        done.add(id(func))

    for func, _, _ in calls:
        visit(func, [])


def _executor_of(args: Iterable[Any]) -> Executor:
    from hologram.ops._operands import default_executor, is_buffer

    for arg in args:
        if is_buffer(arg):
            return arg.executor
    return default_executor()
