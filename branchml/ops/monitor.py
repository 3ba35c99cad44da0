"""`branchml monitor check`: drift of a release's monitored data against the data it was trained
on, found through its manifest; exit 1 on an alert. (`monitor log` is ops/monitorlog.py.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from branchml.content import strategies
from branchml.content.logged import logged_source
from branchml.core import drift, driftnotes
from branchml.core.logcheck import check_since, dated, logged_since, readable
from branchml.core.roles import SAMPLE_ROWS, declared_roles, left_out
from branchml.core.rows import format_for
from branchml.errors import StateError, UsageError
from branchml.ops.monitorlog import BRANCH, LogReport, log
from branchml.ops.monitortables import FIX, categorical, column_chunks, floats, training, values
from branchml.ops.monitorwindows import Windows, window_size
from branchml.ops.release import find, tag_format
from branchml.ops.trusted import trusted_config
from branchml.ops.userchecks import user_checks
from branchml.repo import objectstore
from branchml.repo.reader import Git

__all__ = ["BRANCH", "DEFAULT_LIMITS", "LogReport", "check", "log"]

DEFAULT_LIMITS = drift.DEFAULT_LIMITS


def check(path: Path, tag: str, since: str | None = None, window: str | None = None
          ) -> dict[str, Any]:
    since = check_since(since)
    size = window_size(window) if window is not None else None
    g, repo = Git(path), objectstore.Repo(path)
    rel = find(g, tag_format(g), tag)
    assert rel.manifest is not None
    cfg = trusted_config(g)
    mon = cfg.get("monitor") or {}
    store = strategies.Store(repo.common_dir, repo.root or repo.common_dir)
    cols, train = training(g, repo, rel.manifest, store, cfg.get("formats") or {})
    roles = declared_roles(mon)  # issue 19 (roles): ids, timestamps, label... are not scored
    left = left_out(cols, {c: chunks[0][:SAMPLE_ROWS] for c, chunks in train.items() if chunks},
                    roles)
    prediction, skip = roles.prediction, {x.column for x in left}
    features = [c for c in cols if c not in skip]
    tip = repo.branch_target(BRANCH)
    prefix = f"monitoring/{rel.client}/{tag}/"
    paths, skipped = _files(g, tip, prefix, since, tag)
    seed = mon.get("seed", drift.SEED)
    trackers = _trackers(features, train, seed)
    del train  # summarised: the raw training columns would only raise the peak below
    pred = drift.Prediction(prediction, seed)
    stamp = next((x.column for x in left if x.role == "timestamp"), None)
    win = Windows(size, trackers, mon, prediction, prefix, stamp) if size else None
    rows_seen = sum(_feed(repo, tip, store, p, trackers, pred, win) for p in paths)
    results = _scored(trackers, mon)
    found = [a for r in results for a in r["alerts"]]
    found.extend(user_checks(g, trackers))
    out = _report(tag, paths, rows_seen, results, found, pred, seed, len(cols) - len(features),
                  _kept([pred, *trackers.values()]))
    out["left_out"] = [x.to_dict() for x in left]
    out["notes"] = driftnotes.small_reference(
        results, {name: t.train_rows for name, t in trackers.items()})
    out["skipped"] = skipped  # files outside a day folder: not read (see logcheck.dated)
    if win is not None:
        win.attach(out, {k: v for k, v in {**DEFAULT_LIMITS, **(mon.get("thresholds") or {})}
                         .items() if v is not None}, mon)
    return out


def _files(g: Git, tip: str | None, prefix: str, since: str | None, tag: str
           ) -> tuple[list[str], list[str]]:
    """The logged files to read (on or after `since`) and those skipped: only files in a
    YYYY-MM-DD/ folder are rows `monitor log` wrote (logcheck.dated)."""
    dated_paths, skipped = dated((p for _, _, p in (g.ls_tree(tip) if tip else [])), prefix,
                                 None)
    paths = logged_since(dated_paths, prefix, since, tag,
                         f"nothing is monitored for {tag} yet (no files under {prefix} on "
                         f"{BRANCH}); log some with `branchml monitor log`.")
    return paths, skipped


def _feed(repo: objectstore.Repo, tip: str | None, store: strategies.Store, p: str,
          trackers: dict[str, Any], pred: Any, win: Windows | None) -> int:
    """One logged file, chunk by chunk, into the trackers, the prediction and the windows;
    its row count."""
    rows = 0
    source = logged_source(repo, tip, p, store)  # streamed, never held whole (atk19-07)
    cats = categorical(trackers)  # atk19-09: categories read as text
    try:
        for columns in readable(column_chunks(source, format_for(p), p, text=cats), p, BRANCH):
            rows += len(next(iter(columns.values()), ()))
            for name, tracker in trackers.items():
                if name in columns:
                    tracker.add(values(tracker, columns[name], name, p))
            if pred.column in columns:
                pred.add(floats(columns[pred.column], pred.column, p))
            if win is not None:
                win.add(columns, p)
    except UsageError as e:  # a word in a numeric column, logged before values were checked
        raise StateError(str(e).removesuffix(FIX).rstrip(".") + f" on {BRANCH}; check "
                         "only the days after it with --since YYYY-MM-DD.") from None
    return rows


def _report(tag: str, paths: list[str], rows: int, results: list[dict[str, Any]],
            found: list[str], pred: Any, seed: int, left_out: int, kept: int
            ) -> dict[str, Any]:
    """`kept`: the values the largest sample actually holds (569 when 569 rows were
    monitored, never the cap it could have held)."""
    return {"tag": tag, "files": paths, "rows": rows,
            "verdict": "drift" if found else "no drift",
            "counters": {"features": len(results),
                         "drifted": sum(1 for r in results if r["alerts"]),
                         "left_out": left_out, "alerts": len(found)},
            "features": results, "prediction": pred.result(),
            "sampled": {"size": kept, "cap": drift.SAMPLE, "seed": seed,
                        "figures": ["prediction.hist", "user checks"]},
            "alerts": found}


def _kept(sampled: list[Any]) -> int:
    """The largest number of values any sample (a numeric feature's, the prediction's) holds."""
    sizes = [len(x.reservoir.sample()) for x in sampled if hasattr(x, "reservoir")]
    return max(sizes, default=0)


def _scored(trackers: dict[str, Any], mon: dict[str, Any]) -> list[dict[str, Any]]:
    """Each tracker's statistics, the thresholds applied to it (drift.limits_for), and its
    alerts."""
    results = []
    for name, tracker in trackers.items():
        r = tracker.result()
        limits = drift.limits_for(tracker.train_rows, mon.get("thresholds") or {},
                                  (mon.get("features") or {}).get(name) or {})
        r["thresholds"] = drift.applied(r["kind"], limits)
        r["alerts"] = drift.alerts(r, r["thresholds"])
        results.append(r)
    return results


def _trackers(features: list[str], data: dict[str, list[Any]], seed: int) -> dict[str, Any]:
    import numpy as np

    out: dict[str, Any] = {}
    for name in features:
        chunks = data.get(name) or []
        try:
            nums = np.concatenate([floats(c, name, "") for c in chunks]) if chunks \
                else np.empty(0)
            out[name] = drift.NumericFeature(name, nums[np.isfinite(nums)], seed)
        except UsageError:
            raw = [v for c in chunks for v in values(drift.CategoricalFeature, c, name, "")]
            out[name] = drift.CategoricalFeature(name, raw)
    return out
