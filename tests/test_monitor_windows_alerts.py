"""monitor check --window (statistics per time window) and monitor.alerts (a program on PATH, a
webhook), on real repositories through the CLI; each attack on the alert settings beside the
legitimate twin that must still deliver."""

from __future__ import annotations

import json
import os
import random
import re
import stat
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import commit, git, release_for_monitoring, write

TAG = "acme-v1"
DAYS = ["2026-11-01", "2026-11-02", "2026-11-03", "2026-11-04", "2026-11-05"]


def table(rows: int, shift: float = 0.0, seed: int = 1, cat_b: float = 0.5,
          last: str = "label", times: list[str] | None = None) -> str:
    rnd = random.Random(seed)
    lines = [f"x1,x2,cat,{last}" + (",timestamp" if times is not None else "")]
    for i in range(rows):
        x1, x2 = rnd.gauss(shift, 1), rnd.gauss(5, 2)
        cat = "b" if rnd.random() < cat_b else "a"
        lines.append(f"{x1:.4f},{x2:.4f},{cat},{rnd.randint(0, 1)}"
                     + (f",{times[i]}" if times is not None else ""))
    return "\n".join(lines) + "\n"


def day_rows(day: str, rows: int, seed: int, times: bool = False) -> str:
    """A day of production rows: undrifted on the first three days, drifted after."""
    drifted = day >= "2026-11-04"
    stamps = [f"{day}T{i % 24:02d}:{i % 60:02d}:00Z" for i in range(rows)] if times else None
    return table(rows, shift=1.5 if drifted else 0.0, seed=seed, cat_b=1.0 if drifted else 0.5,
                 last="prediction", times=stamps)


def put_on_branch(repo: Path, branch: str, files: dict[str, str]) -> str:
    """Commit `files` on top of `branch` with plumbing (a private index; the worktree and the
    checked-out branch are not touched), the way a job or an attacker writes a branch."""
    index = repo / ".git" / "scratch-index"
    env = {**os.environ, "GIT_INDEX_FILE": str(index)}
    parent = git("rev-parse", "-q", "--verify", f"refs/heads/{branch}", cwd=repo, check=False)

    def run(*args: str, data: str | None = None) -> str:
        done = subprocess.run(["git", *args], cwd=repo, env=env, input=data, text=True,
                              capture_output=True, check=True)
        return done.stdout.strip()

    if parent:
        run("read-tree", parent)
    else:
        run("read-tree", "--empty")
    for path, content in files.items():
        blob = run("hash-object", "-w", "--stdin", data=content)
        run("update-index", "--add", "--cacheinfo", f"100644,{blob},{path}")
    tree = run("write-tree")
    new = run("commit-tree", tree, *(["-p", parent] if parent else []), "-m", "logged")
    run("update-ref", f"refs/heads/{branch}", new)
    index.unlink()
    return new


def log_day(repo: Path, day: str, text: str, name: str = "day.csv") -> None:
    put_on_branch(repo, "monitoring", {f"monitoring/acme/{TAG}/{day}/{name}": text})


def set_alerts(repo: Path, alerts: dict[str, Any], branch: str = "main") -> None:
    cfg = "\n".join(line for line in git("show", f"{branch}:branchml.yaml", cwd=repo)
                     .splitlines() if not line.startswith("  alerts: "))
    cfg = cfg.replace("  target: label", f"  target: label\n  alerts: {json.dumps(alerts)}")
    git("checkout", "-q", branch, cwd=repo)
    commit(repo, {"branchml.yaml": cfg + "\n"}, msg="alerts")


@pytest.fixture
def released(plain_project: Path, bml) -> Path:  # type: ignore[no-untyped-def]
    repo = release_for_monitoring(plain_project, bml, table(3000))
    return repo


@pytest.fixture
def five_days(released: Path) -> Path:
    for i, day in enumerate(DAYS):
        log_day(released, day, day_rows(day, 1500, seed=30 + i))
    return released


def alerted_days(report: dict[str, Any]) -> list[str]:
    return [w["start"] for w in report["windows"] if w["alerts"]]


# -- windows ----------------------------------------------------------------------------------

def test_windows_by_logged_date_show_when_drift_started(five_days: Path, bml) -> None:  # type: ignore[no-untyped-def]
    whole = bml("monitor", "check", "--tag", TAG, "--json", "--no-notify", cwd=five_days)
    r = bml("monitor", "check", "--tag", TAG, "--window", "1d", "--json", "--no-notify",
            cwd=five_days)
    assert r.code == 1, r.err
    out, before = json.loads(r.out), json.loads(whole.out)
    assert out["window"] == {"size": "1d", "by": "logged date", "unparsed": 0}
    assert [w["start"] for w in out["windows"]] == DAYS
    assert [w["end"] for w in out["windows"]] == [*DAYS[1:], "2026-11-06"]
    assert [w["rows"] for w in out["windows"]] == [1500] * 5
    assert alerted_days(out) == ["2026-11-04", "2026-11-05"], [w["alerts"] for w in out["windows"]]
    assert {f["feature"] for f in out["windows"][3]["features"]} == {"x1", "x2", "cat"}
    assert "hist" not in out["windows"][0]["features"][0]
    assert out["windows"][0]["prediction"]["rows"] == 1500
    # the overall statistics do not change with --window; window alerts are added, named
    assert out["features"] == before["features"] and out["rows"] == before["rows"] == 7500
    assert all(a in out["alerts"] for w in out["windows"] for a in w["alerts"])
    assert any(a.startswith("window 2026-11-04: x1: psi") for a in out["alerts"])
    text = bml("monitor", "check", "--tag", TAG, "--window", "1d", "--no-notify", cwd=five_days)
    # one line per window (1,500 rows a day: with fewer, noise alone passes the distances): start, end, rows, prediction mean, alerts
    assert re.search(r"^2026-11-01 +2026-11-02 +1500 +\S+ +0$", text.out, re.M), text.out
    assert re.search(r"^2026-11-05 +2026-11-06 +1500 +\S+ +\d+$", text.out, re.M), text.out
    report = five_days.parent / "drift.html"  # the report files take the windowed result
    assert bml("monitor", "check", "--tag", TAG, "--window", "1d", "--report", str(report),
               "--no-notify", cwd=five_days).code == 1 and "<svg" in report.read_text()


def test_windows_of_7d_and_12h(five_days: Path, bml) -> None:  # type: ignore[no-untyped-def]
    week = json.loads(bml("monitor", "check", "--tag", TAG, "--window", "7d", "--json",
                          "--no-notify", cwd=five_days).out)
    assert [(w["start"], w["end"], w["rows"]) for w in week["windows"]] == [
        ("2026-11-01", "2026-11-08", 7500)]
    half = json.loads(bml("monitor", "check", "--tag", TAG, "--window", "12h", "--json",
                          "--no-notify", cwd=five_days).out)
    assert [w["start"] for w in half["windows"]] == [f"{d}T00:00Z" for d in DAYS]  # empty: out
    assert half["windows"][0]["end"] == "2026-11-01T12:00Z"


def test_windows_by_timestamp_column(released: Path, bml) -> None:  # type: ignore[no-untyped-def]
    days = [day_rows(day, 1500, seed=30 + i, times=True) for i, day in enumerate(DAYS)]
    text = days[0] + "".join(d.split("\n", 1)[1] for d in days[1:])  # one header
    # 23:30 UTC on the 2nd written with an offset; and three timestamps that do not parse
    text += "0.1,5.0,a,1,2026-11-03T00:30:00+01:00\n0.2,5.0,b,0,yesterday\n" \
            "0.3,5.1,a,1,\n0.4,5.2,b,0,2026-13-01\n"
    log_day(released, DAYS[-1], text, "all.csv")  # all logged on one day: the column decides
    r = bml("monitor", "check", "--tag", TAG, "--window", "1d", "--json", "--no-notify",
            cwd=released)
    assert r.code == 1, r.err
    out = json.loads(r.out)
    assert out["window"] == {"size": "1d", "by": "timestamp column timestamp", "unparsed": 3}
    assert [w["start"] for w in out["windows"]] == DAYS
    assert [w["rows"] for w in out["windows"]] == [1500, 1501, 1500, 1500, 1500]
    assert alerted_days(out) == ["2026-11-04", "2026-11-05"]
    assert out["rows"] == 7504  # unparsed rows still count in the overall figures
    plain = bml("monitor", "check", "--tag", TAG, "--window", "1d", "--no-notify", cwd=released)
    assert "3 row(s) fell in no window (a timestamp that does not parse" in plain.out


@pytest.mark.parametrize("size", ["1w", "0d", "d", "1.5d", "-1d", "24", "1 d 2h", "100000d"])
def test_window_sizes_refused(five_days: Path, bml, size: str) -> None:  # type: ignore[no-untyped-def]
    r = bml("monitor", "check", "--tag", TAG, "--window", size, cwd=five_days)
    assert r.code == 2
    assert "is not a window size; give a number of days or hours such as 1d, 7d or 12h." \
        in r.err and len(r.err.strip().splitlines()) == 1


def test_more_than_1000_windows_refused_naming_a_wider_one(released: Path, bml) -> None:  # type: ignore[no-untyped-def]
    start = datetime(2026, 1, 1, tzinfo=UTC)
    stamps = [(start + timedelta(hours=h)).isoformat() for h in range(1002)]  # 1,002 hours
    log_day(released, DAYS[0], table(len(stamps), last="prediction", times=stamps))
    r = bml("monitor", "check", "--tag", TAG, "--window", "1h", cwd=released)
    assert r.code == 2, r.err
    assert "--window 1h makes more than 1,000 windows of this data; give a wider window such " \
           "as 10h." in r.err
    assert bml("monitor", "check", "--tag", TAG, "--window", "2h", "--json", "--no-notify",
               cwd=released).code in (0, 1)



def test_too_many_windows_never_hide_the_overall_alert(released: Path, bml) -> None:  # type: ignore[no-untyped-def]
    # atk19-03: rows spread over more than 1,000 windows by whoever writes monitoring: the
    # overall drift still alerts (exit 1), the windows are left out with a note
    start = datetime(2026, 1, 1, tzinfo=UTC)
    stamps = [(start + timedelta(hours=h)).isoformat() for h in range(1500)]
    log_day(released, DAYS[0], table(len(stamps), shift=1.5, last="prediction", times=stamps))
    r = bml("monitor", "check", "--tag", TAG, "--window", "1h", "--json", "--no-notify",
            cwd=released)
    assert r.code == 1, r.err
    out = json.loads(r.out)
    assert out["windows"] == [] and any(a.startswith("x1: psi") for a in out["alerts"])
    assert any("makes more than 1,000 windows" in n and "the alerts above stand" in n
               for n in out["notes"])

# -- alerts: a real HTTP receiver and a program on PATH ---------------------------------------

class Receiver:
    def __init__(self) -> None:
        self.got: list[tuple[str, str, bytes]] = []  # path, content type, body
        self.auth: list[str | None] = []
        received, auth = self.got, self.auth

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.append((self.path, self.headers["Content-Type"], body))
                auth.append(self.headers["Authorization"])
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    r = Receiver()
    yield r
    r.server.shutdown()
    r.server.server_close()


def program(folder: Path, name: str, marker: Path) -> Path:
    """An executable that copies its stdin to `marker`."""
    exe = write(folder, name, f"#!/bin/sh\ncat > '{marker}'\n")
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return exe


@pytest.fixture
def on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "bin"
    folder.mkdir()
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    return folder


def check(repo: Path, bml, *extra: str):  # type: ignore[no-untyped-def]
    return bml("monitor", "check", "--tag", TAG, "--json", *extra, cwd=repo)


def test_webhook_receives_the_alert_json(five_days: Path, bml, receiver: Receiver) -> None:  # type: ignore[no-untyped-def]
    set_alerts(five_days, {"webhook": f"{receiver.url}/hook?token=s3cret", "timeout": 5})
    r = check(five_days, bml)
    assert r.code == 1 and r.err == "", r.err
    assert len(receiver.got) == 1
    path, ctype, body = receiver.got[0]
    assert path == "/hook?token=s3cret" and ctype == "application/json"
    sent = json.loads(body)
    assert sent == json.loads(r.out) and sent["alerts"]
    assert check(five_days, bml, "--no-notify").code == 1 and len(receiver.got) == 1
    # user:password@ in the URL: sent as basic auth, never printed
    set_alerts(five_days, {"webhook": receiver.url.replace("//", "//bot:pa%40ss@") + "/b"})
    r = check(five_days, bml)
    assert r.code == 1 and r.err == "" and receiver.got[-1][0] == "/b"
    assert receiver.auth[-1] == "Basic Ym90OnBhQHNz"  # bot:pa@ss


def test_no_alert_sends_nothing(released: Path, bml, receiver: Receiver) -> None:  # type: ignore[no-untyped-def]
    log_day(released, DAYS[0], day_rows(DAYS[0], 400, seed=3))
    set_alerts(released, {"webhook": receiver.url})
    assert check(released, bml).code == 0 and receiver.got == []


def test_webhook_down_is_one_warning_and_exit_1(five_days: Path, bml, receiver: Receiver) -> None:  # type: ignore[no-untyped-def]
    url = receiver.url
    receiver.server.shutdown()
    receiver.server.server_close()
    set_alerts(five_days, {"webhook": url.replace("http://", "http://user:pw@") + "/x?k=s3cret",
                           "timeout": 2})
    r = check(five_days, bml)
    assert r.code == 1
    lines = r.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"branchml: warning: The alert webhook {url} "
                                                   "could not be reached")
    assert "s3cret" not in r.err and "pw" not in r.err and "user" not in r.err


def test_command_on_path_gets_the_json_on_stdin(five_days: Path, bml, on_path: Path,
                                                tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    marker = tmp_path / "got.json"
    program(on_path, "notify-team", marker)
    set_alerts(five_days, {"command": ["notify-team", "--channel", "ml"]})
    r = check(five_days, bml)
    assert r.code == 1 and r.err == "", r.err
    assert json.loads(marker.read_text()) == json.loads(r.out)


def test_command_too_slow_is_stopped(five_days: Path, bml, on_path: Path) -> None:  # type: ignore[no-untyped-def]
    exe = write(on_path, "slow", "#!/bin/sh\nsleep 30\necho late\n")  # sleep: a child
    exe.chmod(0o755)
    set_alerts(five_days, {"command": ["slow"], "timeout": 1})
    began = time.monotonic()
    r = check(five_days, bml)
    assert r.code == 1 and time.monotonic() - began < 20  # the group is killed, child too
    assert r.err.strip() == ("branchml: warning: The alert command slow did not finish within "
                             "1 s and was stopped; make it return sooner or raise "
                             "monitor.alerts.timeout.")


def test_command_failing_is_one_warning(five_days: Path, bml, on_path: Path) -> None:  # type: ignore[no-untyped-def]
    exe = write(on_path, "broken", "#!/bin/sh\nexit 3\n")
    exe.chmod(0o755)
    set_alerts(five_days, {"command": ["broken"]})
    r = check(five_days, bml)
    assert r.code == 1
    assert r.err.strip() == ("branchml: warning: The alert command broken failed with exit "
                             "code 3; the alert was not delivered to it.")


# -- alerts: attacks, each beside the twin that still delivers ----------------------------------

@pytest.mark.parametrize("where", ["worktree", "tmp"])
def test_command_given_as_a_path_is_refused(five_days: Path, bml, on_path: Path, tmp_path: Path,
                                            where: str) -> None:  # type: ignore[no-untyped-def]
    marker = tmp_path / "pwned"
    if where == "worktree":
        program(five_days, "evil", marker)
        argv = ["./evil"]
    else:
        argv = [str(program(tmp_path / "x", "x", marker))]  # /tmp/.../x/x
    set_alerts(five_days, {"command": argv})
    r = check(five_days, bml)
    assert r.code == 1 and not marker.exists()
    assert r.err.strip() == (f"branchml: warning: The alert command {argv[0]!r} is a path, not "
                             "a program name; name a program found on PATH (install it in a "
                             "folder such as /usr/local/bin).")
    good = tmp_path / "good.json"  # the twin: a bare name on PATH is run
    program(on_path, "notify-team", good)
    set_alerts(five_days, {"command": ["notify-team"]})
    assert check(five_days, bml).code == 1 and json.loads(good.read_text())["alerts"]


def test_path_entry_inside_the_repository_is_skipped(five_days: Path, bml, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    pwned = tmp_path / "pwned"
    git("checkout", "-q", "-b", "dev/x", cwd=five_days)
    program(five_days / "tools", "evil", pwned)  # committed with its executable bit
    git("add", "tools/evil", cwd=five_days)
    git("commit", "-q", "--no-verify", "-m", "a tool", cwd=five_days)
    set_alerts(five_days, {"command": ["evil"]})  # on main: trusted
    git("checkout", "-q", "dev/x", cwd=five_days)  # the branch's program is in the worktree
    assert os.access(five_days / "tools" / "evil", os.X_OK)
    monkeypatch.setenv("PATH", f"{five_days / 'tools'}{os.pathsep}.{os.pathsep}"
                               f"{os.environ['PATH']}")
    r = check(five_days, bml)
    assert r.code == 1 and not pwned.exists()
    assert r.err.strip() == ("branchml: warning: The alert command evil is not a program on "
                             "PATH outside the repository; install it in a PATH folder such as "
                             "/usr/local/bin.")
    # the twin: a program of the same name in a PATH folder outside the repository runs
    safe, got = tmp_path / "safe", tmp_path / "got.json"
    program(safe, "evil", got)
    monkeypatch.setenv("PATH", f"{five_days / 'tools'}{os.pathsep}{safe}{os.pathsep}"
                               f"{os.environ['PATH']}")
    assert check(five_days, bml).code == 1 and not pwned.exists()
    assert json.loads(got.read_text())["alerts"]


@pytest.mark.parametrize("link", ["folder", "file"])
def test_path_symlink_into_the_repository_is_skipped(five_days: Path, bml, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     link: str) -> None:  # type: ignore[no-untyped-def]
    pwned = tmp_path / "pwned"
    inside = program(five_days / "tools", "evil", pwned)
    outside = tmp_path / "bin"
    if link == "folder":
        outside.symlink_to(five_days / "tools")  # a PATH folder outside that leads inside
    else:
        outside.mkdir()
        (outside / "evil").symlink_to(inside)
    monkeypatch.setenv("PATH", f"{outside}{os.pathsep}{os.environ['PATH']}")
    set_alerts(five_days, {"command": ["evil"]})
    r = check(five_days, bml)
    assert r.code == 1 and not pwned.exists()
    assert "The alert command evil is not a program on PATH outside the repository" in r.err


@pytest.mark.parametrize("branch", ["monitoring", "dev/x"])
def test_alerts_written_on_another_branch_are_not_used(five_days: Path, bml, receiver: Receiver,
                                                       on_path: Path, tmp_path: Path,
                                                       branch: str) -> None:  # type: ignore[no-untyped-def]
    marker = tmp_path / "pwned"
    program(on_path, "exfil", marker)
    main_cfg = git("show", "main:branchml.yaml", cwd=five_days)
    evil = main_cfg.replace("  target: label", "  target: label\n  alerts: " + json.dumps(
        {"command": ["exfil"], "webhook": f"{receiver.url}/evil"}))
    if branch == "dev/x":
        git("checkout", "-q", "-b", "dev/x", cwd=five_days)
    put_on_branch(five_days, branch, {"branchml.yaml": evil + "\n"})
    git("reset", "-q", "--hard", cwd=five_days)
    assert "alerts" in (five_days / "branchml.yaml").read_text() or branch == "monitoring"
    r = check(five_days, bml)
    assert r.code == 1 and r.err == "", r.err
    assert receiver.got == [] and not marker.exists()
    git("checkout", "-q", "main", cwd=five_days)  # the twin: the same settings on main are used
    set_alerts(five_days, {"webhook": f"{receiver.url}/ok"})
    assert check(five_days, bml).code == 1 and [p for p, _, _ in receiver.got] == ["/ok"]


@pytest.mark.parametrize("url, shown", [("file:///etc/passwd", "a file URL"),
                                        ("ftp://127.0.0.1:9/x", "ftp://127.0.0.1:9"),
                                        ("gopher://127.0.0.1/x", "gopher://127.0.0.1"),
                                        ("http:///nohost", "a http URL")])
def test_webhook_that_is_not_http_is_refused(five_days: Path, bml, receiver: Receiver, url: str,
                                             shown: str) -> None:  # type: ignore[no-untyped-def]
    set_alerts(five_days, {"webhook": url})
    r = check(five_days, bml)
    assert r.code == 1
    assert r.err.strip() == (f"branchml: warning: The alert webhook is not an http or https URL "
                             f"(it is {shown}); give one such as https://hooks.example.com/drift.")
    set_alerts(five_days, {"webhook": receiver.url})  # the twin
    assert check(five_days, bml).code == 1 and len(receiver.got) == 1


def test_webhook_redirect_is_not_followed(five_days: Path, bml, receiver: Receiver) -> None:  # type: ignore[no-untyped-def]
    class Redirect(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.send_response(307)
            self.send_header("Location", f"{receiver.url}/stolen")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    bounce = HTTPServer(("127.0.0.1", 0), Redirect)
    threading.Thread(target=bounce.serve_forever, daemon=True).start()
    try:
        set_alerts(five_days, {"webhook": f"http://127.0.0.1:{bounce.server_address[1]}/"})
        r = check(five_days, bml)
    finally:
        bounce.shutdown()
        bounce.server_close()
    assert r.code == 1 and receiver.got == []
    assert "answered HTTP 307; the alert was not delivered to it." in r.err


def test_alerts_schema(five_days: Path, bml) -> None:  # type: ignore[no-untyped-def]
    set_alerts(five_days, {"command": "notify-team"})  # a string, not a list
    r = check(five_days, bml)
    assert r.code == 2 and "alerts" in r.err
