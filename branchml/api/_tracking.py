"""The library surface for tracking and monitoring (run log, `monitor`, the router, analysis
branches): re-exported by `branchml.api`, which is what users import. Never prints."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from branchml.results import AnalysisStart, DriftReport, MonitorComparison, RunRecord

if TYPE_CHECKING:
    from branchml.ops.alerts import AlertDelivery
    from branchml.ops.monitorlog import LogReport
    from branchml.ops.runs import RunComparison, RunPlot
    from branchml.ops.track import TrackReport

__all__ = ["REPORT_FORMS", "analysis_start", "drift_report", "monitor_check", "monitor_compare",
           "monitor_log", "monitor_notify", "monitor_report", "release_metrics", "route", "runs",
           "runs_compare", "runs_plot", "runs_sorted", "track"]

REPORT_FORMS = ("html", "md", "text")


def track(src: str | None = None, path: str | Path = ".", dry_run: bool = False
          ) -> TrackReport:
    """Copy a stable commit's (or release's) tracking, MLflow runs included, onto main."""
    from branchml.ops import track as op

    return op.track(Path(path), src, dry_run)


def runs(path: str | Path = ".") -> list[RunRecord]:
    """The run log on main (tracking/runs.jsonl), newest first."""
    from branchml.ops import track as op

    return cast("list[RunRecord]", op.runs(Path(path)))


def runs_compare(a: str, b: str, path: str | Path = ".") -> RunComparison:
    """Params and metrics of runs `a` and `b` (each a release tag or a commit prefix) side
    by side, with b - a where both are numbers."""
    from branchml.ops import runs as op

    return op.compare(Path(path), a, b)


def runs_plot(metric: str, output: str | Path, path: str | Path = ".") -> RunPlot:
    """Draw `metric` across the runs that have it, oldest first, into the PNG `output`
    (needs matplotlib: `pip install 'branchml[plot]'`)."""
    from branchml.ops import runs as op

    return op.plot(Path(path), metric, Path(output))


def monitor_log(files: list[str | Path], client: str, tag: str, path: str | Path = ".",
                dry_run: bool = False, date: str | None = None) -> LogReport:
    """Append production files (inputs and predictions of release `tag`) under
    monitoring/CLIENT/TAG/DATE/ in one commit; rows logged before are not logged again.
    DATE is today (UTC) or `date` (YYYY-MM-DD, from the tag's day to today: a backfill)."""
    from branchml.ops import monitor as op

    return op.log(Path(path), client, tag, [Path(f) for f in files], dry_run, date)


def monitor_check(tag: str, since: str | None = None, path: str | Path = ".",
                  window: str | None = None) -> DriftReport:
    """Drift of the data monitored for release `tag` (files logged on or after `since`,
    YYYY-MM-DD) against its training data. Alerts are in `["alerts"]`; none is raised.
    `window` ("1d", "7d", "12h"): the statistics per time window too, in `["windows"]`."""
    from branchml.ops import monitor as op

    return cast(DriftReport, op.check(Path(path), tag, since, window))


def monitor_report(tag: str, file: str | Path, since: str | None = None,
                   path: str | Path = ".", window: str | None = None) -> DriftReport:
    """`monitor_check`, with its report written to `file` (.html: a chart per feature;
    .md: a table). A bad file name is refused before the check runs."""
    from branchml.ops import driftreport as op

    return cast(DriftReport, op.report(Path(path), tag, Path(file), since, window))


def analysis_start(client: str, path: str | Path = ".", dry_run: bool = False
                   ) -> AnalysisStart:
    """Create the analysis branch ds/CLIENT from main, with CLIENT's monitoring data, the raw
    data and a notebook stub."""
    from branchml.ops import analysis as op

    return cast(AnalysisStart, op.start(Path(path), client, dry_run))


def release_metrics(path: str | Path = ".") -> list[str]:
    """The metric names `branchml releases` shows (`releases.metrics` in the trusted
    config); empty when the config names none (each release's first three are shown)."""
    from branchml.ops import releaseview as op

    return op.release_metrics(Path(path))


def runs_sorted(metric: str, ascending: bool | None = None, path: str | Path = "."
                ) -> list[RunRecord]:
    """The run log on main, best `metric` first: ascending when `ascending` is True,
    descending when False, else by the metric's name (losses and errors ascending:
    `branchml.core.runsort.lower_is_better`); runs without the metric last. Each run's
    `tags` are the releases on its commit, read from the tags now."""
    from typing import cast

    from branchml.core.runsort import sort_runs

    return [cast("RunRecord", dict(r)) for r in sort_runs(runs(path), metric, ascending)]


def route(client: str, key: str | int | bytes, path: str | Path = ".") -> str:
    """The release tag serving `key` for `client`, by refs/deploy/<client>: the same key
    always the same release; a share `fraction` of keys (by a hash of client and key) to
    the candidate. An int key is hashed as its decimal spelling (42 routes as "42"). For
    many keys, build `Router(client, path)` once and call its `route(key)`."""
    from branchml.ops.route import Router as _Router

    return _Router(client, path).route(key)


def monitor_compare(client: str, a: str, b: str, since: str | None = None,
                    path: str | Path = ".") -> MonitorComparison:
    """Releases `a` and `b` of `client` compared on their monitored rows (files logged on or
    after `since`, YYYY-MM-DD): predictions (rows, means with a 95% interval of B - A, PSI
    and KS with A as reference) and, where the logged files carry the label
    (`monitor.target`), the metrics `monitor.metrics` names, each with a 95% interval of
    B - A (normal approximation). A forward test names the primary and the canary; a
    backtest the new primary and the old release kept on a share of traffic."""
    from branchml.ops import monitorcompare as op

    return cast("MonitorComparison", op.monitor_compare(Path(path), client, a, b, since))


def monitor_notify(report: DriftReport, path: str | Path = ".") -> AlertDelivery:
    """Send a `monitor_check` result holding an alert to `monitor.alerts` in the trusted
    config (main's branchml.yaml): a program on PATH gets the JSON on stdin, a webhook gets it
    as a POST. Nothing is sent without an alert. A failed delivery is a warning sentence in
    the result, never an exception."""
    from branchml.ops import alerts as op

    return op.notify(Path(path), cast("dict[str, Any]", report))


def drift_report(result: DriftReport, form: str = "html") -> str:
    """The report of a `monitor_check` result (one with windows too): "html" (one
    self-contained page), "md" (Markdown for a pull request) or "text" (what `monitor check`
    prints). Parts whose keys the result lacks are left out."""
    from branchml.core.driftreport import drift_html, drift_markdown, drift_text
    from branchml.errors import UsageError

    forms = dict(zip(REPORT_FORMS, (drift_html, drift_markdown, drift_text), strict=True))
    if form not in forms:
        raise UsageError(f"a drift report is written as {', '.join(REPORT_FORMS)}, not "
                         f"{form!r}; pick one of those.")
    return forms[form](result)
