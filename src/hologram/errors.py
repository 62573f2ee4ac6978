"""The `HologramError` hierarchy: every failure the engine reports is one of these."""

from __future__ import annotations


class HologramError(Exception):
    """Base class of every error hologram raises on purpose."""


class ProgramError(HologramError):
    """An ISA program is malformed. `index` names the offending instruction, if any."""

    def __init__(self, message: str, index: int | None = None, program: str | None = None):
        self.index = index
        self.program = program
        where = []
        if program:
            where.append(f"program {program!r}")
        if index is not None:
            where.append(f"instruction {index}")
        prefix = f"{', '.join(where)}: " if where else ""
        super().__init__(prefix + message)


class VerificationError(ProgramError):
    """The verifier rejected a program (types, registers, nesting, access kinds)."""


class EncodingError(ProgramError):
    """A binary, JSON or text encoding of a program could not be decoded."""


class LaunchError(HologramError):
    """A launch is invalid: bad launch config, wrong argument count or kinds."""


class DTypeError(HologramError):
    """A dtype is unknown or not supported for the requested operation."""


class MemoryAccessError(HologramError):
    """A kernel read or wrote outside a buffer, pool or shared array."""


class AllocationError(HologramError):
    """Memory could not be allocated or was freed twice."""


class PoolExhaustedError(AllocationError):
    """A fixed-size pool has no room for the requested access."""


class BackendUnavailableError(HologramError):
    """The requested backend is unknown or cannot run on this machine."""


class CompileError(HologramError):
    """A backend failed to compile a program to native code."""


class ShapeError(HologramError):
    """Shapes do not match or cannot be broadcast together."""


class KernelError(HologramError):
    """A kernel-language error, located at `file`, `line` and `col` of the kernel's source.

    `hint` says what to write instead, where there is a clear alternative.
    """

    def __init__(
        self,
        message: str,
        file: str | None = None,
        line: int | None = None,
        col: int | None = None,
        hint: str | None = None,
    ):
        self.message = message
        self.file = file
        self.line = line
        self.col = col
        self.hint = hint
        where = ":".join(str(part) for part in (file, line, col) if part is not None)
        text = f"{where}: {message}" if where else message
        if hint:
            text += f" ({hint})"
        super().__init__(text)


class KernelSyntaxError(KernelError):
    """A kernel uses a Python construct the kernel language does not support."""


class KernelTypeError(KernelError):
    """A kernel does not type-check for the argument types it was specialised for."""


class KernelIRError(KernelError):
    """A kernel IR document is malformed or has an unsupported schema version."""


class ArtifactError(HologramError):
    """A `.holo` artifact is malformed, corrupt, truncated, of an unsupported version, or
    cannot be read or written. The message names the file and the byte offset or section."""


class ModelError(HologramError):
    """An ONNX model is malformed or cannot be compiled; the message names the node or value."""


class UnsupportedOpError(ModelError):
    """A model uses an operator (or an operator version, attribute or dtype) that hologram does
    not implement; the message names the node, the op and the opset."""


class RefineError(HologramError):
    """`Model.refine` was asked of a model whose weights are not stored as HoloTensor
    fragments (compile it with `holotensor="bitplane"`)."""


class FeedError(HologramError):
    """The inputs given to `Model.run` do not match the model: a missing or unknown name, or a
    wrong dtype, rank or dimension. The message names the input."""
