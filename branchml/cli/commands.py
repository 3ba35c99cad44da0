"""The typer CLI: options -> api -> render (text, or --json). No logic lives here.

The app is in `app.py`; each area module registers its commands on it when imported here."""

from __future__ import annotations

from importlib import import_module

from branchml.cli.app import app

# Each area registers its commands on `app`; --help lists them in this (workflow) order.
for _area in ("foundation", "data", "releases", "tracking"):
    import_module(f"branchml.cli.{_area}")

__all__ = ["app", "run"]


def run(args: list[str]) -> int:
    try:
        app(args=args, prog_name="branchml", standalone_mode=True)
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 2)
    return 0
