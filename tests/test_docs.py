"""The docs cannot rot: every page in the navigation exists, and the quick start's code runs."""

from __future__ import annotations

import json
import linecache
import re
from pathlib import Path

import numpy as np
import pytest

from hologram.config import reload_settings

REPO_ROOT = Path(__file__).resolve().parents[1]
DOCS = REPO_ROOT / "docs"
FRONT_MATTER = re.compile(r"\A---\ntitle: \"[^\"]+\"\ndescription: \"[^\"]+\"\n---\n")
PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
PAGE_LINK = re.compile(r"\]\((/[a-z0-9-]+)\)")


def navigation_pages() -> list[str]:
    """Every page named in mint.json's navigation, in order."""
    config = json.loads((DOCS / "mint.json").read_text())
    return [page for group in config["navigation"] for page in group["pages"]]


def test_mint_json_has_a_name_colors_and_navigation() -> None:
    config = json.loads((DOCS / "mint.json").read_text())
    assert config["name"] == "hologram"
    assert re.fullmatch(r"#[0-9A-Fa-f]{6}", config["colors"]["primary"])
    assert all(group["group"] and group["pages"] for group in config["navigation"])


@pytest.mark.parametrize("page", navigation_pages())
def test_every_navigation_page_exists_with_front_matter(page: str) -> None:
    path = DOCS / f"{page}.mdx"
    assert path.is_file(), f"mint.json lists {page!r} but {path.name} does not exist"
    assert FRONT_MATTER.match(path.read_text()), f"{path.name} lacks a title and description"


def test_every_page_is_in_the_navigation_once() -> None:
    pages = navigation_pages()
    assert len(pages) == len(set(pages))
    assert sorted(pages) == sorted(p.stem for p in DOCS.glob("*.mdx"))


def test_links_between_pages_point_at_pages() -> None:
    pages = set(navigation_pages())
    for path in DOCS.glob("*.mdx"):
        for target in PAGE_LINK.findall(path.read_text()):
            assert target.lstrip("/") in pages, f"{path.name} links to missing page {target}"


def run_python_blocks(path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    """Execute the ```python blocks of `path` in order, in one namespace, on the reference."""
    blocks = PYTHON_BLOCK.findall(path.read_text())
    assert blocks, f"{path.name} has no python blocks"
    monkeypatch.setenv("HOLOGRAM_BACKEND", "reference")
    reload_settings()
    namespace: dict[str, object] = {"__name__": path.stem}
    try:
        for number, block in enumerate(blocks, 1):
            name = f"{path.name} block {number}"
            # Registered like an interactive cell, so that kernels defined here have a source.
            linecache.cache[name] = (len(block), None, block.splitlines(True), name)
            exec(compile(block, name, "exec"), namespace)
    finally:
        monkeypatch.undo()
        reload_settings()
    return namespace


def test_quickstart_python_blocks_run(monkeypatch: pytest.MonkeyPatch) -> None:
    namespace = run_python_blocks(DOCS / "quickstart.mdx", monkeypatch)
    assert namespace["ex"].backend_name == "reference"  # type: ignore[attr-defined]


def test_readme_example_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    namespace = run_python_blocks(REPO_ROOT / "README.md", monkeypatch)
    np.testing.assert_array_equal(namespace["ys"], np.full(1000, 2.0, np.float32))
    probs = namespace["probs"].to_numpy()  # type: ignore[attr-defined]
    assert probs.shape == (8, 128)
    assert probs.sum(axis=-1) == pytest.approx(np.ones(8), rel=1e-5)


def test_readme_quick_start_is_exactly_two_commands() -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"^```bash\n(.*?)^```", section, re.S | re.M)
    assert [c.split() for c in commands] == [["make", "demo", "make", "test"]]
