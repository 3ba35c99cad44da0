"""Issue 19, a newcomer's walk, part f2: configs, messages and paths the walk tripped on.

Each refusal is tried the way a user or an attacker would reach it (the CLI, a commit on main
through the hook, a push without hooks to a real bare server), beside a legitimate twin."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from branchml.core import reportmarkdown
from tests import test_monitor_experiments, test_push
from tests.conftest import commit, git, git_proc, write
from tests.test_monitor_experiments import monitored, two_clients

remote, server = test_push.remote, test_push.server  # the bare server fixtures, shared
releases = test_monitor_experiments.releases  # acme-v1, acme-v2, globex-v1; target: label
F = "branchml.yaml"
TEMPLATE = (Path(__file__).parent.parent / "templates" / F).read_text()
CLASH = ("branchml.yaml: monitor.target names malignant, but monitor.columns gives it the "
         "role ignore; give the column one role.")


def monitor_config(columns: str) -> str:
    """The template with `monitor.target: malignant` and `monitor.columns` as given."""
    out = TEMPLATE.replace("  target: null\n", f"  target: malignant\n  columns: {columns}\n", 1)
    assert out != TEMPLATE
    return out


# --- 1. a column given two roles is an invalid config ---------------------------------------

def test_config_validate_refuses_target_with_another_role(tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]
    bad = write(tmp_path, F, monitor_config("{malignant: ignore}"))
    r = bml("config", "validate", str(bad))
    assert r.code == 2
    assert r.err.strip() == f"branchml: error: {CLASH}"
    ok = write(tmp_path, F, monitor_config("{malignant: target, id: key}"))  # the twin
    r = bml("config", "validate", str(ok))
    assert r.code == 0, r.err


def test_pre_commit_refuses_target_with_another_role(project: Path) -> None:
    git("checkout", "-q", "main", cwd=project)
    before = git("rev-parse", "main", cwd=project)
    write(project, F, monitor_config("{malignant: ignore}"))
    git("add", F, cwd=project)
    p = git_proc("commit", "-q", "-m", "monitor the label", cwd=project)
    assert p.returncode != 0
    assert f"main: {F} is not a valid config: {CLASH.removeprefix(F + ': ').rstrip('.')}" \
        in p.stderr
    assert "Traceback" not in p.stderr
    assert git("rev-parse", "main", cwd=project) == before
    write(project, F, monitor_config("{malignant: target}"))  # the twin
    git("add", F, cwd=project)
    p = git_proc("commit", "-q", "-m", "monitor the label", cwd=project)
    assert p.returncode == 0, p.stderr


@pytest.mark.slow
def test_pre_receive_refuses_target_with_another_role(project: Path, server: Path) -> None:
    before = git("rev-parse", "main", cwd=server)
    sha = commit(project, {F: monitor_config("{malignant: ignore}")}, branch="main")
    p = git_proc("push", "--no-verify", "origin", "main", cwd=project)
    assert p.returncode != 0
    why = CLASH.removeprefix(F + ": ").rstrip(".")
    assert f"remote:   main: commit {sha[:10]}: {F} is not a valid config: {why}" in p.stderr
    assert git("rev-parse", "main", cwd=server) == before
    git("reset", "-q", "--hard", "HEAD~1", cwd=project)
    commit(project, {F: monitor_config("{malignant: target}")})  # the twin
    p = git_proc("push", "--no-verify", "origin", "main", cwd=project)
    assert p.returncode == 0, p.stderr
    assert git("rev-parse", "main", cwd=server) == git("rev-parse", "main", cwd=project)


# --- 2. messages that say what to do -----------------------------------------------------

TODAY = datetime.now(UTC).date()
LATER = (TODAY + timedelta(days=1)).isoformat()


def log_file(repo: Path, bml, tmp_path: Path, client: str, tag: str, body: str) -> None:  # type: ignore[no-untyped-def]
    f = write(tmp_path / tag, "rows.csv", body)
    r = bml("monitor", "log", str(f), "--client", client, "--tag", tag, cwd=repo)
    assert r.code == 0, r.err


def test_compare_since_after_the_last_day_logged(releases: Path, bml, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    for tag in ("acme-v1", "acme-v2"):
        log_file(releases, bml, tmp_path, "acme", tag,
                 "x1,x2,cat,label,prediction\n0.1,5,a,1,1\n-0.2,4,b,0,1\n0.3,6,a,1,0\n")
    r = bml("monitor", "compare", "--client", "acme", "acme-v1", "acme-v2", "--since", LATER,
            cwd=releases)
    assert r.code == 2
    assert r.err.strip() == (f"branchml: error: nothing logged for acme-v1 on or after {LATER} "
                             f"(the last day logged is {TODAY}); give an earlier --since.")
    r = bml("monitor", "compare", "--client", "acme", "acme-v1", "acme-v2", "--since",
            TODAY.isoformat(), cwd=releases)  # the twin: the day logged is taken
    assert r.code == 0, r.err


def test_check_since_after_the_last_day_logged(released: Path, bml, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    log_file(released, bml, tmp_path, "acme", "acme-v1", "id,x,prediction\n1,2,0.5\n2,4,0.7\n")
    r = bml("monitor", "check", "--tag", "acme-v1", "--since", LATER, cwd=released)
    assert r.code == 2
    assert r.err.strip() == (f"branchml: error: nothing logged for acme-v1 on or after {LATER} "
                             f"(the last day logged is {TODAY}); give an earlier --since.")
    r = bml("monitor", "check", "--tag", "acme-v1", "--since", TODAY.isoformat(), cwd=released)
    assert r.code in (0, 1), r.err  # the twin: checked (a verdict, not a usage error)


def test_log_names_the_client_of_the_release(releases: Path, bml, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    f = write(tmp_path, "rows.csv", "x1,x2,cat,label,prediction\n0.1,5,a,1,1\n")
    before = git("rev-parse", "monitoring", cwd=releases)
    r = bml("monitor", "log", str(f), "--client", "globex", "--tag", "acme-v2", cwd=releases)
    assert r.code == 2
    assert r.err.strip() == ("branchml: error: acme-v2 is a release of acme, not of globex; "
                             "log it with --client acme, or name a release of globex.")
    assert git("rev-parse", "monitoring", cwd=releases) == before
    r = bml("monitor", "log", str(f), "--client", "acme", "--tag", "acme-v2", cwd=releases)
    assert r.code == 0, r.err  # the twin


def test_pull_says_the_new_data_is_other_clients_only(released: Path, bml, tmp_path: Path  # type: ignore[no-untyped-def]
                                                     ) -> None:
    repo = two_clients(released, bml, tmp_path)
    assert bml("pull", "monitoring", "ds/acme", cwd=repo).code == 0
    monitored(repo, bml, tmp_path, "globex", "globex-v1", "g3.csv")  # only globex moved
    before = git("rev-parse", "ds/acme", cwd=repo)
    r = bml("pull", "monitoring", "ds/acme", cwd=repo)
    assert (r.code, r.out) == (0, "Nothing to pull: what monitoring adds is other clients' "
                               "monitored data only, which ds/acme never takes.\n")
    assert git("rev-parse", "ds/acme", cwd=repo) == before
    r = bml("pull", "monitoring", "ds/acme", "--json", cwd=repo)
    assert json.loads(r.out)["only_other_clients"] is True
    monitored(repo, bml, tmp_path, "acme", "acme-v1", "a3.csv")  # the twin: acme's rows come
    r = bml("pull", "monitoring", "ds/acme", cwd=repo)
    assert r.code == 0 and r.out.startswith("Pulled monitoring into ds/acme"), r.out
    r = bml("pull", "monitoring", "ds/acme", cwd=repo)  # and then it has everything
    assert r.out == "Nothing to pull: ds/acme already has everything monitoring adds.\n"


def test_text_legend_explains_only_the_columns_shown(released: Path, bml, tmp_path: Path  # type: ignore[no-untyped-def]
                                                     ) -> None:
    log_file(released, bml, tmp_path, "acme", "acme-v1", "id,x,prediction\n1,2,0.5\n2,4,0.7\n")
    r = bml("monitor", "check", "--tag", "acme-v1", cwd=released)
    assert r.code in (0, 1), r.err
    header = next(line for line in r.out.splitlines() if line.startswith("feature"))
    legend = next(line for line in r.out.splitlines() if line.startswith("KS p: "))
    assert "chi2" not in header and "chi2" not in legend and "JS" not in legend
    assert "W: Wasserstein distance over the training std" in legend
    features = [{"feature": "c", "kind": "categorical", "chi2": 1.0, "chi2_pvalue": 0.5,
                 "js": 0.1}]  # the twin: a categorical table explains its own columns
    text = reportmarkdown.text({"tag": "t", "features": features})
    assert "chi2 p: chi-squared p-value; JS: Jensen-Shannon distance." in text
    assert "KS p:" not in text and "W:" not in text


# --- 3. write_report takes the str its docs show -----------------------------------------

def test_write_report_takes_a_str_or_a_path(released: Path, bml, tmp_path: Path,  # type: ignore[no-untyped-def]
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from branchml import api
    from branchml.ops import driftreport

    log_file(released, bml, tmp_path, "acme", "acme-v1", "id,x,prediction\n1,2,0.5\n2,4,0.7\n")
    result = api.monitor_check("acme-v1", path=released)
    monkeypatch.chdir(tmp_path)
    driftreport.write_report("x.md", result)  # as docs/tracking-monitoring.md shows it
    assert (tmp_path / "x.md").read_text().startswith("# Drift of acme-v1")
    driftreport.write_report(tmp_path / "y.html", result)  # the twin: a Path
    assert (tmp_path / "y.html").read_text().lstrip().lower().startswith("<!doctype html")
    api.monitor_report("acme-v1", "z.md", path=str(released))  # the API: a str too
    assert (tmp_path / "z.md").is_file()


P = "monitoring/acme/acme-v3/"
NONE = "nothing is monitored for acme-v3."


@pytest.mark.parametrize(("paths", "since", "picked", "why"), [
    ([], None, None, NONE),
    ([], "2026-12-01", None, NONE),
    ([f"{P}2026-11-29/a.csv", "monitoring/acme/acme-v30/2026-12-02/a.csv"], "2026-12-01", None,
     "nothing logged for acme-v3 on or after 2026-12-01 (the last day logged is 2026-11-29); "
     "give an earlier --since."),
    ([f"{P}2026-11-29/b.csv", f"{P}2026-11-28/a.csv"], None,
     [f"{P}2026-11-28/a.csv", f"{P}2026-11-29/b.csv"], None),
    ([f"{P}2026-11-29/b.csv", f"{P}2026-11-28/a.csv"], "2026-11-29", [f"{P}2026-11-29/b.csv"],
     None),
])
def test_logged_since(paths: list[str], since: str | None, picked: list[str] | None,
                      why: str | None) -> None:
    from branchml.core.logcheck import logged_since
    from branchml.errors import UsageError

    if why is None:
        assert logged_since(paths, P, since, "acme-v3", NONE) == picked
        return
    with pytest.raises(UsageError) as e:
        logged_since(paths, P, since, "acme-v3", NONE)
    assert str(e.value) == why
