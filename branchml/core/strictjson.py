"""Strict JSON (RFC 8259) out of branchml's results: a NaN or an infinity becomes null, never
the bare NaN/Infinity Python writes by default, which most parsers refuse (atk19-11). Used by
`--json` output and by the alert body a webhook or a command receives."""

from __future__ import annotations

import json
import math
from typing import Any


def finite(data: Any) -> Any:
    """`data` with every non-finite float (NumPy's float64 too, a float subclass) as None."""
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {k: finite(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [finite(v) for v in data]
    return data


def dumps(data: Any, indent: int | None = None) -> str:
    return json.dumps(finite(data), indent=indent, default=str, allow_nan=False)
