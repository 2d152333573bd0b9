"""Where a position inside a rule's `when` expression is in the rule-set file."""

from __future__ import annotations

import yaml


def position_in_file(text: str, node: yaml.ScalarNode, line: int, column: int) -> tuple[int, int]:
    """Map a position in the scalar's value to the file. YAML may fold lines and strip
    indentation, but keeps every non-blank character in order, so the n-th non-blank
    character of the value is the n-th non-blank character of the raw scalar."""
    value = node.value
    offset = sum(len(ln) + 1 for ln in value.split("\n")[: line - 1]) + column - 1
    start = node.start_mark.index
    raw = text[start : node.end_mark.index]
    skip = raw.index("\n") + 1 if node.style in ("|", ">") and "\n" in raw else 0
    skip = 1 if node.style in ("'", '"') else skip
    before = sum(1 for ch in value[:offset] if not ch.isspace())
    nonblank = [i for i, ch in enumerate(raw) if i >= skip and not ch.isspace()]
    if offset < len(value) and not value[offset].isspace() and before < len(nonblank):
        index = start + nonblank[before]
    else:  # a blank or the end: just after the preceding non-blank character
        prev = nonblank[before - 1] + 1 if 0 < before <= len(nonblank) else skip
        index = start + prev + (offset - _after_nonblank(value, offset))
    file_line = text.count("\n", 0, index) + 1
    return file_line, index - (text.rfind("\n", 0, index) + 1) + 1


def _after_nonblank(value: str, offset: int) -> int:
    """The offset just after the last non-blank character before `offset` (0 if none)."""
    i = offset
    while i > 0 and value[i - 1].isspace():
        i -= 1
    return i
