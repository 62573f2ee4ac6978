"""ISA -> source text for compiled backends. Pure: needs no device and imports no JIT."""

from hologram.codegen.numba_source import NumbaSource, render_numba

__all__ = ["NumbaSource", "render_numba"]
