"""Bad input never crashes and never sticks (issue 16, item 2 and the corpus of item 4).

The corpus (tests/corpus/cases.tsv, its inputs beside it) runs each case as a user would, the
console script in a subprocess, and asserts: the documented exit code, one line on stderr
naming what was wrong, no traceback, and refs, index and working tree as they were."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import BIN, commit, git, snapshot, write
from tests.corpus.runner import Case, Run, argv, build_templates, env_for, load_cases, prepare

CASES = load_cases()


@pytest.fixture(scope="session")
def templates(tmp_path_factory: pytest.TempPathFactory, home: Path) -> dict[str, Path]:
    """Made once per worker, copied per case: `project` and `released`."""
    return build_templates(tmp_path_factory.mktemp("corpus-templates"), env_for(home))


def state(repo: Path) -> dict[str, str]:
    """snapshot() (refs, hooks, config, status) plus the index entries and the op log."""
    out = snapshot(repo)
    out["index"] = git("ls-files", "-s", cwd=repo, check=False)
    out["head"] = git("symbolic-ref", "-q", "HEAD", cwd=repo, check=False)
    return out


def _run(case: Case, templates: dict[str, Path], tmp_path: Path, home: Path) -> Run:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    repo = None
    if case.repo != "none":
        repo = tmp_path / "repo"
        shutil.copytree(templates[case.repo], repo, symlinks=True)
    run = Run(cwd=repo or scratch, repo=repo, tmp=scratch, env=env_for(home))
    prepare(case, run)
    return run


@pytest.mark.parametrize("case", [
    pytest.param(c, id=c.id, marks=[pytest.mark.xfail(reason=c.xfail, strict=False)]
                 if c.xfail else []) for c in CASES])
def test_corpus(case: Case, templates: dict[str, Path], tmp_path: Path, home: Path) -> None:
    run = _run(case, templates, tmp_path, home)
    try:
        before = state(run.repo) if run.repo else None
        done = subprocess.run([f"{BIN}/branchml", *argv(case, run)], cwd=run.cwd, env=run.env,
                              input=run.stdin, capture_output=True, timeout=120)
        err = done.stderr.decode("utf-8", errors="replace")
        out = done.stdout.decode("utf-8", errors="replace")
        assert "Traceback" not in err + out and done.returncode != 70, err + out
        assert done.returncode == case.exit, err + out
        if case.exit == 0:  # a hostile state the command repairs, then does its work
            assert case.message in out, out
            return
        if case.exit == 1:  # a verdict: its first line, then one indented line per finding
            assert case.message in err + out and not err.startswith(" "), err + out
        else:
            lines = [ln for ln in err.splitlines() if ln.strip()]
            assert len(lines) == 1, err  # one sentence, on one line
            assert lines[0].startswith("branchml: error: ") and case.message in lines[0], err
        if run.repo is not None and before is not None:
            assert state(run.repo) == before, "the repository changed"
    finally:
        run.close()


def test_corpus_is_large_and_each_input_is_used() -> None:
    assert len(CASES) >= 80
    assert len({c.id for c in CASES}) == len(CASES)
    here = Path(__file__).parent / "corpus"
    used = {c.input for c in CASES}
    files = {str(p.relative_to(here)) for p in here.rglob("*") if p.is_file()
             and p.suffix not in (".py", ".tsv", ".pyc") and p.name != ".gitattributes"
             and "__pycache__" not in p.parts}
    assert files <= used, sorted(files - used)


# Item 2, each refusal beside its legitimate twin (the corpus holds the refusals too).

def test_ragged_monitor_file_refused_then_clean_file_logged(tmp_path: Path, templates,  # type: ignore[no-untyped-def]
                                                             bml) -> None:
    repo = tmp_path / "r"
    shutil.copytree(templates["released"], repo, symlinks=True)
    before = state(repo)
    ragged = write(tmp_path, "day.csv", "x1,x2,cat,prediction\n1,2,a,0\n1,2,a,0,9\n")
    r = bml("monitor", "log", str(ragged), "--client", "acme", "--tag", "acme-v1", cwd=repo)
    assert r.code == 2 and "line 3 has 5 field(s) where the header has 4" in r.err
    assert state(repo) == before
    good = write(tmp_path, "day.csv", "x1,x2,cat,prediction\n1,2,a,0\n\"1\",2,\"a,b\",1\n")
    r = bml("monitor", "log", str(good), "--client", "acme", "--tag", "acme-v1", cwd=repo)
    assert r.code == 0, r.err
    r = bml("monitor", "check", "--tag", "acme-v1", "--json", cwd=repo)
    assert r.code in (0, 1) and json.loads(r.out)["rows"] == 2


def test_unreadable_file_already_logged_is_one_sentence_and_since_skips_it(  # type: ignore[no-untyped-def]
        tmp_path: Path, templates, bml) -> None:
    repo = tmp_path / "r"
    shutil.copytree(templates["released"], repo, symlinks=True)
    run = Run(cwd=repo, repo=repo, tmp=tmp_path, env=dict(os.environ))
    from tests.corpus.runner import commit_on

    commit_on(run, "monitoring", "monitoring/acme/acme-v1/2020-01-01/bad.jsonl", b"[1, 2]\n")
    r = bml("monitor", "check", "--tag", "acme-v1", cwd=repo)
    assert r.code == 4 and "--since" in r.err and r.err.count("\n") == 1
    good = write(tmp_path, "ok.jsonl", '{"x1": 1, "x2": 2, "cat": "a", "prediction": 1}\n')
    assert bml("monitor", "log", str(good), "--client", "acme", "--tag", "acme-v1",
               cwd=repo).code == 0
    r = bml("monitor", "check", "--tag", "acme-v1", "--since", "2021-01-01", "--json", cwd=repo)
    assert r.code in (0, 1) and json.loads(r.out)["rows"] == 1


def test_report_extension_and_folder_refused_md_written(tmp_path: Path, templates,  # type: ignore[no-untyped-def]
                                                        bml) -> None:
    repo = tmp_path / "r"
    shutil.copytree(templates["released"], repo, symlinks=True)
    f = write(tmp_path, "day.csv", "x1,x2,cat,prediction\n1.5,2,a,0\n")
    assert bml("monitor", "log", str(f), "--client", "acme", "--tag", "acme-v1",
               cwd=repo).code == 0
    pdf = tmp_path / "x.pdf"
    r = bml("monitor", "check", "--tag", "acme-v1", "--report", str(pdf), cwd=repo)
    assert r.code == 2 and ".html or .md" in r.err and not pdf.exists()
    r = bml("monitor", "check", "--tag", "acme-v1", "--report", str(tmp_path), cwd=repo)
    assert r.code == 2 and "is a folder" in r.err
    md = tmp_path / "x.md"
    assert bml("monitor", "check", "--tag", "acme-v1", "--report", str(md),
               cwd=repo).code in (0, 1)
    assert md.read_text().startswith("# Drift of acme-v1")


@pytest.mark.parametrize("ratios,code", [("[0.7, 0.3, 0.4]", 2), ("[0.7, 0.2, 0.1]", 0)])
def test_split_ratios_sum(project: Path, bml, ratios: str, code: int) -> None:  # type: ignore[no-untyped-def]
    cfg = git("show", "main:branchml.yaml", cwd=project)
    cfg = cfg.replace("ratios: [0.8, 0.1, 0.1]", f"ratios: {ratios}")
    path = write(project, "candidate.yaml", cfg)
    r = bml("config", "validate", str(path), cwd=project)
    assert r.code == code, r.err
    if code:
        assert "split.ratios" in r.err and "add up to 1.4" in r.err


@pytest.mark.parametrize("value,code", [(".nan", 2), (".inf", 2), ("-.inf", 2), ("0.25", 0)])
def test_non_finite_threshold(project: Path, bml, value: str, code: int) -> None:  # type: ignore[no-untyped-def]
    cfg = git("show", "main:branchml.yaml", cwd=project).replace("psi: 0.2", f"psi: {value}")
    r = bml("config", "validate", str(write(project, "c.yaml", cfg)), cwd=project)
    assert r.code == code, r.err
    if code:
        assert "monitor.thresholds.psi" in r.err and "not a finite number" in r.err


@pytest.mark.parametrize("gate,code,said", [
    ('"pytest -q', 2, "cannot be split into words"),
    ("/tmp", 2, "cannot be run"),
    ("true", 0, ""),
])
def test_promote_gate_parsing(project: Path, bml, gate: str, code: int, said: str) -> None:  # type: ignore[no-untyped-def]
    cfg = git("show", "main:branchml.yaml", cwd=project)
    cfg = cfg.replace("require: []", f"require: [{json.dumps(gate)}]")
    commit(project, {"branchml.yaml": cfg}, branch="main")
    commit(project, {"src/train.py": "print(1)\n"}, branch="dev/model")
    before = git("rev-parse", "stable/model", cwd=project)
    r = bml("promote", "dev/model", "stable/model", cwd=project)
    assert r.code == code, r.err
    assert said in r.err
    moved = git("rev-parse", "stable/model", cwd=project) != before
    assert moved is (code == 0)


@pytest.mark.parametrize("name,data,said", [
    ("a.csv", b"a,b\n1,2\n3,4\n", None),
    ("a.csv", b"\xef\xbb\xbfa,b\r\n1,2\r\n", None),  # a BOM at the start and CRLF: fine
    ("a.csv", b'a,b\n"1,5",2\n"x ""y""",3\n', None),  # quoted delimiters and quotes
    ("a.csv", b"a,b\n1,2", None),  # no newline at the end
    ("a.tsv", b"a\tb\n1\t2\n", None),
    ("a.jsonl", b'{"a": 1}\n\n{"a": 2}\n', None),  # blank lines are skipped by the reader
    ("a.txt", b"\xff\x00", None),  # not a row format: its reader refuses it
    ("a.csv", b"a,b\n1,2\n3\n", "line 3 has 1 field(s) where the header has 2"),
    ("a.csv", b"a,b\n1,2\n\n3,4\n", "line 3 has 0 field(s)"),
    ("a.csv", b'a,b\n"1,2\n', "line 2 cannot be read as CSV"),
    ("a.csv", b'a,b\n"1\n2",3\n4,5,6\n', "line 4 has 3 field(s)"),  # line 2's field spans 3
    ("a.csv", b"a,b\n1,\xe9\n", "line 2 is not valid UTF-8 text"),
    ("a.csv", b"a,b\n1,2\x00\n", "line 2 holds a NUL byte"),
    ("a.csv", b"a,b\n1,\xef\xbb\xbf2\n", "line 2 holds a byte-order mark"),
    ("a.csv", b"a,b\n1,2\r3,4\n", "line 2 holds a bare carriage return"),
    ("a.jsonl", b'{"a": 1}\n{"a": \n', "line 2 is not valid JSON"),
    ("a.jsonl", b'{"a": 1}\n3\n', "line 2 is a JSON int, not an object"),
])
def test_check_logged(name: str, data: bytes, said: str | None) -> None:
    from branchml.core.logcheck import check_logged
    from branchml.core.rows import format_for
    from branchml.errors import UsageError

    if said is None:
        check_logged(data, format_for(name), name)
        return
    with pytest.raises(UsageError) as e:
        check_logged(data, format_for(name), name)
    assert said in str(e.value) and str(e.value).startswith(name + ": ")


@pytest.mark.parametrize("since,ok", [
    (None, True), ("2026-11-30", True), ("2024-02-29", True), ("notadate", False),
    ("2026-13-01", False), ("2026-1-5", False), ("20261130", False), ("2023-02-29", False),
    ("", False), ("2026-11-30T00:00", False),
])
def test_check_since(since: str | None, ok: bool) -> None:
    from branchml.core.logcheck import check_since
    from branchml.errors import UsageError

    if ok:
        assert check_since(since) == since
    else:
        with pytest.raises(UsageError, match="is not a date; give it as YYYY-MM-DD"):
            check_since(since)


def test_numbers_checked_when_logged_empty_values_pass(tmp_path: Path, templates,  # type: ignore[no-untyped-def]
                                                       bml) -> None:
    repo = tmp_path / "r"
    shutil.copytree(templates["released"], repo, symlinks=True)
    before = state(repo)
    word = write(tmp_path, "day.csv", "x1,x2,cat,prediction\n1.5,2,a,0\nhigh,2,a,1\n")
    r = bml("monitor", "log", str(word), "--client", "acme", "--tag", "acme-v1", cwd=repo)
    assert r.code == 2 and "column x1 is numeric in the training data, but holds 'high'" in r.err
    assert state(repo) == before
    gap = write(tmp_path, "day.csv", "x1,x2,cat,prediction\n1.5,2,a,0\n,2,b,1\n")
    assert bml("monitor", "log", str(gap), "--client", "acme", "--tag", "acme-v1",
               cwd=repo).code == 0  # an empty value is a missing one, not a word
    r = bml("monitor", "check", "--tag", "acme-v1", "--json", cwd=repo)
    assert r.code in (0, 1) and json.loads(r.out)["rows"] == 2
