"""Issue 19 security review, part f4 (reading monitored data): each attack from
/work/atk19/findings made the way an attacker (a production job that may push the monitoring
branch) would, with plumbing, beside the legitimate twin that must still work."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import git, release_for_monitoring, write
from tests.test_monitor import table

TAG = "acme-v1"
DIR = f"monitoring/acme/{TAG}/"


@pytest.fixture
def released(plain_project: Path, bml) -> Path:  # type: ignore[no-untyped-def]
    return release_for_monitoring(plain_project, bml, table(3000))


def put_on_branch(repo: Path, path: str, content: bytes, branch: str = "monitoring") -> None:
    """Commit `content` as `path` on `branch` with plumbing only (no hook, no branchml)."""
    env = {**os.environ, "GIT_INDEX_FILE": str(repo / ".git" / "atk-index")}
    parent = git("rev-parse", "-q", "--verify", f"refs/heads/{branch}", cwd=repo, check=False)
    run = lambda *a, i=None: subprocess.run(  # noqa: E731
        ["git", *a], cwd=repo, env=env, input=i, capture_output=True, check=True).stdout
    run("read-tree", *([parent] if parent else ["--empty"]))
    blob = run("hash-object", "-w", "--stdin", i=content).decode().strip()
    run("update-index", "--add", "--cacheinfo", f"100644,{blob},{path}")
    tree = run("write-tree").decode().strip()
    c = run("commit-tree", tree, *(["-p", parent] if parent else []), "-m", "logged")
    run("update-ref", f"refs/heads/{branch}", c.decode().strip())
    os.unlink(env["GIT_INDEX_FILE"])


def log(bml, repo: Path, *files: Path, date: str | None = None):  # type: ignore[no-untyped-def]
    return bml("monitor", "log", *map(str, files), "--client", "acme", "--tag", TAG,
               *(["--date", date] if date else []), cwd=repo)


def check(bml, repo: Path, *args: str):  # type: ignore[no-untyped-def]
    return bml("monitor", "check", "--tag", TAG, *args, cwd=repo)


# --- atk19-01: a file outside a YYYY-MM-DD/ folder blocked every check ---
@pytest.mark.parametrize("where", ["zzzz/bad.csv", "README.md", "2026-13-01/bad.csv",
                                   "2026-1-1/bad.csv"])
def test_file_outside_a_day_folder_is_skipped_not_read(released: Path, bml, tmp_path: Path,
                                                       where: str) -> None:  # type: ignore[no-untyped-def]
    drifted = write(tmp_path, "drift.csv", table(1500, shift=1.5, seed=6, label=False))
    assert log(bml, released, drifted).code == 0
    put_on_branch(released, DIR + where, b"x1,x2,cat,prediction\nhigh,1,a,0\n")
    r = check(bml, released, "--json")
    assert r.code == 1, r.err  # the real drift is reported, not hidden behind exit 4
    out = json.loads(r.out)
    assert out["skipped"] == [DIR + where] and "x1: psi" in out["alerts"][0]
    assert all(DIR + where != f for f in out["files"])
    r = check(bml, released)
    assert r.code == 1 and f"Skipped 1 file(s) outside a YYYY-MM-DD/ folder: {DIR}{where}" in r.out


def test_unreadable_file_in_a_day_folder_still_stops_check(released: Path, bml, tmp_path: Path
                                                          ) -> None:  # type: ignore[no-untyped-def]
    ok = write(tmp_path, "ok.csv", table(500, seed=2, label=False))
    assert log(bml, released, ok).code == 0
    put_on_branch(released, DIR + "2020-01-01/bad.csv", b"x1,x2,cat,prediction\nhigh,1,a,0\n")
    r = check(bml, released)
    assert r.code == 4 and "--since" in r.err and len(r.err.strip().splitlines()) == 1
    r = check(bml, released, "--since", "2020-01-02", "--json")
    assert r.code == 0 and json.loads(r.out)["skipped"] == []


# --- atk19-16: a JSON line nesting 100,000 arrays was an internal error (exit 70) ---
def _deep_jsonl(levels: int) -> bytes:
    return (b'{"x1": 0.1, "x2": 5, "cat": "a", "prediction": 1}\n'
            b'{"x1": 0.2, "x2": 5, "cat": ' + b"[" * levels + b"]" * levels
            + b', "prediction": 1}\n')


def test_deep_json_line_refused_by_log_and_unreadable_at_check(released: Path, bml,
                                                               tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    deep = write(tmp_path, "deep.jsonl", _deep_jsonl(100_000))
    before = git("rev-parse", "monitoring", cwd=released)
    r = log(bml, released, deep)
    assert r.code == 2 and "line 2 nests its JSON too deeply" in r.err, r.err
    assert git("rev-parse", "monitoring", cwd=released) == before
    put_on_branch(released, DIR + "2020-01-01/deep.jsonl", _deep_jsonl(100_000))
    r = check(bml, released)
    assert r.code == 4 and f"{DIR}2020-01-01/deep.jsonl on monitoring cannot be read" in r.err
    assert len(r.err.strip().splitlines()) == 1


def test_shallow_nested_json_line_is_logged(released: Path, bml, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    r = log(bml, released, write(tmp_path, "ok.jsonl", _deep_jsonl(10)))
    assert r.code == 0, r.err


# --- atk19-08: two files of the same name in one `monitor log` kept only the last's rows ---
def test_two_files_of_one_name_refused_nothing_written(released: Path, bml, tmp_path: Path
                                                       ) -> None:  # type: ignore[no-untyped-def]
    a = write(tmp_path, "a/day.csv", table(150, seed=6, label=False))
    b = write(tmp_path, "b/day.csv", table(100, seed=7, label=False))
    before = git("rev-parse", "monitoring", cwd=released)
    r = log(bml, released, a, b)
    assert r.code == 2 and "have the same name (day.csv)" in r.err
    assert "log them in two commands" in r.err
    assert git("rev-parse", "monitoring", cwd=released) == before
    assert log(bml, released, a).code == 0 and log(bml, released, b).code == 0  # the twin
    out = json.loads(check(bml, released, "--json").out)
    assert out["rows"] == 250


# --- atk19-13: a header-only file was logged, and 0 monitored rows scored as drift ---
def test_header_only_file_refused(released: Path, bml, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    before = git("rev-parse", "monitoring", cwd=released)
    r = log(bml, released, write(tmp_path, "day.csv", "x1,x2,cat,prediction\n"))
    assert r.code == 2 and "day.csv has a header but no rows; log files with rows." in r.err
    assert git("rev-parse", "monitoring", cwd=released) == before
    r = log(bml, released, write(tmp_path, "one.csv", "x1,x2,cat,prediction\n0.1,5,a,1\n"))
    assert r.code == 0, r.err  # the twin: one row is a file with rows


def test_feature_without_monitored_values_has_no_statistics(released: Path, bml,
                                                             tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    put_on_branch(released, DIR + "2020-01-01/day.csv", b"x1,x2,cat,prediction\n")  # by hand
    r = check(bml, released, "--json")
    assert r.code == 0, r.out  # 0 rows: no evidence of drift, no alert
    out = json.loads(r.out)
    assert out["rows"] == 0 and out["alerts"] == []
    for f in out["features"]:
        assert f["psi"] is None and f["note"] == "no monitored values", f
    # x2 absent from every monitored file, beside real drift in x1: only x1 alerts
    rows = table(1500, shift=1.5, seed=6, label=False).replace(",", ";")
    lines = [ln.split(";") for ln in rows.splitlines()]
    csv = "\n".join(",".join([a, c, p]) for a, _, c, p in lines) + "\n"
    put_on_branch(released, DIR + "2020-01-02/no-x2.csv", csv.encode())
    r = check(bml, released, "--json")
    out = json.loads(r.out)
    x2 = next(f for f in out["features"] if f["feature"] == "x2")
    assert x2["rows"] == 0 and x2["psi"] is None and x2["note"] == "no monitored values"
    assert r.code == 1 and all(a.startswith("x1") for a in out["alerts"]), out["alerts"]


# --- atk19-16b: a leading byte-order mark in JSON lines, a FIFO, a sentence join ---
def test_json_lines_with_a_leading_byte_order_mark_is_logged_and_checked(
        released: Path, bml, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    row = b'{"x1": 0.1, "x2": 5, "cat": "a", "prediction": 1}\n'
    r = log(bml, released, write(tmp_path, "bom.jsonl", b"\xef\xbb\xbf" + row * 3))
    assert r.code == 0, r.err
    r = check(bml, released, "--json")
    assert r.code in (0, 1) and json.loads(r.out)["rows"] == 3, r.err
    r = log(bml, released, write(tmp_path, "late.jsonl", row + b"\xef\xbb\xbf" + row))
    assert r.code == 2 and "line 2 holds a byte-order mark" in r.err  # only at the start


def test_fifo_is_not_a_regular_file(released: Path, bml, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    fifo = tmp_path / "day.csv"
    os.mkfifo(fifo)
    r = log(bml, released, fifo)
    assert r.code == 2 and f"{fifo}: not a regular file; log a file of rows." in r.err
    r = log(bml, released, tmp_path)
    assert r.code == 2 and f"{tmp_path} is a folder; log the files in it." in r.err
    r = log(bml, released, tmp_path / "gone.csv")
    assert r.code == 2 and "gone.csv: no such file." in r.err


def test_unreadable_format_in_a_day_folder_is_one_sentence(released: Path, bml) -> None:  # type: ignore[no-untyped-def]
    put_on_branch(released, DIR + "2020-01-01/notes.txt", b"hello\n")
    r = check(bml, released)
    assert r.code == 4 and "JSON lines or Parquet on monitoring; check only the days" in r.err


# --- atk19-11: values of 1.7e308 overflowed the moments; --json printed NaN/Infinity ---
def _big_csv(big: str) -> str:
    rows = table(1500, seed=3, label=False).splitlines()
    out = [rows[0]]
    for i, line in enumerate(rows[1:]):
        x1, x2, cat, _ = line.split(",")
        out.append(f"{big if i < 3 else x1},{x2},{cat},{big if i < 3 else 1}")
    return "\n".join(out) + "\n"


def _strict(text: str) -> dict:  # type: ignore[type-arg]
    def refuse(c: str) -> None:
        raise ValueError(f"{c} is not JSON")
    return json.loads(text, parse_constant=refuse)  # type: ignore[no-any-return]


def test_huge_values_count_as_missing_and_json_stays_strict(released: Path, bml,
                                                            tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert log(bml, released, write(tmp_path, "big.csv", _big_csv("1.7e308"))).code == 0
    r = check(bml, released, "--json")
    assert "RuntimeWarning" not in r.err
    out = _strict(r.out)
    x1 = next(f for f in out["features"] if f["feature"] == "x1")
    assert x1["missing"] == 3 / 1500 and abs(x1["mean"]) < 1 and 0.5 < x1["std"] < 2
    assert out["prediction"]["mean"] == 1.0


def test_large_but_sane_values_are_kept(released: Path, bml, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert log(bml, released, write(tmp_path, "big.csv", _big_csv("1e90"))).code == 0
    out = _strict(check(bml, released, "--json").out)
    x1 = next(f for f in out["features"] if f["feature"] == "x1")
    assert x1["missing"] == 0 and x1["mean"] > 1e86  # the twin: 1e90 is a value, not missing


def test_emit_json_writes_null_for_non_finite_numbers(capsys: pytest.CaptureFixture[str]
                                                      ) -> None:
    import numpy as np

    from branchml.cli.app import emit_json

    emit_json({"a": float("nan"), "b": [float("inf"), np.float64("-inf"), 1.5], "c": (2,)})
    assert _strict(capsys.readouterr().out) == {"a": None, "b": [None, None, 1.5], "c": [2]}


# --- atk19-09: categorical codes (007, 042) read as numbers (7, 42) in some chunks ---
def _codes(rows: int, seed: int, rare_after: int | None, label: bool = True) -> str:
    import random

    rnd = random.Random(seed)
    out = ["x1,x2,cat," + ("label" if label else "prediction")]
    for i in range(rows):
        rare = rare_after is not None and i >= rare_after and rnd.random() < 0.01
        out.append(f"{rnd.gauss(0, 1):.4f},{rnd.gauss(5, 2):.4f},"
                   f"{'A12' if rare else rnd.choice(['007', '042'])},{rnd.randint(0, 1)}")
    return "\n".join(out) + "\n"


@pytest.mark.parametrize("rows,rare_after", [(3000, 0), (60_000, 55_000)])
def test_categorical_codes_stay_text_on_both_sides(plain_project: Path, bml, tmp_path: Path,
                                                   rows: int, rare_after: int) -> None:  # type: ignore[no-untyped-def]
    # 60,000 rows: the first 50,000-row training chunk holds only 007/042 (pandas: 7, 42)
    repo = release_for_monitoring(plain_project, bml, _codes(rows, 1, rare_after))
    day = write(tmp_path, "day.csv", _codes(1500, 2, None, label=False))  # no A12 this day
    assert log(bml, repo, day).code == 0
    out = json.loads(check(bml, repo, "--json").out)
    cat = next(f for f in out["features"] if f["feature"] == "cat")
    assert cat["kind"] == "categorical" and cat["categories"][:3] == ["007", "042", "A12"]
    assert cat["hist"][-1] == 0 and not [a for a in out["alerts"] if a.startswith("cat")]


def test_new_category_still_alerts(plain_project: Path, bml, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    repo = release_for_monitoring(plain_project, bml, _codes(3000, 1, 0))
    day = write(tmp_path, "day.csv", _codes(1500, 2, None, label=False).replace(",007,", ",7,"))
    assert log(bml, repo, day).code == 0
    out = json.loads(check(bml, repo, "--json").out)
    assert "cat: outside_range" in " ".join(out["alerts"])  # the twin: 7 is not 007


# --- atk19-07: a plain blob read whole at check; a 320,000-column header took 1.36 GB ---
def _wide(columns: int, rows: int = 20) -> bytes:
    head = "x1,x2,cat,prediction," + ",".join(f"c{i}" for i in range(columns))
    row = "0.1,5,a,1," + ",".join("1" for _ in range(columns))
    return ("\n".join([head, *[row] * rows]) + "\n").encode()


@pytest.mark.parametrize("columns,reason", [(20_000, "has 20,004 columns, more than the 10,000"),
                                            (200_000, "is longer than 1 MiB")])
def test_wide_header_refused_by_log_and_unreadable_at_check(released: Path, bml,
                                                            tmp_path: Path, columns: int,
                                                            reason: str) -> None:  # type: ignore[no-untyped-def]
    before = git("rev-parse", "monitoring", cwd=released)
    r = log(bml, released, write(tmp_path, "wide.csv", _wide(columns)))
    assert r.code == 2 and "line 1 (the header)" in r.err and reason.split(",")[0] in r.err
    assert git("rev-parse", "monitoring", cwd=released) == before
    put_on_branch(released, DIR + "2020-01-01/wide.csv", _wide(columns))
    r = check(bml, released)
    assert r.code == 4 and f"{DIR}2020-01-01/wide.csv: " in r.err
    assert reason in r.err and "--since" in r.err and len(r.err.strip().splitlines()) == 1


def test_wide_json_line_refused_by_log(released: Path, bml, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    row = {"x1": 0.1, "x2": 5, "cat": "a", "prediction": 1, **{f"c{i}": 1 for i in range(10_000)}}
    r = log(bml, released, write(tmp_path, "wide.jsonl", json.dumps(row) + "\n"))
    assert r.code == 2 and "line 1 has 10,004 columns, more than the 10,000" in r.err


def test_some_extra_columns_are_still_read(released: Path, bml) -> None:  # type: ignore[no-untyped-def]
    put_on_branch(released, DIR + "2020-01-01/ok.csv", _wide(50))  # the twin: 54 columns
    r = check(bml, released, "--json")
    assert r.code in (0, 1) and json.loads(r.out)["rows"] == 20, r.err


@pytest.mark.slow
def test_check_streams_a_big_plain_blob(released: Path, tmp_path: Path) -> None:
    """A ~120 MB plain blob pushed by hand onto monitoring: `monitor check` in its own process
    stays under 300 MiB peak RSS (it read the blob whole before: ~3.6x its size)."""
    import shutil
    import sys

    time_bin = shutil.which("time") or "/usr/bin/time"
    if not Path(time_bin).exists():
        pytest.skip("GNU time is not installed")
    big = tmp_path / "big.csv"
    with big.open("w") as f:
        f.write("x1,x2,cat,prediction\n")
        for _ in range(100):
            f.write("0.1,5.0,a,1\n" * 100_000)
    env = {**os.environ, "GIT_INDEX_FILE": str(released / ".git" / "atk-index")}
    run = lambda *a: subprocess.run(["git", *a], cwd=released, env=env,  # noqa: E731
                                    capture_output=True, text=True, check=True).stdout.strip()
    run("read-tree", "monitoring")
    blob = run("hash-object", "-w", str(big))
    run("update-index", "--add", "--cacheinfo", f"100644,{blob},{DIR}2020-01-01/big.csv")
    c = run("commit-tree", run("write-tree"), "-p", "monitoring", "-m", "logged")
    run("update-ref", "refs/heads/monitoring", c)
    r = subprocess.run([time_bin, "-f", "%M", sys.executable, "-m", "branchml", "monitor",
                        "check", "--tag", TAG, "--json"], cwd=released, capture_output=True,
                       text=True)
    assert json.loads(r.stdout)["rows"] == 10_000_000, r.stderr
    peak_kib = int(r.stderr.strip().splitlines()[-1])
    assert peak_kib < 300 * 1024, f"peak RSS {peak_kib / 1024:.0f} MiB"


def test_the_alert_body_is_strict_json_too() -> None:
    # atk19-11's last door: the JSON a webhook or an alert command receives
    import inspect

    from branchml.core import strictjson
    from branchml.ops import alerts

    assert strictjson.dumps({"x": [float("nan"), float("inf"), 1.5]}) == '{"x": [null, null, 1.5]}'
    assert "strictjson.dumps(report)" in inspect.getsource(alerts)
