"""A long list of violations, told in a screenful: the first few, then counts.

A refusal of a whole history (an adopted repository pushed before its cut-off was recorded,
a branch made from the wrong commit) can hold hundreds of thousands of violations; printing
every one buries the reason and takes longer than judging them. The hooks and `branchml
check` print the first SHOWN, then the count per rule and per branch; `--json` keeps all.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from branchml.core.changes import Violation

SHOWN = 20


def violation_line(v: Violation) -> str:
    where = f"commit {v.commit[:10]}: " if v.commit else ""
    return f"{v.branch}: {where}{v.message}"


def _counts(counter: Counter[str]) -> str:
    return ", ".join(f"{name or '(none)'} {n:,}" for name, n in counter.most_common())


def tally_lines(violations: Sequence[Violation], hint: str = "", shown: int = SHOWN
                ) -> list[str]:
    """One line per violation when there are at most `shown`; else the first `shown`, a line
    saying how many more (and `hint`: where to see them all), and the counts per rule and per
    branch, most frequent first."""
    lines = [violation_line(v) for v in violations[:shown]]
    if len(violations) <= shown:
        return lines
    return [*lines,
            f"... and {len(violations) - shown:,} more{hint}",
            f"by rule: {_counts(Counter(v.rule for v in violations))}",
            f"by branch: {_counts(Counter(v.branch for v in violations))}"]
