"""Nothing a pusher or a remote sends is read whole into memory (hostile review #3, #8).

Each attack pushes (or serves) a big, very compressible object to a real bare server made by
`branchml install`, or to `branchml clone`, and asserts the refusal in one sentence, that the
server's refs did not move, and the peak memory of branchml itself (the hook, or the clone),
measured by /usr/bin/time around the `branchml` found first on PATH. Each has a legitimate twin
of ordinary size that is accepted.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from branchml.core import bounds, split, splitcheck
from tests.conftest import BIN, commit, copied_fixtures, git, git_proc

project, installed_server = copied_fixtures(server=True)


MIB = 1 << 20
PEAK_KB = 150_000  # branchml's own peak: python and its imports are ~60 MB; never the object


def big_blob(repo: Path, head: bytes, filler: bytes, size: int, tail: bytes = b"\n") -> str:
    """A blob of `size` bytes written by `git hash-object -w --stdin` in chunks (never whole
    in this process either): `head`, then `filler` repeated, then `tail`."""
    p = subprocess.Popen(["git", "hash-object", "-w", "--stdin"], cwd=repo,
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert p.stdin is not None
    p.stdin.write(head)
    left = size - len(head) - len(tail)
    block = filler * (MIB // len(filler))
    while left > 0:
        p.stdin.write(block[:left])
        left -= min(len(block), left)
    p.stdin.write(tail)
    out, _ = p.communicate()
    return out.decode().strip()


def commit_blob(repo: Path, path: str, oid: str, msg: str = "big") -> str:
    """A commit on the current branch whose `path` is the blob `oid` (no filters, no hooks)."""
    git("update-index", "--add", "--cacheinfo", f"100644,{oid},{path}", cwd=repo)
    git("-c", "core.hooksPath=/dev/null", "commit", "-q", "--no-verify", "-m", msg, cwd=repo)
    return git("rev-parse", "HEAD", cwd=repo)


def measured(tmp_path: Path, args: list[str], cwd: Path) -> tuple[subprocess.CompletedProcess[str],
                                                                  int]:
    """Run `args` with a `branchml` on PATH that records its own peak RSS (KB); the peak over
    every branchml run (the pre-receive hook, or the command itself)."""
    wrap = tmp_path / "wrap"
    wrap.mkdir(exist_ok=True)
    peaks = tmp_path / "peaks.txt"
    peaks.write_text("")
    script = wrap / "branchml"
    script.write_text(f'#!/bin/sh\nexec /usr/bin/time -a -o {peaks} -f "%M" '
                      f'{BIN}/branchml "$@"\n')
    script.chmod(0o755)
    env = {**os.environ, "PATH": f"{wrap}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, env=env)
    found = [int(x) for x in peaks.read_text().split() if x.isdigit()]
    assert found, f"branchml did not run: {done.stderr}"
    return done, max(found)


def server_refs(server: Path) -> str:
    return git("for-each-ref", "--format=%(refname) %(objectname)", cwd=server)


def installed(tmp_path: Path, name: str) -> Path:
    bare = tmp_path / name
    git("init", "-q", "--bare", "-b", "main", str(bare), cwd=tmp_path)
    done = subprocess.run([f"{BIN}/branchml", "install"], cwd=bare, capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr
    return bare


# -- the split assignment (finding 03) ----------------------------------------------------------

@pytest.mark.slow
def test_huge_split_assignment_on_a_dev_branch_is_refused_unread(
        project: Path, installed_server: Path, tmp_path: Path) -> None:
    git("checkout", "-q", "-b", "dev/split", "main", cwd=project)
    size = bounds.SPLIT_ASSIGNMENT + MIB
    commit_blob(project, split.ASSIGNMENT, big_blob(project, b"key,split\n", b"a", size,
                                                     b",train\n"))
    before = server_refs(installed_server)
    done, peak = measured(tmp_path, ["git", "push", "--no-verify", "origin", "dev/split"],
                          project)
    assert done.returncode != 0
    oid = git("rev-parse", f"HEAD:{split.ASSIGNMENT}", cwd=project)
    assert (f"split: {split.ASSIGNMENT} ({oid[:10]}) "
            f"holds {size:,} bytes, over the limit of {bounds.SPLIT_ASSIGNMENT:,} bytes "
            "(256 MiB) branchml reads of it; it was not read; split the items over fewer, "
            "shorter keys") in done.stderr
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr
    assert server_refs(installed_server) == before
    assert peak < PEAK_KB, peak


@pytest.mark.slow
def test_one_endless_row_under_the_limit_is_streamed_and_refused(
        project: Path, installed_server: Path, tmp_path: Path) -> None:
    """Under the size limit, a single 32 MiB row (the finding's shape, smaller) is parsed in
    chunks: refused as a row too long, in one sentence, never held whole."""
    git("checkout", "-q", "-b", "dev/split", "main", cwd=project)
    commit_blob(project, split.ASSIGNMENT, big_blob(project, b"key,split\n", b"a", 32 * MIB,
                                                     b",train\n"))
    before = server_refs(installed_server)
    done, peak = measured(tmp_path, ["git", "push", "--no-verify", "origin", "dev/split"],
                          project)
    assert done.returncode != 0
    assert (f"split: {split.ASSIGNMENT} does not parse: a row is longer than "
            f"{bounds.SPLIT_LINE:,} bytes; an item once assigned never moves") in done.stderr
    assert server_refs(installed_server) == before
    assert peak < PEAK_KB, peak


@pytest.mark.slow
def test_split_assignment_legit_twins(project: Path, installed_server: Path,
                                      tmp_path: Path) -> None:
    """A normal assignment on dev (accepted), a 16 MiB one of 880,000 rows grown by a row
    (accepted, streamed), and the same with an item moved (refused by name)."""
    git("checkout", "-q", "-b", "dev/split", "main", cwd=project)
    commit(project, {split.ASSIGNMENT: "key,split\na,train\nb,test\n"})
    first = git_proc("push", "origin", "dev/split", cwd=project)
    assert first.returncode == 0, first.stderr
    body = b"key,split\na,train\nb,test\n" + b"".join(b"item-%07d,train\n" % i
                                                       for i in range(880_000))
    commit_blob(project, split.ASSIGNMENT, _blob(project, body + b"new,test\n"), "grow")
    done, _ = measured(tmp_path, ["git", "push", "--no-verify", "origin", "dev/split"], project)
    assert done.returncode == 0, done.stderr
    before = server_refs(installed_server)
    moved = body.replace(b"item-0000007,train", b"item-0000007,test_", 1)
    commit_blob(project, split.ASSIGNMENT, _blob(project, moved + b"new,test\n"), "move")
    p = git_proc("push", "--no-verify", "origin", "dev/split", cwd=project)
    assert p.returncode != 0
    assert "split: item 'item-0000007' moved from train to test_" in p.stderr
    assert server_refs(installed_server) == before


def _blob(repo: Path, data: bytes) -> str:
    done = subprocess.run(["git", "hash-object", "-w", "--stdin"], cwd=repo, input=data,
                          capture_output=True, check=True)
    return done.stdout.decode().strip()


@pytest.mark.parametrize(("old", "new", "want"), [
    (None, [b"key,split\n", b"a,train\nb,te", b"st\n"], []),
    ([b"key,split\na,train\n"], [b"key,split\na,test\n"], ["item 'a' moved from train to test"]),
    ([b"key,split\na,train\n"], [b"key,split\n"], ["item 'a' was removed from the split (it "
                                                   "was in train)"]),
    (None, [b"key,split\na,train\na,test"], ["item 'a' is in two splits (train, test)"]),
    ([b"key,split\r\n\"a,b\",train\r\n"], [b"key,split\n\"a,b\",train\nc,val\n"], []),
    (None, [b"k,s\n"], [f"{split.ASSIGNMENT} does not parse: the header must be key,split"]),
    (None, [b"key,split\n", b"x" * 40], [f"{split.ASSIGNMENT} does not parse: a row is longer "
                                        "than 32 bytes"]),
    (None, [b"key,split\nlonely\n"], [f"{split.ASSIGNMENT} does not parse: the row 'lonely' "
                                      "names no split"]),
    (None, [b"key,split\n\"a,train\n"], [f"{split.ASSIGNMENT} does not parse: unexpected end "
                                          "of data"]),
    (None, [b"key,split\n\xff,train\n"], [f"{split.ASSIGNMENT} does not parse: 'utf-8' codec "
                                          "can't decode byte 0xff in position 10: invalid "
                                          "start byte"]),
])
def test_streamed_problems_table(old: list[bytes] | None, new: list[bytes],
                                 want: list[str]) -> None:
    assert splitcheck.problems(None if old is None else lambda: old, lambda: new, 32) == want


def test_streamed_problems_name_a_hundred_and_count_the_rest() -> None:
    old = b"key,split\n" + b"".join(b"k%d,train\n" % i for i in range(500))
    new = b"key,split\n" + b"".join(b"k%d,test\n" % i for i in range(400))
    said = split.problems(old, new)
    assert len(said) == splitcheck.MAX_SAID + 1
    assert said[0] in {f"item 'k{i}' moved from train to test" for i in range(400)} | {
        f"item 'k{i}' was removed from the split (it was in train)" for i in range(400, 500)}
    assert said[-1] == "400 more items moved, removed or in two splits"


def test_streamed_problems_stop_reading_past_the_row_limit() -> None:
    read: list[int] = []

    def endless() -> Iterator[bytes]:
        yield b"key,split\n"
        for i in range(1000):
            read.append(i)
            yield b"".join(b"k%d-%d,train\n" % (i, j) for j in range(100))

    assert splitcheck.problems(None, endless, 64, max_rows=250) == [
        f"{split.ASSIGNMENT} holds more than 250 items, over the limit branchml judges (it was "
        "not read further)"]
    assert len(read) == 3


def test_streamed_problems_agree_with_the_whole_file_reading() -> None:
    old = b"key,split\na,train\nb,val\n"
    new = b"key,split\na,train\nb,test\nc,val\n\"d,e\",train\n"
    chunks = [new[i:i + 3] for i in range(0, len(new), 3)]
    assert splitcheck.problems(lambda: [old], lambda: chunks, 64) == split.problems(old, new) \
        == ["item 'b' moved from val to test"]


# -- release tags (findings 01, 01b) -----------------------------------------------------------

def _release(project: Path, bml, params: bytes) -> str:  # type: ignore[no-untyped-def]
    git("checkout", "-q", "stable/model", cwd=project)
    commit(project, {"models/m.bin": "m\n", "tracking/params.json": params})
    r = bml("tag", "--client", "acme", cwd=project)
    assert r.code == 0, r.err
    return git("rev-parse", "HEAD", cwd=project)


@pytest.mark.slow
def test_release_of_a_commit_with_huge_params_is_refused_unread(
        project: Path, installed_server: Path, tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]
    first = _release(project, bml, b'{"lr": 1}\n')
    assert git_proc("push", "origin", "stable/model", "acme-v1", cwd=project).returncode == 0
    # the same manifest, hand-made for a commit whose params.json is 64 MiB of spaces
    size = 64 * MIB
    second = commit_blob(project, "tracking/params.json",
                         big_blob(project, b'{"lr": 2', b" ", size, b"}"), "params")
    assert git_proc("push", "--no-verify", "origin", "stable/model", cwd=project).returncode == 0
    body = git("cat-file", "tag", "acme-v1", cwd=project).replace("acme-v1", "acme-v2")
    body = body.replace(first, second)
    tag = git("hash-object", "-t", "tag", "-w", "--stdin", cwd=project, input=body + "\n")
    before = server_refs(installed_server)
    done, peak = measured(tmp_path, ["git", "push", "--no-verify", "origin",
                                     f"{tag}:refs/tags/acme-v2"], project)
    assert done.returncode != 0
    assert (f"release tag acme-v2: {second[:10]}:tracking/params.json holds {size:,} bytes, "
            f"over the limit of {bounds.TRACKING_JSON:,} bytes (1 MiB) branchml reads of it; "
            "it was not read: keep params and metrics small") in done.stderr
    assert server_refs(installed_server) == before
    assert peak < PEAK_KB, peak
    # and `branchml tag` itself says so before it makes anything
    r = bml("tag", "--client", "acme", cwd=project)
    assert r.code == 2 and "over the limit of 1,048,576 bytes (1 MiB)" in r.err
    assert len(r.err.strip().splitlines()) == 1


@pytest.mark.slow
def test_release_tag_object_of_huge_size_is_refused_unread(
        project: Path, installed_server: Path, tmp_path: Path) -> None:
    main = git("rev-parse", "main", cwd=project)
    head = (f"object {main}\ntype commit\ntag acme-v9\ntagger A <a@b.c> 1700000000 +0000\n\n"
            ).encode()
    size = 64 * MIB
    tag = big_blob(project, head, b"x", size)  # a blob first, to write it in chunks ...
    tag = _as_tag(project, tag)  # ... then the same bytes as a tag object
    before = server_refs(installed_server)
    done, peak = measured(tmp_path, ["git", "push", "--no-verify", "origin",
                                     f"{tag}:refs/tags/acme-v9"], project)
    assert done.returncode != 0
    assert (f"release tag acme-v9: its tag object holds {size:,} bytes, over the limit of "
            "4 MiB for a release (a manifest is a few KiB)") in done.stderr
    assert server_refs(installed_server) == before
    assert peak < PEAK_KB, peak


def _as_tag(repo: Path, blob: str) -> str:
    """The blob's bytes written again as a tag object, streamed through git (not held here)."""
    cat = subprocess.Popen(["git", "cat-file", "blob", blob], cwd=repo, stdout=subprocess.PIPE)
    done = subprocess.run(["git", "hash-object", "-t", "tag", "-w", "--stdin",
                           "--literally"], cwd=repo, stdin=cat.stdout, capture_output=True,
                          check=True)
    cat.wait()
    return done.stdout.decode().strip()


@pytest.mark.slow
def test_release_legit_twin_small_params(project: Path, installed_server: Path,
                                         bml) -> None:  # type: ignore[no-untyped-def]
    _release(project, bml, b'{"lr": 1}\n')
    p = git_proc("push", "origin", "stable/model", "acme-v1", cwd=project)
    assert p.returncode == 0, p.stderr
    assert git("rev-parse", "refs/tags/acme-v1", cwd=installed_server)


# -- branchml.yaml on main (findings 02b, 02) --------------------------------------------------

def _big_config(project: Path) -> int:
    git("checkout", "-q", "main", cwd=project)
    old = (project / "branchml.yaml").read_bytes()
    size = len(old) + 64 * MIB
    commit_blob(project, "branchml.yaml", big_blob(project, old + b"#", b"a", size), "big")
    return size


@pytest.mark.slow
def test_huge_config_pushed_to_main_is_refused_unread(
        project: Path, installed_server: Path, tmp_path: Path) -> None:
    size = _big_config(project)
    before = server_refs(installed_server)
    done, peak = measured(tmp_path, ["git", "push", "--no-verify", "origin", "main"], project)
    assert done.returncode != 0
    assert (f"branchml.yaml is not a valid config: {size:,} bytes is over the limit of "
            "65,536 bytes (64 KiB); keep the config small") in done.stderr
    assert server_refs(installed_server) == before
    assert peak < PEAK_KB, peak


@pytest.mark.slow
def test_huge_config_in_a_first_push_is_refused_unread(project: Path, tmp_path: Path) -> None:
    size = _big_config(project)
    empty = installed(tmp_path, "empty.git")
    done, peak = measured(tmp_path, ["git", "push", "--no-verify", str(empty), "main"], project)
    assert done.returncode != 0
    assert f"{size:,} bytes is over the limit of 65,536 bytes" in done.stderr
    assert server_refs(empty) == ""
    assert peak < PEAK_KB, peak


@pytest.mark.slow
def test_first_push_legit_twin(project: Path, tmp_path: Path) -> None:
    empty = installed(tmp_path, "empty.git")
    p = git_proc("push", str(empty), "--all", cwd=project)
    assert p.returncode == 0, p.stderr
    assert git("rev-parse", "main", cwd=empty) == git("rev-parse", "main", cwd=project)


@pytest.mark.slow
def test_clone_of_a_remote_with_a_huge_config_is_refused_unread(
        project: Path, tmp_path: Path) -> None:
    bare = tmp_path / "remote.git"
    git("init", "-q", "--bare", "-b", "main", str(bare), cwd=tmp_path)
    git("push", "-q", str(bare), "--all", cwd=project)
    twin = subprocess.run([f"{BIN}/branchml", "clone", str(bare), "twin"], cwd=tmp_path,
                          capture_output=True, text=True)
    assert twin.returncode == 0, twin.stderr  # the legitimate twin: the same remote, before
    size = _big_config(project)
    git("push", "-q", "--no-verify", str(bare), "main", cwd=project)
    done, peak = measured(tmp_path, ["branchml", "clone", str(bare), "victim"], tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1] == (
        f"branchml: error: {bare} main:branchml.yaml: {size:,} bytes is over the limit of "
        "65,536 bytes (64 KiB); it was not read, and nothing was cloned.")
    assert not (tmp_path / "victim").exists()
    assert peak < PEAK_KB, peak
