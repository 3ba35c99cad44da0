"""Issue 18, the three-stage practice: `branchml split rows` records what training read, `tag`
puts the records in the manifest, refuses a release that trained on test items and warns when
the same test split was evaluated on by an earlier release ("only once"); `tag --next`."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pytest

from branchml import api
from branchml.core.split import bucket
from tests.conftest import SPLIT_ROWS, commit, empty_server, git, git_proc, snapshot

ROWS = SPLIT_ROWS


def expected(name: str) -> list[str]:
    return [str(i) for i in range(ROWS) if bucket(str(i), 0, (0.8, 0.1, 0.1)) == name]


def request(repo: Path, bml, name: str, purpose: str, out: str) -> dict:  # type: ignore[no-untyped-def, type-arg]
    r = bml("split", "rows", name, "-o", str(repo.parent / out), "--for", purpose, "--json",
            cwd=repo)
    assert r.code == 0, r.err
    return json.loads(r.out)  # type: ignore[no-any-return]


def train(repo: Path, weights: str) -> str:
    return commit(repo, {"models/model.pkl": weights,
                         "tracking/metrics.json": '{"acc": 0.9}',
                         "tracking/splits.jsonl": (repo / "tracking/splits.jsonl").read_text()})


def test_split_rows_writes_the_split_and_records_the_request(trained: Path, bml) -> None:  # type: ignore[no-untyped-def]
    got = request(trained, bml, "train", "train", "train.csv")
    lines = (trained.parent / "train.csv").read_text().splitlines()
    assert lines[0] == "id,x"
    assert [ln.split(",")[0] for ln in lines[1:]] == expected("train")
    head = git("rev-parse", "HEAD", cwd=trained)  # stable/model holds the assignment: read it
    assignment = (trained / "data/split/assignment.csv").read_bytes()  # as pulled from split
    assert got["rows"] == got["items"] == len(expected("train"))
    assert got["data_commit"] == head and got["branch"] == "stable/model"
    assert got["assignment"] == hashlib.sha256(assignment).hexdigest()
    record = json.loads((trained / "tracking/splits.jsonl").read_text())
    assert {k: record[k] for k in ("split", "purpose", "rows", "data_commit")} == {
        "split": "train", "purpose": "train", "rows": got["rows"], "data_commit": head}
    # the same through the Python API, typed
    r = api.split_rows("val", trained.parent / "val.csv", "tune", trained)
    assert r.rows == len(expected("val")) and r.purpose == "tune"
    assert len((trained / "tracking/splits.jsonl").read_text().splitlines()) == 2


def test_dry_run_writes_nothing(trained: Path, bml) -> None:  # type: ignore[no-untyped-def]
    before = snapshot(trained)
    r = bml("split", "rows", "train", "-o", str(trained.parent / "d.csv"), "--dry-run",
            cwd=trained)
    assert r.code == 0 and r.out.startswith(f"Would write {len(expected('train'))} row(s)")
    assert snapshot(trained) == before and not (trained.parent / "d.csv").exists()


def test_a_new_run_starts_the_records_again(trained: Path, bml) -> None:  # type: ignore[no-untyped-def]
    request(trained, bml, "train", "train", "a.csv")
    train(trained, "w1")
    request(trained, bml, "val", "tune", "b.csv")
    records = (trained / "tracking/splits.jsonl").read_text().splitlines()
    assert [json.loads(x)["split"] for x in records] == ["val"]


@pytest.mark.parametrize(("args", "message"), [
    (["holdout"], "'holdout' is not a split; name one of test, train, val, or several joined "
                  "by commas (train,val)."),
    (["train", "--for", "fit"], "--for 'fit' is not a purpose; use one of train, tune, "
                                "evaluate."),
])
def test_bad_requests_write_nothing(trained: Path, bml, args: list[str], message: str) -> None:  # type: ignore[no-untyped-def]
    before = snapshot(trained)
    r = bml("split", "rows", *args, "-o", str(trained.parent / "x.csv"), cwd=trained)
    assert (r.code, r.err) == (2, f"branchml: error: {message}\n")
    assert snapshot(trained) == before and not (trained.parent / "x.csv").exists()


def test_split_options_still_work_beside_rows(trained: Path, bml) -> None:  # type: ignore[no-untyped-def]
    r = bml("split", "--key", "id", cwd=trained)
    assert r.code == 0 and r.out.startswith("Nothing to split"), r.out + r.err


def test_train_on_train_evaluate_on_test_once_passes(trained: Path, bml) -> None:  # type: ignore[no-untyped-def]
    request(trained, bml, "train", "train", "train.csv")
    request(trained, bml, "val", "tune", "val.csv")
    request(trained, bml, "test", "evaluate", "test.csv")
    train(trained, "w1")
    r = bml("tag", "--client", "acme", cwd=trained)
    assert r.code == 0 and r.err == "", r.err
    m = json.loads(bml("show", "acme-v1", "--json", cwd=trained).out)
    assert [(s["split"], s["purpose"]) for s in m["splits"]] == [
        ("train", "train"), ("val", "tune"), ("test", "evaluate")]
    assert "  split    test for evaluate:" in bml("show", "acme-v1", cwd=trained).out
    assert bml("verify", "acme-v1", cwd=trained).code == 0  # the records are recomputed


def test_training_on_test_is_refused(trained: Path, bml) -> None:  # type: ignore[no-untyped-def]
    request(trained, bml, "train,test", "train", "all.csv")
    train(trained, "w1")
    before = snapshot(trained)
    r = bml("tag", "--client", "acme", cwd=trained)
    assert r.code == 1
    assert r.err.startswith("branchml: error: acme's release would train on test items: "
                            "`split rows train,test --for train` of assignment ")
    assert r.err.count("\n") == 1
    assert snapshot(trained) == before  # nothing tagged


def test_leakage_warn_mode_tags_with_a_warning(trained: Path, bml) -> None:  # type: ignore[no-untyped-def]
    cfg = git("show", "main:branchml.yaml", cwd=trained)
    cfg = cfg.replace('  format: "{client}-v{n}"', '  format: "{client}-v{n}"\n  leakage: warn')
    assert "leakage: warn" in cfg
    git("checkout", "-q", "main", cwd=trained)
    commit(trained, {"branchml.yaml": cfg + "\n"})
    git("checkout", "-q", "stable/model", cwd=trained)
    request(trained, bml, "test", "tune", "t.csv")
    train(trained, "w1")
    r = bml("tag", "--client", "acme", cwd=trained)
    assert r.code == 0, r.err
    assert r.err.startswith("branchml: warning: leakage: `split rows test --for tune`")


def test_evaluating_twice_warns_naming_the_first(trained: Path, bml) -> None:  # type: ignore[no-untyped-def]
    request(trained, bml, "test", "evaluate", "test.csv")
    train(trained, "w1")
    assert bml("tag", "--client", "acme", cwd=trained).code == 0
    request(trained, bml, "train", "train", "train.csv")
    train(trained, "w2")  # trained again, not evaluated: no warning
    r = bml("tag", "--client", "acme", cwd=trained)
    assert (r.code, r.err) == (0, "")
    request(trained, bml, "test", "evaluate", "test.csv")
    train(trained, "w3")
    r = bml("tag", "--client", "acme", "--json", cwd=trained)
    assert r.code == 0
    n = len(expected("test"))  # the same assignment: every test item was used by acme-v1
    warning = (f"{n} of the {n} test items this release of acme evaluates on were already used "
               "for evaluation by acme-v1: evaluate on test only once (a new test set needs "
               "new data).")
    assert json.loads(r.out)["warnings"] == [warning]
    assert r.err == f"branchml: warning: {warning}\n"
    # another client's release is not "earlier" for acme
    assert bml("tag", "--client", "beta", "--allow-same", cwd=trained).err == ""


def test_a_record_naming_no_assignment_is_reported(trained: Path, bml) -> None:  # type: ignore[no-untyped-def]
    """A record edited by hand (its digest names no assignment of its data commit) proves
    nothing: the release says it cannot be checked."""
    request(trained, bml, "test", "evaluate", "test.csv")
    path = trained / "tracking/splits.jsonl"
    record = json.loads(path.read_text())
    other = {**record, "assignment": "0" * 64, "split": "train", "purpose": "train"}
    path.write_text(json.dumps(record) + "\n" + json.dumps(other) + "\n")
    train(trained, "w1")
    r = bml("tag", "--client", "acme", cwd=trained)
    assert r.code == 0, r.err
    assert r.err == ("branchml: warning: `split rows train --for train` of assignment "
                     f"0000000000 cannot be checked: its data commit {record['data_commit'][:10]} "
                     "does not hold assignment 0000000000 here.\n")


def test_train_items_that_a_new_assignment_puts_in_test_are_refused(trained: Path, bml) -> None:  # type: ignore[no-untyped-def]
    """A split made anew (another seed, by hand on a new commit) moves items: training on the
    old assignment's train split and evaluating on the new one's test split leaks."""
    request(trained, bml, "train", "train", "train.csv")
    old_tip = git("rev-parse", "split", cwd=trained)
    moved = "key,split\n" + "".join(f"{i},{'test' if i < 20 else 'train'}\n" for i in range(ROWS))
    new = commit(trained, {"data/split/assignment.csv": moved}, branch="split")
    git("checkout", "-q", "stable/model", cwd=trained)
    r = bml("split", "rows", "test", "-o", str(trained.parent / "t.csv"), "--for", "evaluate",
            "--rev", new, "--json", cwd=trained)
    assert r.code == 0, r.err
    assert json.loads(r.out)["data_commit"] == new != old_tip
    train(trained, "w1")
    r = bml("tag", "--client", "acme", cwd=trained)
    assert r.code == 1
    assert "puts in test" in r.err and "`split rows train --for train`" in r.err


def test_next_names_the_next_release_and_writes_nothing(trained: Path, bml) -> None:  # type: ignore[no-untyped-def]
    assert bml("tag", "--client", "acme", "--next", cwd=trained).out == "acme-v1\n"
    commit(trained, {"models/model.pkl": "w1"})
    assert bml("tag", "--client", "acme", cwd=trained).code == 0
    commit(trained, {"models/model.pkl": "w2"})
    assert bml("tag", "--client", "acme", cwd=trained).code == 0
    before = snapshot(trained)
    r = bml("tag", "--client", "acme", "--next", "--json", cwd=trained)
    assert json.loads(r.out) == {"client": "acme", "tag": "acme-v3", "n": 3}
    assert bml("tag", "--client", "acme", "--next", cwd=trained).out == "acme-v3\n"
    assert snapshot(trained) == before
    assert api.next_release("acme", trained).tag == "acme-v3"
    assert api.next_release("zed", trained).tag == "zed-v1"


# -- the same refusal at the server: a release tag made without `tag` ---------------------------
def server_refs(bare: Path) -> str:
    return git("for-each-ref", "--format=%(refname) %(objectname)", cwd=bare)


def leaky_release(repo: Path, bml, name: str, purpose: str) -> None:  # type: ignore[no-untyped-def]
    """A release tagged here under a local `tags.leakage: warn` (main, not pushed), so the
    tag holds a true manifest whose records train on test (purpose `train`), or do not."""
    cfg = git("show", "main:branchml.yaml", cwd=repo).replace(
        '  format: "{client}-v{n}"', '  format: "{client}-v{n}"\n  leakage: warn')
    git("checkout", "-q", "main", cwd=repo)
    commit(repo, {"branchml.yaml": cfg + "\n"})
    git("checkout", "-q", "stable/model", cwd=repo)
    request(repo, bml, "test", purpose, "t.csv")
    train(repo, name)
    assert bml("tag", "--client", "acme", cwd=repo).code == 0


def push_release(repo: Path, bare: Path) -> subprocess.CompletedProcess[str]:
    for branch in ("raw", "clean", "split", "dev/model", "stable/model"):  # LFS objects too
        pushed = git_proc("push", "origin", branch, cwd=repo)
        assert pushed.returncode == 0, pushed.stderr
    return git_proc("push", "--no-verify", "origin", "refs/tags/acme-v1", cwd=repo)


@pytest.mark.slow
def test_server_refuses_a_release_that_trained_on_test(trained: Path, tmp_path: Path,
                                                       bml) -> None:  # type: ignore[no-untyped-def]
    bare = empty_server(trained, tmp_path)
    assert git_proc("push", "--no-verify", "origin", "main", cwd=trained).returncode == 0
    leaky_release(trained, bml, "w1", "train")
    before = server_refs(bare)
    p = push_release(trained, bare)
    assert p.returncode != 0 and "pre-receive hook declined" in p.stderr
    assert ("release tag acme-v1: its training took test items (`split rows test --for "
            "train`): train and tune on train and val, evaluate on test, or set tags.leakage: "
            "warn in branchml.yaml on main") in p.stderr
    assert "refs/tags/acme-v1" not in server_refs(bare)
    assert server_refs(bare) != before  # (the branches went in their own pushes)


@pytest.mark.slow
def test_server_accepts_the_twin_that_evaluated_on_test(trained: Path, tmp_path: Path,
                                                        bml) -> None:  # type: ignore[no-untyped-def]
    bare = empty_server(trained, tmp_path)
    assert git_proc("push", "--no-verify", "origin", "main", cwd=trained).returncode == 0
    leaky_release(trained, bml, "w1", "evaluate")
    p = push_release(trained, bare)
    assert p.returncode == 0, p.stderr
    assert "refs/tags/acme-v1" in server_refs(bare)


@pytest.mark.slow
def test_server_refuses_a_manifest_that_hides_the_records(trained: Path, tmp_path: Path,
                                                          bml) -> None:  # type: ignore[no-untyped-def]
    """The records cut out of a true manifest by hand (`git mktag`): the server recomputes
    `splits` from the commit, so the forgery does not verify."""
    bare = empty_server(trained, tmp_path)
    assert git_proc("push", "--no-verify", "origin", "main", cwd=trained).returncode == 0
    leaky_release(trained, bml, "w1", "train")
    body = git("cat-file", "tag", "acme-v1", cwd=trained)
    head, _, rest = body.partition("\n\n")
    m = json.loads(rest.split("-----BEGIN BRANCHML MANIFEST-----\n")[1]
                   .split("-----END BRANCHML MANIFEST-----")[0])
    del m["splits"]
    text = (head + "\n\nacme-v1\n\n-----BEGIN BRANCHML MANIFEST-----\n"
            + json.dumps(m, indent=2, sort_keys=True) + "\n-----END BRANCHML MANIFEST-----\n")
    sha = subprocess.run(["git", "mktag"], cwd=trained, input=text, capture_output=True,
                         text=True, check=True).stdout.strip()
    git("update-ref", "refs/tags/acme-v1", sha, cwd=trained)
    p = push_release(trained, bare)
    assert p.returncode != 0
    assert "release tag acme-v1: its manifest does not verify against its commit: it differs " \
        "in splits" in p.stderr
    assert "refs/tags/acme-v1" not in server_refs(bare)


def test_files_as_items_and_json_lines(plain_project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    """Without a key each file is an item: the rows of the files assigned to the split, one
    header; with a key over JSON lines, the rows whose field the assignment puts there."""
    files = {f"data/f{i}.csv": f"a,b\n{i},x\n{i},y\n" for i in range(12)}
    commit(plain_project, files, branch="split")
    assert bml("split", cwd=plain_project).code == 0
    got = api.split_rows("train,val", plain_project.parent / "tv.csv", "train", plain_project)
    chosen = [p for p in sorted(files) if bucket(p, 0, (0.8, 0.1, 0.1)) != "test"]
    lines = (plain_project.parent / "tv.csv").read_text().splitlines()
    assert lines[0] == "a,b" and lines.count("a,b") == 1
    assert (got.items, got.rows, len(lines)) == (len(chosen), 2 * len(chosen), 1 + 2 * len(chosen))
    commit(plain_project, {"data/img.png": b"\x89PNG"}, branch="split")
    assert bml("split", cwd=plain_project).code == 0
    name = bucket("data/img.png", 0, (0.8, 0.1, 0.1))
    r = bml("split", "rows", name, "-o", str(plain_project.parent / "x"), cwd=plain_project)
    assert (r.code, r.err) == (2, "branchml: error: data/img.png is an item of this split but "
                                  "has no row format (CSV, TSV, JSON lines): read the files "
                                  "the assignment lists instead.\n")


def test_keyed_json_lines(plain_project: Path, bml) -> None:  # type: ignore[no-untyped-def]
    rows = "".join(json.dumps({"cust": f"c{i}", "v": i}) + "\n" for i in range(30))
    commit(plain_project, {"data/a.jsonl": rows}, branch="split")
    assert bml("split", "--key", "cust", cwd=plain_project).code == 0
    got = api.split_rows("test", plain_project.parent / "t.jsonl", "evaluate", plain_project)
    want = [f"c{i}" for i in range(30) if bucket(f"c{i}", 0, (0.8, 0.1, 0.1)) == "test"]
    out = (plain_project.parent / "t.jsonl").read_text().splitlines()
    assert [json.loads(x)["cust"] for x in out] == want and got.rows == len(want)
