"""Settings, from `HOLOGRAM_*` environment variables and a `.env` file (pydantic-settings).

For example:

    HOLOGRAM_BACKEND=cpu HOLOGRAM_THREADS=4 hologram info
"""

from __future__ import annotations

import logging
from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import Field
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
