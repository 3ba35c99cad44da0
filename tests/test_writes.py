"""The working tree and the ref move as one (issue 16, item 1): pre-checks that refuse before
any ref moves, recovery that runs before any other check, `tag` under the apply layer,
`monitor log` idempotent by content, a torn op log line, a read-only git dir, and writes
refused on a branch with a rebase, merge or bisect in progress. Each attack is made the way
a user or an attacker would make it, beside a legitimate twin that still works."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from branchml.repo import oplog
from tests.conftest import BIN, commit, git, git_proc, snapshot, write


def bml_proc(repo: Path, *args: str, fault: str | None = None) -> subprocess.CompletedProcess[str]:
    """The installed console script in a process of its own (a kill must not take pytest)."""
    env = {**os.environ, **({"BRANCHML_FAULT": fault} if fault else {})}
    return subprocess.run([f"{BIN}/branchml", *args], cwd=repo, capture_output=True,
                          text=True, env=env)


def one_sentence(err: str) -> None:
    assert "Traceback" not in err and "internal error" not in err
    assert err.startswith("branchml: error: ") and err.count("\n") == 1, err


@pytest.fixture
def pulling(plain_project: Path) -> Path:
    """clean checked out; raw holds rows clean has not pulled yet."""
    commit(plain_project, {"data/a.csv": "x,y\n1,2\n3,4\n"}, branch="raw")
    git("checkout", "-q", "clean", cwd=plain_project)
    return plain_project


def heads(repo: Path) -> str:
    return git("for-each-ref", "--format=%(refname) %(objectname)", cwd=repo)


class TestRecoveryFirst:
    def test_pull_killed_before_the_files_then_rerun(self, pulling: Path) -> None:
        """Attack (issue 16): the ref moved, the files did not; the rerun used to say
        "uncommitted changes: commit or stash them", and committing lost the rows."""
        killed = bml_proc(pulling, "pull", "raw", "clean", fault="worktree-before")
        assert killed.returncode == -9
        assert git("status", "--porcelain", cwd=pulling) != ""  # files: still the old ones
        rerun = bml_proc(pulling, "pull", "raw", "clean")
        assert rerun.returncode == 0, rerun.stderr
        assert "uncommitted" not in rerun.stderr
        assert "finished `branchml pull raw clean`" in rerun.stderr
        assert git("status", "--porcelain", cwd=pulling) == ""
        assert (pulling / "data" / "a.csv").read_text() == "x,y\n1,2\n3,4\n"

    def test_status_finishes_and_says_so(self, pulling: Path) -> None:
        assert bml_proc(pulling, "pull", "raw", "clean", fault="worktree-before").returncode == -9
        done = bml_proc(pulling, "status")
        assert done.returncode == 0, done.stderr
        assert done.stderr == ("branchml: finished `branchml pull raw clean`, which was killed "
                               "midway: updated the files of clean.\n")
        assert git("status", "--porcelain", cwd=pulling) == ""
        assert bml_proc(pulling, "status").stderr == ""  # said once

    def test_track_rerun_after_a_kill_leaves_no_staged_deletions(self, pulling: Path) -> None:
        """Attack (issue 16): the rerun of a killed `track` printed nothing, exited 0 and left
        main with staged deletions of tracking/runs.jsonl."""
        commit(pulling, {"src/m.py": "x\n"}, branch="dev/model")
        assert bml_proc(pulling, "promote", "dev/model", "stable/model").returncode == 0
        git("checkout", "-q", "main", cwd=pulling)
        assert bml_proc(pulling, "track", "stable/model", fault="worktree-before").returncode == -9
        rerun = bml_proc(pulling, "track", "stable/model")
        assert rerun.returncode == 0, rerun.stderr
        assert git("status", "--porcelain", cwd=pulling) == ""
        assert (pulling / "tracking" / "runs.jsonl").is_file()

    def test_pre_commit_refuses_while_a_killed_run_is_pending(self, project: Path) -> None:
        """`git commit -a` right after a kill would record the old files on the moved branch
        (reverting it): the pre-commit hook refuses until `branchml status` finished it."""
        commit(project, {"data/a.csv": "x\n1\n"}, branch="raw")
        git("checkout", "-q", "clean", cwd=project)
        assert bml_proc(project, "pull", "raw", "clean", fault="worktree-before").returncode == -9
        tried = git_proc("commit", "-q", "-a", "-m", "revert by accident", cwd=project)
        assert tried.returncode != 0
        assert "run `branchml status` to finish it, then commit" in tried.stderr
        assert bml_proc(project, "status").returncode == 0
        assert git("status", "--porcelain", cwd=project) == ""
        assert git("log", "-1", "--format=%s", cwd=project).startswith("branchml pull raw")


class TestPreChecks:
    def test_held_index_lock_refuses_before_the_ref_moves(self, pulling: Path) -> None:
        lock = pulling / ".git" / "index.lock"
        holder = subprocess.Popen(["sleep", "30"], stdin=lock.open("w"))  # a live git, say
        try:
            before = snapshot(pulling)
            r = bml_proc(pulling, "pull", "raw", "clean")
            assert r.returncode == 4
            one_sentence(r.stderr)
            assert f"git holds {lock}" in r.stderr
            assert heads(pulling) == before["refs"]
        finally:
            holder.kill()
            holder.wait()
        lock.unlink()
        assert bml_proc(pulling, "pull", "raw", "clean").returncode == 0  # twin

    def test_untracked_file_in_the_way_refuses_before_the_ref_moves(self, pulling: Path
                                                                     ) -> None:
        mine = write(pulling, "data/a.csv", "my own rows\n")  # untracked on clean
        refs = heads(pulling)
        r = bml_proc(pulling, "pull", "raw", "clean")
        assert r.returncode == 4
        one_sentence(r.stderr)
        assert "data/a.csv" in r.stderr and "move those files away" in r.stderr
        assert heads(pulling) == refs and mine.read_text() == "my own rows\n"
        mine.unlink()
        assert bml_proc(pulling, "pull", "raw", "clean").returncode == 0  # twin
        assert git("status", "--porcelain", cwd=pulling) == ""

    @pytest.mark.parametrize("state", ["rebase", "merge", "bisect", "cherry-pick"])
    def test_branch_with_an_operation_in_progress_is_not_moved(self, pulling: Path,
                                                               state: str) -> None:
        """Attack (issue 16): `merge --into` a branch being rebased moved it, and `git rebase
        --continue` then failed."""
        commit(pulling, {"notes/n.md": "one\n"}, branch="clean")
        commit(pulling, {"notes/n.md": "two\n"}, branch="clean")
        _start(pulling, state)
        refs = heads(pulling)
        r = bml_proc(pulling, "pull", "raw", "clean")
        assert r.returncode == 4
        one_sentence(r.stderr)
        word = {"cherry-pick": "cherry-pick"}.get(state, state)
        assert f"clean has a {word} in progress" in r.stderr
        assert heads(pulling) == refs
        _abort(pulling, state)
        assert bml_proc(pulling, "pull", "raw", "clean").returncode == 0  # twin


def _start(repo: Path, state: str) -> None:
    if state == "rebase":  # stopped at its first commit (`edit`): HEAD detached
        env = {**os.environ, "GIT_SEQUENCE_EDITOR": "sed -i 1s/^pick/edit/"}
        subprocess.run(["git", "rebase", "-q", "-i", "HEAD~2"], cwd=repo, env=env, check=True,
                       capture_output=True)
    elif state == "merge":  # stopped before its commit, nothing to stage
        git("checkout", "-q", "-b", "side", "clean", cwd=repo)
        git("commit", "-q", "--allow-empty", "-m", "side", cwd=repo)
        git("checkout", "-q", "clean", cwd=repo)
        git("merge", "-q", "--no-ff", "--no-commit", "side", cwd=repo)
    elif state == "bisect":
        git("bisect", "start", "clean", "clean~2", cwd=repo)
    else:  # a conflict stops it
        git("checkout", "-q", "-b", "other", "clean~2", cwd=repo)
        commit(repo, {"notes/n.md": "three\n"})
        pick = git("rev-parse", "HEAD", cwd=repo)
        git("checkout", "-q", "clean", cwd=repo)
        assert git_proc("cherry-pick", pick, cwd=repo).returncode != 0


def _abort(repo: Path, state: str) -> None:
    git(*{"rebase": ["rebase", "--abort"], "merge": ["merge", "--abort"],
          "bisect": ["bisect", "reset"], "cherry-pick": ["cherry-pick", "--abort"]}[state],
        cwd=repo)


class TestTag:
    def test_ref_lock_left_by_a_kill_inside_tag(self, pulling: Path, bml) -> None:  # type: ignore[no-untyped-def]
        """Attack (issue 16): a lock file left by a kill inside `git tag` made every later
        `tag --client acme` fail with "already exists here; run the command again"."""
        _releasable(pulling, bml)
        killed = bml_proc(pulling, "tag", "--client", "acme", fault="refs-locked")
        assert killed.returncode == -9
        assert (pulling / ".git" / "refs" / "tags" / "acme-v1.lock").exists()
        again = bml_proc(pulling, "tag", "--client", "acme")
        assert again.returncode == 0, again.stderr
        assert git("tag", "-l", cwd=pulling) == "acme-v1"
        git("fsck", "--full", "--strict", cwd=pulling)

    def test_tag_killed_after_its_ref_is_not_minted_twice(self, pulling: Path, bml) -> None:  # type: ignore[no-untyped-def]
        _releasable(pulling, bml)
        assert bml_proc(pulling, "tag", "--client", "acme", fault="refs-after").returncode == -9
        rerun = bml_proc(pulling, "tag", "--client", "acme")
        assert rerun.returncode == 1 and "acme-v1 already releases this exact" in rerun.stderr
        assert git("tag", "-l", cwd=pulling) == "acme-v1"

    def test_tag_waits_for_the_repository_lock(self, pulling: Path, bml) -> None:  # type: ignore[no-untyped-def]
        _releasable(pulling, bml)
        lock = pulling / ".git" / "branchml" / "lock"
        lock.write_text(f"{os.getpid()} pull\n")
        r = bml_proc(pulling, "tag", "--client", "acme")
        assert r.returncode == 4 and "another branchml command holds" in r.stderr
        assert git("tag", "-l", cwd=pulling) == ""
        lock.unlink()
        assert bml_proc(pulling, "tag", "--client", "acme").returncode == 0

    def test_tag_object_is_what_git_tag_writes(self, pulling: Path, bml) -> None:  # type: ignore[no-untyped-def]
        _releasable(pulling, bml)
        env = {**os.environ, "GIT_COMMITTER_DATE": "1700000000 +0000"}
        made = subprocess.run([f"{BIN}/branchml", "tag", "--client", "acme", "-m", "notes"],
                              cwd=pulling, env=env, capture_output=True, text=True)
        assert made.returncode == 0, made.stderr
        body = git("cat-file", "tag", "acme-v1", cwd=pulling) + "\n"
        target = git("rev-parse", "acme-v1^{commit}", cwd=pulling)
        git("tag", "-d", "acme-v1", cwd=pulling)
        message = body.split("\n\n", 1)[1]
        subprocess.run(["git", "tag", "-a", "--cleanup=verbatim", "-F", "-", "acme-v1",
                        target], cwd=pulling, env=env, input=message, text=True, check=True)
        assert git("cat-file", "tag", "acme-v1", cwd=pulling) + "\n" == body


def _releasable(repo: Path, bml) -> None:  # type: ignore[no-untyped-def]
    assert bml("pull", "raw", "stable/model", cwd=repo).code == 0
    commit(repo, {"models/m.pkl": "w"}, branch="stable/model")
    git("checkout", "-q", "clean", cwd=repo)


class TestMonitorLog:
    @pytest.fixture
    def released(self, pulling: Path, bml) -> Path:  # type: ignore[no-untyped-def]
        _releasable(pulling, bml)
        assert bml("tag", "--client", "acme", cwd=pulling).code == 0
        return pulling

    def rows(self, repo: Path) -> int:
        files = git("ls-tree", "-r", "--name-only", "monitoring", "monitoring/acme",
                    cwd=repo).splitlines()
        return sum(len(git("show", f"monitoring:{f}", cwd=repo).splitlines())
                   - f.endswith(".csv") for f in files)

    def test_rerun_after_a_kill_that_committed_adds_nothing(self, released: Path,
                                                            tmp_path: Path) -> None:
        """Attack (issue 16): rerunning `monitor log` after a kill that had committed
        appended every row a second time."""
        f = write(tmp_path, "day.csv", "x,y,prediction\n1,2,0\n3,4,1\n")
        args = ("monitor", "log", str(f), "--client", "acme", "--tag", "acme-v1")
        assert bml_proc(released, *args, fault="refs-after").returncode == -9
        rerun = bml_proc(released, *args)
        assert rerun.returncode == 0, rerun.stderr
        assert rerun.stdout == f"Already logged (same rows, nothing added): {f}.\n"
        assert self.rows(released) == 2

    def test_same_rows_twice_add_nothing_new_rows_do(self, released: Path,
                                                     tmp_path: Path) -> None:
        f = write(tmp_path, "day.jsonl", '{"x": 1, "y": 2, "prediction": 0}\n')
        args = ("monitor", "log", str(f), "--client", "acme", "--tag", "acme-v1")
        assert bml_proc(released, *args).returncode == 0
        tip = git("rev-parse", "monitoring", cwd=released)
        assert "Already logged" in bml_proc(released, *args).stdout
        assert git("rev-parse", "monitoring", cwd=released) == tip
        write(tmp_path, "day.jsonl", '{"x": 5, "y": 6, "prediction": 1}\n')  # twin: new rows
        assert bml_proc(released, *args).stdout.startswith("Logged ")
        assert self.rows(released) == 2


def test_torn_last_line_of_the_op_log_is_tolerated_and_cut(pulling: Path) -> None:
    """Attack (issue 16): a kill mid-write left half a JSON line, and every write command
    then failed with JSONDecodeError."""
    log = oplog.log_path(pulling / ".git")
    with log.open("a") as f:
        f.write('{"event": "begin", "op": "1-dead", "ti')
    r = bml_proc(pulling, "pull", "raw", "clean")
    assert r.returncode == 0, r.stderr
    lines = log.read_text().splitlines()
    assert all(isinstance(json.loads(line), dict) for line in lines)
    assert not any("1-dead" in line for line in lines)


@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs unshare (util-linux)")
@pytest.mark.parametrize("args", [("pull", "raw", "clean"), ("branch", "create", "dev/x"),
                                  ("split",)])
def test_read_only_git_dir_exits_4_and_changes_nothing(pulling: Path, args: tuple[str, ...]
                                                       ) -> None:
    """Attack (issue 16): a read-only `.git` gave exit 70 and a traceback. Root ignores
    permissions, so `.git` is mounted read-only in a namespace of its own."""
    before = snapshot(pulling)
    script = ('mount --bind .git .git && mount -o remount,bind,ro .git && exec "$@"')
    r = subprocess.run(["unshare", "-rm", "sh", "-c", script, "sh", f"{BIN}/branchml", *args],
                       cwd=pulling, capture_output=True, text=True)
    if "mount" in r.stderr and "branchml" not in r.stderr:
        pytest.skip(f"cannot mount read-only here: {r.stderr.strip()}")
    assert r.returncode == 4, r.stderr
    one_sentence(r.stderr)
    assert "cannot be written" in r.stderr and "nothing was changed" in r.stderr
    assert snapshot(pulling) == before


@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs unshare (util-linux)")
def test_full_disk_exits_4_and_changes_nothing(pulling: Path, tmp_path: Path) -> None:
    """The repository copied onto a small tmpfs (in a namespace of its own), the disk filled,
    then a pull: one sentence, exit 4, refs and files as they were."""
    out = tmp_path / "out"
    out.mkdir()
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    script = (
        'mount -t tmpfs -o size=8m tmpfs "$1" && cp -a "$2" "$1/r" && cd "$1/r" || exit 99\n'
        'git for-each-ref > "$3/before"; git status --porcelain >> "$3/before"\n'
        'dd if=/dev/zero of="$1/fill" bs=4k 2>/dev/null\n'
        '"$4" pull raw clean > "$3/stdout" 2> "$3/stderr"; echo $? > "$3/rc"\n'
        'git for-each-ref > "$3/after"; git status --porcelain >> "$3/after"\n')
    r = subprocess.run(["unshare", "-rm", "sh", "-c", script, "sh", str(mnt), str(pulling),
                        str(out), f"{BIN}/branchml"], capture_output=True, text=True)
    if r.returncode == 99 or not (out / "rc").exists():
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")
    err = (out / "stderr").read_text()
    assert (out / "rc").read_text().strip() == "4", err
    one_sentence(err)
    assert "No space left on device" in err and "nothing was changed" in err
    assert (out / "after").read_text() == (out / "before").read_text()


def test_a_live_write_is_not_taken_for_a_killed_one(pulling: Path) -> None:
    """While another branchml command writes, its `begin` has no `end` yet: a read-only
    command says nothing about it, and a write is refused with the lock message (exit 4)."""
    common = pulling / ".git"
    op = oplog.begin(common, "pull raw clean", {"refs": [], "checkout": []})
    lock = common / "branchml" / "lock"
    lock.write_text(f"{os.getpid()} pull raw clean\n")  # a live process: this one
    quiet = bml_proc(pulling, "status")
    assert quiet.returncode == 0 and quiet.stderr == ""
    refused = bml_proc(pulling, "pull", "raw", "clean")
    assert refused.returncode == 4 and "another branchml command holds" in refused.stderr
    lock.unlink()
    oplog.end(common, op, [])
    assert bml_proc(pulling, "pull", "raw", "clean").returncode == 0


def test_deploy_of_the_routing_in_place_records_nothing(pulling: Path, bml) -> None:  # type: ignore[no-untyped-def]
    """A rerun of `deploy` after a kill that had moved refs/deploy/acme added a second,
    identical deployment to the history; now the routing in place is left as it is."""
    _releasable(pulling, bml)
    assert bml("tag", "--client", "acme", cwd=pulling).code == 0
    assert bml_proc(pulling, "deploy", "acme-v1", "--client", "acme",
                    fault="refs-after").returncode == -9
    assert bml_proc(pulling, "deploy", "acme-v1", "--client", "acme").returncode == 0
    assert git("rev-list", "--count", "refs/deploy/acme", cwd=pulling) == "1"
    assert bml("tag", "--client", "acme", "--allow-same", cwd=pulling).code == 0  # a candidate
    canary = bml_proc(pulling, "deploy", "acme-v1", "--client", "acme", "--canary", "acme-v2",
                      "--fraction", "0.5")  # twin: a new routing is recorded
    assert canary.returncode == 0
    assert git("rev-list", "--count", "refs/deploy/acme", cwd=pulling) == "2"


@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs unshare (util-linux)")
def test_worktree_update_failing_after_the_ref_moved_is_finished_next(pulling: Path) -> None:
    """git fails while it writes the files (here: a read-only folder, which no pre-check
    sees; a full disk is the same): the ref has moved, the message says how to finish, and
    the next command, once the folder is writable, finishes the files."""
    assert bml_proc(pulling, "pull", "raw", "clean").returncode == 0
    commit(pulling, {"data/b.csv": "x,y\n5,6\n"}, branch="raw")
    git("checkout", "-q", "clean", cwd=pulling)
    script = 'mount --bind data data && mount -o remount,bind,ro data && exec "$@"'
    r = subprocess.run(["unshare", "-rm", "sh", "-c", script, "sh", f"{BIN}/branchml",
                        "pull", "raw", "clean"], cwd=pulling, capture_output=True, text=True)
    if "mount" in r.stderr and "branchml" not in r.stderr:
        pytest.skip(f"cannot mount read-only here: {r.stderr.strip()}")
    assert r.returncode == 4, r.stderr
    one_sentence(r.stderr)
    assert "clean moved, but git could not update its files" in r.stderr
    assert "run `branchml status` to finish the update" in r.stderr
    done = bml_proc(pulling, "status")
    assert done.returncode == 0 and "finished `branchml pull raw clean`" in done.stderr
    assert git("status", "--porcelain", cwd=pulling) == ""
    assert (pulling / "data" / "b.csv").read_text() == "x,y\n5,6\n"


def test_branch_checked_out_in_another_worktree_is_not_moved(pulling: Path, tmp_path: Path
                                                             ) -> None:
    """Moving a branch another worktree has checked out left that worktree's files and
    index at the old commit: a `git commit -a` there reverted the pull."""
    git("checkout", "-q", "main", cwd=pulling)
    other = tmp_path / "other"
    git("worktree", "add", "-q", str(other), "clean", cwd=pulling)
    refs = heads(pulling)
    r = bml_proc(pulling, "pull", "raw", "clean")
    assert r.returncode == 4
    one_sentence(r.stderr)
    assert f"clean is checked out in the worktree {other}; run the command there" in r.stderr
    assert heads(pulling) == refs
    there = bml_proc(other, "pull", "raw", "clean")  # twin: where it is checked out
    assert there.returncode == 0, there.stderr
    assert git("status", "--porcelain", cwd=other) == ""
    assert (other / "data" / "a.csv").is_file()
