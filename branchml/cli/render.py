"""Human output of the commands that print data (the CLI's only rich user)."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

# the drift reports live in core (the API writes them too); named here as before
from branchml.core.driftreport import drift_html as drift_html
from branchml.core.driftreport import drift_markdown as drift_markdown

if TYPE_CHECKING:
    from branchml.ops.check import CheckResult
    from branchml.ops.merge import MergeResult
    from branchml.ops.release import Verification
    from branchml.ops.status import StatusReport


def ops_text(ops: list[str]) -> str:
    if ops == ["promote"]:
        return "only by branchml promote"
    return "all" if len(ops) == 4 else ", ".join(ops)


def status_table(report: StatusReport) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(title=f"branches (policy: {report.policy})")
    for col in ("", "branch", "type", "head", "protected", "may change"):
        table.add_column(col)
    for b in report.branches:
        changes = "; ".join(f"{c} ({ops_text(ops)})" for c, ops in b.may_change.items())
        mark = "*" if b.name == report.current else ""
        table.add_row(mark, b.name, b.kind or "[red]no type[/red]", b.head,
                      "yes" if b.protected else "", changes or "-")
    console.print(table)
    if report.current:
        allowed = "; ".join(f"{c} ({ops_text(o)})" for c, o in report.next_commit.items())
        console.print(f"On {report.current}, the next commit may touch: {allowed or 'nothing'}")
        for v in report.staged_violations:
            console.print(f"[red]staged change refused:[/red] {v['message']}")


def check_text(result: CheckResult) -> None:
    if result.ok and result.staged is not None:  # `check --staged`: changes, not commits
        sys.stdout.write(
            f"ok: {result.branch}: nothing is staged, so there is nothing to check.\n"
            if not result.staged else
            f"ok: {result.branch}: the {result.staged} staged change(s) follow the policy "
            f"({result.policy_source}).\n")
        return
    if result.ok:
        sys.stdout.write(
            f"ok: {result.branch}: {result.commits} commit(s) follow the policy "
            f"({result.policy_source}).\n"
        )
        for note in result.notes:
            sys.stdout.write(f"note: {note}\n")
        return
    from branchml.core.tally import tally_lines

    for line in tally_lines(result.violations, " (--json lists them all)"):
        sys.stdout.write(line + "\n")
    n = len(result.violations)
    sys.stdout.write(f"{n} violation{'s' * (n != 1)} of the policy ({result.policy_source}).\n")


def merge_text(result: MergeResult) -> None:
    w = sys.stdout.write
    verb = "pull" if result.pull else "merge"
    if result.up_to_date and result.only_other_clients:
        w(f"Nothing to {verb}: what {result.src} adds is other clients' monitored data only, "
          f"which {result.dst} never takes.\n")
        return
    if result.up_to_date:
        w(f"Nothing to {verb}: {result.dst} already has everything {result.src} adds.\n")
        return
    head = "Would " + verb if result.dry_run else {"pull": "Pulled", "merge": "Merged"}[verb]
    w(f"{head} {result.src} into {result.dst}"
      + (f" (commit {result.commit[:10]})" if not result.dry_run else "") + ":\n")
    r = result.report
    for p in r.added:
        w(f"  + {p} (new file)\n")
    from branchml.ops.merge import said_by_format, unit

    for p, n in r.appended.items():
        label = result.appended_formats.get(p, "")
        w(f"  + {p}: {n} {unit(label)} appended ({label})\n")
    for p in r.taken:
        w(f"  ~ {p} (theirs)\n")
    for p in r.merged:
        w(f"  = {p} (three-way merge)\n")
    if result.validation is not None:
        _validation_text(result.validation, result.validation_path)
    else:
        for p, why in r.dropped.items():
            w(f"  - {p} dropped: {why}\n")
    for p in r.kept_deleted:
        w(f"  . {p} stays deleted on {result.dst}\n")
    if result.appended_by_format:
        w(f"Appended {said_by_format(result.appended_by_format)}.\n")
    for p, n in r.removed.items():  # pulls.carry_removals (docs/data-moves.md)
        w(f"  - {p}: {n} row(s) removed, as on {result.src}\n")
    for p in r.removed_files:
        w(f"  - {p} removed, as on {result.src}\n")
    w("Strategies: " + " ".join(f"{c}={s}" for c, s in result.strategies.items()) + "\n")


def _validation_text(report: dict[str, Any], path: str) -> None:
    """The committed validation report, line for line: every file and row it names."""
    w = sys.stdout.write
    rows: dict[str, list[dict[str, Any]]] = report.get("rows", {})
    counts: dict[str, int] = report.get("rows_dropped", {})
    for p, why in report.get("dropped", {}).items():
        w(f"  - {p}: {why}\n")
        for row in rows.get(p, []):
            where = f"new row {row['new_row']}" if "new_row" in row else f"row {row['row']}"
            w(f"      {where}: {row['reason']}: {row['text']!r}\n")
        if counts.get(p, 0) > len(rows.get(p, [])):
            w(f"      ... {counts[p] - len(rows.get(p, []))} more row(s) dropped, counted "
              "but not listed\n")
    w(f"Validation report: {path} ({sum(counts.values())} row(s) dropped).\n")


def releases_table(rows: Sequence[Mapping[str, Any]], metrics: list[str] | None = None) -> None:
    """One line per release; the model by its whole path (never cut), and the metrics
    `releases.metrics` names (else each release's first three)."""
    w = sys.stdout.write
    if not rows:
        w("No releases yet: cut one with `branchml tag --client ID`.\n")
        return
    lines = [(r["tag"], r["date"], r["commit"][:10],
              f"{r['model'] or '-'} {(r['model_id'] or '')[:10]}".rstrip(),
              ", ".join(f"{k}={r['metrics'][k]}" for k in metrics if k in r["metrics"])
              if metrics else ", ".join(f"{k}={v}" for k, v in list(r["metrics"].items())[:3]))
             for r in rows]
    widths = [max(len(col), *(len(line[i]) for line in lines))
              for i, col in enumerate(("tag", "date", "commit", "model"))]
    for line in [("tag", "date", "commit", "model", "metrics"), *lines]:
        w(" ".join(f"{c:<{n}}" for c, n in zip(line, widths, strict=False))
          + f" {line[4]}".rstrip() + "\n")


def diff_text(d: Mapping[str, Any]) -> None:
    w = sys.stdout.write
    w(f"{d['from']} -> {d['to']}\n")
    w(f"  code files changed: {len(d['code_changed'])}\n")
    for p, x in d["data"].items():
        rows = f", {_rows(x)}" if x.get("rows_net") is not None else ""
        w(f"  data {p}/: {x['files_added']:+} files, {x['bytes_added']:+} bytes{rows}\n")
        for f in d.get("files", []):
            if f["path"].split("/", 1)[0] == p:
                w(f"    {f['path']}: {_file_change(f)}\n")
    w("  models changed: " + (", ".join(d["models_changed"]) or "none") + "\n")
    for kind in ("params", "metrics"):
        for k, v in d[kind].items():
            extra = f" ({v['delta']:+g})" if "delta" in v else ""
            w(f"  {kind[:-1]} {k}: {_value(v, 'from')} -> {_value(v, 'to')}{extra}\n")


def _file_change(f: dict[str, Any]) -> str:
    """One data file's change: rows for a row format, else what happened to the file."""
    if f["validation_report"]:
        return f"validation report ({'new' if f['change'] == 'added' else f['change']})"
    if f.get("split_assignment"):  # which split each item is in: no rows trained on
        return f"split assignment: {_row_change(f)}, not counted as data rows"
    return _row_change(f)


def _row_change(f: dict[str, Any]) -> str:
    if f["change"] == "deleted":
        return "deleted" + (f" ({f['rows_before']} row(s))" if f["rows_before"] else "")
    if f.get("rows_net") is None:
        why = "no row format" if f["format"] is None else f"rows of {f['format']} not read" + (
            f": {f['rows_not_read']}" if f.get("rows_not_read") else "")
        return f"{'new file' if f['change'] == 'added' else 'changed'} ({why})"
    if f["change"] == "added":
        return f"{f['rows_after']:+} row(s) (new file)"
    return f"{_rows(f)} ({f['rows_before']} -> {f['rows_after']})"


def _rows(x: Mapping[str, Any]) -> str:
    """`+269 -1 row(s)`: rows added and removed (no `-` part when none was); `net +268
    row(s)` where only the counts are known (JSON arrays, SQLite, Parquet)."""
    if x.get("rows_added") is None:
        return f"net {x['rows_net']:+} row(s)"
    removed = f" -{x['rows_removed']}" if x.get("rows_removed") else ""
    return f"{x['rows_added']:+}{removed} row(s)"


def _value(v: dict[str, Any], side: str) -> str:
    """A param's or metric's value; `absent` where the release does not have it."""
    if v.get("change") == ("added" if side == "from" else "removed"):
        return "absent"
    return "null" if v[side] is None else str(v[side])


def manifest_text(m: Mapping[str, Any]) -> None:
    w = sys.stdout.write
    w(f"{m['tag']} ({m['client']} #{m['n']}), {m['time']} by {m['tagger']}\n")
    w(f"  commit   {m['commit']} on {m['branch']}\n")
    promo = m.get("promotion")
    w(f"  code     {m['code']['files']} files, digest {m['code']['digest'][:12]}"
      + (f", promoted from {promo['branch']} {promo['commit'][:10]}" if promo else "") + "\n")
    for p, d in m["data"].items():
        src = d.get("from")
        w(f"  data     {p}/: {d['files']} files, {d['bytes']} bytes, tree {d['tree'][:10]}"
          + (f", from {src['branch']} {src['commit'][:10]}" if src else "") + "\n")
    for p, x in m["models"].items():
        ident = x.get("lfs_oid") or x.get("blob") or ""
        w(f"  model    {p}: {ident[:12]}, {x['size']} bytes\n")
    for kind in ("params", "metrics"):
        if m[kind]:
            w(f"  {kind:<8} " + ", ".join(f"{k}={v}" for k, v in m[kind].items()) + "\n")
    w(f"  config   {m['config_digest'][:12]}   snapshot {m['snapshot'][:12]}\n")
    splits_text(m.get("splits") or [])


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")


def releases_out(rows: Sequence[Mapping[str, Any]], as_json: bool) -> None:
    if as_json:
        return emit_json(rows)
    from branchml import api

    releases_table(rows, api.release_metrics(".") if rows else None)


def show_out(m: Mapping[str, Any], as_json: bool) -> None:
    emit_json(m) if as_json else manifest_text(m)


def tag_out(m: Mapping[str, Any], push: bool, as_json: bool, dry_run: bool = False) -> None:
    for warning in m.get("warnings") or []:  # on stderr, so --json's stdout stays JSON
        sys.stderr.write(f"branchml: warning: {warning}\n")
    if as_json:
        return emit_json(m)
    from branchml.core.manifest import summary

    verb = "Would tag" if dry_run else "Tagged"
    sys.stdout.write(f"{verb} {summary(dict(m))}" + (" and push it.\n" if dry_run and push else
                                               " and pushed it.\n" if push else ".\n"))


def next_out(r: Any, as_json: bool) -> None:
    """`tag --next`: the name the next release will get."""
    emit_json(r.to_dict()) if as_json else sys.stdout.write(f"{r.tag}\n")


def splits_text(records: list[dict[str, Any]]) -> None:
    """The split requests a release (or commit) records, one line each."""
    for r in records:
        sys.stdout.write(f"  split    {r['split']} for {r['purpose']}: {r['rows']} rows, "
                         f"{r['items']} items, assignment {r['assignment'][:10]} at "
                         f"{r['branch']} {r['data_commit'][:10]}\n")


def chain_text(chain: dict[str, Any]) -> None:
    """`lineage`'s walk of the Pulled-From chain, one line per hop, then where it ended."""
    for hop in chain["hops"]:
        if not hop["proven"]:
            sys.stdout.write(f"  from     {hop['branch']} {hop['commit'][:10]}: unproven, "
                             f"not followed ({hop['why']})\n")
            continue
        names = ", ".join(hop["files"][:5]) + (
            f" (+{hop['files_total'] - 5} more)" if hop["files_total"] > 5 else "")
        made = hop.get("made_by_pull") or []
        made_names = ", ".join(made[:5]) + (
            f" (+{hop['made_by_pull_total'] - 5} more)" if hop["made_by_pull_total"] > 5 else "")
        sys.stdout.write(f"  from     {hop['branch']} {hop['commit'][:10]} ({hop['date']}) "
                         f"via {hop['via'][:10]}: {hop['files_total']} data file(s)"
                         + (f": {names}" if names else "")
                         + (f"; made by the pull: {made_names}" if made else "") + "\n")
    end = {"origin": "the data was committed there", "unproven": "stopped at an unproven hop",
           "limit": "stopped after the hop limit"}[chain["end"]]
    last = chain["hops"][-1]["branch"] if chain["hops"] else "this commit"
    sys.stdout.write(f"  origin   {last}: {end}\n")
    sources = chain.get("sources") or []
    if sources:
        more = f" (+{len(sources) - 5} more)" if len(sources) > 5 else ""
        names = ", ".join(sources[:5]) + more
        sys.stdout.write(f"  sources  {len(sources)} raw data file(s) behind this data "
                         f"(every pull so far): {names}\n")


def verify_out(v: Verification, as_json: bool) -> bool:
    """`verify`'s answer; True when the release verifies. A release that does not verify
    is listed object by object on stdout, and the verdict is an error (exit 1)."""
    if as_json:
        emit_json(v.to_dict())
        return v.ok
    if v.ok:
        sys.stdout.write(f"{v.tag} verifies: its commit and its {v.checked} LFS object(s) "
                         f"({v.bytes} bytes, size and SHA-256 recomputed) match its manifest"
                         + (f", except {', '.join(v.unverified)}, unverified" if v.unverified
                            else "") + ".\n")
        for f, why in v.unverified.items():
            sys.stdout.write(f"{v.tag}: {f} unverified: {why}.\n")
        claims = ", ".join(f"{k} {str(val).splitlines()[0][:60]!r}" for k, val in v.claims.items())
        if claims:
            sys.stdout.write(f"{v.tag}: the tagger's claims (not recomputable): {claims}.\n")
        return True
    from branchml.errors import VerdictError

    problems = v.problems()
    for p in problems:
        sys.stdout.write(f"{v.tag}: {p}\n")
    more = f" (and {len(problems) - 1} more, listed above)" if len(problems) > 1 else ""
    raise VerdictError(f"{v.tag} does not verify: {problems[0]}{more}; do not deploy it.")


def deployed_out(r: Mapping[str, Any], as_json: bool) -> None:
    if as_json:
        return emit_json(r)
    cand = f", candidate {r['candidate']} at {r['fraction']:g}" if r.get("candidate") else ""
    if r.get("primary") is None:  # asked about a time before the first deployment
        line = (f"{r['client']} had no release deployed at {r['at_time']} ({r['zone']}); "
                f"its first deployment was at {r['first']}.")
    elif r.get("at") is None:
        line = f"{r['client']} runs {r['primary']}{cand} (deployed {r['time']})."
    else:  # a past time: what ran then, and whether it still runs
        still = ", and still runs it" if r.get("current") else ""
        line = (f"At {r['at_time']} ({r['zone']}), {r['client']} ran {r['primary']}{cand}"
                f"{still} (deployed {r['time']}).")
    sys.stdout.write(line + "\n")


def runs_table(rows: Sequence[Mapping[str, Any]], order: str = "") -> None:
    """`order`: how the rows are sorted, for the title (empty: newest first)."""
    from rich.console import Console
    from rich.table import Table

    names = sorted({k for r in rows for k in r["metrics"]})[:6]
    table = Table(title=f"runs on main ({len(rows)}), {order or 'newest first'}")
    for col in ("run", "tag", "branch", "time", *names):
        table.add_column(col, justify="right" if col in names else "left")
    for r in rows:
        table.add_row(r["commit"][:10], ", ".join(r.get("tags") or []) or "-", r["branch"],
                      r["time"], *(str(r["metrics"].get(n, "")) for n in names))
    Console(width=max(110, 50 + 12 * len(names))).print(table)


def merge_out(result: MergeResult, as_json: bool) -> None:
    emit_json(result.to_dict()) if as_json else merge_text(result)
