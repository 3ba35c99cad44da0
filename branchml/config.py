"""branchml.yaml -> effective config -> core Policy (yaml.safe_load + jsonschema).

Parsing is cached by content digest under the git directory, so the hooks, which judge every
commit, pay for neither PyYAML nor jsonschema after the first run.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from branchml import __version__
from branchml.errors import ConfigError
from branchml.resources import schema, template_text

CONFIG_FILE = "branchml.yaml"
_BRANCH_DEFAULTS: dict[str, Any] = {
    "parent": None, "protected": False, "may_change": [], "ops": {}, "promoted": [],
}
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*\Z")


def default_config_text() -> str:
    return template_text(CONFIG_FILE)


def parse_yaml(text: bytes, source: str) -> Any:
    """YAML -> plain data (safe_load meaning), within the limits of core/yamlbounds.py: the
    parse events are judged first and only then composed and constructed, so a bomb or a
    recursive alias is refused before anything is expanded."""
    import yaml

    from branchml.core import yamlbounds, yamlload

    yamlbounds.check_size(len(text), source)
    try:
        decoded = text.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{source}: not valid UTF-8 text; save it as UTF-8.") from None
    try:
        data = yamlload.load(decoded, source)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ConfigError(f"{source}: {where}{problem}; fix the YAML syntax.") from None
    _check_plain(data, [], source)
    return data


_PLAIN = (str, bool, int, float, type(None))


def _check_plain(data: Any, path: list[Any], source: str) -> None:
    """Only what JSON can hold (the cache is JSON): a date, bytes or a set is refused with
    its key path instead of failing later in json.dumps."""
    if isinstance(data, dict):
        for key, value in data.items():
            if not isinstance(key, _PLAIN):
                raise ConfigError(f"{source}: {key_path(path) or 'top level'}: key {key!r} is "
                                  "not plain text; quote it.")
            _check_plain(value, [*path, key], source)
    elif isinstance(data, list):
        for i, value in enumerate(data):
            _check_plain(value, [*path, i], source)
    elif isinstance(data, float) and not math.isfinite(data):
        # `.nan` compares false with every threshold, so an alert would silently never fire
        raise ConfigError(f"{source}: {key_path(path) or 'the document'}: {data!r} is not a "
                          "finite number; write a number.")
    elif not isinstance(data, _PLAIN):
        where = key_path(path) or "the document"
        raise ConfigError(f"{source}: {where}: a {type(data).__name__} value is not supported; "
                          "quote it to make it text.")


def key_path(parts: list[Any]) -> str:
    out = ""
    for p in parts:
        if isinstance(p, int):
            out += f"[{p}]"
        else:
            name = p if _IDENT.match(str(p)) else json.dumps(str(p))
            out += f".{name}" if out else name
    return out


def _describe(error: Any) -> str:
    """One sentence for a jsonschema ValidationError."""
    noun = error.schema.get("x-noun") if isinstance(error.schema, dict) else None
    v, inst = error.validator, error.instance
    if "propertyNames" in error.absolute_schema_path:
        return f"key {inst!r} is not a valid {noun or 'name'}" + (
            f" ({', '.join(error.schema['enum'])})" if v == "enum" else ""
        )
    if v == "enum":
        choices = ", ".join(map(str, error.validator_value))
        return f"{inst!r} is not a {noun or 'valid value'} ({choices})"
    if v == "const":
        return f"{inst!r} is not supported; this branchml reads {error.validator_value!r}"
    if v == "additionalProperties":
        extra = sorted(set(inst) - set(error.schema.get("properties", {})))
        known = ", ".join(error.schema.get("properties", {}))
        return f"unknown key {', '.join(map(repr, extra))} (known keys: {known})"
    if v == "required":
        missing = [k for k in error.validator_value if k not in inst]
        return f"missing required key {', '.join(map(repr, missing))}"
    if v == "type":
        return f"expected {error.validator_value}, got {type(inst).__name__} {inst!r}"
    if v == "pattern" or v == "maxLength":
        return f"{inst!r} is not a valid {noun or 'value'}"
    if v == "minItems" and error.validator_value > 1:
        return f"needs at least {error.validator_value} items"
    if v == "minItems" or v == "minProperties" or v == "minLength":
        return "must not be empty"
    if v == "uniqueItems":
        return "lists an item twice"
    if v == "anyOf":
        return f"{inst!r} is not a valid {noun or 'branch pattern'} or null"
    return str(error.message)


def validate(data: Any, source: str) -> dict[str, Any]:
    """Check `data` against the schema and the cross-references; return the effective config."""
    import jsonschema
    from jsonschema.exceptions import best_match

    if data is None:
        raise ConfigError(f"{source}: the file is empty; it needs at least `version: 1`.")
    if not isinstance(data, dict):
        raise ConfigError(
            f"{source}: the top level must be a mapping of keys, not a {type(data).__name__}."
        )
    validator = jsonschema.Draft202012Validator(schema("config"))
    error = best_match(validator.iter_errors(data))
    if error is not None:
        where = key_path(list(error.absolute_path))
        raise ConfigError(f"{source}: {where + ': ' if where else ''}{_describe(error)}.")
    effective = effective_config(data)
    _check_references(effective, source)
    _check_split_ratios(effective, source)
    _check_gates(effective, source)
    _check_carry(effective, source)
    _check_roles(effective, source)
    _check_programs(effective, source)
    return effective


def _check_programs(cfg: dict[str, Any], source: str) -> None:
    """A relative argv[0] with a `/` (bin/python3) names a file of the checked-out branch,
    which `train` and `reproduce` would run: refused, as alert commands are."""
    from branchml.core.environment import names_a_checkout_file

    listed = ((cfg.get("reproduce") or {}).get("commands") or [])
    commands = [("train.command", (cfg.get("train") or {}).get("command"))]
    commands += [(f"reproduce.commands[{i}]", c) for i, c in enumerate(listed)]
    for where, argv in commands:
        if argv and names_a_checkout_file(argv):
            raise ConfigError(f"{source}: {where}: {argv[0]!r} is a path inside the checkout; "
                              "name a program on PATH or an absolute path.")


def _check_roles(cfg: dict[str, Any], source: str) -> None:
    """A column given two roles (`monitor.target: y` with `monitor.columns: {y: ignore}`)
    would make every `monitor` command exit 2: refused here, where the hooks and
    `config validate` see it, before it reaches main."""
    from branchml.core.roles import declared_roles

    declared_roles(cfg.get("monitor") or {}, source)


def _check_carry(cfg: dict[str, Any], source: str) -> None:
    """`pulls.carry_removals`: every pair names branch types, never out of raw or monitoring
    (they never remove rows, docs/data-moves.md)."""
    from branchml.core.carry import CarryPair, pair_problem

    for i, p in enumerate((cfg.get("pulls") or {}).get("carry_removals") or []):
        why = pair_problem(CarryPair(p["from"], p["to"]), cfg["branches"])
        if why is not None:
            raise ConfigError(f"{source}: pulls.carry_removals[{i}].{why}.")


def _check_gates(cfg: dict[str, Any], source: str) -> None:
    """A gate is split into shell words when `promote` runs it: an unclosed quote is a
    config error now rather than a failed promotion later."""
    import shlex

    for i, gate in enumerate((cfg.get("promote") or {}).get("require") or []):
        try:
            shlex.split(gate)
        except ValueError as e:
            raise ConfigError(f"{source}: promote.require[{i}]: {gate!r} cannot be split into "
                              f"words ({e}); fix its quoting.") from None


def _check_split_ratios(cfg: dict[str, Any], source: str) -> None:
    """JSON Schema cannot add numbers up; ratios off 1 would be locked into every split's
    params.json (1.4 leaves the test bucket empty for good)."""
    ratios = (cfg.get("split") or {}).get("ratios")
    if ratios is not None and abs(math.fsum(ratios) - 1) > 1e-9:
        raise ConfigError(f"{source}: split.ratios: {ratios} add up to {math.fsum(ratios):g}, "
                          "not 1; give shares that add up to 1.")


def effective_config(data: Mapping[str, Any]) -> dict[str, Any]:
    """Defaults under the file: top-level keys replace the defaults, path classes per class,
    and each branch entry gets the default of each field it leaves out."""
    base = _defaults()
    out = copy.deepcopy(base)
    for key, value in data.items():
        if key == "path_classes":
            merged = dict(value)
            merged.update({k: v for k, v in base["path_classes"].items() if k not in value})
            out[key] = merged
        else:
            out[key] = copy.deepcopy(value)
    out["branches"] = {p: {**_BRANCH_DEFAULTS, **s} for p, s in out["branches"].items()}
    pulls = out.setdefault("pulls", {})
    if "carry_removals" not in pulls:  # default on out of clean and split, where they exist
        from branchml.core.carry import default_pairs

        pulls["carry_removals"] = default_pairs(out["branches"])
    return out


def _defaults() -> dict[str, Any]:
    global _DEFAULTS
    if _DEFAULTS is None:
        _DEFAULTS = parse_yaml(default_config_text().encode(), "built-in defaults")
    return _DEFAULTS


_DEFAULTS: dict[str, Any] | None = None


def _check_references(cfg: dict[str, Any], source: str) -> None:
    branches: dict[str, Any] = cfg["branches"]
    mains = [p for p, s in branches.items() if s["type"] == "main"]
    if len(mains) != 1:
        raise ConfigError(
            f"{source}: branches: exactly one branch must have type main, found {len(mains)}."
        )
    for pattern, spec in branches.items():
        at = f"{source}: branches.{json.dumps(pattern)}"
        parent = spec["parent"]
        if spec["type"] == "main" and parent is not None:
            raise ConfigError(f"{at}.parent: the main branch has no parent; remove the key.")
        if spec["type"] != "main" and parent is None:
            raise ConfigError(f"{at}.parent: missing; name the branch this type starts from.")
        if parent is not None and parent not in branches and not _matches_any(parent, branches):
            raise ConfigError(f"{at}.parent: {parent!r} is not a branch defined under branches.")
        for key in ("ops", "promoted"):
            stray = [c for c in spec[key] if c not in spec["may_change"]]
            if stray:
                raise ConfigError(
                    f"{at}.{key}: {stray[0]!r} is not in may_change; add it there or remove it."
                )


def _matches_any(name: str, branches: Mapping[str, Any]) -> bool:
    from branchml.core.names import pattern_matches

    return any(pattern_matches(p, name) for p in branches)


def load_file(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file; give the path of a branchml.yaml.") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a folder; give the path of a branchml.yaml.") from None
    return validate(parse_yaml(raw, path.name), path.name)


def load_bytes(raw: bytes | None, source: str, cache_dir: Path | None = None) -> dict[str, Any]:
    """Effective config from file content (None: built-in defaults), cached by digest."""
    if raw is None:
        raw = default_config_text().encode()
        source = "built-in defaults"
    digest = hashlib.sha256(raw + __version__.encode()).hexdigest()[:32]
    cached = cache_dir / f"config-{digest}.json" if cache_dir else None
    if cached is not None and cached.is_file():
        loaded: dict[str, Any] = json.loads(cached.read_text(encoding="utf-8"))
        return loaded
    cfg = validate(parse_yaml(raw, source), source)
    if cached is not None:
        _write_cache(cached, cfg)
    return cfg


def _write_cache(path: Path, cfg: dict[str, Any]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(cfg), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass  # a cache we cannot write only costs time
