"""The head of a JSON object: its members up to the last one asked for, the rest unread.

    json_head('{"a": 1, "g": {"n": "x", "i": [], "nodes": [...]}, "z": 2}', {"a": None,
              "g": {"n": None, "i": None}})
    -> {"a": 1, "g": {"n": "x", "i": []}}

Opening a model needs its schema, version and the graph's inputs and outputs, which the
writer puts first; the graph's nodes, the plans and the weight list are most of the manifest
and are decoded at the first run. Parsing stops once everything asked for is read, with the
standard library's own scanner, so every value read is what `json.loads` makes of it (but for
a key written twice: `json.loads` keeps its last value, this its first; a reader that decodes
the whole object later compares the two).
"""

from __future__ import annotations

import json
import re
from typing import Any

_SCAN = json.JSONDecoder().scan_once
_SPACE = re.compile(r"[ \t\n\r]*")


class NoHead(ValueError):
    """The text does not start with an object holding what was asked in that order (the
    caller decodes it in full, which names what is wrong if anything is)."""


def json_head(text: str, wanted: dict[str, Any]) -> dict[str, Any]:
    """The members of the JSON object in `text` up to the last key of `wanted` read, or to
    its end (keys it lacks are simply absent). A key of `wanted` mapped to a dict is an object
    read the same way, and must be the last key still wanted; one mapped to None is read
    whole. Raises `NoHead` if the text does not allow this."""
    try:
        members, _ = _compact(text, 0, wanted)
    except NoHead:
        members, _ = _head(text, 0, wanted)
    return members


def _compact(text: str, index: int, wanted: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """`_head` for JSON written without whitespace between tokens (as `hologram` writes it):
    fewer steps per member; `NoHead` at the first whitespace or anything else unexpected."""
    # `index` is at the `{` or `,` before each key.
    members: dict[str, Any] = {}
    missing = set(wanted)
    try:
        if text[index] != "{":
            raise NoHead("not an object")
        while missing:
            if text[index + 1] != '"':
                raise NoHead(f"expected a key at {index + 1}")
            key, index = _SCAN(text, index + 1)
            if text[index] != ":":
                raise NoHead(f"expected ':' at {index}")
            inner = wanted.get(key)
            if isinstance(inner, dict) and key in missing:
                missing.discard(key)
                if missing:
                    raise NoHead(f"{key!r} comes before other keys asked for")
                members[key], index = _compact(text, index + 1, inner)
                return members, index  # the object's rest is not read
            value, index = _SCAN(text, index + 1)
            members.setdefault(key, value)
            missing.discard(key)
            if text[index] != ",":
                if text[index] == "}":
                    return members, index + 1
                raise NoHead(f"expected ',' or '}}' at {index}")
    except (IndexError, StopIteration, ValueError, RecursionError) as exc:
        if isinstance(exc, NoHead):
            raise
        raise NoHead(f"malformed near {index}") from None
    return members, index


def _head(text: str, index: int, wanted: dict[str, Any]) -> tuple[dict[str, Any], int]:
    # Opening a model runs this on every load: one scanner call per key and per value, and
    # the whitespace pattern only where there is whitespace (compact JSON has none).
    members: dict[str, Any] = {}
    missing = set(wanted)
    try:
        index = _skip(text, index)
        if text[index] != "{":
            raise NoHead("not an object")
        index = _skip(text, index + 1)
        if text[index] == "}":
            return members, index + 1
        while missing:
            if text[index] != '"':
                raise NoHead(f"expected a key at {index}")
            key, index = _SCAN(text, index)
            index = _skip(text, index)
            if text[index] != ":":
                raise NoHead(f"expected ':' at {index}")
            index = _skip(text, index + 1)
            inner = wanted.get(key)
            if isinstance(inner, dict) and key in missing:
                missing.discard(key)
                if missing:
                    raise NoHead(f"{key!r} comes before other keys asked for")
                members[key], index = _head(text, index, inner)
                return members, index  # the object's rest is not read
            value, index = _SCAN(text, index)
            members.setdefault(key, value)
            missing.discard(key)
            index = _skip(text, index)
            if text[index] == ",":
                index = _skip(text, index + 1)
            elif text[index] == "}":
                return members, index + 1
            else:
                raise NoHead(f"expected ',' or '}}' at {index}")
    except (IndexError, StopIteration, ValueError, RecursionError) as exc:
        if isinstance(exc, NoHead):
            raise
        raise NoHead(f"malformed near {index}") from None
    return members, index


def _skip(text: str, index: int) -> int:
    if index < len(text) and text[index] in " \t\n\r":
        return _SPACE.match(text, index).end()  # type: ignore[union-attr]
    return index
