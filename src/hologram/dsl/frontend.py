"""The kernel frontend: a Python function's syntax tree → the JSON IR (`dsl/ir.py`).

One `emit_<Node>` method per supported Python node; any other node raises `KernelSyntaxError`
with the file, line and column, and what to write instead. Names are resolved here, once:
parameters and locals stay names; `hg.*` builtins, scalar types, `@hg.func` helpers and
module-level numbers become IR nodes. Nothing of the user's module is executed.
"""

from __future__ import annotations

import ast
import builtins
import inspect
import textwrap
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hologram.dsl import ir
from hologram.dsl.frontend_exprs import BINOPS, OPERATOR_HINT, ExprFrontend
from hologram.dsl.types import (
    ArrayType,
    ConstType,
    DTypeMarker,
    GenericScalar,
    resolve_dtype,
)
from hologram.errors import DTypeError, KernelSyntaxError

Node = dict[str, Any]


_UNSUPPORTED_HINTS: dict[type, str] = {
    ast.Try: "kernels cannot catch errors; check conditions with `if` instead",
    ast.With: "kernels have no context managers; write the statements directly",
    ast.Yield: "kernels cannot be generators; write results to an output array",
    ast.YieldFrom: "kernels cannot be generators; write results to an output array",
    ast.Lambda: "define a helper with @hg.func instead",
    ast.ListComp: "allocate an output array and fill it in a loop",
    ast.DictComp: "kernels have no dicts",
    ast.SetComp: "kernels have no sets",
    ast.GeneratorExp: "use a for loop",
    ast.FunctionDef: "define helpers at module level with @hg.func",
    ast.ClassDef: "kernels cannot define classes",
    ast.Global: "pass the value as a parameter",
    ast.Nonlocal: "pass the value as a parameter",
    ast.Delete: "kernel variables cannot be deleted",
    ast.Raise: "kernels cannot raise; write an error flag to an output array",
    ast.Assert: "kernels cannot assert; write an error flag to an output array",
    ast.Import: "import at module level",
    ast.ImportFrom: "import at module level",
    ast.List: "kernels have no lists; use hg.shared or an array parameter",
    ast.Dict: "kernels have no dicts",
    ast.Set: "kernels have no sets",
    ast.JoinedStr: "kernels have no strings",
    ast.Await: "kernels cannot be async",
    ast.NamedExpr: "assign on its own line",
    ast.Slice: "index one element at a time",
    ast.Starred: "pass arguments one by one",
}


class Frontend(ExprFrontend):
    """Translates one Python function (a kernel or a func) into IR parts."""

    def __init__(self, fn: Callable[..., Any], kind: str):
        self.fn = fn
        self.kind = kind
        self.file = _display_path(inspect.getsourcefile(fn) or "<unknown>")
        try:
            lines, first = inspect.getsourcelines(fn)
        except (OSError, TypeError) as exc:
            raise KernelSyntaxError(
                f"cannot read the source of {fn.__qualname__}: {exc}", self.file
            ) from None
        source = "".join(lines)
        dedented = textwrap.dedent(source)
        self.indent = len(lines[0]) - len(lines[0].lstrip()) if lines else 0
        self.first_line = first
        self.source_lines = dedented.splitlines()
        try:
            tree = ast.parse(dedented)
        except SyntaxError as exc:
            # A lambda or a definition whose source lines do not parse on their own.
            message = f"cannot parse the source of {fn.__qualname__}: {exc.msg}"
            raise KernelSyntaxError(message, self.file, first, hint="define it with def") from None
        node = tree.body[0]
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            raise KernelSyntaxError("expected a function definition", self.file, first)
        self.node = node
        self.funcs: list[Any] = []  # the Func objects this function calls
        self.calls: list[tuple[Any, int, int]] = []  # (Func, line, col) of every func call
        self.locals: set[str] = set()
        self.param_names: list[str] = []
        self.closure = _closure_values(fn)

    # ------------------------------------------------------------ positions and errors
    def where(self, node: ast.AST) -> dict[str, int]:
        """The 1-based line and column of `node` in its file."""
        lineno = getattr(node, "lineno", 1)
        offset = getattr(node, "col_offset", 0)
        if 0 < lineno <= len(self.source_lines):
            # col_offset counts UTF-8 bytes; editors count characters.
            text = self.source_lines[lineno - 1].encode()[:offset]
            offset = len(text.decode(errors="replace"))
        return {"line": lineno + self.first_line - 1, "col": offset + self.indent + 1}

    def error(self, node: ast.AST, message: str, hint: str | None = None) -> KernelSyntaxError:
        """A KernelSyntaxError at `node`."""
        pos = self.where(node)
        return KernelSyntaxError(message, self.file, pos["line"], pos["col"], hint)

    # ------------------------------------------------------------ entry points
    def translate(self) -> tuple[list[Node], list[Node]]:
        """The parameters and the body of the function, as IR."""
        node = self.node
        if isinstance(node, ast.AsyncFunctionDef):
            raise self.error(node, "kernels cannot be async", "drop `async`")
        args = node.args
        special = [args.vararg, args.kwarg, *args.kwonlyargs, *args.posonlyargs]
        for arg in special:
            if arg is not None:
                raise self.error(arg, f"{self.kind}s take plain positional parameters only",
                                 "list every parameter by name")  # fmt: skip
        if self.kind == "func" and args.defaults:
            raise self.error(args.defaults[0], "func parameters cannot have defaults",
                             "pass every argument at each call")  # fmt: skip
        defaults = [None] * (len(args.args) - len(args.defaults)) + list(args.defaults)
        params = [self.param(a, d) for a, d in zip(args.args, defaults, strict=True)]
        self.param_names = [p["name"] for p in params]
        self.locals = _assigned_names(node) | set(self.param_names)
        body = node.body
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
            body = body[1:]  # the docstring
        return params, self.block(body)

    def param(self, arg: ast.arg, default: ast.expr | None) -> Node:
        """The IR of one parameter (a func's parameters are names only)."""
        name = arg.arg
        if self.kind == "func":
            return {"name": name}
        if arg.annotation is None:
            hint = "annotate it, e.g. `x: hg.Array[hg.float32]` or `n: hg.uint32`"
            raise self.error(arg, f"parameter {name!r} has no type annotation", hint)
        value = self.resolve_annotation(arg.annotation)
        if isinstance(value, ArrayType):
            dtype = None if value.dtype is None else value.dtype.value
            param: Node = {"name": name, "kind": "array", "dtype": dtype}
        elif isinstance(value, GenericScalar):
            param = {"name": name, "kind": "scalar", "dtype": None}
        elif isinstance(value, ConstType):
            param = {"name": name, "kind": "const", "type": value.kind}
        else:
            try:
                dtype = resolve_dtype(value)
            except (DTypeError, TypeError):
                raise self.error(arg.annotation, f"parameter {name!r} has an unsupported type",
                                 "use hg.Array[...], a scalar type like hg.float32, "
                                 "hg.Scalar or hg.Const[...]") from None  # fmt: skip
            param = {"name": name, "kind": "scalar", "dtype": dtype.value}
        if default is not None:
            if param["kind"] != "const":
                raise self.error(default, "only hg.Const parameters may have defaults")
            param["default"] = self.constant_default(default)
        return param

    def constant_default(self, node: ast.expr) -> Any:
        """A Const default in IR form: a number, a special float string or a dtype."""
        try:
            value = ast.literal_eval(node)  # numbers, including negative ones: -1, -0.5
        except ValueError:
            value = self.static_value(node)
        if isinstance(value, (bool, int, float)):
            return ir.encode_const(value)
        try:
            return {"dtype": resolve_dtype(value).value}
        except (DTypeError, TypeError):
            raise self.error(node, "a Const default must be a number, a bool or a dtype") from None

    def resolve_annotation(self, node: ast.expr) -> Any:
        """The object an annotation names (`hg.Array[hg.float32]`, `hg.uint32`, ...)."""
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            try:
                node = ast.copy_location(ast.parse(node.value, mode="eval").body, node)
            except SyntaxError:
                raise self.error(node, f"bad annotation {node.value!r}") from None
        if isinstance(node, ast.Subscript):
            base = self.static_value(node.value)
            item = self.static_value(node.slice)
            try:
                return base[item]
            except (TypeError, DTypeError) as exc:
                raise self.error(node, f"bad annotation: {exc}") from None
        return self.static_value(node)

    def static_value(self, node: ast.expr) -> Any:
        """The module-level object a Name or Attribute chain refers to (nothing is called)."""
        if isinstance(node, ast.Name):
            return self.lookup(node)
        if isinstance(node, ast.Attribute):
            base = self.static_value(node.value)
            if not isinstance(base, (types.ModuleType, type)):
                raise self.error(node, f"{ast.unparse(node)!r} reads an attribute of a "
                                 f"{type(base).__name__} object, which kernels cannot use",
                                 "pass the value as a parameter (or a Const)")  # fmt: skip
            try:
                return getattr(base, node.attr)
            except AttributeError:
                raise self.error(node, f"{ast.unparse(node)!r} does not exist") from None
        if isinstance(node, ast.Constant):
            return node.value
        raise self.error(node, f"{ast.unparse(node)!r} is not a name the kernel can resolve")

    def lookup(self, node: ast.Name) -> Any:
        """The value of a module-level (or closed-over) name."""
        name = node.id
        if name in self.closure:
            return self.closure[name]
        if name in self.fn.__globals__:
            return self.fn.__globals__[name]
        if hasattr(builtins, name):
            return getattr(builtins, name)
        hint = "assign it first, define it at module level or pass it as a parameter"
        raise self.error(node, f"name {name!r} is not defined", hint)

    # ------------------------------------------------------------ statements
    def block(self, stmts: list[ast.stmt]) -> list[Node]:
        """The IR of a list of statements."""
        out: list[Node] = []
        for stmt in stmts:
            out.extend(self.stmt(stmt))
        return out

    def stmt(self, node: ast.stmt) -> list[Node]:
        """The IR of one statement (a list: some statements expand to several)."""
        method = getattr(self, f"emit_{type(node).__name__}", None)
        if method is None:
            raise self.unsupported(node)
        return method(node)

    def unsupported(self, node: ast.AST) -> KernelSyntaxError:
        """The error for a Python construct the language does not have."""
        kind = type(node).__name__
        hint = _UNSUPPORTED_HINTS.get(type(node))
        return self.error(node, f"{kind} is not supported in kernels", hint)

    def at(self, where: ast.AST, **fields: Any) -> Node:
        """An IR statement with `fields`, positioned at `where`."""
        return {**fields, **self.where(where)}

    def emit_Pass(self, node: ast.Pass) -> list[Node]:
        return []

    def emit_Expr(self, node: ast.Expr) -> list[Node]:
        if isinstance(node.value, ast.Constant) and (
            isinstance(node.value.value, str) or node.value.value is Ellipsis
        ):
            return []  # a string statement is a comment; `...` is `pass`
        return [self.at(node, node="expr", value=self.expr(node.value))]

    def emit_Assign(self, node: ast.Assign) -> list[Node]:
        if len(node.targets) == 1:
            return self.assign(node.targets[0], node.value, node)
        # `a = b = value`: the value is evaluated once, as in Python.
        temp = f"_t{node.lineno}"
        self.locals.add(temp)
        out = [self.at(node, node="assign", target=temp, value=self.expr(node.value))]
        for target in node.targets:
            out.extend(self.assign(target, ast.Name(temp, ast.Load(), **_pos(node)), node))
        return out

    def emit_AnnAssign(self, node: ast.AnnAssign) -> list[Node]:
        if node.value is None:
            raise self.error(node, "a declaration needs a value", "write `x: hg.float32 = 0.0`")
        value = node.value
        dtype = self.resolve_annotation(node.annotation)
        try:
            dt = resolve_dtype(dtype)
        except (DTypeError, TypeError):
            raise self.error(node.annotation, "a local annotation must be a scalar type") from None
        cast = {"node": "cast", "type": {"node": "dtype", "dtype": dt.value},
                "value": self.expr(value)}  # fmt: skip
        return [self.at(node, node="assign", target=self.target_name(node.target), value=cast)]

    def assign(self, target: ast.expr, value: ast.expr, node: ast.stmt) -> list[Node]:
        """`target = value` as IR: a variable, an array element, or a tuple unpacked."""
        if isinstance(target, ast.Tuple):
            if not isinstance(value, ast.Tuple) or len(value.elts) != len(target.elts):
                raise self.error(node, "tuple assignment needs a tuple of the same length",
                                 "assign each variable on its own line")  # fmt: skip
            temps = [f"_t{node.lineno}_{k}" for k in range(len(target.elts))]
            self.locals.update(temps)
            out = [self.at(node, node="assign", target=t, value=self.expr(v))
                   for t, v in zip(temps, value.elts, strict=True)]  # fmt: skip
            for t, tgt in zip(temps, target.elts, strict=True):
                out.extend(self.assign(tgt, ast.Name(t, ast.Load(), **_pos(node)), node))
            return out
        if isinstance(target, ast.Subscript):
            array, index = self.subscript(target)
            return [self.at(node, node="store", array=array, index=index, value=self.expr(value))]
        name = self.target_name(target)
        if isinstance(value, ast.Call) and self.callee(value.func) == ("builtin", "shared"):
            return [self.shared(name, value, node)]
        return [self.at(node, node="assign", target=name, value=self.expr(value))]

    def shared(self, name: str, call: ast.Call, node: ast.stmt) -> Node:
        """The `shared` statement of `name = hg.shared(shape, dtype)`."""
        if len(call.args) != 2 or call.keywords:
            raise self.error(call, "hg.shared takes (shape, dtype)",
                             "e.g. hg.shared(256, hg.float32)")  # fmt: skip
        shape_node = call.args[0]
        dims = shape_node.elts if isinstance(shape_node, ast.Tuple) else [shape_node]
        shape = [self.expr(d) for d in dims]
        return self.at(node, node="shared", target=name, shape=shape,
                       dtype=self.expr(call.args[1]))  # fmt: skip

    def target_name(self, target: ast.expr) -> str:
        """The variable an assignment binds (parameters of kernels cannot be rebound)."""
        if not isinstance(target, ast.Name):
            raise self.error(target, f"cannot assign to {ast.unparse(target)!r}",
                             "assign to a variable or an array element")  # fmt: skip
        if target.id in self.param_names and self.kind == "kernel":
            raise self.error(target, f"parameter {target.id!r} cannot be reassigned",
                             "copy it into a new variable")  # fmt: skip
        return target.id

    def emit_AugAssign(self, node: ast.AugAssign) -> list[Node]:
        op = BINOPS.get(type(node.op))
        if op is None:
            raise self.error(node, f"the {type(node.op).__name__} operator is not supported",
                             OPERATOR_HINT)  # fmt: skip
        value = self.expr(node.value)
        if isinstance(node.target, ast.Subscript):
            array, index = self.subscript(node.target)
            current = {"node": "load", "array": array, "index": index}
            new = {"node": "binop", "op": op, "left": current, "right": value}
            return [self.at(node, node="store", array=array, index=index, value=new)]
        name = self.target_name(node.target)
        new = {"node": "binop", "op": op, "left": {"node": "name", "id": name}, "right": value}
        return [self.at(node, node="assign", target=name, value=new)]

    def emit_If(self, node: ast.If) -> list[Node]:
        return [self.at(node, node="if", test=self.expr(node.test),
                        body=self.block(node.body), orelse=self.block(node.orelse))]  # fmt: skip

    def emit_For(self, node: ast.For) -> list[Node]:
        if node.orelse:
            raise self.error(node, "for ... else is not supported", "use a flag variable")
        if not isinstance(node.target, ast.Name):
            raise self.error(node.target, "the loop variable must be a single name")
        var = self.target_name(node.target)
        it = node.iter
        if not (isinstance(it, ast.Call) and self.callee(it.func) == ("python", "range")):
            raise self.error(it, "kernels loop over range(...) only",
                             "write `for k in range(start, stop, step)`")  # fmt: skip
        if it.keywords or not 1 <= len(it.args) <= 3:
            raise self.error(it, "range takes 1 to 3 positional arguments")
        args = [self.expr(a) for a in it.args]
        one = {"node": "const", "value": 1}
        start, stop, step = (
            ({"node": "const", "value": 0}, args[0], one) if len(args) == 1
            else (args[0], args[1], one) if len(args) == 2
            else tuple(args)
        )  # fmt: skip
        return [self.at(node, node="for", var=var, start=start, stop=stop,
                        step=step, body=self.block(node.body))]  # fmt: skip

    def emit_While(self, node: ast.While) -> list[Node]:
        if node.orelse:
            raise self.error(node, "while ... else is not supported", "use a flag variable")
        return [self.at(node, node="while", test=self.expr(node.test),
                        body=self.block(node.body))]  # fmt: skip

    def emit_Break(self, node: ast.Break) -> list[Node]:
        return [self.at(node, node="break")]

    def emit_Continue(self, node: ast.Continue) -> list[Node]:
        return [self.at(node, node="continue")]

    def emit_Return(self, node: ast.Return) -> list[Node]:
        if node.value is not None and self.kind == "kernel":
            raise self.error(node, "kernels return nothing",
                             "write results to an output array, then `return`")  # fmt: skip
        value = None if node.value is None else self.expr(node.value)
        return [self.at(node, node="return", value=value)]


def _pos(node: ast.AST) -> dict[str, int]:
    return {"lineno": node.lineno, "col_offset": node.col_offset}  # type: ignore[attr-defined]


def _assigned_names(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
    """Every name the function binds: assignment targets and loop variables."""
    names: set[str] = set()
    for node in ast.walk(fn):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
    return names


def _closure_values(fn: Callable[..., Any]) -> dict[str, Any]:
    code = fn.__code__
    cells = fn.__closure__ or ()
    values: dict[str, Any] = {}
    for name, cell in zip(code.co_freevars, cells, strict=True):
        try:
            values[name] = cell.cell_contents
        except ValueError:
            continue
    return values


def _display_path(path: str) -> str:
    """A source path as IR documents store it, the same from any working directory.

    hologram's own files are `hologram/...`; a file in a project (a folder holding a
    `pyproject.toml`, `setup.py` or `.git`) is relative to the project's root; any other
    file is its name. A pseudo-file (an interactive cell, `<stdin>`) keeps its name.
    """
    p = Path(path)
    if not p.is_file():
        return path
    resolved = p.resolve()
    package = Path(__file__).resolve().parent.parent
    if resolved.is_relative_to(package):
        return "hologram/" + resolved.relative_to(package).as_posix()
    for parent in resolved.parents:
        if any((parent / marker).exists() for marker in _PROJECT_MARKERS):
            return resolved.relative_to(parent).as_posix()
    return resolved.name


_PROJECT_MARKERS = ("pyproject.toml", "setup.py", ".git")


def describe(fn: Callable[..., Any]) -> str:
    """`module.qualname` of a function, for messages."""
    module = fn.__module__ if isinstance(fn, types.FunctionType) else type(fn).__module__
    return f"{module}.{fn.__qualname__}"


__all__ = ["DTypeMarker", "Frontend", "describe"]
