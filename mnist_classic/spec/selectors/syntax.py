"""The text of a selector: splitting, and values as written and as read.

Pure string handling, shared by the selector parser (:mod:`.selectors`), estimator
objects' names (:mod:`.objects`) and run files (:mod:`.runfile`).
"""

from __future__ import annotations

import ast
from typing import Any

__all__ = ["format_value", "parse_value", "split_top_level"]


def split_top_level(text: str, sep: str = ",") -> list[str]:
    """Split on ``sep`` where it is not inside brackets, parentheses or quotes."""
    parts: list[str] = []
    cur: list[str] = []
    depth, quote = 0, ""
    for ch in text:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == sep and depth == 0:
            parts.append("".join(cur))
            cur = []
            continue
        cur.append(ch)
    parts.append("".join(cur))
    return [p.strip() for p in parts]


def parse_value(text: str) -> Any:
    """Python literal where it is one (10, 0.5, None, True, (100, 100), [1, 10]), else the bare string."""
    lowered = {"true": True, "false": False, "none": None, "null": None}
    if text.lower() in lowered:
        return lowered[text.lower()]
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        if text.startswith("[") and text.endswith("]"):  # a grid of bare words too: gamma=[0.1,scale]
            return [parse_value(item) for item in split_top_level(text[1:-1]) if item]
        return text


def format_value(value: Any, *, item: bool = False) -> str:
    """A value as a selector writes it: bare where it reads back as the same string, else its repr.

    An estimator given as a value (an object with a ``__selector__`` method) writes its selector.
    A list written alone is one value in brackets, ``[[100, 100]]``, since ``[100, 100]`` reads
    back as a grid of two values; ``item=True`` writes it as one item of a grid's brackets
    (``x=[[100, 100],[50]]``), or a grid itself (a run file's list), as is.

    Examples
    --------
    >>> format_value([100, 100]), format_value([100, 100], item=True), format_value("scale")
    ('[[100, 100]]', '[100, 100]', 'scale')
    """
    if hasattr(value, "__selector__"):
        return str(value.__selector__())
    if isinstance(value, str) and parse_value(value) == value and not set(value) & set(",[]()+='\""):
        return value
    if isinstance(value, list) and not item:
        return f"[{value!r}]"
    return repr(value)
