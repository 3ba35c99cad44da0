"""Merging MLflow file-store runs into main's `mlruns/`, as plain data (no MLflow import).

Facts (checked with MLflow 3.x): the experiment name lives only in `<exp>/meta.yaml`; a run
folder under an experiment whose id differs from the run's `experiment_id` is ignored;
`artifact_uri` / `artifact_location` are absolute paths of the store they were made in.
So: experiments are keyed by name (main's id reused, else the source id if free, else a new
one), runs keep their ids (one already on main is reported, never overwritten), and each
copied run's `experiment_id` and `artifact_uri` (and a new experiment's `artifact_location`)
are rewritten to the target.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

STORE = "mlruns"
_FIELD = re.compile(r"^(?P<key>[A-Za-z_]+):\s*(?P<value>.*)$")


def meta_value(meta: bytes, key: str) -> str | None:
    """A top-level scalar of a meta.yaml (MLflow writes them flat, one per line)."""
    for line in meta.decode("utf-8", errors="replace").splitlines():
        m = _FIELD.match(line)
        if m and m["key"] == key:
            return m["value"].strip().strip("'\"")
    return None


def set_meta(meta: bytes, key: str, value: str) -> bytes:
    lines = meta.decode("utf-8", errors="replace").splitlines()
    out = [f"{key}: {value}" if (m := _FIELD.match(ln)) and m["key"] == key else ln
           for ln in lines]
    if not any((m := _FIELD.match(ln)) and m["key"] == key for ln in lines):
        out.append(f"{key}: {value}")
    return ("\n".join(out) + "\n").encode()


@dataclass
class StorePlan:
    files: dict[str, bytes] = field(default_factory=dict)  # paths to add on main
    runs_added: list[str] = field(default_factory=list)
    runs_present: list[str] = field(default_factory=list)
    experiments_created: list[str] = field(default_factory=list)


def plan_merge(source: Mapping[str, bytes], target_meta: Mapping[str, bytes],
               target_runs: set[str], new_id: str) -> StorePlan:
    """`source`: path -> content of the source commit's `mlruns/` files. `target_meta`:
    experiment id -> meta.yaml on main. `target_runs`: run ids main already has."""
    plan = StorePlan()
    by_name = {meta_value(m, "name"): eid for eid, m in target_meta.items()}
    ids: dict[str, str] = {}  # source experiment id -> target id
    for path, data in sorted(source.items()):
        parts = path.split("/")
        if len(parts) == 3 and parts[2] == "meta.yaml" and parts[1] not in (".trash",):
            name = meta_value(data, "name") or parts[1]
            if name in by_name:
                ids[parts[1]] = by_name[name]
            else:
                target = parts[1] if parts[1] not in target_meta else new_id
                ids[parts[1]] = target
                by_name[name] = target
                plan.files[f"{STORE}/{target}/meta.yaml"] = set_meta(
                    set_meta(data, "experiment_id", f"'{target}'"), "artifact_location",
                    f"{STORE}/{target}")
                plan.experiments_created.append(name)
    for path, data in sorted(source.items()):
        parts = path.split("/")
        if len(parts) < 4 or parts[1] not in ids:
            continue
        exp, run = ids[parts[1]], parts[2]
        if run in target_runs:
            if run not in plan.runs_present:
                plan.runs_present.append(run)
            continue
        rel = "/".join(parts[3:])
        if rel == "meta.yaml":
            data = set_meta(set_meta(data, "experiment_id", f"'{exp}'"), "artifact_uri",
                            f"{STORE}/{exp}/{run}/artifacts")
            plan.runs_added.append(run)
        plan.files[f"{STORE}/{exp}/{run}/{rel}"] = data
    return plan
