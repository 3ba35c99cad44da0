"""`runs compare` and `runs plot`: main's run log (ops/track.py reads it) side by side, or
one metric drawn across runs."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from branchml.errors import ToolMissing, UsageError
from branchml.ops.track import runs

if TYPE_CHECKING:
    from branchml.results import JsonValue, RunRecord


@dataclass
class CompareRow:
    """One param or metric of two runs; `delta` is b - a when both are numbers."""

    a: JsonValue
    b: JsonValue
    delta: float | None


@dataclass
class RunComparison:
    a: str
    b: str
    commit_a: str
    commit_b: str
    # "param NAME" / "metric NAME" -> values; params first, each kind sorted by name
    rows: dict[str, CompareRow] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """What `runs compare --json` prints: the rows alone, as it always has."""
        return {k: {"a": v.a, "b": v.b, "delta": v.delta} for k, v in self.rows.items()}


@dataclass
class RunPlot:
    metric: str
    output: str
    runs: list[str]  # the x axis labels, oldest first: tag, or the commit's first 7 digits

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def pick(rows: list[RunRecord], key: str) -> RunRecord:
    """The one run `key` names: its tag or a prefix of its commit."""
    found = [r for r in rows if key in r.get("tags", []) or r["commit"].startswith(key)]
    if len(found) != 1:
        raise UsageError(f"{key!r} names {'no' if not found else 'more than one'} run in "
                         "main's run log; give a tag or a longer commit prefix"
                         + (f" (or track it first: `branchml track {key}`)." if not found
                            else "."))
    return found[0]


def compare(path: Path, a: str, b: str) -> RunComparison:
    rows = cast("list[RunRecord]", runs(path))  # the log's records, as track writes them
    ra, rb = pick(rows, a), pick(rows, b)
    out = RunComparison(a, b, ra["commit"], rb["commit"])
    for kind, xs, ys in (("param", ra["params"], rb["params"]),
                         ("metric", ra["metrics"], rb["metrics"])):
        for k in sorted(set(xs) | set(ys)):
            x, y = xs.get(k), ys.get(k)
            d = y - x if isinstance(x, int | float) and isinstance(y, int | float) else None
            out.rows[f"{kind} {k}"] = CompareRow(x, y, d)
    return out


def plot(path: Path, metric: str, output: Path) -> RunPlot:
    """Draw `metric` across runs, oldest to newest, labelled by tag, into a PNG file."""
    plt = _pyplot()
    rows = [r for r in runs(path)[::-1] if metric in r["metrics"]]
    if not rows:
        raise UsageError(f"no run on main has the metric {metric!r}.")
    if output.is_dir() or not output.parent.is_dir():
        raise UsageError(f"-o {output}: give a file name in a folder that exists.")
    labels = [r.get("tag") or r["commit"][:7] for r in rows]
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.plot(range(len(rows)), [float(r["metrics"][metric]) for r in rows], marker="o")
    ax.set_xticks(range(len(rows)), labels, rotation=45, ha="right")
    ax.set_ylabel(metric)
    fig.tight_layout()
    fig.savefig(output)
    plt.close(fig)
    return RunPlot(metric, str(output), labels)


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ToolMissing("runs plot needs matplotlib: pip install 'branchml[plot]'.") from None
    return plt
