"""Limits on a YAML document, judged on its parse events before any node is built.

PyYAML expands every alias while it constructs Python objects, and its composer recurses once
per nesting level: a 4 KB alias bomb becomes gigabytes, a recursive alias a self-containing
list, and 5,000 nested lists a RecursionError. The parser itself is an explicit state machine,
so reading its events costs O(size) with no recursion. This walk counts, from those events,
what construction WOULD build (each alias weighs what its anchor weighs) and refuses before
anything is built or cached.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NoReturn

from branchml.errors import ConfigError

MAX_BYTES = 64 * 1024  # the default file is ~3.5 KB; 32,000 one-character items build in ~0.5 s
MAX_WEIGHT = 1_000_000  # nodes + scalar characters once aliases are expanded
MAX_DEPTH = 64  # nested lists and mappings, aliases expanded


class _Open:
    """A list or mapping whose end event has not come yet."""

    __slots__ = ("anchor", "height", "is_map", "items", "weight")

    def __init__(self, is_map: bool, anchor: str | None) -> None:
        self.is_map, self.anchor = is_map, anchor
        self.weight, self.height, self.items = 0, 0, 0

    @property
    def key_next(self) -> bool:
        return self.is_map and self.items % 2 == 0


def check_size(size: int, source: str) -> None:
    if size > MAX_BYTES:
        raise ConfigError(f"{source}: {size:,} bytes is over the limit of {MAX_BYTES:,} bytes "
                          f"({MAX_BYTES // 1024} KiB); keep the config small.")


def checked_events(events: Iterable[Any], source: str) -> list[Any]:
    """The events, read one by one (so a refusal stops the parser early: PyYAML's scanner is
    quadratic in nesting); ConfigError when the document, expanded, would be too big or too
    deep, holds a recursive alias, or uses a list or mapping as a key."""
    from yaml import events as ev

    stack: list[_Open] = []
    anchors: dict[str, tuple[int, int, bool]] = {}  # anchor -> (weight, height, is scalar)
    seen: list[Any] = []
    for event in events:
        seen.append(event)
        line = event.start_mark.line + 1 if event.start_mark else 0
        if isinstance(event, ev.ScalarEvent):
            _add(stack, 1 + len(event.value), 0, source, line)
            if event.anchor:
                anchors[event.anchor] = (1 + len(event.value), 0, True)
        elif isinstance(event, ev.AliasEvent):
            _alias(stack, anchors, event.anchor or "", source, line)
        elif isinstance(event, ev.CollectionStartEvent):
            if stack and stack[-1].key_next:
                raise ConfigError(f"{source}: line {line}: a "
                                  f"{_kind(isinstance(event, ev.MappingStartEvent))} is used as "
                                  "a key; keys must be plain text.")
            if len(stack) >= MAX_DEPTH:
                too_deep(line, source)
            stack.append(_Open(isinstance(event, ev.MappingStartEvent), event.anchor))
        elif isinstance(event, ev.CollectionEndEvent):
            done = stack.pop()
            weight, height = 1 + done.weight, 1 + done.height
            if done.anchor:
                anchors[done.anchor] = (weight, height, False)
            _add(stack, weight, height, source, line)
    return seen


def too_deep(line: int, source: str) -> NoReturn:
    raise ConfigError(f"{source}: line {line}: nested more than {MAX_DEPTH} levels deep; "
                      "flatten it.")


def _alias(stack: list[_Open], anchors: dict[str, tuple[int, int, bool]], name: str,
           source: str, line: int) -> None:
    if any(o.anchor == name for o in stack):
        raise ConfigError(f"{source}: line {line}: alias *{name} points at a list or mapping "
                          "that contains it (a recursive alias); remove it.")
    weight, height, scalar = anchors.get(name, (1, 0, True))  # unknown: the composer says so
    if stack and stack[-1].key_next and not scalar:
        raise ConfigError(f"{source}: line {line}: alias *{name} puts a list or mapping in a "
                          "key; keys must be plain text.")
    _add(stack, weight, height, source, line)


def _add(stack: list[_Open], weight: int, height: int, source: str, line: int) -> None:
    """A finished node joins the open collection (weights add up toward the root)."""
    if not stack:
        return
    if len(stack) + height > MAX_DEPTH:
        raise ConfigError(f"{source}: line {line}: aliases nest it more than {MAX_DEPTH} levels "
                          "deep; flatten it.")
    top = stack[-1]
    top.weight += weight
    top.height = max(top.height, height)
    top.items += 1
    if top.weight > MAX_WEIGHT:
        raise ConfigError(f"{source}: line {line}: aliases expand it beyond the limit of "
                          f"{MAX_WEIGHT:,} values and characters; repeat less through aliases.")


def _kind(is_map: bool) -> str:
    return "mapping" if is_map else "list"
