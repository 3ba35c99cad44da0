"""Security review of issue 18 (atk18), the split findings: `split rows` never follows links
in tracking/ (04) nor replaces a special file at -o (12); every split record the manifest keeps
is judged, none dropped silently (13); records in LFS are refused (17); assignments are read in
bounded memory (05); JSON lines split at LF only (19). Each attack beside its legitimate twin."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from branchml.core.split import bucket
from tests.conftest import commit, git, snapshot

ROWS = 40


@pytest.fixture
def trained(project: Path, bml) -> Path:  # type: ignore[no-untyped-def]
    """raw -> clean -> split (keyed by id), code promoted, split pulled into stable/model,
    which is checked out (as in test_leakage.py)."""
    rows = "".join(f"{i},{i * 2}\n" for i in range(ROWS))
    commit(project, {"data/d.csv": "id,x\n" + rows}, branch="raw")
    for src, dst in (("raw", "clean"), ("clean", "split")):
        assert bml("pull", src, dst, cwd=project).code == 0
    assert bml("split", "--key", "id", cwd=project).code == 0
    commit(project, {"src/train.py": "print('train')\n"}, branch="dev/model")
    assert bml("promote", "dev/model", "stable/model", cwd=project).code == 0
    assert bml("pull", "split", "stable/model", cwd=project).code == 0
    git("checkout", "-q", "stable/model", cwd=project)
    return project


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
