"""`branchml monitor compare --client C A B`: two releases of one client compared on their
monitored rows (a canary's forward test or backtest): the prediction distributions and, where
the logged files carry the label (`monitor.target`), the metrics `monitor.metrics` names.
Every file is streamed in chunks (ops/monitortables.py); memory stays bounded."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from branchml.content import strategies
from branchml.content.logged import logged_source
from branchml.core import compare
from branchml.core.logcheck import check_since, dated, logged_since, readable
from branchml.core.names import check_client_id
from branchml.core.rows import format_for
from branchml.errors import StateError, UsageError
from branchml.ops.monitorlog import BRANCH
from branchml.ops.monitortables import FIX, column_chunks, floats
from branchml.ops.release import find, tag_format
from branchml.ops.trusted import trusted_config
from branchml.repo import objectstore
from branchml.repo.reader import Git


@dataclass
class Side:
    """One release's streamed figures."""

    tag: str
    files: list[str]
    rows: int = 0
    prediction: compare.Moments = field(default_factory=compare.Moments)
    sample: compare.Reservoir = field(default_factory=compare.reservoir)
    labelled: int = 0
    metrics: dict[str, compare.Moments] = field(default_factory=dict)


def monitor_compare(path: Path, client: str, a: str, b: str, since: str | None = None
                    ) -> dict[str, Any]:
    check_client_id(client)
    since = check_since(since)
    if a == b:
        raise UsageError(f"{a} is named twice; compare two different releases of {client}.")
    g, repo = Git(path), objectstore.Repo(path)
    try:
        fmt = tag_format(g)
        for tag in (a, b):
            rel = find(g, fmt, tag)
            if rel.client != client:
                raise UsageError(f"{tag} is a release of {rel.client}, not of {client}; "
                                 f"compare two releases of {client}.")
        cfg = trusted_config(g)
        tip = repo.branch_target(BRANCH)
        listing = [p for _, _, p in (g.ls_tree(tip) if tip else [])]
    finally:
        g.close()
    mon = cfg.get("monitor") or {}
    pred_col, target = mon.get("prediction", "prediction"), mon.get("target")
    metrics = list(mon.get("metrics") or [])
    store = strategies.Store(repo.common_dir, repo.root or repo.common_dir)
    sides = []
    for tag in (a, b):
        side = Side(tag, _files(listing, client, tag, since))
        side.metrics = {m: compare.Moments() for m in metrics}
        for p in side.files:
            _read(repo, store, tip or "", p, side, pred_col, target)
        sides.append(side)
    return _result(client, since, sides[0], sides[1], pred_col, target, metrics)


def _files(listing: list[str], client: str, tag: str, since: str | None) -> list[str]:
    prefix = f"monitoring/{client}/{tag}/"
    return logged_since(dated(listing, prefix, None)[0], prefix, since, tag,
                        f"nothing is monitored for {tag} (no files under {prefix} on {BRANCH}); "
                        f"log its rows with `branchml monitor log --client {client} --tag "
                        f"{tag} FILE`.")


def _read(repo: objectstore.Repo, store: strategies.Store, tip: str, p: str, side: Side,
          pred_col: str, target: str | None) -> None:
    """One logged file's chunks into `side`."""
    import numpy as np

    source = logged_source(repo, tip, p, store)  # streamed, never held whole (atk19-07)
    try:
        for columns in readable(column_chunks(source, format_for(p), p), p, BRANCH):
            side.rows += len(next(iter(columns.values()), ()))
            if pred_col not in columns:
                continue
            pred = floats(columns[pred_col], pred_col, p)
            seen = pred[np.isfinite(pred)]
            side.prediction.add(seen)
            side.sample.add(seen)
            if target is None or target not in columns or not side.metrics:
                continue
            label = floats(columns[target], target, p)
            both = np.isfinite(pred) & np.isfinite(label)
            side.labelled += int(both.sum())
            for metric, moments in side.metrics.items():
                moments.add(compare.losses(metric, pred[both], label[both]))
    except UsageError as e:  # a word in a numeric column, logged before values were checked
        raise StateError(str(e).removesuffix(FIX) + f" on {BRANCH}; compare only the days "
                         "after it with --since YYYY-MM-DD.") from None


def _result(client: str, since: str | None, a: Side, b: Side, pred_col: str,
            target: str | None, metrics: list[str]) -> dict[str, Any]:
    import math

    def stats(s: Side) -> dict[str, Any]:
        m = s.prediction
        return {"tag": s.tag, "files": s.files, "rows": s.rows, "predictions": m.n,
                "mean": m.mean if m.n else None, "std": math.sqrt(m.var) if m.n else None,
                "labelled": s.labelled}

    sa, sb = a.sample.sample(), b.sample.sample()
    rows = [compare.metric_row(m, a.metrics[m], b.metrics[m]) for m in metrics] \
        if target is not None else []
    return {"client": client, "a": stats(a), "b": stats(b), "since": since,
            "prediction": {"column": pred_col, **compare.difference(a.prediction, b.prediction),
                           "psi": compare.psi(sa, sb), "ks": compare.ks(sa, sb),
                           "sampled": {"size": compare.SAMPLE, "seed": compare.SEED,
                                       "a": a.prediction.n > compare.SAMPLE,
                                       "b": b.prediction.n > compare.SAMPLE}},
            "target": target, "metrics": rows}
