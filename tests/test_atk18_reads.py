"""Review of issue 18's read commands (atk18 findings 06, 07, 08, 09, 15, 18): each attack the
way an attacker makes it, and its legitimate twin, which must still work."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import commit, empty_server, git, git_proc


def _forged_pull(repo: Path, name: str) -> str:
    """A merge on stable/model of a ROOT commit holding one more data file, whose trailer
    claims it came from `name`; then a model trained on it. Returns the root commit."""
    git("checkout", "-q", "stable/model", cwd=repo)
    tree = git("mktree", cwd=repo, input="100644 blob " + git(
        "hash-object", "-w", "--stdin", cwd=repo, input="id,x\n999,1\n") + "\tevil.csv\n")
    root_tree = git("mktree", cwd=repo, input=f"040000 tree {tree}\tdata\n")
    side = git("commit-tree", root_tree, "-m", "side", cwd=repo)
    git("merge", "-q", "--no-ff", "--no-verify", "--allow-unrelated-histories", side, "-m",
        f"pull raw into stable/model\n\nPulled-From: {name} {side}", cwd=repo)
    commit(repo, {"models/model.pkl": "w2"}, branch="stable/model")
    return side


def _chain(repo: Path, bml, rev: str) -> dict:  # type: ignore[no-untyped-def, type-arg]
    r = bml("lineage", "models/model.pkl", "--rev", rev, "--json", cwd=repo)
    assert r.code == 0, r.err
    return json.loads(r.out)["chain"]  # type: ignore[no-any-return]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["origin/raw", "refs/heads/raw", "raw"])
def test_06_a_forged_pull_is_unproven_and_the_server_refuses_its_release(  # type: ignore[no-untyped-def]
        released: Path, tmp_path: Path, bml, name: str) -> None:
    server = empty_server(released, tmp_path)
    assert git_proc("push", "origin", "--all", cwd=released).returncode == 0
    side = _forged_pull(released, name)
    chain = _chain(released, bml, "stable/model")
    assert chain["end"] == "unproven" and len(chain["hops"]) == 1
    hop = chain["hops"][0]
    assert not hop["proven"] and hop["branch"] == name
    why = (f"{side[:10]} is not on raw, the branch its trailer names" if name == "raw" else
           f"{name!r}, the branch its Pulled-From trailer names, is not a typed branch of "
           "the trusted config")
    assert hop["why"] == why
    assert bml("tag", "--client", "acme", cwd=released).code == 0
    r = bml("verify", "acme-v2", cwd=released)
    assert r.code == 1 and f"pulled_from: {why}" in r.out
    pushed = git_proc("push", "--no-verify", "origin", "stable/model", "acme-v2", cwd=released)
    assert pushed.returncode != 0 and "acme-v2" in pushed.stderr
    assert git("tag", "-l", "acme-v2", cwd=server) == ""


@pytest.mark.slow
def test_06_real_pulls_stay_proven_here_on_the_server_and_in_a_git_clone(  # type: ignore[no-untyped-def]
        released: Path, tmp_path: Path, bml) -> None:
    server = empty_server(released, tmp_path)
    assert git_proc("push", "origin", "--all", cwd=released).returncode == 0
    chain = _chain(released, bml, "acme-v1")
    assert chain["end"] == "origin" and [h["proven"] for h in chain["hops"]] == [True] * 3
    # new raw data pulled through to stable and released, all in one atomic push: the
    # server proves each hop against the refs as the push leaves them
    commit(released, {"data/d.csv": "id,x\n1,2\n2,4\n3,6\n"}, branch="raw")
    for src, dst in (("raw", "clean"), ("clean", "split"), ("split", "stable/model")):
        assert bml("pull", src, dst, cwd=released).code == 0
    commit(released, {"models/model.pkl": "w3"}, branch="stable/model")
    assert bml("tag", "--client", "acme", cwd=released).code == 0
    assert bml("verify", "acme-v2", cwd=released).code == 0
    pushed = git_proc("push", "--atomic", "origin", "raw", "clean", "split",
                      "stable/model", "acme-v1", "acme-v2", cwd=released)
    assert pushed.returncode == 0, pushed.stderr
    assert git("tag", "-l", "acme-v2", cwd=server) == "acme-v2"
    # a plain git clone holds raw, clean and split as origin/* only
    clone = tmp_path / "clone"
    git("clone", "-q", "-b", "stable/model", str(server), str(clone), cwd=tmp_path)
    assert git("branch", "--list", "raw", cwd=clone) == ""
    chain = _chain(clone, bml, "acme-v2")
    assert chain["end"] == "origin" and [h["branch"] for h in chain["hops"]] == [
        "split", "clean", "raw"]
    r = bml("verify", "acme-v2", cwd=clone)
    assert r.code == 0 and "unverified" not in r.out, r.out


def _count_seconds(size: int) -> float:
    """The best of three counts of a CSV whose second row is one `size`-byte line."""
    import io
    import time

    from branchml.core.rowcount import count_rows
    from branchml.core.rows import RowFormat

    data = b"a,b\n" + b"x" * size + b"\n1,2\n"
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        assert count_rows(io.BytesIO(data), RowFormat.CSV) == 2
        best = min(best, time.perf_counter() - start)
    return best


def test_18_a_line_without_a_newline_is_read_in_linear_time() -> None:
    """Each 256 KiB read used to rejoin and rescan the whole unfinished line: 4x the bytes
    took 16x the time (a 60 MB line 10 s). Here 16x the bytes: linear is about 16x, quadratic
    about 256x; the bound between them (64x) leaves room for a loaded machine's noise. The
    small read is floored at 10 ms (a 2 MiB line reads in ~6 ms, too short to scale from on a
    busy machine: 0.45 s for 32 MiB failed against 64 x 6 ms); the quadratic reader took ~3 s
    for 32 MiB, far above 0.64 s."""
    small, big = _count_seconds(2 << 20), _count_seconds(32 << 20)
    assert big < max(small, 0.01) * 64, (small, big)


def test_18_rows_split_across_reads_are_still_counted_twin() -> None:
    import io

    from branchml.core.rowcount import count_rows
    from branchml.core.rows import CHUNK, RowFormat

    long = b"y" * (3 * CHUNK + 5)
    data = b"a,b\n" + long + b",1\n2,2\r\n" + b'"q\n' + long + b'",3\n4,4'
    assert count_rows(io.BytesIO(data), RowFormat.CSV) == 4
    assert count_rows(io.BytesIO(data), RowFormat.TEXT) == 6


@pytest.mark.parametrize("data", [
    b"[]", b" [ ] ", b"[1]", b"[1,2,3]", b'["a,b", "c\\"]", {"x": [1,2]}]', b"[[1,2],[3]]",
    b'["\\\\", ","]', b"\xef\xbb\xbf[1,2]", b'["\\u005c", 2]', b'{"a": [1, 2]}', b"1", b"",
    b"[1] x", b"[1", b"[]]", b"[][]", b"[{]", b"   ", b'["open]'])
def test_07_json_items_are_counted_as_json_counts_them(data: bytes) -> None:
    import io

    from branchml.core import jsoncount

    try:
        value = json.loads(data)
        expected = len(value) if isinstance(value, list) else None
    except ValueError:
        expected = None
    for chunk in (1, 2, 3, 7, jsoncount.CHUNK):  # every cut through strings and escapes
        old, jsoncount.CHUNK = jsoncount.CHUNK, chunk
        try:
            got: int | None = jsoncount.count_items(io.BytesIO(data))
        except jsoncount.NotCounted:
            got = None
        finally:
            jsoncount.CHUNK = old
        assert got == expected, (data, chunk)


def test_07_a_json_array_is_counted_in_bounded_memory(tmp_path: Path) -> None:
    """16 MB of `{},` took ~430 MB with json.load; the scan stays near the interpreter's
    own size (NumPy imported)."""
    import subprocess
    import sys

    big = tmp_path / "big.json"
    items = (16 << 20) // 3
    big.write_bytes(b"[" + b"{}," * items + b"{}]")
    # VmHWM: this process's own peak (ru_maxrss would keep the forking pytest worker's)
    code = ("import sys; from branchml.core.jsoncount import count_items; "
            "n = count_items(open(sys.argv[1], 'rb')); "
            "peak = [x for x in open('/proc/self/status') if x.startswith('VmHWM')][0]; "
            "print(n, peak.split()[1])")
    out = subprocess.run([sys.executable, "-c", code, str(big)], capture_output=True,
                         text=True, check=True).stdout.split()
    assert int(out[0]) == items + 1
    assert int(out[1]) < 150_000, out  # KiB


@pytest.mark.slow
def test_07_diff_of_a_deeply_nested_json_file_says_why_it_is_not_counted(  # type: ignore[no-untyped-def]
        released: Path, bml) -> None:
    commit(released, {"data/deep.json": "[" * 200_000 + "]" * 200_000,
                      "data/ok.json": '[{"a": 1}, {"a": [2, 3]}, "x,y"]\n'},
           branch="stable/model")
    commit(released, {"models/model.pkl": "w2"}, branch="stable/model")
    assert bml("tag", "--client", "acme", cwd=released).code == 0
    r = bml("diff", "acme-v1", "acme-v2", "--json", cwd=released)
    assert r.code == 0 and r.err == "", r.err
    files = {f["path"]: f for f in json.loads(r.out)["files"]}
    assert files["data/deep.json"]["rows_after"] is None
    assert files["data/deep.json"]["rows_not_read"] == "it nests deeper than 512 levels"
    assert files["data/ok.json"]["rows_added"] == 3  # the twin: counted
    assert files["data/ok.json"]["rows_not_read"] is None
    r = bml("diff", "acme-v1", "acme-v2", cwd=released)
    assert r.code == 0
    assert "data/deep.json: new file (rows of json not read: it nests deeper than 512 levels)" \
        in r.out


@pytest.mark.parametrize("command", [["releases"], ["lineage", "models/m"],
                                     ["verify", "acme-v1"], ["runs"], ["runs", "compare", "a-v1",
                                                                       "a-v2"], ["diff", "a", "b"]])
def test_08_outside_a_repository_every_read_says_so_once_in_json(  # type: ignore[no-untyped-def]
        tmp_path: Path, command: list[str]) -> None:
    """Run as a script would (a real process: git's own stderr reaches the terminal
    there): stdout empty, stderr exactly one JSON error, exit 4."""
    import subprocess

    from tests.conftest import BIN

    outside = tmp_path / "nowhere"
    outside.mkdir()
    done = subprocess.run([f"{BIN}/branchml", *command, "--json"], cwd=outside,
                          capture_output=True, text=True, env={
                              "PATH": f"{BIN}:/usr/bin:/bin", "HOME": str(tmp_path),
                              "GIT_CEILING_DIRECTORIES": str(tmp_path)})
    assert (done.returncode, done.stdout) == (4, "")
    assert json.loads(done.stderr) == {
        "error": f"{outside} is not in a git repository: run `branchml init` there, or pass "
                 "-C PATH.", "exit_code": 4}


def test_08_the_api_raises_not_a_repository_and_prints_nothing(  # type: ignore[no-untyped-def]
        tmp_path: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
        ) -> None:
    from branchml import api
    from branchml.errors import NotARepository

    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    for call in (lambda: api.runs(tmp_path), lambda: api.releases(tmp_path),
                 lambda: api.lineage("models/m", path=tmp_path),
                 lambda: api.verify("acme-v1", tmp_path)):
        with pytest.raises(NotARepository):
            call()
    assert capfd.readouterr() == ("", "")


def test_08_in_a_repository_and_with_c_the_reads_still_answer_twin(  # type: ignore[no-untyped-def]
        project: Path, tmp_path: Path, bml, monkeypatch: pytest.MonkeyPatch) -> None:
    r = bml("runs", "--json", cwd=project)
    assert (r.code, json.loads(r.out)) == (0, [])
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    r = bml("-C", str(project), "releases", "--json", cwd=tmp_path)
    assert (r.code, json.loads(r.out)) == (0, [])
    r = bml("init", "--help", cwd=tmp_path)
    assert r.code == 0


def _hand_tag(repo: Path, name: str, manifest: str, target: str) -> None:
    git("tag", "-a", "-F", "-", name, target, cwd=repo, input=(
        f"x\n\n-----BEGIN BRANCHML MANIFEST-----\n{manifest}\n"
        "-----END BRANCHML MANIFEST-----\n"))


@pytest.mark.slow
def test_09_runs_link_only_tags_carrying_their_own_release_manifest(  # type: ignore[no-untyped-def]
        released: Path, bml) -> None:
    assert bml("track", cwd=released).code == 0
    commit_ = git("rev-parse", "acme-v1^{commit}", cwd=released)
    _hand_tag(released, "globex-v1", "{}", commit_)
    copied = git("for-each-ref", "--format=%(contents)", "refs/tags/acme-v1", cwd=released)
    body = copied.split("-----BEGIN BRANCHML MANIFEST-----\n")[1].split("\n-----END")[0]
    _hand_tag(released, "globex-v2", body, commit_)  # acme-v1's manifest, copied
    r = bml("runs", "--json", cwd=released)
    assert r.code == 0 and [x["tags"] for x in json.loads(r.out)] == [["acme-v1"]]
    r = bml("runs", "compare", "globex-v1", "acme-v1", cwd=released)
    assert r.code == 2 and "'globex-v1' names no run" in r.err


@pytest.mark.slow
def test_09_a_run_tracked_before_its_release_is_still_linked_twin(  # type: ignore[no-untyped-def]
        released: Path, bml) -> None:
    commit(released, {"models/model.pkl": "w2"}, branch="stable/model")
    assert bml("track", "stable/model", cwd=released).code == 0
    assert bml("tag", "--client", "acme", cwd=released).code == 0
    r = bml("runs", "--json", cwd=released)
    assert r.code == 0 and json.loads(r.out)[0]["tags"] == ["acme-v2"]
    assert bml("runs", "compare", "acme-v2", "acme-v2", cwd=released).code == 0


def _git_files(repo: Path) -> dict[str, int]:
    return {str(p): p.stat().st_mtime_ns for p in (repo / ".git").rglob("*") if p.is_file()}


def _tab(bml, monkeypatch: pytest.MonkeyPatch, words: str, cwd: Path) -> list[str]:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("_BRANCHML_COMPLETE", "complete_bash")
    monkeypatch.setenv("COMP_WORDS", words)
    monkeypatch.setenv("COMP_CWORD", str(len(words.split(" ")) - 1))
    r = bml(cwd=cwd)
    monkeypatch.delenv("_BRANCHML_COMPLETE")
    assert r.code == 0 and r.err == "", r.err
    return r.out.split()


def test_15_a_tab_press_writes_nothing_under_git(  # type: ignore[no-untyped-def]
        released: Path, tmp_path: Path, bml, monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    shutil.rmtree(released / ".git" / "branchml" / "cache", ignore_errors=True)
    before = _git_files(released)
    assert _tab(bml, monkeypatch, "branchml deploy --client ", released) == ["acme"]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert _tab(bml, monkeypatch, f"branchml -C {released} deploy --client a",
                elsewhere) == ["acme"]
    assert _git_files(released) == before
    assert not (released / ".git" / "branchml" / "cache").exists()


def test_15_completion_still_reads_the_trusted_tag_format_twin(  # type: ignore[no-untyped-def]
        released: Path, bml, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = (released / "branchml.yaml").read_text() if (released / "branchml.yaml").exists() \
        else git("show", "main:branchml.yaml", cwd=released)
    commit(released, {"branchml.yaml": cfg.replace('format: "{client}-v{n}"',
                                                   'format: "rel-{client}-{n}"')},
           branch="main")
    git("tag", "-a", "-m", "x", "rel-globex-3", "main", cwd=released)
    assert _tab(bml, monkeypatch, "branchml deploy --client ", released) == ["globex"]
