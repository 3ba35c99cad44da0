"""Issue 19, statistics that are right: core/drift.py and its maths against SciPy, and
`branchml monitor check` on real repositories."""

from __future__ import annotations

import pytest

from branchml.core import drift


@pytest.mark.parametrize(("value", "limit", "text"), [
    (0.199969, 0.2, "0.19997"),
    (0.2001, 0.2, "0.2001"),
    (0.2000001, 0.2, "0.2000001"),
    (0.2, 0.2, "0.2"),
    (0.0003, 0.05, "0.0003"),
    (0.123456, 0.2, "0.123"),
    (0.049999999, 0.05, "0.049999999"),
    (12.3456, None, "12.3"),
])
def test_shown_reads_on_the_right_side_of_its_limit(value: float, limit: float | None,
                                                   text: str) -> None:
    assert drift.shown(value, limit) == text


def test_psi_just_under_the_threshold_never_prints_as_the_threshold() -> None:
    r = {"feature": "x1", "psi": 0.200031, "ks": 0.199969}
    assert drift.alerts(r, {"psi": 0.2, "ks": 0.2}) == ["x1: psi 0.20003 > 0.2"]
