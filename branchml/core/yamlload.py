"""safe_load within limits: the parse events are judged (core/yamlbounds.py) while they are
read, and only then composed and constructed from the same events (no second parse)."""

from __future__ import annotations

from typing import Any

from branchml.core import yamlbounds
from branchml.errors import ConfigError


def load(text: str, source: str) -> Any:
    """YAML -> plain data, with safe_load's meaning, a key written twice refused, and numbers
    of at most 63 bits. Raises ConfigError (a limit) or yaml.YAMLError (the syntax)."""
    return _replay(_events(text, source), source).get_single_data()


def _events(text: str, source: str) -> list[Any]:
    """Parse events within the limits: libyaml's parser when PyYAML has it (ten times the
    pure-Python speed); on a syntax error the pure-Python parser runs again, so the message
    is the same with or without libyaml."""
    import yaml

    fast = getattr(yaml, "CSafeLoader", None)
    if fast is not None:
        try:
            return yamlbounds.checked_events(yaml.parse(text, Loader=fast), source)
        except yaml.YAMLError as e:  # libyaml stops at 1,000 levels; the other parser is slow
            if "maximum nesting depth" in str(getattr(e, "problem", "")):  # to get there
                yamlbounds.too_deep(e.problem_mark.line + 1, source)  # type: ignore[attr-defined]
    return yamlbounds.checked_events(yaml.parse(text, Loader=yaml.SafeLoader), source)


def _replay_class() -> Any:
    import yaml

    class Replay(yaml.composer.Composer, yaml.constructor.SafeConstructor,
                 yaml.resolver.Resolver):
        """safe_load fed from parse events already judged; a key written twice is an error
        instead of the last one winning silently."""

        def __init__(self, events: list[Any], source: str) -> None:
            self._events, self._at, self._source = events, 0, source
            yaml.composer.Composer.__init__(self)
            yaml.constructor.SafeConstructor.__init__(self)
            yaml.resolver.Resolver.__init__(self)

        def check_event(self, *choices: Any) -> bool:
            if self._at >= len(self._events):
                return False
            return not choices or isinstance(self._events[self._at], choices)

        def peek_event(self) -> Any:
            return self._events[self._at]

        def get_event(self) -> Any:
            self._at += 1
            return self._events[self._at - 1]

        def construct_yaml_int(self, node: Any) -> int:
            try:
                value = int(super().construct_yaml_int(node))
            except ValueError:  # Python refuses to read a decimal of over 4,300 digits
                value = 1 << 64
            if value.bit_length() > 63:
                line = node.start_mark.line + 1
                raise ConfigError(f"{self._source}: line {line}: the number {node.value[:20]}"
                                  f"{'...' * (len(node.value) > 20)} is too large; "
                                  "use at most 63 bits.")
            return value

        def construct_mapping(self, node: Any, deep: bool = False) -> dict[Any, Any]:
            keys: set[Any] = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node)
                if key in keys:
                    line = key_node.start_mark.line + 1
                    raise ConfigError(f"{self._source}: line {line}: key {key!r} appears "
                                      "twice; keep one.")
                keys.add(key)
            return dict(super().construct_mapping(node, deep))

    Replay.add_constructor("tag:yaml.org,2002:int",  # type: ignore[type-var]
                           Replay.construct_yaml_int)
    return Replay


def _replay(events: list[Any], source: str) -> Any:
    """The loader over `events` (its class is built once, on first use: PyYAML loads lazily)."""
    global _REPLAY
    if _REPLAY is None:
        _REPLAY = _replay_class()
    return _REPLAY(events, source)


_REPLAY: Any = None
