"""Package data: the JSON Schemas and the top-level templates/ (shipped in the wheel)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any


def templates_dir() -> Path:
    """templates/ inside an installed wheel, or beside the package in a source checkout."""
    from importlib.resources import files  # here: a hook or a pull never pays for it

    shipped = Path(str(files("branchml"))) / "_templates"
    if shipped.is_dir():
        return shipped
    return Path(__file__).resolve().parent.parent / "templates"


def template_text(name: str) -> str:
    return (templates_dir() / name).read_text(encoding="utf-8")


@cache
def schema(name: str) -> dict[str, Any]:
    from importlib.resources import files

    data: dict[str, Any] = json.loads(
        files("branchml.schemas").joinpath(f"{name}.schema.json").read_text(encoding="utf-8")
    )
    return data
