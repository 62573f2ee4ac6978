"""Expression translation (a mixin of `Frontend`): one `expr_<Node>` method per Python node.

Names resolve here: locals stay `name` nodes; module-level numbers and dtypes become `const`
and `dtype` nodes; `hg.*` builtins, casts and `@hg.func` calls become `call`, `cast` and
`invoke` nodes. Anything else (a list, an object, an unknown name) is a KernelSyntaxError.
"""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING, Any

from hologram.dsl import ir
from hologram.dsl.builtins import PYTHON_ALIASES, Builtin
from hologram.dsl.types import ScalarType
from hologram.errors import DTypeError
from hologram.isa.dtypes import DType

if TYPE_CHECKING:
    from hologram.dsl.frontend import Frontend

Node = dict[str, Any]

BINOPS = {
    ast.Add: "add", ast.Sub: "sub", ast.Mult: "mul", ast.Div: "truediv",
    ast.FloorDiv: "floordiv", ast.Mod: "mod", ast.Pow: "pow", ast.BitAnd: "and",
    ast.BitOr: "or", ast.BitXor: "xor", ast.LShift: "lshift", ast.RShift: "rshift",
}  # fmt: skip
_UNOPS = {ast.USub: "neg", ast.UAdd: "pos", ast.Not: "not", ast.Invert: "invert"}
_CMPOPS = {ast.Eq: "eq", ast.NotEq: "ne", ast.Lt: "lt", ast.LtE: "le", ast.Gt: "gt", ast.GtE: "ge"}
OPERATOR_HINT = "use hg.matmul for matrix products, or a loop"
_PY_CASTS = {id(float): DType.F32, id(int): DType.I32, id(bool): DType.BOOL}


class ExprFrontend:
    """Expression translation; mixed into `Frontend`, whose state it uses."""

    def expr(self: Frontend, node: ast.expr) -> Node:
        """The IR of one expression."""
        method = getattr(self, f"expr_{type(node).__name__}", None)
        if method is None:
            raise self.unsupported(node)
        return method(node)

    def expr_Constant(self: Frontend, node: ast.Constant) -> Node:
        value = node.value
        if isinstance(value, (bool, int, float)):
            return {"node": "const", "value": ir.encode_const(value)}
        kind = "strings" if isinstance(value, str) else f"{type(value).__name__} values"
        hint = "use a number (an int code for a string)" if kind == "strings" else "use a number"
        raise self.error(node, f"kernels have no {kind}", hint)

    def expr_Name(self: Frontend, node: ast.Name) -> Node:
        if node.id in self.locals:
            return {"node": "name", "id": node.id}
        return self.value_node(self.lookup(node), node)

    def expr_Attribute(self: Frontend, node: ast.Attribute) -> Node:
        if isinstance(node.value, ast.Name) and node.value.id in self.locals:
            if node.attr != "dtype":
                raise self.error(node, f"kernel values have no attribute {node.attr!r}",
                                 "the one attribute is `.dtype`")  # fmt: skip
            return {"node": "attr", "value": {"node": "name", "id": node.value.id},
                    "attr": "dtype"}  # fmt: skip
        return self.value_node(self.static_value(node), node)

    def value_node(self: Frontend, value: Any, node: ast.expr) -> Node:
        """A module-level value used in a kernel: a number or a dtype; else an error."""
        if isinstance(value, (bool, int, float)):
            return {"node": "const", "value": ir.encode_const(value)}
        if isinstance(value, ScalarType):
            return {"node": "dtype", "dtype": value.dtype.value}
        if isinstance(value, DType):
            return {"node": "dtype", "dtype": value.value}
        if isinstance(value, type) and value is not bool and _numpy_dtype(value) is not None:
            return {"node": "dtype", "dtype": _numpy_dtype(value).value}  # type: ignore[union-attr]
        what = type(value).__name__
        raise self.error(node, f"{ast.unparse(node)!r} is a {what}, which kernels cannot use",
                         "kernels read numbers and dtypes from the module; pass other values "
                         "as parameters (kernels cannot close over mutable state)")  # fmt: skip

    def expr_BinOp(self: Frontend, node: ast.BinOp) -> Node:
        op = BINOPS.get(type(node.op))
        if op is None:
            raise self.error(node, f"the {type(node.op).__name__} operator is not supported",
                             OPERATOR_HINT)  # fmt: skip
        return {"node": "binop", "op": op, "left": self.expr(node.left),
                "right": self.expr(node.right)}  # fmt: skip

    def expr_UnaryOp(self: Frontend, node: ast.UnaryOp) -> Node:
        return {"node": "unary", "op": _UNOPS[type(node.op)], "operand": self.expr(node.operand)}

    def expr_BoolOp(self: Frontend, node: ast.BoolOp) -> Node:
        op = "and" if isinstance(node.op, ast.And) else "or"
        return {"node": "boolop", "op": op, "values": [self.expr(v) for v in node.values]}

    def expr_Compare(self: Frontend, node: ast.Compare) -> Node:
        parts: list[Node] = []
        left = node.left
        for op, right in zip(node.ops, node.comparators, strict=True):
            name = _CMPOPS.get(type(op))
            if name is None:
                raise self.error(node, f"{type(op).__name__} comparisons are not supported",
                                 "compare numbers with == != < <= > >=")  # fmt: skip
            right_node = self.expr(right)
            if right is not node.comparators[-1] and _has_effects(right_node):
                raise self.error(right, "the middle of a chained comparison would be "
                                 "evaluated twice", "assign it to a variable first")  # fmt: skip
            parts.append({"node": "compare", "op": name, "left": self.expr(left),
                          "right": right_node})  # fmt: skip
            left = right
        return parts[0] if len(parts) == 1 else {"node": "boolop", "op": "and", "values": parts}

    def expr_IfExp(self: Frontend, node: ast.IfExp) -> Node:
        return {"node": "ifexp", "test": self.expr(node.test), "body": self.expr(node.body),
                "orelse": self.expr(node.orelse)}  # fmt: skip

    def expr_Subscript(self: Frontend, node: ast.Subscript) -> Node:
        array, index = self.subscript(node)
        return {"node": "load", "array": array, "index": index}

    def subscript(self: Frontend, node: ast.Subscript) -> tuple[str, list[Node]]:
        """The array name and index expressions of `a[i]` or `tile[r, c]`."""
        base = node.value
        if isinstance(base, (ast.Name, ast.Attribute)) and not (
            isinstance(base, ast.Name) and base.id in self.locals
        ):
            self.value_node(self.static_value(base), base)  # a list, a dict...: the error
        if not isinstance(base, ast.Name) or base.id not in self.locals:
            raise self.error(node, f"{ast.unparse(base)!r} is not an array of this kernel",
                             "index array parameters, shared arrays and their aliases")  # fmt: skip
        items = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        return node.value.id, [self.expr(item) for item in items]

    def callee(self: Frontend, func: ast.expr) -> tuple[str, Any]:
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
            if value.fn is self.fn:
                raise self.error(func, "recursion is not supported", "write a loop instead")
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

    def expr_Call(self: Frontend, node: ast.Call) -> Node:
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
            pos = self.where(node)
            self.calls.append((what, pos["line"], pos["col"]))
            return {"node": "invoke", "func": what.name, "args": args}
        if kind == "cast":
            if len(args) != 1:
                raise self.error(node, "a cast takes one value")
            return {"node": "cast", "type": what, "value": args[0]}
        raise self.error(node, "range(...) can only be looped over", "write `for k in range(n)`")

    def expr_Tuple(self: Frontend, node: ast.Tuple) -> Node:
        raise self.error(node, "kernels have no tuples", "use separate variables")


_EFFECT_BUILTINS = frozenset(
    {"atomic_add", "atomic_min", "atomic_max", "atomic_exch", "barrier", "fence",
     "block_sum", "block_prod", "block_min", "block_max", "matmul"}
)  # fmt: skip


def _has_effects(node: Any) -> bool:
    """Whether evaluating an IR expression twice could differ from evaluating it once."""
    if isinstance(node, list):
        return any(_has_effects(item) for item in node)
    if not isinstance(node, dict):
        return False
    if node.get("node") == "invoke" or node.get("builtin") in _EFFECT_BUILTINS:
        return True
    return any(_has_effects(value) for value in node.values())


def _numpy_dtype(value: type) -> DType | None:
    try:
        import numpy as np

        if issubclass(value, np.generic):
            return DType.of(value)
    except (TypeError, DTypeError):
        return None
    return None
