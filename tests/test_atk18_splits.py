"""Security review of issue 18 (atk18), the split findings: `split rows` never follows links
in tracking/ (04) nor replaces a special file at -o (12); every split record the manifest keeps
is judged, none dropped silently (13); records in LFS are refused (17); assignments are read in
bounded memory (05); JSON lines split at LF only (19). Each attack beside its legitimate twin."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from branchml.core.split import bucket
from tests.conftest import BIN, SPLIT_ROWS, commit, empty_server, git, git_proc, snapshot

ROWS = SPLIT_ROWS


def expected(name: str) -> list[str]:
    return [str(i) for i in range(ROWS) if bucket(str(i), 0, (0.8, 0.1, 0.1)) == name]


def rows_to(repo: Path, bml, out: Path, name: str = "train", purpose: str = "train"):  # type: ignore[no-untyped-def]
    return bml("split", "rows", name, "-o", str(out), "--for", purpose, cwd=repo)


# -- 04: links in tracking/ -----------------------------------------------------------------
def test_04_a_symlinked_splits_jsonl_is_refused_not_copied(trained: Path, tmp_path: Path,
                                                           bml) -> None:  # type: ignore[no-untyped-def]
    secret = tmp_path / "secret"
    secret.write_text("SECRET-KEY-MATERIAL\n")
    (trained / "tracking").mkdir(exist_ok=True)
    os.symlink(secret, trained / "tracking/splits.jsonl")
    git("add", "tracking", cwd=trained)
    git("commit", "-qm", "training setup", cwd=trained)  # the hooks accept it (tracking)
    before = snapshot(trained)
    r = rows_to(trained, bml, tmp_path / "v.csv", "val", "tune")
    assert (r.code, r.err) == (2, "branchml: error: tracking/splits.jsonl in the working tree "
                               "is a symbolic link (or not a plain file or folder): split rows "
                               "never follows links there; replace it with a plain one (git rm "
                               "it) and run again.\n")
    assert (trained / "tracking/splits.jsonl").is_symlink()
    assert secret.read_text() == "SECRET-KEY-MATERIAL\n"
    assert snapshot(trained) == before and not (tmp_path / "v.csv").exists()


def test_04_a_symlinked_tracking_folder_is_refused_nothing_written_outside(
        trained: Path, tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]
    outside = tmp_path / "outside"
    outside.mkdir()
    git("checkout", "-q", "-f", "dev/model", cwd=trained)
    os.symlink(outside, trained / "tracking")
    git("add", "tracking", cwd=trained)
    git("commit", "-qm", "tracking elsewhere", cwd=trained)
    r = rows_to(trained, bml, tmp_path / "t.csv")
    assert r.code == 2 and r.err.startswith("branchml: error: tracking in the working tree is "
                                            "a symbolic link")
    assert list(outside.iterdir()) == [] and not (tmp_path / "t.csv").exists()


def test_04_twin_a_plain_tracking_folder_still_records(trained: Path, tmp_path: Path,
                                                       bml) -> None:  # type: ignore[no-untyped-def]
    (trained / "tracking").mkdir(exist_ok=True)
    (trained / "tracking/splits.jsonl").write_text("")
    assert rows_to(trained, bml, tmp_path / "t.csv").code == 0
    assert rows_to(trained, bml, tmp_path / "v.csv", "val", "tune").code == 0
    records = (trained / "tracking/splits.jsonl").read_text().splitlines()
    assert [json.loads(x)["split"] for x in records] == ["train", "val"]
    assert not (trained / "tracking/splits.jsonl").is_symlink()


# -- 12: -o onto a link, a FIFO ---------------------------------------------------------------
def test_12_o_refuses_a_symlink_and_leaves_it(trained: Path, tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "real.txt").write_text("keep\n")
    os.symlink("real.txt", tmp_path / "link")
    before = snapshot(trained)
    r = rows_to(trained, bml, tmp_path / "link")
    assert (r.code, r.err) == (2, f"branchml: error: -o {tmp_path / 'link'} is a symbolic "
                               "link; split rows never writes through a link: name the file "
                               "itself.\n")
    assert (tmp_path / "link").is_symlink() and (tmp_path / "real.txt").read_text() == "keep\n"
    assert snapshot(trained) == before  # no record of a request that wrote nothing


def test_12_o_refuses_a_fifo_and_leaves_it(trained: Path, tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]
    os.mkfifo(tmp_path / "fifo")
    r = rows_to(trained, bml, tmp_path / "fifo")
    assert (r.code, r.err) == (2, f"branchml: error: -o {tmp_path / 'fifo'} is not a regular "
                               "file (a FIFO, socket or device); name a regular file, which "
                               "split rows replaces whole.\n")
    assert stat.S_ISFIFO((tmp_path / "fifo").lstat().st_mode)
    assert not (trained / "tracking/splits.jsonl").exists()


def test_12_twin_o_replaces_a_regular_file_whole(trained: Path, tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "t.csv"
    out.write_text("old\n")
    r = rows_to(trained, bml, out)
    assert r.code == 0, r.err
    lines = out.read_text().splitlines()
    assert lines[0] == "id,x" and [x.split(",")[0] for x in lines[1:]] == expected("train")
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def server_refs(bare: Path) -> str:
    return git("for-each-ref", "--format=%(refname) %(objectname)", cwd=bare)


def push_release(repo: Path, bare: Path) -> subprocess.CompletedProcess[str]:
    for branch in ("raw", "clean", "split", "dev/model", "stable/model"):  # LFS objects too
        pushed = git_proc("push", "origin", branch, cwd=repo)
        assert pushed.returncode == 0, pushed.stderr
    return git_proc("push", "--no-verify", "origin", "refs/tags/acme-v1", cwd=repo)


# -- 13: every record kept is judged, none dropped silently -----------------------------------
def first_record(repo: Path, bml, tmp_path: Path, name: str = "test",  # type: ignore[no-untyped-def]
                 purpose: str = "train") -> dict:  # type: ignore[type-arg]
    assert rows_to(repo, bml, tmp_path / "first.csv", name, purpose).code == 0
    return json.loads((repo / "tracking/splits.jsonl").read_text().splitlines()[0])  # type: ignore[no-any-return]


def release_commit(repo: Path, records: list[dict]) -> str:  # type: ignore[type-arg]
    text = "".join(json.dumps(r) + "\n" for r in records)
    return commit(repo, {"models/model.pkl": "w", "tracking/splits.jsonl": text})


def spelled_otherwise(r: dict) -> list[dict]:  # type: ignore[type-arg]
    return [dict(r, rows=2.0), dict(r, split="train, test"), dict(r, purpose="Train")]


def local_warn(repo: Path) -> None:
    """tags.leakage: warn on the local main only (the server's main stays refuse)."""
    cfg = git("show", "main:branchml.yaml", cwd=repo).replace(
        '  format: "{client}-v{n}"', '  format: "{client}-v{n}"\n  leakage: warn')
    git("checkout", "-q", "main", cwd=repo)
    commit(repo, {"branchml.yaml": cfg + "\n"})
    git("checkout", "-q", "stable/model", cwd=repo)


def test_13_records_spelled_otherwise_are_refused_by_tag(trained: Path, tmp_path: Path,
                                                          bml) -> None:  # type: ignore[no-untyped-def]
    release_commit(trained, spelled_otherwise(first_record(trained, bml, tmp_path)))
    before = snapshot(trained)
    r = bml("tag", "--client", "acme", cwd=trained)
    assert (r.code, r.err) == (1, "branchml: error: acme's release cannot be judged for "
                               "leakage: line 1 of tracking/splits.jsonl is not a record `split "
                               "rows` writes (rows is 2.0, not a whole number) (and 2 more); "
                               "record requests with `branchml split rows`, or set "
                               "tags.leakage: warn in branchml.yaml on main.\n")
    assert snapshot(trained) == before  # nothing tagged


def test_13_warn_mode_says_each_record_and_drops_none_silently(trained: Path, tmp_path: Path,
                                                                bml) -> None:  # type: ignore[no-untyped-def]
    local_warn(trained)
    release_commit(trained, spelled_otherwise(first_record(trained, bml, tmp_path)))
    r = bml("tag", "--client", "acme", cwd=trained)
    assert r.code == 0
    assert r.err.splitlines() == [
        "branchml: warning: leakage: line 1 of tracking/splits.jsonl is not a record `split "
        "rows` writes (rows is 2.0, not a whole number)",
        "branchml: warning: leakage: the request for split 'train, test' with purpose 'train' "
        "is not one `split rows` writes",
        "branchml: warning: leakage: the request for split 'test' with purpose 'Train' is not "
        "one `split rows` writes"]
    m = json.loads(bml("show", "acme-v1", "--json", cwd=trained).out)
    assert [(s["split"], s["purpose"]) for s in m["splits"]] == [("train, test", "train"),
                                                                 ("test", "Train")]


def test_13_twin_records_as_split_rows_writes_them_are_tagged(trained: Path, tmp_path: Path,
                                                              bml) -> None:  # type: ignore[no-untyped-def]
    r = first_record(trained, bml, tmp_path, "train", "train")
    release_commit(trained, [r, dict(r, split="train,val", purpose="tune")])
    got = bml("tag", "--client", "acme", cwd=trained)
    assert (got.code, got.err) == (0, "")


@pytest.mark.slow
def test_13_server_refuses_records_spelled_otherwise(trained: Path, tmp_path: Path,
                                                     bml) -> None:  # type: ignore[no-untyped-def]
    bare = empty_server(trained, tmp_path)
    assert git_proc("push", "--no-verify", "origin", "main", cwd=trained).returncode == 0
    local_warn(trained)
    r = first_record(trained, bml, tmp_path, "train", "train")
    release_commit(trained, [r, dict(r, split="train, test")])
    assert bml("tag", "--client", "acme", cwd=trained).code == 0  # warned locally
    p = push_release(trained, bare)
    assert p.returncode != 0 and "pre-receive hook declined" in p.stderr
    assert ("release tag acme-v1: its split records cannot be judged for leakage (the request "
            "for split 'train, test' with purpose 'train' is not one `split rows` writes)") \
        in p.stderr
    assert "refs/tags/acme-v1" not in server_refs(bare)


# -- 17: split records in git-lfs -------------------------------------------------------------
IN_LFS = ("tracking/splits.jsonl is stored in git-lfs (a pointer), so the leakage guard cannot "
          "read the split records: they must be a plain git blob; stop tracking it in git-lfs "
          "(`git lfs untrack tracking/splits.jsonl`, then `git rm --cached` and `git add` it "
          "before you commit).")


def lfs_records(repo: Path, record: dict) -> str:  # type: ignore[type-arg]
    """The release commit with its records stored as an LFS pointer (`git lfs clean` puts the
    object in the local store, so a push uploads it), made with plumbing."""
    text = json.dumps(record) + "\n"
    pointer = subprocess.run(["git", "lfs", "clean", "tracking/splits.jsonl"], cwd=repo,
                             input=text.encode(), capture_output=True, check=True).stdout
    blob = subprocess.run(["git", "hash-object", "-w", "--stdin"], cwd=repo, input=pointer,
                          capture_output=True, check=True).stdout.decode().strip()
    (repo / "tracking/splits.jsonl").unlink()
    commit(repo, {"models/model.pkl": "w"})
    git("update-index", "--add", "--cacheinfo", f"100644,{blob},tracking/splits.jsonl", cwd=repo)
    git("commit", "-q", "--no-verify", "-m", "train", cwd=repo)
    git("checkout", "-q", "-f", "HEAD", cwd=repo)
    return git("rev-parse", "HEAD", cwd=repo)


def test_17_split_rows_refuses_records_git_lfs_would_store(trained: Path, tmp_path: Path,
                                                            bml) -> None:  # type: ignore[no-untyped-def]
    git("lfs", "track", "tracking/splits.jsonl", cwd=trained)
    r = rows_to(trained, bml, tmp_path / "t.csv", "test", "train")
    assert (r.code, r.err) == (2, f"branchml: error: {IN_LFS}\n")
    assert not (tmp_path / "t.csv").exists()
    assert not (trained / "tracking/splits.jsonl").exists()


def test_17_tag_refuses_records_stored_as_an_lfs_pointer_even_under_warn(
        trained: Path, tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]
    local_warn(trained)
    lfs_records(trained, first_record(trained, bml, tmp_path))
    assert git("cat-file", "-p", "HEAD:tracking/splits.jsonl", cwd=trained).startswith(
        "version https://git-lfs")
    before = snapshot(trained)
    r = bml("tag", "--client", "acme", cwd=trained)
    assert (r.code, r.err) == (1, f"branchml: error: {IN_LFS}\n")
    assert snapshot(trained) == before


@pytest.mark.slow
def test_17_server_refuses_a_release_whose_records_are_in_lfs(trained: Path, tmp_path: Path,
                                                              bml) -> None:  # type: ignore[no-untyped-def]
    """The tag made by hand (`git mktag`, a true manifest computed in-process), the server's
    trusted config at refuse: the pointer is refused, refs unmoved."""
    from branchml.content import manifests
    from branchml.core import manifest as core
    from branchml.ops.trusted import load_trusted, trusted_ref
    from branchml.repo.reader import Git

    bare = empty_server(trained, tmp_path)
    assert git_proc("push", "--no-verify", "origin", "main", cwd=trained).returncode == 0
    sha = lfs_records(trained, first_record(trained, bml, tmp_path))
    g = Git(trained)
    base = manifests.compute(g, load_trusted(g, [trusted_ref(g)]).policy, sha, "stable/model")
    m = manifests.stamp(base, "acme-v1", "acme", 1, "T <t@e.com>", "")
    g.close()
    text = (f"object {sha}\ntype commit\ntag acme-v1\ntagger T <t@e.com> 0 +0000\n\n"
            + core.render(core.summary(m), m))
    tag = subprocess.run(["git", "mktag"], cwd=trained, input=text, capture_output=True,
                         text=True, check=True).stdout.strip()
    git("update-ref", "refs/tags/acme-v1", tag, cwd=trained)
    p = push_release(trained, bare)
    assert p.returncode != 0
    assert f"release tag acme-v1: {IN_LFS.rstrip('.')}" in p.stderr
    assert "refs/tags/acme-v1" not in server_refs(bare)


# -- 05: assignments read in bounded memory ---------------------------------------------------
RSS = ("import resource, subprocess, sys\n"
       "done = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
       "print(done.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, "
       "repr(done.stderr))\n")


def test_05_a_large_legal_assignment_is_read_in_bounded_memory(trained: Path,
                                                                tmp_path: Path) -> None:
    """1,000,000 more items on split (13 MB, a quarter of the checker's row bound): the old
    reading held every key as a string (~400 MB here); hashed it is ~10 bytes a row."""
    git("checkout", "-q", "split", cwd=trained)
    with (trained / "data/split/assignment.csv").open("a") as f:
        f.writelines(f"k{i},train\n" for i in range(1000, 1_001_000))
    git("commit", "-qam", "many items", "--no-verify", cwd=trained)
    git("checkout", "-q", "stable/model", cwd=trained)
    out = tmp_path / "t.csv"
    done = subprocess.run([sys.executable, "-c", RSS, f"{BIN}/branchml", "split", "rows",
                           "train", "-o", str(out), "--for", "train", "--rev", "split"],
                          cwd=trained, capture_output=True, text=True, check=True)
    code, rss_kib, err = done.stdout.split(" ", 2)
    assert code == "0", err
    assert int(rss_kib) < 160 * 1024, f"peak RSS {int(rss_kib) >> 10} MiB"
    lines = out.read_text().splitlines()
    assert [x.split(",")[0] for x in lines[1:]] == expected("train")


def test_05_an_assignment_over_the_checkers_size_bound_is_refused_unread(
        trained: Path, tmp_path: Path, bml) -> None:  # type: ignore[no-untyped-def]
    """A hand-made split commit whose assignment is an LFS pointer claiming 300 MB (no
    object anywhere): refused by its size before anything is fetched or read."""
    pointer = ("version https://git-lfs.github.com/spec/v1\noid sha256:" + "a" * 64
               + "\nsize 300000000\n")
    blob = git("hash-object", "-w", "--stdin", cwd=trained, input=pointer)
    tree = git("ls-tree", "split", cwd=trained)
    split_tree = git("ls-tree", "split:data/split", cwd=trained)
    inner = git("mktree", cwd=trained, input="\n".join(
        ln if not ln.endswith("\tassignment.csv") else f"100644 blob {blob}\tassignment.csv"
        for ln in split_tree.splitlines()) + "\n")
    data = git("mktree", cwd=trained, input="\n".join(
        ln if not ln.endswith("\tsplit") else f"040000 tree {inner}\tsplit"
        for ln in git("ls-tree", "split:data", cwd=trained).splitlines()) + "\n")
    root = git("mktree", cwd=trained, input="\n".join(
        ln if not ln.endswith("\tdata") else f"040000 tree {data}\tdata"
        for ln in tree.splitlines()) + "\n")
    sha = git("commit-tree", root, "-p", "split", "-m", "huge", cwd=trained)
    before = snapshot(trained)
    r = bml("split", "rows", "train", "-o", str(tmp_path / "t.csv"), "--rev", sha, cwd=trained)
    assert (r.code, r.err) == (2, f"branchml: error: {sha[:10]}:data/split/assignment.csv "
                               "holds 300,000,000 bytes, over the 256 MiB the checker lets "
                               "onto split, so it was not read: split the items over fewer, "
                               "shorter keys.\n")
    assert snapshot(trained) == before and not (tmp_path / "t.csv").exists()


# -- 19: JSON lines split at LF only ----------------------------------------------------------
def test_19_a_raw_line_separator_inside_a_json_string_is_one_row(plain_project: Path,
                                                                 bml) -> None:  # type: ignore[no-untyped-def]
    """The reviewer's exact file: valid JSON lines whose one string holds a raw U+2028
    (`ensure_ascii=False`); `split --key` and `split rows` read it as pull does: 20 items."""
    rows = [{"id": i, "t": "a\u2028b" if i == 3 else "x"} for i in range(20)]
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    commit(plain_project, {"data/e.jsonl": text.encode()}, branch="raw")
    for src, dst in (("raw", "clean"), ("clean", "split")):
        assert bml("pull", src, dst, cwd=plain_project).code == 0
    r = bml("split", "--key", "id", "--json", cwd=plain_project)
    assert r.code == 0, r.err
    assert json.loads(r.out)["total"] == 20
    out = plain_project.parent / "all.jsonl"
    got = bml("split", "rows", "train,val,test", "-o", str(out), "--for", "evaluate", "--json",
              cwd=plain_project)
    assert got.code == 0, got.err
    assert json.loads(got.out)["rows"] == 20
    assert "a\u2028b" in out.read_text(encoding="utf-8")


def test_19_a_row_that_is_not_json_is_refused_by_name(plain_project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    commit(plain_project, {"data/e.jsonl": '{"id": 1}\n{"id": \n'}, branch="raw")
    for src, dst in (("raw", "clean"), ("clean", "split")):
        bml("pull", src, dst, cwd=plain_project)
    git("checkout", "-q", "split", cwd=plain_project)
    r = bml("split", "--key", "id", cwd=plain_project)
    assert (r.code, r.err) == (2, "branchml: error: data/e.jsonl: row 2 is not valid JSON; fix "
                               "it on its branch, then split again.\n")
