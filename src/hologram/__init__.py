"""hologram: compile a program once, ahead of time, and run it fast on any backend."""

from __future__ import annotations

__version__ = "0.1.0"
