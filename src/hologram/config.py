"""Settings, from `HOLOGRAM_*` environment variables and a `.env` file (pydantic-settings).

For example:

    HOLOGRAM_BACKEND=cpu HOLOGRAM_THREADS=4 hologram info
"""

from __future__ import annotations

import logging
import re
from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_cache_dir() -> Path:
    return Path.home() / ".cache" / "hologram"


class Settings(BaseSettings):
    """Every setting hologram reads. Nothing else looks at the environment."""

    model_config = SettingsConfigDict(env_prefix="HOLOGRAM_", env_file=".env", extra="ignore")

    backend: str = Field("auto", description="default backend: auto, reference, cpu, cuda, wgpu")
    cache_dir: Path = Field(default_factory=_default_cache_dir, description="compiled-code cache")
    threads: int = Field(0, ge=0, description="CPU worker threads; 0 means one per core")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "WARNING"
    cuda_graphs: bool = Field(
        True, description="on cuda, capture each model plan into a CUDA graph and replay it"
    )
    stream_pool: int = Field(
        64 * 2**20, ge=4096, description="streaming pool size in bytes (64MiB, 1GiB, ...)"
    )

    @field_validator("stream_pool", mode="before")
    @classmethod
    def _parse_size(cls, value: object) -> object:
        return parse_bytes(value) if isinstance(value, str) else value


_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1000, "kib": 2**10, "m": 1000**2, "mb": 1000**2,
          "mib": 2**20, "g": 1000**3, "gb": 1000**3, "gib": 2**30, "t": 1000**4, "tb": 1000**4,
          "tib": 2**40}  # fmt: skip


def parse_bytes(text: str) -> int:
    """`"64MiB"` -> 67108864; plain numbers are bytes. Raises ValueError for anything else."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:e[0-9]+)?)\s*([a-zA-Z]*)\s*", text)
    unit = match.group(2).lower() if match else None
    if match is None or unit not in _UNITS:
        raise ValueError(f"{text!r} is not a size like 4096, 64MiB or 1GiB")
    return int(float(match.group(1)) * _UNITS[unit])


@cache
def settings() -> Settings:
    """The process-wide settings, read once on first use."""
    current = Settings()
    logging.getLogger("hologram").setLevel(current.log_level)
    return current


def reload_settings() -> Settings:
    """Read the environment and `.env` again (tests and long-lived processes)."""
    settings.cache_clear()
    return settings()
