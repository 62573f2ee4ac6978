"""A prepared op: the launches that compute it, ready to run again on the same memory."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from hologram.isa.program import LaunchConfig, Program

if TYPE_CHECKING:
    from hologram.runtime.executor import Executor

BLOCK_LANES = 256
"""Lanes per block of every op launch."""


@dataclass(frozen=True)
class Launch:
    """One program launch with its arguments bound."""

    program: Program
    config: LaunchConfig
    args: tuple[Any, ...]


def lanes(program: Program, count: int, args: tuple[Any, ...]) -> Launch:
    """A launch of one lane per item for `count` items, 256 lanes a block."""
    return Launch(program, _config(count), args)


@lru_cache(maxsize=1024)
def _config(count: int) -> LaunchConfig:
    return LaunchConfig.for_elements(count, BLOCK_LANES)


def once(program: Program, args: tuple[Any, ...]) -> Launch:
    """A launch of an intrinsic program, which runs once whatever the config."""
    return Launch(program, LaunchConfig(1, 1), args)


@dataclass
class Prepared:
    """An op with its inputs normalised, its output allocated and its launches planned.

    `run()` performs the launches (again and again, on the same memory: what a benchmark of
    the raw launch measures); calling the object runs them and returns the op's result.
    """

    executor: Executor
    launches: list[Launch] = field(default_factory=list)
    finish: Callable[[], Any] = lambda: None
    output: Any = None
    """The op's `Output` (its shape and dtype), where the op returns it as it is."""
    roles: list[tuple[Any, tuple[str, int]]] = field(default_factory=list)
    """Launch arguments that a plan replays with other memory: (argument, ("input", i)) for
    the op's i-th input as given, (argument, ("scratch", j)) for memory the op allocated for
    its own launches. Kept here, so that the arguments stay alive while a plan is made."""
    replayable: bool = True
    """False when an input was copied or converted on the host: a plan cannot redo that."""
    _bound: list[Callable[[], None]] | None = field(default=None, init=False, repr=False)
    _ran: bool = field(default=False, init=False, repr=False)

    def run(self) -> None:
        """Launch every program of the op, in order.

        The first two runs launch through `Executor.launch`; later ones through launches
        bound once (`Executor.bind`), the arguments being the same memory every time. An op
        called once (the usual case) pays nothing for the binding.
        """
        bound = self._bound
        if bound is not None:
            for launch in bound:
                launch()
            return
        ex = self.executor
        for launch in self.launches:
            ex.launch(launch.program, launch.config, args=launch.args)
        if self._ran:
            self._bound = [ex.bind(x.program, x.config, x.args) for x in self.launches]
        self._ran = True

    def mark_input(self, index: int, operand: Any, value: Any) -> None:
        """Record `operand` (an `Operand`) as the op's input `index`, given as `value`."""
        if operand.data is value:
            self.roles.append((operand.arg, ("input", index)))
        else:
            self.replayable = False  # a normalised copy: a plan would skip the copying

    def mark_scratch(self, operand: Any) -> None:
        """Record `operand` (an `Operand`) as memory the op allocated for its own launches."""
        count = sum(1 for _, (role, _) in self.roles if role == "scratch")
        self.roles.append((operand.arg, ("scratch", count)))

    def __call__(self) -> Any:
        """Run the op and return its result."""
        self.run()
        return self.finish()
