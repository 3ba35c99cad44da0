"""Human output of the commands that print data (the CLI's only rich user)."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

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
    if result.up_to_date:
        w(f"Nothing to {verb}: {result.dst} already has everything {result.src} adds.\n")
        return
    head = "Would " + verb if result.dry_run else verb.capitalize() + "ed"
    w(f"{head} {result.src} into {result.dst}"
      + (f" (commit {result.commit[:10]})" if not result.dry_run else "") + ":\n")
    r = result.report
    for p in r.added:
        w(f"  + {p} (new file)\n")
    for p, n in r.appended.items():
        w(f"  + {p}: {n} row(s) appended\n")
    for p in r.taken:
        w(f"  ~ {p} (theirs)\n")
    for p in r.merged:
        w(f"  = {p} (three-way merge)\n")
    for p, why in r.dropped.items():
        w(f"  - {p} dropped: {why}\n")
    for p in r.kept_deleted:
        w(f"  . {p} stays deleted on {result.dst}\n")
    for p, n in r.removed.items():  # pulls.carry_removals (docs/data-moves.md)
        w(f"  - {p}: {n} row(s) removed, as on {result.src}\n")
    for p in r.removed_files:
        w(f"  - {p} removed, as on {result.src}\n")
    w("Strategies: " + " ".join(f"{c}={s}" for c, s in result.strategies.items()) + "\n")


def releases_table(rows: list[dict[str, Any]]) -> None:
    w = sys.stdout.write
    if not rows:
        w("No releases yet: cut one with `branchml tag --client ID`.\n")
        return
    w(f"{'tag':<20} {'date':<25} {'commit':<10} {'model':<24} metrics\n")
    for r in rows:
        model = f"{(r['model'] or '-')[-12:]} {(r['model_id'] or '')[:10]}"
        metrics = ", ".join(f"{k}={v}" for k, v in list(r["metrics"].items())[:3])
        w(f"{r['tag']:<20} {r['date']:<25} {r['commit'][:10]:<10} {model:<24} {metrics}\n")


def manifest_text(m: dict[str, Any]) -> None:
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


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")


def releases_out(rows: list[dict[str, Any]], as_json: bool) -> None:
    emit_json(rows) if as_json else releases_table(rows)


def show_out(m: dict[str, Any], as_json: bool) -> None:
    emit_json(m) if as_json else manifest_text(m)


def tag_out(m: dict[str, Any], push: bool, as_json: bool, dry_run: bool = False) -> None:
    if as_json:
        return emit_json(m)
    from branchml.core.manifest import summary

    verb = "Would tag" if dry_run else "Tagged"
    sys.stdout.write(f"{verb} {summary(m)}" + (" and push it.\n" if dry_run and push else
                                               " and pushed it.\n" if push else ".\n"))


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


def deployed_out(r: dict[str, Any], as_json: bool) -> None:
    if as_json:
        return emit_json(r)
    cand = f", candidate {r['candidate']} at {r['fraction']:g}" if r.get("candidate") else ""
    sys.stdout.write(f"{r['client']} ran {r['primary']}{cand} (deployed {r['time']}).\n")


def drift_markdown(r: dict[str, Any]) -> str:
    lines = [f"# Drift of {r['tag']}", "",
             f"{r['rows']} monitored rows in {len(r['files'])} file(s). "
             + (f"**{len(r['alerts'])} alert(s).**" if r["alerts"] else "No alert."), "",
             "| feature | kind | PSI | KS | outside range | missing | alert |",
             "|---|---|---|---|---|---|---|"]
    for f in r["features"]:
        ks = "" if f["ks"] is None else f"{f['ks']:.3f}"
        lines.append(f"| {f['feature']} | {f['kind']} | {f['psi']:.3f} | {ks} | "
                     f"{f['outside_range']:.3f} | {f['missing']:.3f} | "
                     f"{'; '.join(f['alerts'])} |")
    lines += ["", *[f"- {a}" for a in r["alerts"]]]
    return "\n".join(lines) + "\n"


def _bars(train: list[int], seen: list[int]) -> str:
    """A small SVG: training (grey) and monitored (blue) shares per bin."""
    t_sum, s_sum = max(sum(train), 1), max(sum(seen), 1)
    width, height, n = 240, 60, max(len(train), 1)
    w = width / n
    rects = []
    for i, (a, b) in enumerate(zip(train, seen, strict=False)):
        ha, hb = height * a / t_sum, height * b / s_sum
        rects.append(f'<rect x="{i * w:.1f}" y="{height - ha:.1f}" width="{w / 2:.1f}" '
                     f'height="{ha:.1f}" fill="#999"/>')
        rects.append(f'<rect x="{i * w + w / 2:.1f}" y="{height - hb:.1f}" '
                     f'width="{w / 2:.1f}" height="{hb:.1f}" fill="#36c"/>')
    return f'<svg width="{width}" height="{height}">{"".join(rects)}</svg>'


def drift_html(r: dict[str, Any]) -> str:
    import html

    rows = []
    for f in r["features"]:
        alert = "; ".join(f["alerts"])
        ks = "" if f["ks"] is None else f"{f['ks']:.3f}"
        rows.append(f"<tr{' class=alert' if alert else ''}><td>{html.escape(f['feature'])}</td>"
                    f"<td>{f['psi']:.3f}</td><td>{ks}</td><td>{f['outside_range']:.3f}</td>"
                    f"<td>{f['missing']:.3f}</td><td>{_bars(f['train_hist'], f['hist'])}</td>"
                    f"<td>{html.escape(alert)}</td></tr>")
    status = f"{len(r['alerts'])} alert(s)" if r["alerts"] else "no alert"
    return ("<!doctype html><meta charset=utf-8><title>drift " + html.escape(r["tag"])
            + "</title><style>body{font-family:sans-serif}td,th{padding:4px 8px}"
            ".alert{background:#fdd}</style><h1>Drift of " + html.escape(r["tag"]) + "</h1>"
            f"<p>{r['rows']} monitored rows, {status}. Bars: training (grey) vs monitored "
            "(blue) share per bin.</p><table><tr><th>feature</th><th>PSI</th><th>KS</th>"
            "<th>outside range</th><th>missing</th><th>distribution</th><th>alert</th></tr>"
            + "".join(rows) + "</table>\n")


def runs_table(rows: list[dict[str, Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    names = sorted({k for r in rows for k in r["metrics"]})[:6]
    table = Table(title=f"runs on main ({len(rows)})")
    for col in ("run", "branch", "time", *names):
        table.add_column(col, justify="right" if col in names else "left")
    for r in rows:
        table.add_row(r.get("tag") or r["commit"][:10], r["branch"], r["time"],
                      *(str(r["metrics"].get(n, "")) for n in names))
    Console(width=max(100, 40 + 12 * len(names))).print(table)


def merge_out(result: MergeResult, as_json: bool) -> None:
    emit_json(result.to_dict()) if as_json else merge_text(result)
