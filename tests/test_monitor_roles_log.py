"""Issue 19 (s2): column roles (declared and detected), production files without the label,
`monitor log` streamed with bounded memory, and `monitor log --date`; real repositories,
through the CLI (the fixture pattern of tests/test_monitor.py)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from branchml.core import roles
from branchml.errors import ConfigError
from tests.conftest import commit, copied_fixtures, git, release_for_monitoring, snapshot, write

project = copied_fixtures()


def table(rows: int, start: int = 1, seed: int = 1, label: bool = True, id_col: str = "id",
          ts: bool = True) -> str:
    """Undrifted rows with a consecutive integer id and a timestamp: ids of production rows
    follow the training ones, so as a feature the id would be all "outside the range"."""
    rnd = random.Random(seed)
    head = [id_col] + (["ts"] if ts else []) + ["x1", "x2", "cat"] + (["label"] if label
                                                                      else ["prediction"])
    lines = [",".join(head)]
    for i in range(start, start + rows):
        row = [str(i)] + ([f"2026-01-{1 + i % 28:02d} {i % 24:02d}:00:00"] if ts else [])
        row += [f"{rnd.gauss(0, 1):.4f}", f"{rnd.gauss(5, 2):.4f}",
                "b" if rnd.random() < 0.5 else "a", str(rnd.randint(0, 1))]
        lines.append(",".join(row))
    return "\n".join(lines) + "\n"


def release(repo: Path, bml, train: str, monitor: str = "  target: label") -> Path:  # type: ignore[no-untyped-def]
    return release_for_monitoring(repo, bml, train, monitor)


def log(bml, repo: Path, f: Path, *extra: str):  # type: ignore[no-untyped-def]
    return bml("monitor", "log", str(f), "--client", "acme", "--tag", "acme-v1", *extra,
               cwd=repo)


def check(bml, repo: Path) -> tuple[int, dict]:  # type: ignore[no-untyped-def,type-arg]
    r = bml("monitor", "check", "--tag", "acme-v1", "--json", cwd=repo)
    return r.code, json.loads(r.out)


# --- roles: detection (pure) ---------------------------------------------------------------

N = 50


@pytest.mark.parametrize(("name", "values", "role"), [
    ("id", [str(i) for i in range(7, 7 + N)], "id"),
    ("customer_id", [str(i * 13) for i in range(N)], "id"),       # id-like name
    ("userId", list(range(0, 3 * N, 3)), "id"),
    ("Unnamed: 0", [str(i * 2) for i in range(N)], "id"),         # pandas' index, read by pandas
    ("", [str(i * 2) for i in range(N)], "id"),                   # pandas' index, csv module
    ("n", [str(i) for i in range(100, 100 + N)], "id"),           # consecutive
    ("n", [str(i) for i in range(100, 100 + N)][::-1], "id"),     # consecutive, any order
    ("uuid", [f"{i:08x}-aa" for i in range(N)], "id"),           # text, distinct everywhere
    ("age", [str(i * 3) for i in range(N)], None),                # whole, distinct, not an id
    ("x1", [f"{random.Random(i).random():.6f}" for i in range(N)], None),  # continuous float
    ("x1", [0.5 + i for i in range(N)], None),                    # distinct floats: a feature
    ("id", [str(i) for i in range(N - 1)] + ["3"], None),         # a repeat: not an id
    ("id", [str(i) for i in range(N - 1)] + [""], None),          # a gap: not an id
    ("id", [str(i) for i in range(10)], None),                    # too few rows to tell
    ("cat", ["a", "b"] * (N // 2), None),
    ("day", ["2026-01-02"] * N, "timestamp"),
    ("ts", ["2026-01-02 10:00:00", "", "2026-01-03 11:30:15"], "timestamp"),
    ("ts", ["2026-01-02T10:00:00Z", "2026-01-02T10:00:00.123+01:00"], "timestamp"),
    ("ts", ["2026-13-02"], None),                                 # not a date
    ("ts", ["2026-01-02", "soon"], None),
    ("flag", [True, False] * (N // 2), None),
])
def test_detect(name: str, values: list, role: str | None) -> None:  # type: ignore[type-arg]
    found = roles.detect(name, values)
    assert (found[0] if found else None) == role


def test_detect_what_pandas_writes() -> None:
    pd = pytest.importorskip("pandas")
    import io

    frame = pd.DataFrame({
        "when": pd.date_range("2026-01-01", periods=N, freq="h"),
        "day": pd.date_range("2026-01-01", periods=N, freq="D"),
        "utc": pd.date_range("2026-01-01", periods=N, freq="37s", tz="UTC"),
        "fine": pd.date_range("2026-01-01", periods=N, freq="1234567ns"),
        "x": [i / 7 for i in range(N)]})
    text = frame.to_csv()  # with its index, as pandas writes by default
    back = pd.read_csv(io.StringIO(text), keep_default_na=False, na_values=[""])
    found = {c: roles.detect(c, back[c].to_numpy()) for c in back.columns}
    assert {c: f[0] if f else None for c, f in found.items()} == {
        "Unnamed: 0": "id", "when": "timestamp", "day": "timestamp", "utc": "timestamp",
        "fine": "timestamp", "x": None}


def test_declared_roles() -> None:
    r = roles.declared_roles({"columns": {"k": "key", "score": "prediction", "y": "target"},
                              "prediction": "prediction", "target": "label"})
    assert r.prediction == "score"  # monitor.columns wins over the default monitor.prediction
    assert {c: v[0] for c, v in r.declared.items()} == {
        "k": "id", "score": "prediction", "y": "target", "label": "target"}
    with pytest.raises(ConfigError, match=r"monitor\.target names label, but monitor\.columns "
                                          r"gives it the role ignore; give the column one role"):
        roles.declared_roles({"columns": {"label": "ignore"}, "target": "label"})
    with pytest.raises(ConfigError, match="names 2 prediction columns"):
        roles.declared_roles({"columns": {"a": "prediction", "b": "prediction"}})
    assert roles.declared_roles({"columns": {"label": "target"}, "target": "label"}
                                ).role("label") == "target"


# --- roles: monitor check and monitor log on real repositories -----------------------------


def test_issue_case_id_column_no_longer_alerts(plain_project: Path, bml, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    repo = release(plain_project, bml, table(3000))
    f = write(tmp_path, "day.csv", table(2000, start=3001, seed=2, label=False))
    assert log(bml, repo, f).code == 0
    code, out = check(bml, repo)
    assert code == 0 and out["alerts"] == []
    assert {x["feature"] for x in out["features"]} == {"x1", "x2", "cat"}
    assert [(x["column"], x["role"], x["declared"]) for x in out["left_out"]] == [
        ("id", "id", False), ("ts", "timestamp", False), ("label", "target", True)]
    assert out["left_out"][0]["reason"].endswith("and a name that says id")
    text = bml("monitor", "check", "--tag", "acme-v1", cwd=repo).out
    assert "Left out:\n- id (id, detected): whole numbers, a distinct value on each of 3000 " \
           "training rows" in text


def test_id_declared_ignore(plain_project: Path, bml, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # a name that says nothing and ids that are not consecutive: only the config can tell
    train = table(3000, id_col="ref").replace("\n", "\n").splitlines()
    train = [train[0]] + [f"{int(r.split(',', 1)[0]) * 7},{r.split(',', 1)[1]}"
                          for r in train[1:]]
    repo = release(plain_project, bml, "\n".join(train) + "\n")
    f = write(tmp_path, "day.csv", table(500, start=5000, seed=2, label=False, id_col="ref"))
    assert log(bml, repo, f).code == 0
    code, out = check(bml, repo)
    assert code == 1 and any(a.startswith("ref: ") for a in out["alerts"])  # scored: drifts
    cfg = git("show", "main:branchml.yaml", cwd=repo).replace(
        "  target: label", "  target: label\n  columns: {ref: ignore}")
    commit(repo, {"branchml.yaml": cfg + "\n"}, branch="main")
    code, out = check(bml, repo)
    assert code == 0 and out["alerts"] == []
    assert out["left_out"][0] == {"column": "ref", "role": "ignore", "declared": True,
                                  "reason": "declared by monitor.columns"}


def test_float_feature_distinct_everywhere_is_scored(plain_project: Path, bml,  # type: ignore[no-untyped-def]
                                                     tmp_path: Path) -> None:
    repo = release(plain_project, bml, table(3000, ts=False))
    f = write(tmp_path, "day.csv", table(500, start=3001, seed=2, label=False, ts=False)
              .replace(",a,", ",a,").replace("\n", "\n"))
    assert log(bml, repo, f).code == 0
    _, out = check(bml, repo)
    assert {"x1", "x2"} <= {x["feature"] for x in out["features"]}  # distinct floats: scored


def test_contradiction_and_bad_role_refused(plain_project: Path, bml, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    repo = release(plain_project, bml, table(100))
    f = write(tmp_path, "day.csv", table(10, start=200, label=False))
    cfg = git("show", "main:branchml.yaml", cwd=repo)
    commit(repo, {"branchml.yaml": cfg.replace("  target: label",
                                               "  target: label\n  columns: {label: ignore}")
                  + "\n"}, branch="main")
    before = snapshot(repo)
    for args in (("monitor", "check", "--tag", "acme-v1"),
                 ("monitor", "log", str(f), "--client", "acme", "--tag", "acme-v1")):
        r = bml(*args, cwd=repo)
        # an invalid trusted config since issue 19's walk (config validate and the hooks
        # refuse it; one committed without them is named as the trusted config's fault)
        assert r.code == 2 and "monitor.target names label, but monitor.columns gives it the " \
                               "role ignore; give the column one role" in r.err
        assert len(r.err.strip().splitlines()) == 1
    assert snapshot(repo) == before
    commit(repo, {"branchml.yaml": cfg.replace("  target: label",
                                               "  target: label\n  columns: {id: secret}")
                  + "\n"}, branch="main")
    r = bml("monitor", "check", "--tag", "acme-v1", cwd=repo)
    assert r.code == 2 and "monitor.columns" in r.err


# --- production files without the label ---------------------------------------------------


def test_label_free_production_files(plain_project: Path, bml, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    repo = release(plain_project, bml, table(300).replace("label", "malignant"),
                   monitor="  target: null")
    f = write(tmp_path, "day.csv", table(50, start=400, label=False))
    before = snapshot(repo)
    r = log(bml, repo, f)
    assert r.code == 2 and r.err.strip().endswith(
        "its columns do not match the training data (training columns missing: malignant; if "
        "malignant is the label, set monitor.target: malignant in main's branchml.yaml).")
    assert snapshot(repo) == before
    cfg = git("show", "main:branchml.yaml", cwd=repo).replace("  target: null",
                                                              "  target: malignant")
    commit(repo, {"branchml.yaml": cfg + "\n"}, branch="main")
    assert log(bml, repo, f).code == 0
    code, out = check(bml, repo)
    assert code == 0 and "malignant" not in {x["feature"] for x in out["features"]}


def test_target_role_and_absent_id_timestamp(plain_project: Path, bml, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    repo = release(plain_project, bml, table(300), monitor="  target: null\n  columns: "
                   "{label: target, note: ignore}")
    # no label (a target role), no id nor timestamp (detected), nothing ignored
    text = table(50, start=400, label=False).splitlines()
    f = write(tmp_path, "day.csv", "\n".join(",".join(r.split(",")[2:]) for r in text) + "\n")
    r = log(bml, repo, f)
    assert r.code == 0, r.err
    code, out = check(bml, repo)
    assert code == 0 and out["rows"] == 50
    # a feature missing is still refused, with no label hint (a target is named)
    g = write(tmp_path, "g.csv", "x1,cat,prediction\n1,a,0\n")
    r = log(bml, repo, g)
    assert r.code == 2 and r.err.strip().endswith("(training columns missing: x2).")


# --- monitor log --date ---------------------------------------------------------------------


@pytest.fixture
def old_release(plain_project: Path, bml, monkeypatch: pytest.MonkeyPatch) -> Path:  # type: ignore[no-untyped-def]
    """A release tagged on 2026-01-10 (the tagger date git records)."""
    monkeypatch.setenv("GIT_COMMITTER_DATE", "2026-01-10T23:30:00+00:00")
    repo = release(plain_project, bml, table(300))
    monkeypatch.delenv("GIT_COMMITTER_DATE")
    return repo


def test_log_date_backfills_a_day(old_release: Path, bml, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    repo = old_release
    f = write(tmp_path, "day.csv", table(40, start=500, label=False))
    before = snapshot(repo)
    r = log(bml, repo, f, "--date", "2026-01-15", "--dry-run", "--json")
    assert r.code == 0 and json.loads(r.out)["files"] == [
        "monitoring/acme/acme-v1/2026-01-15/day.csv"]
    assert snapshot(repo) == before  # a dry run writes nothing
    assert log(bml, repo, f, "--date", "2026-01-10").code == 0  # the tag's own day counts
    g = write(tmp_path, "more/day.csv", table(40, start=600, seed=7, label=False))
    assert log(bml, repo, g, "--date", "2026-01-15").code == 0
    names = git("ls-tree", "-r", "--name-only", "monitoring", cwd=repo).splitlines()
    assert {"monitoring/acme/acme-v1/2026-01-10/day.csv",
            "monitoring/acme/acme-v1/2026-01-15/day.csv"} <= set(names)
    # the same rows on another day were logged before: nothing added
    r = log(bml, repo, f, "--date", "2026-01-16")
    assert r.code == 0 and "Already logged" in r.out
    r = bml("monitor", "check", "--tag", "acme-v1", "--since", "2026-01-12", "--json", cwd=repo)
    assert json.loads(r.out)["rows"] == 40
    assert json.loads(r.out)["files"] == ["monitoring/acme/acme-v1/2026-01-15/day.csv"]


@pytest.mark.parametrize(("day", "message"), [
    ("2026-1-15", "--date '2026-1-15' is not a date; give it as YYYY-MM-DD."),
    ("../../x/y", "--date '../../x/y' is not a date; give it as YYYY-MM-DD."),
    ("2026-02-30", "--date '2026-02-30' is not a date; give it as YYYY-MM-DD."),
    ("2999-01-01", "--date 2999-01-01 is in the future (today is "),
    ("2026-01-09", "--date 2026-01-09 is before acme-v1 was released (2026-01-10), so that "
                   "day's rows are not its predictions; give a day on or after it."),
])
def test_log_date_refused(old_release: Path, bml, tmp_path: Path, day: str, message: str) -> None:  # type: ignore[no-untyped-def]
    f = write(tmp_path, "day.csv", table(5, start=500, label=False))
    before = snapshot(old_release)
    r = log(bml, old_release, f, "--date", day)
    assert r.code == 2 and message in r.err and len(r.err.strip().splitlines()) == 1
    assert snapshot(old_release) == before


def test_log_date_rows_validated_as_without(old_release: Path, bml, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    f = write(tmp_path, "bad.csv", "id,ts,x1,x2,cat,prediction\n1,2026-01-02,1,2,a,0\n"
                                   "2,2026-01-02,1,2,a\n")
    before = snapshot(old_release)
    for extra in ((), ("--date", "2026-01-12")):
        r = log(bml, old_release, f, *extra)
        assert r.code == 2 and "bad.csv: line 3 has 5 field(s) where the header has 6" in r.err
    assert snapshot(old_release) == before


# --- monitor log streamed ---------------------------------------------------------------------

GOOD = ["1", "-1", "+1.5", ".5", "5.", "1e5", "1E-5", "1.5e+3", "-.5", "5.e3", "", "0.00001",
        "12345678901234567890"]
NOT_PLAIN = ["1.2.3", "e5", "1e", "1e5.0", "-", "+", ".", "1-2", "--1", "1e-.5", "a", "1e5e5",
             ".e5", "1 ", " 1", "nan", "inf", "0x10", "1_000"]


@pytest.mark.parametrize("value", GOOD + NOT_PLAIN)
def test_plain_numbers(value: str) -> None:
    """numfields says "plain" only for what float() reads; anything else goes to the exact
    reader (which may still accept it: ` 1`, `nan`), never the other way round."""
    from branchml.core.numfields import plain_numbers

    blocks = [(f"{value},x\n", [True, False]), (f"x,{value}", [False, True]),
              (f"1,2\r\n{value},x\r\n", [True, False]), (f"x,1\nx,{value}\n", [False, True])]
    for block, numeric in blocks:
        assert plain_numbers(block.encode(), b",", 2, numeric) is (value in GOOD), block
    if value in GOOD and value:
        float(value)
    assert plain_numbers(f"{value}x,1\n".encode(), b",", 2, [False, True])  # text column


def test_plain_numbers_tsv_and_wrong_shape() -> None:
    from branchml.core.numfields import plain_numbers

    assert plain_numbers(b"1\t2.5\n3\t-4e2\n", b"\t", 2, [True, True])
    assert not plain_numbers(b"1,2,3\n", b",", 2, [True, True])  # not whole rows of 2


@pytest.mark.parametrize("size", [1, 3, 7, 64])
def test_check_logged_in_small_blocks(size: int) -> None:
    """The streamed check gives the same refusals and line numbers whatever the block size
    (blocks of whole lines: a line is never cut)."""
    from branchml.core.logcheck import check_logged
    from branchml.core.rows import format_for
    from branchml.errors import UsageError
    from tests.test_bad_input import test_check_logged as cases

    table_ = next(m for m in cases.pytestmark if m.name == "parametrize").args[1]
    for name, data, said in table_:
        if said is None:
            check_logged(data, format_for(name), name, block=size)
            continue
        with pytest.raises(UsageError) as e:
            check_logged(data, format_for(name), name, block=size)
        assert said in str(e.value), (name, data, size)


def big_table(rows: int, numeric_bad_at: int | None = None) -> bytes:
    head = "id,ts,x1,x2,cat,prediction\n"
    out = [head.encode()]
    for i in range(rows):
        x1 = "high" if i == numeric_bad_at else f"{(i * 37 % 1000) / 100 - 5:.2f}"
        out.append(f"{10_000 + i},2026-01-02,{x1},{5 + (i % 7) / 3:.3f},{'ab'[i % 2]},"
                   f"{i % 2}\n".encode())
    return b"".join(out)


def test_streamed_log_refuses_a_word_in_a_late_block(plain_project: Path, bml,  # type: ignore[no-untyped-def]
                                                     tmp_path: Path) -> None:
    repo = release(plain_project, bml, table(300))
    f = write(tmp_path, "big.csv", big_table(60_000, numeric_bad_at=55_000))  # ~2.3 MiB
    before = snapshot(repo)
    r = log(bml, repo, f)
    assert r.code == 2 and "big.csv: column x1 is numeric in the training data, but holds " \
                           "'high'; fix the file and log it again." in r.err
    assert snapshot(repo) == before
    g = write(tmp_path, "ok/big.csv", big_table(60_000))
    r = log(bml, repo, g)
    assert r.code == 0, r.err
    import subprocess

    def blob() -> bytes:
        return subprocess.run(["git", "cat-file", "blob", "monitoring:monitoring/acme/acme-v1/"
                               f"{_today()}/big.csv"], cwd=repo, capture_output=True).stdout

    assert blob() == g.read_bytes()
    # the same name again: a big plain old blob (inflated to a temporary file) then new rows
    h = write(tmp_path, "more/big.csv", big_table(50_000).replace(b"\n1", b"\n7"))
    assert log(bml, repo, h).code == 0
    assert blob() == g.read_bytes() + h.read_bytes().partition(b"\n")[2]
    r = log(bml, repo, g)
    assert r.code == 0 and "Already logged" in r.out
    assert git("fsck", "--no-dangling", cwd=repo) == ""  # the streamed loose objects are sound


def _today() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).strftime("%Y-%m-%d")


def test_streamed_log_quoted_file(plain_project: Path, bml, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    repo = release(plain_project, bml, table(300))
    rows = ["id,ts,x1,x2,cat,prediction"] + [f'{i},2026-01-02,{i % 9}.5,1,"a, quoted",0'
                                              for i in range(40_000)]
    bad = [*rows[:30_000], '1,2026-01-02,1,2,"open,0', *rows[30_000:]]
    f = write(tmp_path, "q.csv", "\n".join(bad) + "\n")
    r = log(bml, repo, f)
    assert r.code == 2 and "q.csv: line 30001 cannot be read as CSV" in r.err
    f = write(tmp_path, "q.csv", "\n".join(rows) + "\n")
    r = log(bml, repo, f)
    assert r.code == 0, r.err
    _, out = check(bml, repo)
    assert out["rows"] == 40_000


def test_streamed_append_and_logged_before(project: Path, bml, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """In a git-lfs project: the same name twice a day appends (old object, then the new
    rows, streamed into one new object); rows logged before, even in the middle of a grown
    file or on another day, are not logged again."""
    import hashlib

    repo = release(project, bml, table(300))
    a = big_table(30_000)
    b = big_table(20_000).replace(b"\n1", b"\n2")  # other rows, same header
    c = big_table(10).replace(b"\n1", b"\n3")
    dest = f"monitoring/acme/acme-v1/{_today()}/day.csv"
    for data in (a, b):
        assert log(bml, repo, write(tmp_path, "day.csv", data)).code == 0
    pointer = git("show", f"monitoring:{dest}", cwd=repo)
    want = a + b.partition(b"\n")[2]
    assert f"oid sha256:{hashlib.sha256(want).hexdigest()}" in pointer
    for data in (a, b, want):  # each logged already (a sits at the start, b at the end)
        r = log(bml, repo, write(tmp_path, "day.csv", data))
        assert r.code == 0 and "Already logged" in r.out
    r = log(bml, repo, write(tmp_path, "day.csv", a), "--date", "2026-01-01")
    assert r.code == 2  # before the release: refused before anything is read
    assert log(bml, repo, write(tmp_path, "day.csv", c)).code == 0
    grown = len(want) + len(c.partition(b"\n")[2])
    assert f"size {grown}" in git("show", f"monitoring:{dest}", cwd=repo)


def test_line_longer_than_the_bound_is_refused(plain_project: Path, bml,  # type: ignore[no-untyped-def]
                                               tmp_path: Path) -> None:
    from branchml.core.logcheck import MAX_LINE

    repo = release(plain_project, bml, table(30))
    f = tmp_path / "long.csv"
    with f.open("wb") as out:
        out.write(b"id,ts,x1,x2,cat,prediction\n1,2026-01-02,1,2,")
        out.write(b"a" * (MAX_LINE + 1))
        out.write(b",0\n")
    before = snapshot(repo)
    r = log(bml, repo, f)
    assert r.code == 2 and "long.csv: line 2 is longer than 32 MiB; split it into rows" in r.err
    assert snapshot(repo) == before


@pytest.mark.slow
def test_log_memory_flat_for_a_million_rows(project: Path, bml, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """~1M rows x 21 columns (~150 MiB) logged by the real CLI in its own process: peak RSS
    under 150 MiB (it held the whole file, 541 MiB for 171 MiB, before)."""
    import shutil
    import subprocess
    import sys

    time_bin = shutil.which("time") or "/usr/bin/time"
    if not Path(time_bin).exists():
        pytest.skip("GNU time is not installed")
    cols = [f"x{i}" for i in range(1, 20)]
    rnd = random.Random(3)
    train = [",".join([*cols, "cat", "label"])]
    train += [",".join([*(f"{rnd.gauss(0, 1):.5f}" for _ in cols), "ab"[i % 2], str(i % 2)])
              for i in range(2000)]
    repo = release(project, bml, "\n".join(train) + "\n")
    block = "".join(",".join([*(f"{rnd.gauss(0, 1):.5f}" for _ in cols), "ab"[i % 2],
                              f"{rnd.random():.4f}"]) + "\n" for i in range(10_000))
    f = tmp_path / "prod.csv"
    with f.open("w") as out:
        out.write(",".join([*cols, "cat", "prediction"]) + "\n")
        for _ in range(100):
            out.write(block)
    r = subprocess.run([time_bin, "-f", "%M", sys.executable, "-m", "branchml", "monitor",
                        "log", str(f), "--client", "acme", "--tag", "acme-v1"], cwd=repo,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    peak_kib = int(r.stderr.strip().splitlines()[-1])
    assert peak_kib < 150 * 1024, f"peak RSS {peak_kib / 1024:.0f} MiB"


def test_roles_come_from_main_only(plain_project: Path, bml, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Attack: hide a drifting feature by declaring it `ignore` in a branchml.yaml committed
    on the monitoring branch (which a production job may write), or by logging it as
    consecutive whole numbers so it looks like an id: roles come from main's config and the
    training data only, so x1 is still scored and its drift still alerts."""
    repo = release(plain_project, bml, table(3000))
    rows = table(2000, start=3001, seed=2, label=False).splitlines()
    drifted = [rows[0]] + [",".join([*r.split(",")[:2], str(i), *r.split(",")[3:]])
                           for i, r in enumerate(rows[1:])]  # x1 = 0, 1, 2, ...: id-like
    f = write(tmp_path, "day.csv", "\n".join(drifted) + "\n")
    assert log(bml, repo, f).code == 0
    cfg = git("show", "main:branchml.yaml", cwd=repo).replace(
        "  target: label", "  target: label\n  columns: {x1: ignore}")
    git("checkout", "-q", "monitoring", cwd=repo)
    commit(repo, {"branchml.yaml": cfg + "\n"}, branch="monitoring")  # not main's: not read
    r = bml("monitor", "check", "--tag", "acme-v1", "--json", cwd=repo)
    out = json.loads(r.out)
    assert r.code == 1 and any(a.startswith("x1: ") for a in out["alerts"])
    assert "x1" in {x["feature"] for x in out["features"]}
    assert "x1" not in {x["column"] for x in out["left_out"]}


def test_single_digit_column_with_a_gap_reads_as_numbers() -> None:
    """The csv module's strings (how `monitor log` reads the training head): a one-character
    column with an empty value was NumPy `U1`, where "nan" became "n" and did not parse."""
    from branchml.ops.monitortables import floats

    got = floats(("1", "", "2"), "x", "p.csv")
    assert got[0] == 1 and got[1] != got[1] and got[2] == 2
    assert roles.detect("n", [*(str(i) for i in range(1, 10)), "", "12"] * 3) is None


@pytest.mark.slow
def test_log_reads_only_the_head_of_a_big_plain_training_file(plain_project: Path, bml,  # type: ignore[no-untyped-def]
                                                               tmp_path: Path) -> None:
    """A plain (no git-lfs) training file over HEAD_BYTES: `monitor log` reads its first
    16 MiB through `git cat-file`, stopped there, and still knows the columns and the id."""
    from branchml.ops.monitortables import HEAD_BYTES

    train = big_table(int(HEAD_BYTES / 32) + 1000).replace(b"prediction", b"label")
    assert len(train) > HEAD_BYTES
    repo = release(plain_project, bml, train.decode())
    r = log(bml, repo, write(tmp_path, "day.csv", big_table(100).replace(b"\n1", b"\n9")))
    assert r.code == 0, r.err
    r = log(bml, repo, write(tmp_path, "bad.csv", b"id,ts,x1,x2,cat,prediction\n1,2026-01-02,"
                                                  b"1,low,a,0\n"))
    assert r.code == 2 and "column x2 is numeric in the training data, but holds 'low'" in r.err
