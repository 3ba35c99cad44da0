"""The checker's log reader is linear, and a commit message is bounded (hostile review #11).

A commit whose one-line message was tens of MiB (kilobytes on the wire) cost the server's
pre-receive quadratic CPU: the unfinished part of `git log` output was copied again on every
read. Now each byte is scanned once, and a message over logstream.MESSAGE_LIMIT is refused at
every door in one sentence."""

from __future__ import annotations

import io
import subprocess
import time
from pathlib import Path

import pytest

from branchml.core.changes import Change, CommitFacts
from branchml.repo import logstream
from branchml.repo.reader import Git
from tests.conftest import git, git_proc

LIMIT_SAID = "the limit is 1 MiB"


@pytest.mark.parametrize("read", [1, 2, 5, 64, 1 << 16])
def test_tokens_are_a_plain_split_whatever_the_reads(read: int) -> None:
    data = b"\x01abc\x1fsub\0\n:1 2 a b M\0path one\0\0x\0" + b"y" * 300 + b"\0tail"
    got = [t for batch in logstream.tokens(io.BytesIO(data), read=read) for t in batch]
    assert got == data.split(b"\0")


def test_a_token_longer_than_the_cap_keeps_only_its_start() -> None:
    data = b"\x01" + b"s" * 10_000 + b"\0next\0"
    got = [t for batch in logstream.tokens(io.BytesIO(data), cap=100, read=7) for t in batch]
    assert got == [data[:100], b"next"]


@pytest.mark.parametrize("cut", [0, 1, 50, 51, 52, 53, 80])
def test_message_size_across_chunk_edges(cut: int) -> None:
    obj = b"tree " + b"a" * 40 + b"\nauthor x\n\n" + b"m" * 30
    assert len(obj) - obj.index(b"\n\n") - 2 == 30
    assert logstream.message_size([obj[:cut], obj[cut:]]) == 30
    assert logstream.message_size([bytes([b]) for b in obj]) == 30
    assert logstream.message_size([b"tree x\nauthor y\n"]) == 0


def _reference(out: bytes) -> list[CommitFacts]:
    """The parse range_facts did before (the whole output split at once)."""
    found: list[CommitFacts] = []
    sha, subject, promoted, parent, merged, meta = "", "", "", "", "", b""
    changes: list[Change] = []
    for tok in out.split(b"\0"):
        if tok.startswith(b"\x01"):
            if sha:
                found.append(CommitFacts(sha, subject, tuple(changes), promoted, parent, merged))
            ids, subject, trailer = [*tok[1:].decode(errors="replace").split("\x1f"), "", ""][:3]
            promoted = trailer.split("\x1d")[-1].strip()
            sha, _, parents = ids.partition(" ")
            parent, _, merged = parents.partition(" ")  # the second parent of a two-parent merge
            merged, changes = ("" if " " in merged else merged), []
        elif meta:
            om, nm, o, n, st = meta[1:].decode().split(" ")
            changes.append(Change(st[0], tok.decode(errors="surrogateescape"), o, n, om, nm))
            meta = b""
        elif tok.lstrip(b"\n").startswith(b":"):
            meta = tok.lstrip(b"\n")
    if sha:
        found.append(CommitFacts(sha, subject, tuple(changes), promoted, parent, merged))
    return found


def _history(repo: Path) -> None:
    """300 commits of adds, edits, deletes and a mode change (well over one 64 KiB read),
    a merge, unusual paths, and a Promoted-From trailer."""
    lines: list[str] = []
    for i in range(1, 301):
        msg = f"commit {i}\n\nbody\n\nPromoted-From: dev/x {'a' * 40}\n" if i == 7 else f"c {i}\n"
        lines += [f"commit refs/heads/{'side' if i == 150 else 'main'}", f"mark :{i}",
                  f"committer A <a@b> {1700000000 + i} +0000", f"data {len(msg.encode())}", msg]
        if i > 1:
            lines.append(f"from :{149 if i == 150 else (i - 2 if i == 151 else i - 1)}")
        if i == 151:
            lines.append("merge :150")
        lines += [f"M 644 inline d/ü space {i}-{j}.txt\ndata {len(str(i))}\n{i}"
                  for j in range(8)]
        lines += [f"D d/ü space {i - 1}-0.txt"] if i > 2 else []
        lines += [f"M 755 inline tool.sh\ndata {len(str(i))}\n{i}"] if i % 50 == 0 else []
    subprocess.run(["git", "fast-import", "--quiet"], cwd=repo, check=True,
                   input="\n".join(lines).encode() + b"\n")


def test_range_facts_is_the_same_as_the_reference_parse(tmp_path: Path) -> None:
    repo = tmp_path / "r"
    git("init", "-q", "-b", "main", str(repo), cwd=tmp_path)
    _history(repo)
    first = git("rev-list", "--max-parents=0", "main", cwd=repo)
    out = subprocess.run(
        ["git", "log", "-z", "--first-parent", "--reverse", "--no-renames", "--raw",
         "--no-abbrev", "--diff-merges=first-parent", logstream.LOG_FORMAT, "main", "--not",
         first, "--"], cwd=repo, check=True, capture_output=True).stdout
    assert len(out) > 4 * logstream.READ
    want = _reference(out)
    got = list(Git(repo).range_facts("main", [first]))
    assert got == want and len(got) == 298  # 299 after the root, less the side commit
    assert any(c.promoted_from == f"dev/x {'a' * 40}" for c in got)
    assert [c.subject for c in got if c.merged] == ["c 151"]  # the merge names its second parent
    assert any(ch.new_mode == "100755" for c in got for ch in c.changes)


def test_thousands_of_empty_commits_in_one_read_are_all_sized(tmp_path: Path) -> None:
    """~780 records per 64 KiB read: sizes are asked and read in groups, a group ahead,
    without either pipe filling up (no hang), and every commit comes out once, in order."""
    repo = tmp_path / "e"
    git("init", "-q", "-b", "main", str(repo), cwd=tmp_path)
    stream = "".join(f"commit refs/heads/main\ncommitter A <a@b> {1700000000 + i} +0000\n"
                     "data 0\n\n" for i in range(3000))  # each on the last (fast-import)
    subprocess.run(["git", "fast-import", "--quiet"], cwd=repo, check=True,
                   input=stream.encode())
    want = git("rev-list", "--reverse", "main", cwd=repo).split()
    reader = Git(repo)
    got = [c.sha for c in reader.range_facts("main", [want[0]])]
    assert got == want[1:] and not reader.long_messages


def test_a_long_body_is_refused_by_check_range(project: Path, bml, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    msg = tmp_path / "msg"
    msg.write_bytes(b"a short subject\n\n" + b"body line\n" * 200_000)  # 2,000,000 bytes
    c = git("commit-tree", "main^{tree}", "-p", "main", "-F", str(msg), cwd=project)
    r = bml("check", "--range", f"main..{c}", "--branch", "dev/long", cwd=project)
    assert r.code == 1
    assert f"commit {c[:10]}: its message is 2,000,017 bytes; {LIMIT_SAID}" in r.out
    ok = git("commit-tree", "main^{tree}", "-p", "main", "-m", "fine", cwd=project)
    assert bml("check", "--range", f"main..{ok}", "--branch", "dev/long", cwd=project).code == 0


def _commit_with_message(project: Path, tmp_path: Path, size: int) -> str:
    msg = tmp_path / f"msg-{size}"
    msg.write_bytes(b"x" * size + b"\n")  # one line: all of it is the subject
    return git("commit-tree", "main^{tree}", "-p", "main", "-F", str(msg), cwd=project)


@pytest.mark.slow
def test_a_40_mib_one_line_message_is_refused_by_the_server_in_seconds(
        project: Path, installed_server: Path, tmp_path: Path) -> None:
    c = _commit_with_message(project, tmp_path, 40 << 20)
    before = git("for-each-ref", cwd=installed_server)
    start = time.monotonic()
    p = git_proc("push", "--no-verify", "origin", f"{c}:refs/heads/dev/long", cwd=project)
    took = time.monotonic() - start
    assert p.returncode != 0, p.stderr
    assert f"commit {c[:10]}: its message is 41,943,041 bytes; {LIMIT_SAID}" in p.stderr
    assert took < 60, took
    assert git("for-each-ref", cwd=installed_server) == before
    # pre-push (the hooks `branchml init` installed) refuses it before anything is sent
    p = git_proc("push", "origin", f"{c}:refs/heads/dev/long", cwd=project)
    assert p.returncode != 0 and "its message is 41,943,041 bytes" in p.stderr
    assert git("for-each-ref", cwd=installed_server) == before


@pytest.mark.slow
def test_a_100_kib_message_is_accepted_twin(project: Path, installed_server: Path,
                                            tmp_path: Path) -> None:
    c = _commit_with_message(project, tmp_path, 100 << 10)
    p = git_proc("push", "origin", f"{c}:refs/heads/dev/ok", cwd=project)
    assert p.returncode == 0, p.stderr
    assert git("rev-parse", "dev/ok", cwd=installed_server) == c
