"""Inlining of `@hg.func` calls (a mixin of `Lowerer`), and the scopes names live in.

Each call lowers the func's body again, in a scope of its own, with the arguments bound to
its parameters: numbers by value (a parameter the func reassigns gets a register of its own),
arrays and dtypes by reference. A func that returns from anywhere but its tail runs inside a
one-trip loop, so that `return` can leave it with `break`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hologram.dsl.values import Val, Value
from hologram.isa.opcodes import Op
from hologram.isa.program import Pred

if TYPE_CHECKING:
    from hologram.dsl.lower import Lowerer


@dataclass
class Scope:
    """The names visible in a kernel or one inlined func call."""

    key: str
    names: dict[str, Value] = field(default_factory=dict)
    assigned: set[str] = field(default_factory=set)
    # inlined funcs: the result variable and the `returned` flag (for returns inside loops)
    result: str | None = None
    done: Pred | None = None
    loop_depth: int = 0
    # how often each name is assigned in this scope's source (constants bind when once)
    counts: dict[str, int] = field(default_factory=dict)


class FuncLowering:
    """Func inlining; mixed into `Lowerer`, whose state it uses."""

    def invoke(self: Lowerer, name: str, args: list[Value]) -> Value | None:
        """Inline func `name` with `args`; its result value (None if it returns nothing)."""
        if name in self.call_stack:
            raise self.error(f"func {name!r} calls itself", "recursion is not supported")
        func = self.doc["funcs"][name]
        params = [p["name"] for p in func["params"]]
        if len(args) != len(params):
            raise self.error(f"func {name!r} takes {len(params)} arguments, got {len(args)}")
        self.invocations += 1
        outer, outer_pos = self.scope, (self.line, self.col)
        scope = Scope(f"{name}#{self.invocations}", result="_result")
        scope.counts = assignment_counts(func["body"])
        scope.assigned = set(scope.counts) - {"_result"}
        for param in params:
            scope.counts[param] = scope.counts.get(param, 0) + 1
        self.scope = scope
        self.call_stack.append(name)
        try:
            for param, arg in zip(params, args, strict=True):
                if param in scope.assigned and isinstance(arg, Val):
                    self.assign(param, arg)  # the func may reassign it: pass by value
                else:
                    scope.names[param] = arg
            body = func["body"]
            if _needs_wrapper(body):
                scope.done = self.b.pred()
                self.b.assign(scope.done, False)
                self.b.emit(Op.LOOP)
                self.block(body)
                self.b.break_()
                self.b.emit(Op.ENDLOOP)
            else:
                self.block(body)
            return scope.names.get("_result")
        finally:
            self.call_stack.pop()
            self.scope = outer
            self.line, self.col = outer_pos


def _children(stmt: dict[str, Any]) -> list[list[dict[str, Any]]]:
    """The statement lists nested in a compound statement."""
    node = stmt["node"]
    if node == "if":
        return [stmt["body"], stmt["orelse"]]
    if node in ("for", "while"):
        return [stmt["body"]]
    return []


def assignment_counts(body: list[dict[str, Any]]) -> dict[str, int]:
    """How many statements assign each name (a `return` with a value assigns `_result`)."""
    counts: dict[str, int] = {}

    def visit(stmts: list[dict[str, Any]]) -> None:
        for stmt in stmts:
            node = stmt["node"]
            name = None
            if node in ("assign", "shared"):
                name = stmt["target"]
            elif node == "for":
                name = stmt["var"]
            elif node == "return" and stmt.get("value") is not None:
                name = "_result"
            if name is not None:
                counts[name] = counts.get(name, 0) + 1
            for child in _children(stmt):
                visit(child)

    visit(body)
    return counts


def _needs_wrapper(body: list[dict[str, Any]]) -> bool:
    """Whether a func returns from anywhere but a tail position (the end of its body, or
    the end of each arm of a final `if`); tail returns need no loop to jump out of."""

    def has_return(stmts: list[dict[str, Any]]) -> bool:
        return any(
            s["node"] == "return" or any(has_return(child) for child in _children(s)) for s in stmts
        )

    def tail_only(stmts: list[dict[str, Any]]) -> bool:
        if not stmts:
            return True
        *head, last = stmts
        if has_return(head):
            return False
        if last["node"] == "if":
            return tail_only(last["body"]) and tail_only(last["orelse"])
        return last["node"] == "return" or not has_return([last])

    return not tail_only(body)
