"""The shapes of the plain-data results `branchml.api` returns (what `--json` prints).

These are TypedDicts: the values are the dicts the commands build, so a script reads them
with `r["primary"]` and mypy knows each key's type. Commands that return objects with
behaviour (`PromoteReport`, `MergeResult`, ...) return dataclasses instead; `branchml.api`
exports both. Imports nothing of branchml, so any layer may name these types.
"""

from __future__ import annotations

from typing import NotRequired, TypedDict

# a value read from a JSON file of the repository (params.json, metrics.json, branchml.yaml)
JsonValue = str | int | float | bool | None | list["JsonValue"] | dict[str, "JsonValue"]


class Hop(TypedDict):
    """A `Promoted-From:` or `Pulled-From:` trailer: the branch and commit a move came from."""

    branch: str
    commit: str


class CodeEntry(TypedDict):
    digest: str
    files: int


# "from" is a Python keyword: the functional form names it
DataEntry = TypedDict("DataEntry", {"tree": str, "files": int, "bytes": int,
                                    "from": NotRequired[Hop | None]})


class ModelEntry(TypedDict):
    size: int
    lfs_oid: NotRequired[str]  # an LFS object's SHA-256 ...
    blob: NotRequired[str]  # ... or, for a plain git file, its blob id


class Manifest(TypedDict):
    """A release manifest (docs/releases.md; schema branchml/schemas/manifest.schema.json)."""

    schema: str
    tag: str
    client: str
    n: int
    commit: str
    branch: str
    message: NotRequired[str]
    code: CodeEntry
    data: dict[str, DataEntry]
    models: dict[str, ModelEntry]
    params: dict[str, JsonValue]
    metrics: dict[str, JsonValue]
    config_digest: str
    promotion: NotRequired[Hop | None]
    pulled_from: NotRequired[Hop | None]
    # the split requests of the commit (`branchml split rows`; docs/releases.md)
    splits: NotRequired[list[dict[str, JsonValue]]]
    warnings: NotRequired[list[str]]  # tag's leakage warnings (not in the stored manifest)
    snapshot: str
    tagger: str
    time: str


class ReleaseRow(TypedDict):
    """One line of `releases`: read from the tag alone."""

    tag: str
    client: str
    n: int
    commit: str
    date: str
    model: str | None
    model_id: str | None
    metrics: dict[str, JsonValue]


class Lineage(TypedDict):
    path: str
    model: ModelEntry
    commit: str
    data: dict[str, DataEntry]
    pulled_from: Hop | None
    code: CodeEntry
    promotion: Hop | None
    releases: list[str]
    splits: NotRequired[list[dict[str, JsonValue]]]
    chain: NotRequired[dict[str, JsonValue]]  # hops back to raw and why the walk ended


class DataDelta(TypedDict):
    files_added: int
    bytes_added: int
    rows_added: NotRequired[int | None]  # None: a file of the folder could not be counted
    rows_removed: NotRequired[int | None]  # (or, for both, only its net figure is known)
    rows_net: NotRequired[int | None]  # rows after minus rows before


# "from" again: the functional form
Change = TypedDict("Change", {"from": JsonValue, "to": JsonValue,
                              "delta": NotRequired[float],
                              "change": NotRequired[str]})  # added, removed or changed
ReleaseDiff = TypedDict("ReleaseDiff", {
    "from": str, "to": str, "code_changed": list[str], "data": dict[str, DataDelta],
    "models_changed": list[str], "params": dict[str, Change], "metrics": dict[str, Change],
    "files": NotRequired[list[dict[str, JsonValue]]]})


class Deployment(TypedDict):
    """What `deploy` and `rollback` recorded on refs/deploy/CLIENT."""

    client: str
    primary: str
    candidate: str | None
    fraction: float | None
    commit: str
    already: NotRequired[bool]  # True: that routing was in place; nothing new recorded
    pushed: bool | None  # None: not asked to push; False: origin had it already
    previous: NotRequired[str | None]  # rollback: the release it moved from
    direction: NotRequired[str]  # rollback: "back", "forward" or "same"


class DeployedRecord(TypedDict):
    """One deployment of `deployed`: what the client ran at `at` (None: now). Asked about a
    time before the first deployment: primary, commit, time and what are None."""

    client: str
    at: str | None
    commit: str | None
    time: str | None
    primary: str | None
    candidate: str | None
    fraction: float | None
    what: str | None


class RunRecord(TypedDict):
    """One run of main's run log (tracking/runs.jsonl)."""

    commit: str
    branch: str
    tag: str | None  # the first of `tags`
    tags: list[str]  # the releases on the run's commit, read from the tags when read
    time: str
    params: dict[str, JsonValue]
    metrics: dict[str, JsonValue]
    data: dict[str, DataEntry]
    models: dict[str, ModelEntry]
    snapshot: str


class FeatureDrift(TypedDict):
    """One scored column of `monitor check` (docs/tracking-monitoring.md, "How each statistic
    is computed"); a statistic that does not apply to the kind is None."""

    feature: str
    kind: str  # "numeric" or "categorical"
    rows: int
    psi: float
    ks: float | None  # None for a categorical feature
    outside_range: float
    missing: float
    train_hist: list[int]
    hist: list[int]
    alerts: list[str]
    ks_pvalue: NotRequired[float | None]
    wasserstein: NotRequired[float | None]  # Wasserstein-1 / training std
    chi2: NotRequired[float | None]
    chi2_pvalue: NotRequired[float | None]
    js: NotRequired[float | None]  # Jensen-Shannon distance, natural log (as Evidently)
    mean: NotRequired[float | None]
    std: NotRequired[float | None]
    train_mean: NotRequired[float | None]
    train_std: NotRequired[float | None]
    edges: NotRequired[list[float]]  # numeric: len(hist) + 1 bin edges, training min to max
    categories: NotRequired[list[str]]  # categorical: one label per bin, the last "(other)"
    thresholds: NotRequired[dict[str, float]]  # the limits applied to this feature


class PredictionStats(TypedDict):
    column: str
    mean: float | None
    std: float | None
    rows: NotRequired[int]
    min: NotRequired[float | None]
    max: NotRequired[float | None]
    hist: NotRequired[list[int]]  # from the uniform sample (see `sampled`)
    edges: NotRequired[list[float]]


class DriftCounters(TypedDict):
    features: int  # scored
    drifted: int  # features with an alert
    left_out: int  # columns not scored
    alerts: int


class DriftSample(TypedDict):
    size: int  # values the largest sample holds (at most cap), uniform over every monitored row
    seed: int
    cap: NotRequired[int]  # the most values a sample keeps per feature
    figures: list[str]  # the figures computed on the sample


class WindowPrediction(TypedDict):
    mean: float | None
    std: float | None
    rows: int


class DriftWindow(TypedDict):
    """One time window of `monitor check --window`: start inclusive, end exclusive."""

    start: str  # YYYY-MM-DD for day windows, YYYY-MM-DDTHH:MMZ for hour windows
    end: str
    rows: int
    features: list[dict[str, object]]  # a feature's statistics without its histograms
    prediction: WindowPrediction
    alerts: list[str]  # "window 2026-11-04: x1: psi 0.41 > 0.2"


class WindowSpec(TypedDict):
    size: str  # "1d"
    # "timestamp column NAME", "logged date", or "timestamp column NAME (logged date for
    # files without it)" when files with and without the column were read
    by: str
    unparsed: int  # rows whose timestamp does not parse: in no window


class LeftOutColumn(TypedDict):
    """A training column `monitor check` does not score, and why (docs/tracking-monitoring.md)."""

    column: str
    role: str  # "id", "timestamp", "target", "prediction" or "ignore"
    declared: bool  # named in the trusted config (else detected from the training values)
    reason: str


class DriftReport(TypedDict):
    """`monitor check`: the monitored data of a release against its training data."""

    tag: str
    files: list[str]
    rows: int
    features: list[FeatureDrift]
    prediction: PredictionStats
    alerts: list[str]
    windows: NotRequired[list[DriftWindow]]  # with --window only
    window: NotRequired[WindowSpec]

    verdict: NotRequired[str]  # "drift" when any alert, else "no drift"
    counters: NotRequired[DriftCounters]
    sampled: NotRequired[DriftSample]

    left_out: NotRequired[list[LeftOutColumn]]
    notes: NotRequired[list[str]]  # sentences where a figure alone would mislead


class AnalysisStart(TypedDict):
    branch: str
    commit: str
    files: int
    stub: str


# --- issue 19: online experiments (s5) ---
class CompareSide(TypedDict):
    """One release in `monitor compare`: its logged rows and predictions."""

    tag: str
    files: list[str]
    rows: int  # every logged row
    predictions: int  # rows with a prediction (the mean and std are over these)
    mean: float | None
    std: float | None
    labelled: int  # rows with both a prediction and a label (the metrics are over these)


class CompareSampled(TypedDict):
    size: int  # predictions kept per release for PSI and KS (a seeded reservoir sample)
    seed: int
    a: bool  # True: A had more predictions than `size`: its PSI/KS side is the sample
    b: bool


class PredictionComparison(TypedDict):
    """B's prediction mean minus A's with its 95% interval (normal approximation), and the
    two distributions' PSI and KS (A as the reference)."""

    column: str
    difference: float | None
    low: float | None
    high: float | None
    excludes_zero: bool
    psi: float | None
    ks: float | None
    sampled: CompareSampled


class MetricComparison(TypedDict):
    metric: str  # accuracy, error_rate, mae, mse or rmse
    a: float | None
    b: float | None
    rows_a: int
    rows_b: int
    lower_is_better: bool
    better: str | None  # "a", "b", or None (equal, or not comparable)
    difference: float | None  # B - A
    low: float | None
    high: float | None
    excludes_zero: bool


class MonitorComparison(TypedDict):
    """`monitor compare --client C A B`."""

    client: str
    a: CompareSide
    b: CompareSide
    since: str | None
    prediction: PredictionComparison
    target: str | None  # monitor.target: the label column (None: no metrics)
    metrics: list[MetricComparison]
