"""Issue 17, CI templates: each template's shell steps run as the host's runner would run
them, in a fresh detached clone of a bare remote that has no hooks (a host without
pre-receive), with the event's variables set and `branchml` on PATH from this venv.

A forbidden push (made by hand, pushed with --no-verify) must fail the job, a legitimate twin
must pass, and the policy must come from origin's main, never from the pushed branch.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from branchml.resources import templates_dir
from tests.conftest import commit, git, git_proc, write

HOSTS = ("github", "gitlab")
ZERO = "0" * 40
TARGET = {"github": ".github/workflows/branchml.yml", "gitlab": ".gitlab-ci.yml"}
# the job that judges pushes, the one that runs the gates, the training example
JOBS = {"github": ("check", "gates", "train"),
        "gitlab": ("branchml-check", "branchml-gates", "branchml-train")}
LOOSE_RAW = "  raw:\n    type: data\n    parent: main\n    protected: true\n" \
            "    may_change: [data, docs, config]\n"


def template(host: str) -> dict[str, Any]:
    src = templates_dir() / "ci" / ("github/branchml.yml" if host == "github"
                                    else "gitlab/gitlab-ci.yml")
    doc: dict[str, Any] = yaml.safe_load(src.read_text())
    return doc


def _expr(value: str, ctx: dict[str, str]) -> str:
    """`${{ a || b }}` the way GitHub evaluates it for these templates: the first operand
    that is set and not empty."""
    def one(m: re.Match[str]) -> str:
        return next((ctx[x.strip()] for x in m.group(1).split("||") if ctx.get(x.strip())), "")
    return re.sub(r"\$\{\{(.*?)\}\}", one, value)


def steps(host: str, job: str, ctx: dict[str, str]) -> list[tuple[str, dict[str, str]]]:
    """(script, env) of each shell step of `job`; the steps that install branchml (and pip
    requirements) are left out: the test's venv stands in for them."""
    doc = template(host)
    if host == "github":
        spec = doc["jobs"][job]
        out = []
        for step in spec["steps"]:
            if "run" not in step or step.get("name", "").startswith("Install"):
                continue
            env = {**doc.get("env", {}), **spec.get("env", {}), **step.get("env", {})}
            out.append((step["run"], {k: _expr(str(v), ctx) for k, v in env.items()}))
        return out
    spec = doc[job]
    env = {**doc.get("variables", {}), **spec.get("variables", {})}
    return [("\n".join(spec["script"]), {k: str(v) for k, v in env.items()})]


def runner_clone(remote: Path, sha: str, where: Path) -> Path:
    """What a runner starts from: a fresh clone, the pushed commit checked out detached, no
    local branch (only remote-tracking refs)."""
    git("clone", "-q", str(remote), str(where), cwd=where.parent)
    git("checkout", "-q", "--detach", sha, cwd=where)
    refs = git("for-each-ref", "--format=delete %(refname)", "refs/heads/", cwd=where)
    git("update-ref", "--stdin", cwd=where, input=refs + "\n")
    return where


def run_job(host: str, job: str, remote: Path, sha: str, event: dict[str, str],
            where: Path, ctx: dict[str, str] | None = None,
            stale_main: str | None = None) -> subprocess.CompletedProcess[str]:
    clone = runner_clone(remote, sha, where)
    if stale_main:  # a runner that reuses its folder: a local main left from before
        git("update-ref", "refs/heads/main", stale_main, cwd=clone)
    done = subprocess.CompletedProcess[str]([], 0, "", "")
    for script, env in steps(host, job, ctx or {}):
        full = {**os.environ, **env, **event}
        done = subprocess.run(["bash", "-eo", "pipefail", "-c", script], cwd=clone, env=full,
                              capture_output=True, text=True)
        if done.returncode != 0:
            break
    return done


def check_job(host: str, remote: Path, branch: str, before: str, sha: str, where: Path,
              stale_main: str | None = None) -> subprocess.CompletedProcess[str]:
    """The check job for a push of `branch` from `before` to `sha`."""
    if host == "github":
        ctx = {"github.event_name": "push", "github.event.before": before, "github.sha": sha,
               "github.ref_name": branch}
        event = {"GITHUB_SHA": sha, "GITHUB_REF_NAME": branch, "GITHUB_EVENT_NAME": "push"}
        return run_job(host, "check", remote, sha, event, where, ctx, stale_main)
    event = {"CI_COMMIT_SHA": sha, "CI_COMMIT_BEFORE_SHA": before, "CI_COMMIT_BRANCH": branch,
             "CI_PIPELINE_SOURCE": "push"}
    return run_job(host, "branchml-check", remote, sha, event, where, None, stale_main)


def request_job(host: str, remote: Path, target: str, head: str,
                where: Path) -> subprocess.CompletedProcess[str]:
    """The check job for a pull/merge request of `head` into `target`."""
    if host == "github":
        ctx = {"github.event_name": "pull_request", "github.event.pull_request.head.sha": head,
               "github.sha": "f" * 40, "github.base_ref": target, "github.ref_name": "1/merge"}
        event = {"GITHUB_BASE_REF": target, "GITHUB_EVENT_NAME": "pull_request"}
        return run_job(host, "check", remote, head, event, where, ctx)
    event = {"CI_COMMIT_SHA": head, "CI_COMMIT_BEFORE_SHA": ZERO,
             "CI_PIPELINE_SOURCE": "merge_request_event",
             "CI_MERGE_REQUEST_TARGET_BRANCH_NAME": target}
    return run_job(host, "branchml-check", remote, head, event, where)


def tree_with(repo: Path, base: str, files: dict[str, str]) -> str:
    """`base`'s tree with `files` (path -> content) added, built without any hook."""
    env = {**os.environ, "GIT_INDEX_FILE": str(repo / ".git" / "attack-index")}
    subprocess.run(["git", "read-tree", base], cwd=repo, env=env, check=True)
    for path, content in files.items():
        oid = git("hash-object", "-w", "--stdin", cwd=repo, input=content)
        subprocess.run(["git", "update-index", "--add", "--cacheinfo", f"100644,{oid},{path}"],
                       cwd=repo, env=env, check=True)
    out = subprocess.run(["git", "write-tree"], cwd=repo, env=env, capture_output=True,
                         text=True, check=True).stdout.strip()
    os.remove(env["GIT_INDEX_FILE"])
    return out


def forge(repo: Path, parent: str, files: dict[str, str], ref: str) -> str:
    """A commit made with commit-tree on `parent`, put on `ref` with update-ref."""
    sha = git("commit-tree", tree_with(repo, parent, files), "-p", parent, "-m", "by hand",
              cwd=repo)
    git("update-ref", ref, sha, cwd=repo)
    return sha


def push(repo: Path, *refspecs: str) -> None:
    p = git_proc("push", "--no-verify", "origin", *refspecs, cwd=repo)
    assert p.returncode == 0, p.stderr  # the host has no hook: everything lands


def remote_refs(remote: Path) -> str:
    return git("for-each-ref", "--format=%(refname) %(objectname)", cwd=remote)


@pytest.fixture(params=HOSTS)
def hosted(request: pytest.FixtureRequest, tmp_path: Path, bml) -> tuple[str, Path, Path]:  # type: ignore[no-untyped-def]
    """(host, project made by `init --ci HOST`, bare remote without hooks holding it all)."""
    host: str = request.param
    repo = tmp_path / "proj"
    assert bml("init", str(repo), "--ci", host).code == 0
    bare = tmp_path / "remote.git"
    git("init", "-q", "--bare", "-b", "main", str(bare), cwd=tmp_path)
    git("remote", "add", "origin", str(bare), cwd=repo)
    p = git_proc("push", "origin", "--all", cwd=repo)
    assert p.returncode == 0, p.stderr
    return host, repo, bare


# --- the templates themselves ---------------------------------------------------------------

@pytest.mark.parametrize("host", HOSTS)
def test_template_parses_and_has_the_three_jobs(host: str) -> None:
    doc = template(host)
    for job in JOBS[host]:
        found = steps(host, job, {})
        assert found and all(script.strip() for script, _ in found), job
    check_script = steps(host, JOBS[host][0], {})[-1][0]
    assert "branchml check --range" in check_script
    assert "+refs/heads/*:refs/remotes/origin/*" in check_script  # main fetched explicitly
    assert "branchml check --gates" in steps(host, JOBS[host][1], {})[-1][0]
    train = steps(host, JOBS[host][2], {})[-1][0]
    for line in ("branchml tag --client", "--push", "branchml track", "git push origin main"):
        assert line in train
    if host == "github":
        assert set(doc[True]) == {"push", "pull_request", "workflow_dispatch"}  # YAML 1.1 `on`
        assert doc["jobs"]["train"]["if"] == "github.event_name == 'workflow_dispatch'"
        assert "stable/" in doc["jobs"]["gates"]["if"]
    else:
        assert doc["branchml-train"]["rules"][0]["when"] == "manual"
        assert all("stable" in r["if"] for r in doc["branchml-gates"]["rules"])
        assert "pip install" in " ".join(doc["default"]["before_script"])


# --- the check job: forbidden pushes fail it, legitimate twins pass ---------------------------

@pytest.mark.slow
def test_code_on_raw_fails_the_job_and_data_passes(hosted: tuple[str, Path, Path],
                                                   tmp_path: Path) -> None:
    host, repo, remote = hosted
    before = git("rev-parse", "raw", cwd=repo)
    bad = forge(repo, before, {"train.py": "print('x')\n"}, "refs/heads/raw")
    push(repo, "raw")
    job = check_job(host, remote, "raw", before, bad, tmp_path / "run1")
    assert job.returncode == 1, job.stderr
    assert "raw: commit" in job.stdout and "train.py" in job.stdout
    assert "(refs/remotes/origin/main:branchml.yaml)" in job.stdout
    # the twin: data on raw, through the ordinary hooks
    git("update-ref", "refs/heads/raw", before, cwd=repo)
    git_proc("push", "--force", "--no-verify", "origin", "raw", cwd=repo)
    good = commit(repo, {"data/a.csv": "a,b\n1,2\n"}, branch="raw", verify=True)
    assert git_proc("push", "origin", "raw", cwd=repo).returncode == 0
    job = check_job(host, remote, "raw", before, good, tmp_path / "run2")
    assert job.returncode == 0, job.stdout + job.stderr
    assert "ok: raw: 1 commit(s) follow the policy" in job.stdout


@pytest.mark.slow
def test_force_push_dropping_raw_data_fails_closed(hosted: tuple[str, Path, Path],
                                                    tmp_path: Path) -> None:
    """A force-push rewrites raw without its data. Where the host still serves the old tip by
    its id, the job fetches it and the net change refuses the deletion; once the host has
    pruned it, the job cannot resolve BASE and fails (closed) instead of judging nothing."""
    host, repo, remote = hosted
    base = git("rev-parse", "raw", cwd=repo)
    old = commit(repo, {"data/a.csv": "a\n1\n"}, branch="raw", verify=True)
    assert git_proc("push", "origin", "raw", cwd=repo).returncode == 0
    new = forge(repo, base, {"data/b.csv": "b\n2\n"}, "refs/heads/raw")
    p = git_proc("push", "--force", "--no-verify", "origin", "raw", cwd=repo)
    assert p.returncode == 0, p.stderr
    job = check_job(host, remote, "raw", old, new, tmp_path / "run1")
    assert job.returncode == 1, job.stdout + job.stderr
    assert "data on raw is append-only: data/a.csv was deleted or renamed" in job.stdout
    git("gc", "-q", "--prune=now", cwd=remote)
    job = check_job(host, remote, "raw", old, new, tmp_path / "run2")
    assert job.returncode == 2, job.stdout + job.stderr
    assert f"'{old}' is not a commit in this repository; check the --range." in job.stderr


@pytest.mark.slow
def test_data_pushed_without_its_lfs_object_fails_the_job(hosted: tuple[str, Path, Path],
                                                          tmp_path: Path) -> None:
    """--no-verify skips git-lfs's upload too: the remote holds a pointer to nothing. The job
    fetches the range's LFS objects, so it fails instead of passing a broken upload (the
    twin, pushed with the hooks, passes in the test above)."""
    host, repo, remote = hosted
    before = git("rev-parse", "raw", cwd=repo)
    bad = commit(repo, {"data/x.csv": "a\n1\n"}, branch="raw")
    push(repo, "raw")
    job = check_job(host, remote, "raw", before, bad, tmp_path / "run")
    assert job.returncode != 0
    assert "remote missing object" in job.stderr


@pytest.mark.slow
def test_a_branch_that_loosens_branchml_yaml_still_fails(hosted: tuple[str, Path, Path],
                                                         tmp_path: Path) -> None:
    """raw may change config, so an attacker's raw commit rewrites branchml.yaml to let code
    on raw and adds code; the job judges by origin's main, even when the runner's folder
    keeps a local main pointing at the attacker's commit (a reused workspace)."""
    host, repo, remote = hosted
    before = git("rev-parse", "raw", cwd=repo)
    cfg = git("show", "main:branchml.yaml", cwd=repo) + "\n"
    loose = cfg.replace(LOOSE_RAW, LOOSE_RAW.replace("[data, docs, config]",
                                                     "[code, data, docs, config]"))
    assert loose != cfg
    bad = forge(repo, before, {"branchml.yaml": loose, "train.py": "x\n"}, "refs/heads/raw")
    push(repo, "raw")
    job = check_job(host, remote, "raw", before, bad, tmp_path / "run", stale_main=bad)
    assert job.returncode == 1, job.stdout + job.stderr
    assert "train.py" in job.stdout and "refs/remotes/origin/main" in job.stdout


@pytest.mark.slow
def test_new_stable_branch_at_unpromoted_code_fails_new_dev_branch_passes(
        hosted: tuple[str, Path, Path], tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]
    """A new branch arrives with `before` all zeros: judged from where it leaves its parent's
    history, so a stable/evil created at a dev commit (code that was never promoted) fails,
    and a new dev/x with code passes."""
    host, repo, remote = hosted
    dev = commit(repo, {"src/model.py": "w = 1\n"}, branch="dev/model", verify=True)
    assert git_proc("push", "origin", "dev/model", cwd=repo).returncode == 0
    git("update-ref", "refs/heads/stable/evil", dev, cwd=repo)
    push(repo, "stable/evil")
    job = check_job(host, remote, "stable/evil", ZERO, dev, tmp_path / "run1")
    assert job.returncode == 1, job.stdout + job.stderr
    assert "stable/evil" in job.stdout and "src/model.py" in job.stdout
    git("branch", "-q", "dev/x", "main", cwd=repo)
    new = commit(repo, {"src/x.py": "x = 1\n"}, branch="dev/x", verify=True)
    assert git_proc("push", "origin", "dev/x", cwd=repo).returncode == 0
    job = check_job(host, remote, "dev/x", ZERO, new, tmp_path / "run2")
    assert job.returncode == 0, job.stdout + job.stderr
    assert "ok: dev/x: 1 commit(s)" in job.stdout
    # a promotion offered as a new stable branch (the source of a request into stable/model)
    assert bml("promote", "dev/model", "stable/model", cwd=repo).code == 0
    assert git_proc("push", "origin", "stable/model:stable/model-next", cwd=repo).returncode == 0
    promoted = git("rev-parse", "stable/model", cwd=repo)
    job = check_job(host, remote, "stable/model-next", ZERO, promoted, tmp_path / "run3")
    assert job.returncode == 0, job.stdout + job.stderr


@pytest.mark.slow
def test_request_into_raw_is_judged_by_what_it_brings(hosted: tuple[str, Path, Path],
                                                      tmp_path: Path) -> None:
    """A pull/merge request from a scratch branch into raw: the head's commits since the
    merge base are judged by raw's rules (code refused, data accepted)."""
    host, repo, remote = hosted
    raw = git("rev-parse", "raw", cwd=repo)
    bad = forge(repo, raw, {"tool.sh": "echo\n"}, "refs/heads/incoming")
    push(repo, "incoming")
    job = request_job(host, remote, "raw", bad, tmp_path / "run1")
    assert job.returncode == 1 and "tool.sh" in job.stdout, job.stdout + job.stderr
    good = forge(repo, raw, {"data/new.csv": "a\n1\n"}, "refs/heads/incoming")
    git_proc("push", "--force", "--no-verify", "origin", "incoming", cwd=repo)
    job = request_job(host, remote, "raw", good, tmp_path / "run2")
    assert job.returncode == 0, job.stdout + job.stderr


def tag_job(host: str, remote: Path, tag: str, before: str, commit_sha: str,
            where: Path) -> subprocess.CompletedProcess[str]:
    """The check job for a push of the tag `tag` (GitLab gives no before for a tag)."""
    if host == "github":
        ctx = {"github.event_name": "push", "github.event.before": before,
               "github.sha": commit_sha, "github.ref_name": tag, "github.ref": f"refs/tags/{tag}"}
        return run_job(host, "check", remote, commit_sha, {}, where, ctx)
    event = {"CI_COMMIT_SHA": commit_sha, "CI_COMMIT_BEFORE_SHA": ZERO, "CI_COMMIT_TAG": tag,
             "CI_PIPELINE_SOURCE": "push"}
    return run_job(host, "branchml-check", remote, commit_sha, event, where)


@pytest.mark.slow
def test_release_tags_are_judged_as_the_server_would(hosted: tuple[str, Path, Path],
                                                     tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]
    """A tag made with `branchml tag` passes; a hand-made annotated tag without a manifest,
    pushed with --no-verify, fails; on GitHub (which says where a tag was before) so does a
    release tag moved by force."""
    host, repo, remote = hosted
    stable = commit(repo, {"models/m.bin": "w"}, branch="stable/model", verify=True)
    assert git_proc("push", "origin", "stable/model", cwd=repo).returncode == 0
    assert bml("tag", "--client", "acme", "--push", cwd=repo).code == 0
    job = tag_job(host, remote, "acme-v1", ZERO, stable, tmp_path / "run1")
    assert job.returncode == 0, job.stdout + job.stderr
    dev = commit(repo, {"src/m.py": "x\n"}, branch="dev/model", verify=True)
    git("tag", "-a", "acme-v2", "-m", "trust me", dev, cwd=repo)
    push(repo, "refs/tags/acme-v2")
    job = tag_job(host, remote, "acme-v2", ZERO, dev, tmp_path / "run2")
    assert job.returncode == 1, job.stdout + job.stderr
    assert "release tag acme-v2: it carries no branchml manifest" in job.stdout
    if host == "github":
        old = git("rev-parse", "refs/tags/acme-v1", cwd=repo)
        git("tag", "-f", "-a", "acme-v1", "-m", "moved", dev, cwd=repo)
        git_proc("push", "--force", "--no-verify", "origin", "refs/tags/acme-v1", cwd=repo)
        job = tag_job(host, remote, "acme-v1", old, dev, tmp_path / "run3")
        assert job.returncode == 1, job.stdout + job.stderr
        assert "release tags are never moved" in job.stdout


# --- the gates job --------------------------------------------------------------------------

GATE = "grep -qx good src/quality.txt"


@pytest.mark.slow
def test_gates_come_from_origins_main_and_fail_the_job(hosted: tuple[str, Path, Path],
                                                       tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]
    host, repo, remote = hosted
    cfg = git("show", "main:branchml.yaml", cwd=repo) + "\n"
    gated = cfg.replace("  require: []", f"  require: [\"{GATE}\"]")
    assert gated != cfg
    commit(repo, {"branchml.yaml": gated}, branch="main", verify=True)
    commit(repo, {"src/quality.txt": "good\n"}, branch="dev/model", verify=True)
    assert bml("promote", "dev/model", "stable/model", cwd=repo).code == 0
    assert git_proc("push", "origin", "main", "dev/model", "stable/model",
                    cwd=repo).returncode == 0
    good = git("rev-parse", "stable/model", cwd=repo)
    ctx = {"github.event_name": "push", "github.sha": good}
    event = {"GITHUB_REF_NAME": "stable/model", "CI_COMMIT_BRANCH": "stable/model",
             "CI_COMMIT_SHA": good}
    job = run_job(host, JOBS[host][1], remote, good, event, tmp_path / "run1", ctx)
    assert job.returncode == 0, job.stdout + job.stderr
    assert "1 gate(s) passed" in job.stdout
    # the attack: bad code on stable, its own branchml.yaml dropping the gate
    bad = forge(repo, good, {"src/quality.txt": "bad\n", "branchml.yaml": cfg},
                "refs/heads/stable/model")
    push(repo, "stable/model")
    ctx["github.sha"] = event["CI_COMMIT_SHA"] = bad
    job = run_job(host, JOBS[host][1], remote, bad, event, tmp_path / "run2", ctx)
    assert job.returncode == 1, job.stdout + job.stderr
    assert f"the gate `{GATE}` failed (exit 1) on the code of {bad[:10]}" in job.stderr


# --- the training example -------------------------------------------------------------------

TRAIN = ("mkdir -p models tracking && printf 'weights' > models/model.bin && "
         "printf '{\"auc\": 0.9}' > tracking/metrics.json")


@pytest.mark.slow
def test_train_job_commits_tags_and_tracks(hosted: tuple[str, Path, Path],
                                           tmp_path: Path) -> None:
    host, repo, remote = hosted
    stable = git("rev-parse", "stable/model", cwd=repo)
    if host == "github":
        ctx = {"inputs.model": "model", "inputs.client": "acme"}
        event = {"TRAIN": TRAIN, "GITHUB_RUN_ID": "7"}
    else:
        ctx = {}
        event = {"TRAIN": TRAIN, "CLIENT": "acme", "CI_COMMIT_BRANCH": "stable/model",
                 "CI_PIPELINE_ID": "7", "CI_SERVER_HOST": "gitlab.example"}
    job = run_job(host, JOBS[host][2], remote, stable, event, tmp_path / "run", ctx)
    assert job.returncode == 0, job.stdout + job.stderr
    trained = git("rev-parse", "stable/model", cwd=remote)
    assert trained != stable
    assert git("rev-parse", "acme-v1^{commit}", cwd=remote) == trained
    runs = git("show", "main:tracking/runs.jsonl", cwd=remote)
    assert trained in runs and '"auc": 0.9' in runs


# --- init --ci and install --ci -------------------------------------------------------------

@pytest.mark.parametrize("host", HOSTS)
def test_init_ci_adds_the_file_in_the_init_commit(host: str, tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]
    repo = tmp_path / "p"
    r = bml("init", str(repo), "--ci", host)
    assert r.code == 0, r.err
    want = (templates_dir() / "ci" / ("github/branchml.yml" if host == "github"
                                      else "gitlab/gitlab-ci.yml")).read_text()
    assert git("show", f"main:{TARGET[host]}", cwd=repo) == want.strip()
    assert git("rev-list", "--count", "main", cwd=repo) == "1"  # the init commit itself
    assert git("show", f"raw:{TARGET[host]}", cwd=repo) == want.strip()  # every branch
    assert bml("check", "--staged", cwd=repo).code == 0


def test_init_ci_dry_run_lists_the_file(tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]
    r = bml("init", str(tmp_path / "p"), "--ci", "github", "--dry-run", "--json")
    assert r.code == 0 and TARGET["github"] in json.loads(r.out)["files"]
    assert not (tmp_path / "p").exists()


def test_init_ci_keeps_the_teams_own_file(tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]
    """Adopting a repository whose main has its own .gitlab-ci.yml: kept, and said; a new
    repository in a folder with an untracked one: refused before anything is created."""
    repo = tmp_path / "old"
    git("init", "-q", "-b", "main", str(repo), cwd=tmp_path)
    commit(repo, {".gitlab-ci.yml": "test:\n  script: [make]\n"})
    r = bml("init", str(repo), "--ci", "gitlab", "--no-lfs")
    assert r.code == 0, r.err
    assert "kept .gitlab-ci.yml as main has it" in r.out
    assert git("show", "main:.gitlab-ci.yml", cwd=repo) == "test:\n  script: [make]"
    fresh = tmp_path / "fresh"
    write(fresh, ".gitlab-ci.yml", "mine\n")
    r = bml("init", str(fresh), "--ci", "gitlab")
    assert r.code == 4 and ".gitlab-ci.yml" in r.err
    assert not (fresh / ".git").exists() and (fresh / ".gitlab-ci.yml").read_text() == "mine\n"


def test_init_ci_bad_value_is_one_sentence_and_creates_nothing(tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]
    r = bml("init", str(tmp_path / "p"), "--ci", "bitbucket")
    assert r.code == 2
    assert r.err.strip() == ("branchml: error: --ci 'bitbucket' is not a host branchml has a "
                             "CI file for; give github or gitlab.")
    assert not (tmp_path / "p").exists()


def test_install_ci_writes_says_and_refuses_to_overwrite(project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    target = project / TARGET["gitlab"]
    r = bml("install", "--ci", "gitlab", "--dry-run", cwd=project)
    assert r.code == 0 and "write .gitlab-ci.yml (commit it on main" in r.out
    assert not target.exists()
    r = bml("install", "--ci", "gitlab", cwd=project)
    assert r.code == 0 and "write .gitlab-ci.yml" in r.out
    assert target.read_text() == (templates_dir() / "ci/gitlab/gitlab-ci.yml").read_text()
    assert "Nothing to do" in bml("install", "--ci", "gitlab", cwd=project).out
    git("add", ".gitlab-ci.yml", cwd=project)
    assert bml("check", "--staged", cwd=project).code == 0  # CI files are config on main
    write(project, ".gitlab-ci.yml", "test:\n  script: [make]\n")
    r = bml("install", "--ci", "gitlab", cwd=project)
    assert r.code == 4 and r.err.count("\n") == 1
    assert ".gitlab-ci.yml already exists and is not branchml's template" in r.err
    assert target.read_text() == "test:\n  script: [make]\n"
    r = bml("install", "--ci", "jenkins", cwd=project)
    assert r.code == 2 and "give github or gitlab" in r.err


def test_install_ci_in_a_bare_repository_is_refused(tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]
    bare = tmp_path / "srv.git"
    git("init", "-q", "--bare", str(bare), cwd=tmp_path)
    r = bml("install", "--ci", "github", cwd=bare)
    assert r.code == 2 and "run it in a clone, not in a bare repository" in r.err
    assert not (bare / "hooks" / "pre-receive").exists()  # refused before anything


def test_check_gates_without_gates_and_with_another_mode(project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    r = bml("check", "--gates", cwd=project)
    assert r.code == 0 and "no gates to run" in r.out
    r = bml("check", "--gates", "--staged", cwd=project)
    assert r.code == 2 and "give exactly one of --staged, --range A..B or --gates" in r.err
