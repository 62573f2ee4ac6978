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
from hologram.dsl.builtins import PYTHON_ALIASES, Builtin
from hologram.dsl.types import (
    ArrayType,
    ConstType,
    DTypeMarker,
    GenericScalar,
    ScalarType,
    resolve_dtype,
)
from hologram.errors import DTypeError, KernelSyntaxError
from hologram.isa.dtypes import DType

Node = dict[str, Any]

_BINOPS = {
    ast.Add: "add", ast.Sub: "sub", ast.Mult: "mul", ast.Div: "truediv",
    ast.FloorDiv: "floordiv", ast.Mod: "mod", ast.Pow: "pow", ast.BitAnd: "and",
    ast.BitOr: "or", ast.BitXor: "xor", ast.LShift: "lshift", ast.RShift: "rshift",
}  # fmt: skip
_UNOPS = {ast.USub: "neg", ast.UAdd: "pos", ast.Not: "not", ast.Invert: "invert"}
_CMPOPS = {ast.Eq: "eq", ast.NotEq: "ne", ast.Lt: "lt", ast.LtE: "le", ast.Gt: "gt", ast.GtE: "ge"}
_PY_CASTS = {id(float): DType.F32, id(int): DType.I32, id(bool): DType.BOOL}

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


class Frontend:
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
        tree = ast.parse(dedented)
        node = tree.body[0]
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            raise KernelSyntaxError("expected a function definition", self.file, first)
        self.node = node
        self.funcs: list[Any] = []  # the Func objects this function calls
        self.locals: set[str] = set()
        self.param_names: list[str] = []
        self.closure = _closure_values(fn)

    # ------------------------------------------------------------ positions and errors
    def where(self, node: ast.AST) -> dict[str, int]:
        line = getattr(node, "lineno", 1) + self.first_line - 1
        col = getattr(node, "col_offset", 0) + self.indent + 1
        return {"line": line, "col": col}

    def error(self, node: ast.AST, message: str, hint: str | None = None) -> KernelSyntaxError:
        pos = self.where(node)
        return KernelSyntaxError(message, self.file, pos["line"], pos["col"], hint)

    # ------------------------------------------------------------ entry points
    def translate(self) -> tuple[list[Node], list[Node]]:
        """The parameters and the body of the function, as IR."""
        node = self.node
        if isinstance(node, ast.AsyncFunctionDef):
            raise self.error(node, "kernels cannot be async", "drop `async`")
        args = node.args
        if args.vararg or args.kwarg or args.kwonlyargs or args.posonlyargs:
            raise self.error(node, "kernels take plain positional parameters only",
                             "list every parameter by name")  # fmt: skip
        defaults = [None] * (len(args.args) - len(args.defaults)) + list(args.defaults)
        params = [self.param(a, d) for a, d in zip(args.args, defaults, strict=True)]
        self.param_names = [p["name"] for p in params]
        self.locals = _assigned_names(node) | set(self.param_names)
        body = node.body
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
            body = body[1:]  # the docstring
        return params, self.block(body)

    def param(self, arg: ast.arg, default: ast.expr | None) -> Node:
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
        value = self.static_value(node)
        if isinstance(value, (bool, int, float)):
            return ir.encode_const(value)
        try:
            return {"dtype": resolve_dtype(value).value}
        except (DTypeError, TypeError):
            raise self.error(node, "a Const default must be a number, a bool or a dtype") from None

    def resolve_annotation(self, node: ast.expr) -> Any:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            node = ast.parse(node.value, mode="eval").body
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
            try:
                return getattr(base, node.attr)
            except AttributeError:
                raise self.error(node, f"{ast.unparse(node)!r} does not exist") from None
        if isinstance(node, ast.Constant):
            return node.value
        raise self.error(node, f"{ast.unparse(node)!r} is not a name the kernel can resolve")

    def lookup(self, node: ast.Name) -> Any:
        name = node.id
        if name in self.closure:
            return self.closure[name]
        if name in self.fn.__globals__:
            return self.fn.__globals__[name]
        if hasattr(builtins, name):
            return getattr(builtins, name)
        raise self.error(node, f"name {name!r} is not defined")

    # ------------------------------------------------------------ statements
    def block(self, stmts: list[ast.stmt]) -> list[Node]:
        out: list[Node] = []
        for stmt in stmts:
            out.extend(self.stmt(stmt))
        return out

    def stmt(self, node: ast.stmt) -> list[Node]:
        method = getattr(self, f"emit_{type(node).__name__}", None)
        if method is None:
            raise self.unsupported(node)
        return method(node)

    def unsupported(self, node: ast.AST) -> KernelSyntaxError:
        kind = type(node).__name__
        hint = _UNSUPPORTED_HINTS.get(type(node))
        return self.error(node, f"{kind} is not supported in kernels", hint)

    def at(self, where: ast.AST, **fields: Any) -> Node:
        return {**fields, **self.where(where)}

    def emit_Pass(self, node: ast.Pass) -> list[Node]:
        return []

    def emit_Expr(self, node: ast.Expr) -> list[Node]:
        if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            return []  # a string statement is a comment
        return [self.at(node, node="expr", value=self.expr(node.value))]

    def emit_Assign(self, node: ast.Assign) -> list[Node]:
        out: list[Node] = []
        for target in node.targets:
            out.extend(self.assign(target, node.value, node))
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
        if len(call.args) != 2 or call.keywords:
            raise self.error(call, "hg.shared takes (shape, dtype)",
                             "e.g. hg.shared(256, hg.float32)")  # fmt: skip
        shape_node = call.args[0]
        dims = shape_node.elts if isinstance(shape_node, ast.Tuple) else [shape_node]
        shape = [self.expr(d) for d in dims]
        return self.at(node, node="shared", target=name, shape=shape,
                       dtype=self.expr(call.args[1]))  # fmt: skip

    def target_name(self, target: ast.expr) -> str:
        if not isinstance(target, ast.Name):
            raise self.error(target, f"cannot assign to {ast.unparse(target)!r}",
                             "assign to a variable or an array element")  # fmt: skip
        if target.id in self.param_names and self.kind == "kernel":
            raise self.error(target, f"parameter {target.id!r} cannot be reassigned",
                             "copy it into a new variable")  # fmt: skip
        return target.id

    def emit_AugAssign(self, node: ast.AugAssign) -> list[Node]:
        op = _BINOPS.get(type(node.op))
        if op is None:
            raise self.unsupported(node.op)
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
        return [self.at(node, node="for", var=node.target.id, start=start, stop=stop,
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

    # ------------------------------------------------------------ expressions
    def expr(self, node: ast.expr) -> Node:
        method = getattr(self, f"expr_{type(node).__name__}", None)
        if method is None:
            raise self.unsupported(node)
        return method(node)

    def expr_Constant(self, node: ast.Constant) -> Node:
        value = node.value
        if isinstance(value, (bool, int, float)):
            return {"node": "const", "value": ir.encode_const(value)}
        kind = "strings" if isinstance(value, str) else f"{type(value).__name__} values"
        raise self.error(node, f"kernels have no {kind}")

    def expr_Name(self, node: ast.Name) -> Node:
        if node.id in self.locals:
            return {"node": "name", "id": node.id}
        return self.value_node(self.lookup(node), node)

    def expr_Attribute(self, node: ast.Attribute) -> Node:
        if isinstance(node.value, ast.Name) and node.value.id in self.locals:
            if node.attr != "dtype":
                raise self.error(node, f"kernel values have no attribute {node.attr!r}",
                                 "the one attribute is `.dtype`")  # fmt: skip
            return {"node": "attr", "value": {"node": "name", "id": node.value.id},
                    "attr": "dtype"}  # fmt: skip
        return self.value_node(self.static_value(node), node)

    def value_node(self, value: Any, node: ast.expr) -> Node:
        """A module-level value used in a kernel: a number or a dtype; else an error."""
        if isinstance(value, (bool, int, float)):
            return {"node": "const", "value": ir.encode_const(value)}
        if isinstance(value, ScalarType):
            return {"node": "dtype", "dtype": value.dtype.value}
        if isinstance(value, type) and value is not bool and _numpy_dtype(value) is not None:
            return {"node": "dtype", "dtype": _numpy_dtype(value).value}  # type: ignore[union-attr]
        what = type(value).__name__
        raise self.error(node, f"{ast.unparse(node)!r} is a {what}, which kernels cannot use",
                         "kernels read numbers and dtypes from the module; pass other values "
                         "as parameters (kernels cannot close over mutable state)")  # fmt: skip

    def expr_BinOp(self, node: ast.BinOp) -> Node:
        op = _BINOPS.get(type(node.op))
        if op is None:
            raise self.unsupported(node.op)
        return {"node": "binop", "op": op, "left": self.expr(node.left),
                "right": self.expr(node.right)}  # fmt: skip

    def expr_UnaryOp(self, node: ast.UnaryOp) -> Node:
        return {"node": "unary", "op": _UNOPS[type(node.op)], "operand": self.expr(node.operand)}

    def expr_BoolOp(self, node: ast.BoolOp) -> Node:
        op = "and" if isinstance(node.op, ast.And) else "or"
        return {"node": "boolop", "op": op, "values": [self.expr(v) for v in node.values]}

    def expr_Compare(self, node: ast.Compare) -> Node:
        parts: list[Node] = []
        left = node.left
        for op, right in zip(node.ops, node.comparators, strict=True):
            name = _CMPOPS.get(type(op))
            if name is None:
                raise self.error(node, f"{type(op).__name__} comparisons are not supported",
                                 "compare numbers with == != < <= > >=")  # fmt: skip
            parts.append({"node": "compare", "op": name, "left": self.expr(left),
                          "right": self.expr(right)})  # fmt: skip
            left = right
        return parts[0] if len(parts) == 1 else {"node": "boolop", "op": "and", "values": parts}

    def expr_IfExp(self, node: ast.IfExp) -> Node:
        return {"node": "ifexp", "test": self.expr(node.test), "body": self.expr(node.body),
                "orelse": self.expr(node.orelse)}  # fmt: skip

    def expr_Subscript(self, node: ast.Subscript) -> Node:
        array, index = self.subscript(node)
        return {"node": "load", "array": array, "index": index}

    def subscript(self, node: ast.Subscript) -> tuple[str, list[Node]]:
        if not isinstance(node.value, ast.Name) or node.value.id not in self.locals:
            raise self.error(node, f"{ast.unparse(node.value)!r} is not an array of this kernel")
        items = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        return node.value.id, [self.expr(item) for item in items]

    def callee(self, func: ast.expr) -> tuple[str, Any]:
        """What a call calls: ("builtin", name), ("func", Func), ("cast", dtype node) ..."""
        from hologram.dsl.kernel import Func, Kernel

        if isinstance(func, ast.Name) and func.id in self.locals:
            return "cast", {"node": "name", "id": func.id}
        if (
            isinstance(func, ast.Attribute)
            and isinstance(func.value, ast.Name)
            and func.value.id in self.locals
        ):
            return "cast", self.expr(func)
        value = self.static_value(func)
        if isinstance(value, Builtin):
            return "builtin", value.name
        if isinstance(value, Func):
            return "func", value
        if isinstance(value, Kernel):
            raise self.error(func, "a kernel cannot call another kernel",
                             f"make {value.name!r} a @hg.func")  # fmt: skip
        if value is range:
            return "python", "range"
        if id(value) in _PY_CASTS:
            return "cast", {"node": "dtype", "dtype": _PY_CASTS[id(value)].value}
        if id(value) in PYTHON_ALIASES:
            return "builtin", PYTHON_ALIASES[id(value)]
        if isinstance(value, ScalarType):
            return "cast", {"node": "dtype", "dtype": value.dtype.value}
        if isinstance(value, type) and _numpy_dtype(value) is not None:
            return "cast", {"node": "dtype", "dtype": _numpy_dtype(value).value}  # type: ignore[union-attr]
        if value is self.fn:
            raise self.error(func, "recursion is not supported", "write a loop instead")
        name = getattr(value, "__name__", type(value).__name__)
        raise self.error(func, f"{name!r} cannot be called in a kernel",
                         "call hg.* builtins or @hg.func helpers")  # fmt: skip

    def expr_Call(self, node: ast.Call) -> Node:
        kind, what = self.callee(node.func)
        if node.keywords:
            raise self.error(node, "keyword arguments are not supported in kernels",
                             "pass arguments by position")  # fmt: skip
        args = [self.expr(a) for a in node.args]
        if kind == "builtin":
            if what == "shared":
                raise self.error(node, "hg.shared must be assigned to a variable",
                                 "write `tile = hg.shared(256, hg.float32)`")  # fmt: skip
            return {"node": "call", "builtin": what, "args": args}
        if kind == "func":
            if what.fn is self.fn:
                raise self.error(node, "recursion is not supported", "write a loop instead")
            self.funcs.append(what)
            return {"node": "invoke", "func": what.name, "args": args}
        if kind == "cast":
            if len(args) != 1:
                raise self.error(node, "a cast takes one value")
            return {"node": "cast", "type": what, "value": args[0]}
        raise self.error(node, "range(...) can only be looped over", "write `for k in range(n)`")

    def expr_Tuple(self, node: ast.Tuple) -> Node:
        raise self.error(node, "kernels have no tuples", "use separate variables")


def _pos(node: ast.AST) -> dict[str, int]:
    return {"lineno": node.lineno, "col_offset": node.col_offset}  # type: ignore[attr-defined]


def _numpy_dtype(value: type) -> DType | None:
    try:
        import numpy as np

        if issubclass(value, np.generic):
            return DType.of(value)
    except (TypeError, DTypeError):
        return None
    return None


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
    """A source path as IR documents store it: package-relative for hologram's own files."""
    p = Path(path)
    package = Path(__file__).resolve().parent.parent
    try:
        return "hologram/" + p.resolve().relative_to(package).as_posix()
    except ValueError:
        pass
    try:
        return p.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return p.name


def describe(fn: Callable[..., Any]) -> str:
    """`module.qualname` of a function, for messages."""
    module = fn.__module__ if isinstance(fn, types.FunctionType) else type(fn).__module__
    return f"{module}.{fn.__qualname__}"


__all__ = ["DTypeMarker", "Frontend", "describe"]
