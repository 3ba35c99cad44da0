"""The row helper process: the same answer as in-process, and never needed for one."""

from __future__ import annotations

import subprocess
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from branchml.content import rowworker
from branchml.core import native
from branchml.core.newrows import rows_on_both
from branchml.core.rows import RowFormat
from tests.conftest import BIN, commit, git
from tests.test_merge import lfs_content


@pytest.fixture
def helper(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("BRANCHML_ROW_HELPER", "1")
    monkeypatch.setattr(native, "_lib", None)  # the helper only starts without the C hashes
    rowworker.start()
    assert rowworker.running()
    yield
    rowworker.stop()


def _files(tmp_path: Path, sides: dict[str, bytes]) -> dict[str, Path]:
    out = {}
    for name, data in sides.items():
        out[name] = tmp_path / name
        out[name].write_bytes(data)
    return out


def _here(fmt: RowFormat, f: dict[str, Path]) -> Counter[bytes]:
    return rows_on_both(fmt, lambda: f["base"].open("rb"), lambda: f["ours"].open("rb"),
                        lambda: f["theirs"].open("rb"))


@pytest.mark.parametrize("term", [b"\n", b"\r\n"])
def test_helper_answers_as_the_command_would(helper: None, tmp_path: Path, term: bytes) -> None:
    base = b"id,v" + term + b"1,a" + term
    rows = [b"%d,x\xff" % i for i in range(3000)]  # not UTF-8: bytes go through unchanged
    f = _files(tmp_path, {
        "base": base,
        "ours": base + term.join([*rows[:2000], rows[1600]]) + term,  # one added twice
        "theirs": base + term.join([*rows[1500:], b'"q\nq",1']) + term,
    })
    pending = rowworker.submit("csv", f["base"], f["ours"], f["theirs"])
    both = Counter(rows[1500:2000]) + Counter([rows[1600]])  # counted: a multiset
    assert pending.result() == _here(RowFormat.CSV, f) == both
    # the helper serves one request after another
    again = rowworker.submit("csv", None, f["ours"], f["theirs"])
    assert again.result() == rows_on_both(RowFormat.CSV, None, lambda: f["ours"].open("rb"),
                                          lambda: f["theirs"].open("rb"))


def test_no_answer_means_the_caller_computes(helper: None, tmp_path: Path) -> None:
    f = _files(tmp_path, {"base": b"a\n", "ours": b"a\nb\n", "theirs": b"a\n\"c\n"})
    missing = rowworker.submit("csv", f["base"], f["ours"], tmp_path / "gone")
    assert missing.result() is None and not rowworker.running()  # an error: the helper ends
    assert rowworker.submit("csv", f["base"], f["ours"], f["theirs"]).result() is None
    rowworker.start()
    assert rowworker._worker is not None
    rowworker._worker.kill()
    rowworker._worker.wait()
    assert rowworker.submit("text", f["base"], f["ours"], f["theirs"]).result() is None


@pytest.mark.parametrize("value", [None, "0", "yes"])
def test_off_unless_asked_for(monkeypatch: pytest.MonkeyPatch, value: str | None) -> None:
    if value is None:
        monkeypatch.delenv("BRANCHML_ROW_HELPER", raising=False)
    else:
        monkeypatch.setenv("BRANCHML_ROW_HELPER", value)
    rowworker.start()
    assert not rowworker.running()


def test_not_started_beside_the_c_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    if not native.available():
        pytest.skip("the C row hashes are not built")
    monkeypatch.setenv("BRANCHML_ROW_HELPER", "1")
    rowworker.start()  # no NumPy import left to overlap: a second process would only cost
    assert not rowworker.running()


@pytest.mark.parametrize("helper_on", ["1", "0"])
def test_pull_of_lfs_rows_is_the_same_with_and_without_the_helper(project: Path, helper_on: str,
                                                                  tmp_path: Path) -> None:
    """Through the console script (`pull` starts the helper), rows both sides added once;
    a malformed row gets the same one-sentence error either way."""
    head = "id,v\n" + "".join(f"{i},b\n" for i in range(100))
    commit(project, {"data/x.csv": head}, branch="raw")
    git("checkout", "-q", "clean", cwd=project)
    git("merge", "-q", "--no-edit", "--no-verify", "raw", cwd=project)
    commit(project, {"data/x.csv": head + "200,o\n300,both\n"})
    commit(project, {"data/x.csv": head + "300,both\n400,t\n"}, branch="raw")
    git("checkout", "-q", "main", cwd=project)
    env = {"BRANCHML_ROW_HELPER": helper_on, "BRANCHML_NATIVE": "0",  # helper: only without C
           "PATH": f"{BIN}:/usr/bin:/bin",
           "HOME": str(Path.home())}

    def pull() -> subprocess.CompletedProcess[str]:
        return subprocess.run([f"{BIN}/branchml", "pull", "raw", "clean"], cwd=project,
                              env=env, capture_output=True, text=True)

    r = pull()
    assert r.returncode == 0, r.stderr
    assert lfs_content(project, "clean", "data/x.csv") == (head + "200,o\n300,both\n400,t\n"
                                                           ).encode()
    commit(project, {"data/x.csv": head + "200,o\n300,both\n400,t\n5,x,y\n"}, branch="raw")
    git("checkout", "-q", "main", cwd=project)
    commit(project, {"data/x.csv": head + "200,o\n300,both\n400,t\n6,z\n"}, branch="clean")
    git("checkout", "-q", "main", cwd=project)
    before = git("rev-parse", "clean", cwd=project)
    bad = pull()
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "fields" in bad.stderr
    assert git("rev-parse", "clean", cwd=project) == before
