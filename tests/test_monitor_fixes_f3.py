"""Issue 19's security review, part f3: the router and deploy refs, the alert command and the
webhook. Each attack is made the way the reviewer made it (plumbing, `push --no-verify`, a
real slow or broken receiver) beside its legitimate twin, which must still work."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from branchml import api
from branchml.errors import StateError
from tests.conftest import commit, copied_fixtures, git, git_proc
from tests.test_monitor_windows_alerts import (  # the alert tests' own setup
    TAG,
    five_days,
    on_path,
    released,
    set_alerts,
)

__all__ = ["five_days", "on_path", "released"]  # fixtures, used by name


project, installed_server = copied_fixtures(server=True)


# -- atk19-10: deploy.yaml against the trailers --------------------------------------------


def hand_deploy(repo: Path, parent: str | None, yaml: str, trailers: str) -> str:
    """A deployment commit made with plumbing: `yaml` as deploy.yaml, `trailers` in the
    message."""
    blob = git("hash-object", "-w", "--stdin", cwd=repo, input=yaml)
    tree = git("mktree", cwd=repo, input=f"100644 blob {blob}\tdeploy.yaml\n")
    return git("commit-tree", tree, *(["-p", parent] if parent else []), "-m",
               f"deploy acme: acme-v1\n\n{trailers}", cwd=repo)


def releases_of(repo: Path, bml, push: bool = False) -> None:  # type: ignore[no-untyped-def]
    """acme-v1, acme-v2 and globex-v1 on stable/model (checked out)."""
    commit(repo, {"src/train.py": "print('train')\n"}, branch="dev/model")
    assert bml("promote", "dev/model", "stable/model", cwd=repo).code == 0
    commit(repo, {"models/model.pkl": "w1"}, branch="stable/model")
    if push:
        p = git_proc("push", "origin", "dev/model", "stable/model", cwd=repo)
        assert p.returncode == 0, p.stderr
    for client, extra in (("acme", []), ("acme", ["--allow-same"]), ("globex", [])):
        r = bml("tag", "--client", client, *extra, *(["--push"] if push else []), cwd=repo)
        assert r.code == 0, r.err


ATTACKS = {  # honest trailers (acme-v1 alone), a deploy.yaml that routes 99% elsewhere
    "another client's release": "client: acme\nprimary: acme-v1\ncandidate: globex-v1\n"
                                "fraction: 0.99\n",
    "a tag that does not exist": "client: acme\nprimary: acme-v1\ncandidate: acme-v99\n"
                                 "fraction: 0.99\n",
    "another primary": "client: acme\nprimary: acme-v2\n",
}


@pytest.mark.parametrize("yaml", list(ATTACKS.values()), ids=list(ATTACKS))
def test_router_and_deployed_refuse_a_yaml_the_trailers_do_not_state(
        plain_project: Path, bml, yaml: str) -> None:  # type: ignore[no-untyped-def]
    repo = plain_project
    releases_of(repo, bml)
    assert bml("deploy", "acme-v1", "--client", "acme", cwd=repo).code == 0
    old = git("rev-parse", "refs/deploy/acme", cwd=repo)
    bad = hand_deploy(repo, old, yaml, "Deploy-Primary: acme-v1")
    git("update-ref", "refs/deploy/acme", bad, cwd=repo)
    with pytest.raises(StateError, match=r"^refs/deploy/acme at \w+: the deployment routes "
                       r"by deploy.yaml to .* but its trailers say acme-v1 alone; deploy "
                       r"again with `branchml deploy --client acme TAG`\.$"):
        api.Router("acme", repo)
    for args in (["deployed"], ["route", "user-1"]):  # the same story, the same refusal
        r = bml(*args, "--client", "acme", cwd=repo)
        assert r.code == 4 and r.err.count("\n") == 1 and "its trailers say" in r.err, r.err
    # the legitimate twin: `branchml deploy` writes both halves alike
    git("update-ref", "refs/deploy/acme", old, cwd=repo)
    r = bml("deploy", "acme-v1", "--client", "acme", "--canary", "acme-v2", "--fraction",
            "0.25", cwd=repo)
    assert r.code == 0, r.err
    routing = api.Router("acme", repo).routing
    assert (routing.primary, routing.candidate, routing.fraction) == ("acme-v1", "acme-v2", 0.25)
    shown = api.deployed("acme", path=repo)
    assert (shown["primary"], shown["candidate"], shown["fraction"]) == ("acme-v1", "acme-v2",
                                                                         0.25)


@pytest.mark.parametrize("tag", ["globex-v1", "acme-v99"])
def test_router_refuses_a_candidate_that_is_not_a_release_of_the_client(
        plain_project: Path, bml, tag: str) -> None:  # type: ignore[no-untyped-def]
    """Both halves agree, on a tag that is not acme's release here."""
    repo = plain_project
    releases_of(repo, bml)
    bad = hand_deploy(repo, None, f"client: acme\nprimary: acme-v1\ncandidate: {tag}\n"
                      "fraction: 0.99\n", f"Deploy-Primary: acme-v1\nDeploy-Candidate: {tag} "
                      "0.99")
    git("update-ref", "refs/deploy/acme", bad, cwd=repo)
    with pytest.raises(StateError, match=rf"names {tag}, which is not a release of acme "
                                         r"here: fetch the release tags"):
        api.Router("acme", repo)
    assert bml("deployed", "--client", "acme", cwd=repo).code == 4
    # twin: the same commit by hand, naming acme's own second release
    good = hand_deploy(repo, None, "client: acme\nprimary: acme-v1\ncandidate: acme-v2\n"
                       "fraction: 0.99\n", "Deploy-Primary: acme-v1\nDeploy-Candidate: acme-v2 "
                       "0.99")
    git("update-ref", "refs/deploy/acme", good, cwd=repo)
    assert api.Router("acme", repo).routing.candidate == "acme-v2"


@pytest.fixture
def released_on_server(project: Path, installed_server: Path, bml) -> Path:  # type: ignore[no-untyped-def]
    releases_of(project, bml, push=True)
    r = bml("deploy", "acme-v1", "--client", "acme", "--push", cwd=project)
    assert r.code == 0, r.err
    return project


def server_refs(bare: Path) -> str:
    return git("for-each-ref", "--format=%(refname) %(objectname)", cwd=bare)


@pytest.mark.slow
@pytest.mark.parametrize("verify", [False, True], ids=["pre-receive", "pre-push"])
def test_server_refuses_a_deploy_yaml_the_trailers_do_not_state(
        released_on_server: Path, installed_server: Path, tmp_path: Path, bml,
        verify: bool) -> None:  # type: ignore[no-untyped-def]
    repo, server = released_on_server, installed_server
    before = server_refs(server)
    old = git("rev-parse", "refs/deploy/acme", cwd=repo)
    for yaml in ATTACKS.values():
        bad = hand_deploy(repo, old, yaml, "Deploy-Primary: acme-v1")
        p = git_proc("push", *([] if verify else ["--no-verify"]), "origin",
                     f"{bad}:refs/deploy/acme", cwd=repo)
        assert p.returncode != 0
        assert "the deployment routes by deploy.yaml to " in p.stderr
        assert "but its trailers say acme-v1 alone; deploy with `branchml deploy`" in p.stderr
        assert server_refs(server) == before
    # both halves naming another client's release: refused by the release check
    bad = hand_deploy(repo, old, ATTACKS["another client's release"],
                      "Deploy-Primary: acme-v1\nDeploy-Candidate: globex-v1 0.99")
    p = git_proc("push", "--no-verify", "origin", f"{bad}:refs/deploy/acme", cwd=repo)
    assert p.returncode != 0 and "names 'globex-v1', which is not a release of acme" in p.stderr
    assert server_refs(server) == before
    # the legitimate twin: a canary deployed the normal way is accepted and routed by
    r = bml("deploy", "acme-v1", "--client", "acme", "--canary", "acme-v2", "--fraction",
            "0.1", "--push", cwd=repo)
    assert r.code == 0, r.err
    serving = tmp_path / "serving.git"
    git("clone", "-q", "--bare", str(server), str(serving), cwd=tmp_path)
    git("fetch", "-q", "origin", "refs/deploy/*:refs/deploy/*", cwd=serving)
    router = api.Router("acme", serving)
    share = sum(router.route(f"user-{i}") == "acme-v2" for i in range(2000)) / 2000
    assert router.routing.candidate == "acme-v2" and 0.07 < share < 0.13
    done = subprocess.run(["git", "rev-parse", "refs/deploy/acme"], cwd=server,
                          capture_output=True, text=True)
    assert done.stdout.strip() == git("rev-parse", "refs/deploy/acme", cwd=repo)


@pytest.mark.parametrize(("primary", "candidate", "yaml", "why"), [
    ("", "", "client: acme\nprimary: acme-v1\n", "names no primary release"),
    ("acme-v1\nacme-v2", "", "client: acme\nprimary: acme-v1\n", "more than one primary"),
    ("acme-v1", "acme-v2", "client: acme\nprimary: acme-v1\n", "not one release and its"),
    ("acme-v1", "acme-v2 1.5", "client: acme\nprimary: acme-v1\n", "not a number between"),
    ("acme-v1", "acme-v2 nan", "client: acme\nprimary: acme-v1\n", "not a number between"),
    ("acme-v1", "acme-v1 0.5", "client: acme\nprimary: acme-v1\n", "both its primary"),
    ("acme-v1", "", None, "no readable deploy.yaml"),
    ("acme-v1", "", "client: globex\nprimary: acme-v1\n", "not the one `branchml deploy`"),
    ("acme-v1", "", "client: acme\nprimary: acme-v1\nextra: 1\n", "not the one"),
    ("acme-v1", "", "client: acme\nprimary: acme-v1\ncandidate: acme-v2\nfraction: true\n",
     "without a fraction"),
    ("acme-v1", "acme-v2 0.1", "client: acme\nprimary: acme-v1\ncandidate: acme-v2\n"
     "fraction: 0.2\n", "to acme-v1 with candidate acme-v2 at 0.2 but its trailers say "
     "acme-v1 with candidate acme-v2 at 0.1"),
])
def test_a_deployment_record_is_refused(primary: str, candidate: str, yaml: str | None,
                                        why: str) -> None:
    from branchml.core import deployrecord

    with pytest.raises(deployrecord.BadRecord, match=why.replace("(", r"\(")):
        deployrecord.read("acme", primary, candidate, yaml)


def test_a_deployment_record_as_deploy_writes_it() -> None:
    """The twin: both halves alike, a small share spelled 1e-05 (YAML 1.1 reads it as text)."""
    from branchml.core import deployrecord

    found = deployrecord.read("acme", "acme-v1\n", "acme-v2 1e-05\n",
                              "client: acme\nprimary: acme-v1\ncandidate: acme-v2\n"
                              "fraction: 1e-05\n")
    assert found == deployrecord.DeployRecord("acme-v1", "acme-v2", 1e-05)
    assert deployrecord.read("acme", "acme-v1", "", "client: acme\nprimary: acme-v1\n"
                             ).tags() == ["acme-v1"]


# -- atk19-05: the alert command runs in an empty folder, outside the repository ------------


def alert_check(repo: Path, bml):  # type: ignore[no-untyped-def]
    return bml("monitor", "check", "--tag", TAG, "--json", cwd=repo)


def test_alert_command_never_runs_the_checked_out_branchs_module(
        five_days: Path, bml, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """main names `python3 -m notifier`; a dev branch's notifier.py, checked out, must not be
    what runs: not from the working folder, not from a PYTHONPATH entry inside the repository."""
    repo, pwned = five_days, tmp_path / "PWNED"
    set_alerts(repo, {"command": ["python3", "-m", "notifier"]})
    commit(repo, {"notifier.py": "import sys; sys.stdin.read(); print('main notifier')\n"},
           branch="main")
    commit(repo, {"notifier.py": "import sys, pathlib; sys.stdin.read(); "
                                 f"pathlib.Path({str(pwned)!r}).write_text('dev code ran')\n"},
           branch="dev/model")
    for pythonpath in (None, str(repo), "."):
        if pythonpath is None:
            monkeypatch.delenv("PYTHONPATH", raising=False)
        else:
            monkeypatch.setenv("PYTHONPATH", pythonpath)
        r = alert_check(repo, bml)
        assert r.code == 1 and not pwned.exists()
        assert r.err.strip() == ("branchml: warning: The alert command python3 failed with "
                                 "exit code 1; the alert was not delivered to it.")
    # the twin: the module installed outside the repository (a PYTHONPATH folder) runs
    lib, got = tmp_path / "lib", tmp_path / "got.json"
    lib.mkdir()
    (lib / "notifier.py").write_text(
        "import os, pathlib, sys\n"
        f"pathlib.Path({str(got)!r}).write_text(sys.stdin.read())\n"
        f"pathlib.Path({str(tmp_path / 'cwd')!r}).write_text(os.getcwd() + '\\n' + "
        "'\\n'.join(os.listdir('.')))\n")
    monkeypatch.setenv("PYTHONPATH", f"{repo}{os.pathsep}{lib}")
    r = alert_check(repo, bml)
    assert r.code == 1 and r.err == "", r.err
    assert json.loads(got.read_text()) == json.loads(r.out) and not pwned.exists()
    cwd = (tmp_path / "cwd").read_text().splitlines()
    assert cwd == [cwd[0]] and Path(cwd[0]).name.startswith("branchml-alert-")
    assert repo.resolve() not in Path(cwd[0]).resolve().parents
    assert not Path(cwd[0]).exists()  # removed after the delivery


def test_alert_command_in_an_empty_folder_never_reads_a_makefile(
        five_days: Path, bml, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """`make notify` from main: the dev branch's Makefile, checked out, is not read."""
    repo, pwned = five_days, tmp_path / "PWNED"
    set_alerts(repo, {"command": ["make", "-s", "notify"]})
    commit(repo, {"Makefile": f"notify:\n\techo dev > {pwned}\n"}, branch="dev/model")
    r = alert_check(repo, bml)
    assert r.code == 1 and not pwned.exists()
    assert "The alert command make failed with exit code 2" in r.err
    # the twin: the same make, told where the team's Makefile is, outside the repository
    team = tmp_path / "team"
    team.mkdir()
    (team / "Makefile").write_text(f"notify:\n\tcat > {tmp_path / 'got.json'}\n")
    set_alerts(repo, {"command": ["make", "-s", "-C", str(team), "notify"]})
    git("checkout", "-q", "dev/model", cwd=repo)
    assert alert_check(repo, bml).code == 1
    assert json.loads((tmp_path / "got.json").read_text())["alerts"] and not pwned.exists()


# -- atk19-12: PATH entries in any worktree of the repository count as inside it ------------

@pytest.mark.parametrize("run_from", ["linked worktree", "main checkout"])
def test_alert_command_skips_path_entries_in_other_worktrees(
        five_days: Path, bml, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        run_from: str) -> None:  # type: ignore[no-untyped-def]
    """The project's bin/ on PATH (direnv's PATH_add bin): a dev branch checked out in one
    worktree holds bin/notify-team; `monitor check` runs in the other."""
    repo, pwned, system = five_days, tmp_path / "PWNED", tmp_path / "SYSTEM"
    sysbin = tmp_path / "sys"
    sysbin.mkdir()
    exe = sysbin / "notify-team"
    exe.write_text(f"#!/bin/sh\ncat > '{system}'\n")
    exe.chmod(0o755)
    set_alerts(repo, {"command": ["notify-team"]})
    linked = tmp_path / "wt"
    if run_from == "linked worktree":  # dev checked out in the main checkout
        git("checkout", "-q", "dev/model", cwd=repo)
        git("worktree", "add", "-q", "-f", str(linked), "main", cwd=repo)
        dev_side, check_in = repo, linked
    else:  # dev checked out in a linked worktree, the check run in the main checkout
        git("worktree", "add", "-q", str(linked), "dev/model", cwd=repo)
        dev_side, check_in = linked, repo
    tool = dev_side / "bin" / "notify-team"
    tool.parent.mkdir()
    tool.write_text(f"#!/bin/sh\ncat >/dev/null; echo dev > '{pwned}'\n")
    tool.chmod(0o755)
    git("add", "bin", cwd=dev_side)
    git("commit", "-q", "--no-verify", "-m", "tools", cwd=dev_side)
    monkeypatch.setenv("PATH", f"{dev_side / 'bin'}{os.pathsep}{sysbin}{os.pathsep}"
                               f"{os.environ['PATH']}")
    r = alert_check(check_in, bml)
    assert r.code == 1 and r.err == "", r.err
    assert not pwned.exists()  # the other worktree's bin/ skipped ...
    assert json.loads(system.read_text())["alerts"]  # ... the twin outside it ran


# -- atk19-04: the webhook timeout bounds the whole delivery ---------------------------------

class Dribbler:
    """A webhook that accepts, reads the request, then answers one byte every `pause` s."""

    def __init__(self, pause: float, answer: bytes) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}/hook"
        self.pause, self.answer, self.got = pause, answer, 0
        threading.Thread(target=self.serve, daemon=True).start()

    @staticmethod
    def read_request(conn: socket.socket) -> None:
        data = b""
        while b"\r\n\r\n" not in data:
            data += conn.recv(65536) or b"\r\n\r\n"
        head, _, body = data.partition(b"\r\n\r\n")
        length = int(next((line.split(b":")[1] for line in head.split(b"\r\n")
                           if line.lower().startswith(b"content-length:")), b"0"))
        while len(body) < length:
            chunk = conn.recv(65536)
            if not chunk:
                return
            body += chunk

    def serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                with contextlib.suppress(OSError):
                    self.read_request(conn)
                self.got += 1
                for byte in self.answer:
                    try:
                        conn.send(bytes([byte]))
                    except OSError:
                        break
                    time.sleep(self.pause)


SLOW = b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 60 + b"\r\n\r\n"
PROMPT = b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n"


@pytest.fixture
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)


def test_webhook_answering_a_byte_a_second_is_given_up_at_the_timeout(
        released: Path, bml, no_proxy: None) -> None:  # type: ignore[no-untyped-def]
    slow = Dribbler(1.0, SLOW)  # 80 s of answer at one byte a second
    set_alerts(released, {"webhook": slow.url, "timeout": 2})
    began = time.monotonic()
    done = api.monitor_notify({"alerts": ["x1: psi 0.4 > 0.2"]}, released)  # type: ignore[typeddict-item]
    took = time.monotonic() - began
    assert 1.9 < took < 4, took
    assert done.sent == [] and done.warnings == [
        f"The alert webhook {slow.url.removesuffix('/hook')} did not answer within 2 s and was "
        "given up; make it answer sooner or raise monitor.alerts.timeout."]
    time.sleep(0.5)  # its connection was cut: the delivery's thread is gone, not left reading
    assert not [t for t in threading.enumerate() if t.name == "branchml-webhook"]
    # the twins: a prompt receiver, and one that answers slowly but within the timeout
    for pause in (0.0, 0.02):
        ok = Dribbler(pause, PROMPT)
        set_alerts(released, {"webhook": ok.url, "timeout": 5})
        done = api.monitor_notify({"alerts": ["x1: psi 0.4 > 0.2"]}, released)  # type: ignore[typeddict-item]
        assert done.warnings == [] and done.sent == [f"webhook {ok.url.removesuffix('/hook')}"]
        assert ok.got == 1


def test_monitor_check_with_a_slow_webhook_ends_near_its_timeout(
        five_days: Path, bml, no_proxy: None) -> None:  # type: ignore[no-untyped-def]
    """The reviewer's scenario: `monitor check` (a cron job, a CI step) with timeout 2."""
    slow = Dribbler(1.0, SLOW)
    set_alerts(five_days, {"webhook": slow.url, "timeout": 2})
    quick = time.monotonic()
    assert bml("monitor", "check", "--tag", TAG, "--no-notify", cwd=five_days).code == 1
    alone = time.monotonic() - quick
    began = time.monotonic()
    r = bml("monitor", "check", "--tag", TAG, cwd=five_days)
    assert r.code == 1 and "did not answer within 2 s" in r.err
    assert time.monotonic() - began < alone + 4  # was: about 40 s


# -- atk19-06: webhook URLs and command arguments no delivery can use ------------------------

BAD_ALERTS = {
    "unclosed bracket": ({"webhook": "http://[::1/hook?token=s3cret"},
                         "The alert webhook cannot be used: it does not parse as a URL (an "
                         "unclosed [ or a bad port); fix monitor.alerts.webhook in main's "
                         "branchml.yaml."),
    "space in host": ({"webhook": "http://a b/hook?token=s3cret"},
                      "The alert webhook http://a?b cannot be used: it holds a space or a "
                      "control character; fix monitor.alerts.webhook in main's branchml.yaml."),
    "bad port": ({"webhook": "http://example.com:99999/hook?token=s3cret"},
                 "The alert webhook http://example.com cannot be used: it does not parse as a "
                 "URL (an unclosed [ or a bad port); fix monitor.alerts.webhook in main's "
                 "branchml.yaml."),
    "escape in host": ({"webhook": "http://ex\x1bc\x07ample.com/hook?token=s3cret"},
                       "The alert webhook http://ex?c?ample.com cannot be used: it holds a "
                       "space or a control character; fix monitor.alerts.webhook in main's "
                       "branchml.yaml."),
    "NUL in an argument": ({"command": ["sh", "-c\0x"]},
                           "The alert command sh cannot be run: its argument 1 holds a NUL "
                           "character, which no program can receive; fix "
                           "monitor.alerts.command in main's branchml.yaml."),
}


@pytest.mark.parametrize("alerts,warning", list(BAD_ALERTS.values()), ids=list(BAD_ALERTS))
def test_unusable_alert_settings_are_one_warning_and_exit_1(
        five_days: Path, bml, tmp_path: Path, alerts: dict[str, object], warning: str) -> None:  # type: ignore[no-untyped-def]
    set_alerts(five_days, alerts)  # committed on main with --no-verify, past config validate
    r = bml("monitor", "check", "--tag", TAG, cwd=five_days)
    assert r.code == 1, r.err  # the alert's own exit code, not an internal error (70)
    assert r.err == f"branchml: warning: {warning}\n"
    assert "s3cret" not in r.err and "\x1b" not in r.err and "\x07" not in r.err
    report = {"alerts": ["x1: psi 0.4 > 0.2"]}
    done = api.monitor_notify(report, five_days)  # type: ignore[arg-type]
    assert done.sent == [] and done.warnings == [warning]  # never raises
    # `config validate` refuses the same file up front
    cfg = tmp_path / "branchml.yaml"
    cfg.write_text(git("show", "main:branchml.yaml", cwd=five_days))
    r = bml("config", "validate", str(cfg))
    assert r.code == 2 and r.err.startswith("branchml: error: branchml.yaml: monitor.alerts.")
    assert r.err.count("\n") == 1 and "s3cret" not in r.err


def test_usable_alert_settings_still_validate_and_deliver(
        five_days: Path, bml, tmp_path: Path, on_path: Path, no_proxy: None) -> None:  # type: ignore[no-untyped-def]
    """The twin: an IPv6 webhook in brackets with a port and a command with ordinary arguments
    pass `config validate` and deliver."""
    ok = Dribbler(0.0, PROMPT)
    got = tmp_path / "got.json"
    exe = on_path / "notify-team"
    exe.write_text(f"#!/bin/sh\ncat > '{got}'\n")
    exe.chmod(0o755)
    set_alerts(five_days, {"command": ["notify-team", "--channel", "ml ops"],
                           "webhook": ok.url + "?token=s3cret"})
    cfg = tmp_path / "branchml.yaml"
    cfg.write_text(git("show", "main:branchml.yaml", cwd=five_days))
    assert bml("config", "validate", str(cfg)).code == 0
    r = bml("monitor", "check", "--tag", TAG, cwd=five_days)
    assert r.code == 1 and r.err == "", r.err
    assert json.loads(got.read_text())["alerts"] and ok.got == 1
    from branchml.core.alertsettings import webhook_problem

    assert webhook_problem("https://[::1]:8443/hook?k=v") is None


@pytest.mark.parametrize(("alerts", "problem"), [
    ({"webhook": "https://hooks.example.com/drift", "command": ["notify-team", "-x"]}, None),
    ({"webhook": "http://[::1]:8080/x"}, None),
    ({"webhook": "ftp://example.com/x"}, "monitor.alerts.webhook: it is not an http or https"),
    ({"webhook": "http:///x"}, "monitor.alerts.webhook: it is not an http or https"),
    ({"webhook": "http://a\tb/x"}, "monitor.alerts.webhook: it holds a space"),
    ({"command": ["x", "a", "b\0"]}, "monitor.alerts.command: its argument 2 holds a NUL"),
])
def test_alert_settings_table(alerts: dict[str, object], problem: str | None) -> None:
    from branchml.core.alertsettings import alerts_problem

    found = alerts_problem(alerts)
    assert found == problem if problem is None else (found or "").startswith(problem)
