"""`branchml graph` (issue 20): every move of a real lifecycle drawn once in every format,
forged trailers drawn as unverified beside their legitimate twins, hostile names that stay
labels, and `-o` written whole (never into .git, an image only through Graphviz)."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from branchml.cli.main import main
from branchml.core.graph import Edge, Fact, Graph, Node, aggregate, build
from branchml.core.graphrender import dot_text, mermaid_text, plain_name, render
from tests.conftest import BIN, commit, git

LIFECYCLE = {("promotion", "dev/model", "stable/model"), ("pull", "raw", "clean"),
             ("pull", "clean", "split"), ("pull", "split", "stable/model"),
             ("track", "stable/model", "main"), ("release", "stable/model", "acme-v1"),
             ("deploy", "acme-v1", "deploy/acme")}


@pytest.fixture(scope="module")
def built(home: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """init, a raw upload, pull raw clean, pull clean split, split, code on dev/model,
    promote, pull split stable/model, a model, track, tag acme-v1, deploy: built once per
    module (the environment `isolated` gives a test), copied for each test."""
    repo = tmp_path_factory.mktemp("graph") / "proj"
    with pytest.MonkeyPatch.context() as m:
        m.setenv("HOME", str(home))
        m.setenv("XDG_CONFIG_HOME", str(home / ".config"))
        m.setenv("GIT_CONFIG_NOSYSTEM", "1")
        m.setenv("PATH", BIN + os.pathsep + os.environ["PATH"])

        def run(*args: str) -> None:
            m.chdir(repo if repo.exists() else repo.parent)
            assert main(list(args)) == 0, args

        run("init", str(repo))
        commit(repo, {"data/d.csv": "id,x\n1,2\n2,4\n3,6\n"}, branch="raw")
        run("pull", "raw", "clean")
        run("pull", "clean", "split")
        run("split", "--key", "id")
        commit(repo, {"src/train.py": "print('train')\n"}, branch="dev/model")
        run("promote", "dev/model", "stable/model")
        run("pull", "split", "stable/model")
        commit(repo, {"models/model.pkl": "w1"}, branch="stable/model")
        run("track")
        run("tag", "--client", "acme")
        run("deploy", "--client", "acme", "acme-v1")
    return repo


@pytest.fixture
def lifecycle(built: Path, tmp_path: Path) -> Path:
    """This test's own copy of the built repository."""
    repo = tmp_path / "proj"
    shutil.copytree(built, repo, symlinks=True)
    return repo


def graph_json(bml, repo: Path, *args: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    r = bml("graph", "--json", *args, cwd=repo)
    assert r.code == 0, r.err
    found: dict[str, Any] = json.loads(r.out)
    return found


def edges(found: dict[str, Any], verified: bool | None = True) -> list[tuple[str, str, str]]:
    return [(e["kind"], e["src"], e["dst"]) for e in found["edges"]
            if verified is None or e["verified"] is verified]


def drawn(bml, repo: Path, fmt: str) -> str:  # type: ignore[no-untyped-def]
    r = bml("graph", "--format", fmt, cwd=repo)
    assert r.code == 0, r.err
    return str(r.out)


# -- the lifecycle, in every format --------------------------------------------------------------

def test_each_move_of_the_lifecycle_is_one_verified_edge(lifecycle: Path, bml) -> None:  # type: ignore[no-untyped-def]
    found = graph_json(bml, lifecycle)
    assert set(found) >= {"nodes", "edges"}
    assert sorted(edges(found, None)) == sorted(LIFECYCLE)  # each once, all proven
    groups = {n["name"]: n["group"] for n in found["nodes"]}
    assert groups["main"] == "main" and groups["raw"] == groups["clean"] == "data"
    assert groups["dev/model"] == "code" and groups["stable/model"] == "stable"
    assert groups["acme-v1"] == "releases" and groups["deploy/acme"] == "deployments"
    assert found["cut"] == []
    label = next(n["label"] for n in found["nodes"] if n["name"] == "acme-v1")
    assert re.fullmatch(r"acme-v1\nmodel [0-9a-f]{8}", label)


def test_each_edge_appears_exactly_once_in_every_format(lifecycle: Path, bml) -> None:  # type: ignore[no-untyped-def]
    ids = {n["name"]: n["id"] for n in graph_json(bml, lifecycle)["nodes"]}
    mermaid, dot, text = (drawn(bml, lifecycle, f) for f in ("mermaid", "dot", "text"))
    assert mermaid.startswith("flowchart LR\n") and dot.startswith("digraph branchml {")
    for kind, src, dst in LIFECYCLE:
        a, b = ids[src], ids[dst]
        assert len(re.findall(rf"^  {a} -->\|[^\n]*\| {b}$", mermaid, re.M)) == 1
        assert len(re.findall(rf'^  "{a}" -> "{b}" \[', dot, re.M)) == 1
        assert len(re.findall(rf"^{kind} +{re.escape(src)} -> {re.escape(dst)}  1x", text,
                              re.M)) == 1
    assert mermaid.count("-->") == dot.count(" -> ") == len(LIFECYCLE)
    assert "-.->" not in mermaid and "dashed" not in dot and "UNVERIFIED" not in text


def test_moves_of_one_pair_are_counted_with_the_newest_date(lifecycle: Path, bml) -> None:  # type: ignore[no-untyped-def]
    commit(lifecycle, {"data/d.csv": "id,x\n1,2\n2,4\n3,6\n4,8\n"}, branch="raw")
    assert bml("pull", "raw", "clean", cwd=lifecycle).code == 0
    newest = git("log", "-1", "--format=%cI", "clean", cwd=lifecycle)
    pulls = [e for e in graph_json(bml, lifecycle)["edges"]
             if (e["src"], e["dst"]) == ("raw", "clean")]
    assert [(e["count"], e["newest"], e["verified"]) for e in pulls] == [(2, newest, True)]
    assert re.search(r"^pull +raw -> clean  2x, newest ", drawn(bml, lifecycle, "text"), re.M)


def test_a_branch_forked_after_a_move_does_not_draw_it_twice(lifecycle: Path, bml) -> None:  # type: ignore[no-untyped-def]
    git("branch", "clean-copy", "clean", cwd=lifecycle)  # holds clean's pull on its history
    git("branch", "dev/after", "main", cwd=lifecycle)  # holds main's tracking copy
    git("branch", "stable/after", "stable/model", cwd=lifecycle)  # holds the promotion
    git("branch", "a-first", "main", cwd=lifecycle)  # untyped, sorted before main
    found = graph_json(bml, lifecycle)
    assert sorted(edges(found, None)) == sorted(LIFECYCLE)
    assert {"clean-copy", "dev/after", "stable/after"} <= {n["name"] for n in found["nodes"]}


# -- forged trailers: drawn, dashed, never proven ---------------------------------------------

def forge(repo: Path, branch: str, message: str, parents: list[str], tree: str | None = None
          ) -> str:
    """A commit made by hand (`git commit-tree`) on `branch`, moved with `git update-ref`: no
    hook runs, as on a clone whose owner skips them."""
    tip = git("rev-parse", f"refs/heads/{branch}", cwd=repo)
    args = [a for p in parents for a in ("-p", p)]
    sha = git("commit-tree", tree or f"{tip}^{{tree}}", *args, "-m", message, cwd=repo)
    git("update-ref", f"refs/heads/{branch}", sha, tip, cwd=repo)
    return sha


def test_a_pulled_from_naming_a_commit_that_is_not_the_merge_parent_is_unverified(  # type: ignore[no-untyped-def]
        lifecycle: Path, bml) -> None:
    git("checkout", "-q", "main", cwd=lifecycle)
    raw_root = git("rev-list", "--max-parents=0", "raw", cwd=lifecycle)
    upload = git("rev-parse", "raw", cwd=lifecycle)
    clean = git("rev-parse", "clean", cwd=lifecycle)
    # a merge of raw's first commit that claims raw's upload: the trailer names a real raw
    # commit, but not the one merged
    forge(lifecycle, "clean", f"branchml pull raw into clean\n\nPulled-From: raw {upload}\n",
          [clean, raw_root])
    found = graph_json(bml, lifecycle)
    assert sorted(edges(found)) == sorted(LIFECYCLE)  # the legitimate twin: still proven
    forged = [e for e in found["edges"] if not e["verified"]]
    assert [(e["kind"], e["src"], e["dst"], e["count"]) for e in forged] == \
        [("pull", "raw", "clean", 1)]
    assert "is not a merge of" in forged[0]["why"]
    ids = {n["name"]: n["id"] for n in found["nodes"]}
    a, b = ids["raw"], ids["clean"]
    assert len(re.findall(rf"^  {a} -\.->\|\"[^\n]*unverified\"\| {b}$",
                          drawn(bml, lifecycle, "mermaid"), re.M)) == 1
    assert len(re.findall(rf'^  "{a}" -> "{b}" \[label="[^"]*unverified", style=dashed\];$',
                          drawn(bml, lifecycle, "dot"), re.M)) == 1
    assert re.search(r"^pull +raw -> clean  1x, newest \S+  UNVERIFIED: .*not a merge of",
                     drawn(bml, lifecycle, "text"), re.M)


def test_a_hand_written_promotion_and_tracking_copy_are_unverified(  # type: ignore[no-untyped-def]
        lifecycle: Path, bml) -> None:
    git("checkout", "-q", "main", cwd=lifecycle)
    dev_root = git("rev-list", "--max-parents=0", "dev/model", cwd=lifecycle)
    stable = git("rev-parse", "stable/model", cwd=lifecycle)
    # a stable commit claiming a promotion of a commit whose code it does not hold
    forge(lifecycle, "stable/model", f"promote\n\nPromoted-From: dev/model {dev_root}\n",
          [stable])
    # main claiming a tracking copy of a commit that is on no stable branch
    forge(lifecycle, "main", f"track\n\nTracked-From: stable/model {dev_root}\n",
          [git("rev-parse", "main", cwd=lifecycle)])
    found = graph_json(bml, lifecycle)
    assert sorted(edges(found)) == sorted(LIFECYCLE)
    forged = {(e["kind"], e["src"], e["dst"]): e["why"] for e in found["edges"]
              if not e["verified"]}
    assert set(forged) == {("promotion", "dev/model", "stable/model"),
                           ("track", "stable/model", "main")}
    assert "does not hold the code" in forged[("promotion", "dev/model", "stable/model")]
    assert "is main's own commit" in forged[("track", "stable/model", "main")]
    # nor a commit that is on no stable branch (the code branch's own commit)
    from branchml.content.lineage import Trailer
    from branchml.ops.graphfacts import track_why
    from branchml.ops.trusted import load_trusted
    from branchml.repo.reader import Git

    g = Git(lifecycle)
    policy = load_trusted(g, ["refs/heads/main"]).policy
    main, dev = (git("rev-parse", b, cwd=lifecycle) for b in ("main", "dev/model"))
    assert track_why(g, policy, Trailer(main, "stable/model", dev)) == \
        f"{dev[:10]} is not on stable/model"
    assert track_why(g, policy, Trailer(main, "dev/model", dev)) == \
        "dev/model is not a stable branch of the trusted config"
    assert track_why(g, policy, Trailer(main, "stable/model", "main~1" + "0" * 40)) == \
        "the tracked commit main~10000 is not in this repository"
    g.close()


def test_a_deploy_record_whose_halves_disagree_is_unverified(lifecycle: Path, bml) -> None:  # type: ignore[no-untyped-def]
    old = git("rev-parse", "refs/deploy/acme", cwd=lifecycle)
    blob = git("hash-object", "-w", "--stdin", cwd=lifecycle,
               input="client: acme\nprimary: acme-v9\n")
    tree = git("mktree", cwd=lifecycle, input=f"100644 blob {blob}\tdeploy.yaml\n")
    sha = git("commit-tree", tree, "-p", old, "-m",
              "deploy acme: acme-v1\n\nDeploy-Primary: acme-v1\n", cwd=lifecycle)
    git("update-ref", "refs/deploy/acme", sha, old, cwd=lifecycle)
    found = graph_json(bml, lifecycle)
    deploys = [e for e in found["edges"] if e["kind"] == "deploy"]
    assert [(e["src"], e["dst"], e["verified"]) for e in deploys] == \
        [("acme-v1", "deploy/acme", False)]
    assert "deploy.yaml" in deploys[0]["why"]


# -- hostile names ------------------------------------------------------------------------------

HOSTILE_BRANCHES = ['dev/x"];n0-->n1;%%', "dev/<b>{{y}}|z'`", "dev/a-->b&#quot;(c)"]
HOSTILE_TRAILER = 'raw"];click_n0_call_evil()--->n1'


@pytest.fixture
def hostile(lifecycle: Path, bml) -> Path:  # type: ignore[no-untyped-def]
    main = git("rev-parse", "main", cwd=lifecycle)
    for name in HOSTILE_BRANCHES:
        git("update-ref", f"refs/heads/{name}", main, cwd=lifecycle)
    git("checkout", "-q", "main", cwd=lifecycle)
    clean, upload = (git("rev-parse", b, cwd=lifecycle) for b in ("clean", "raw"))
    forge(lifecycle, "clean", f"pull\n\nPulled-From: {HOSTILE_TRAILER} {upload}\n",
          [clean, upload])
    return lifecycle


LABEL = r'[A-Za-z0-9 ._/#;-]*(?:<br>[A-Za-z0-9 ._/#;-]*)*'
MERMAID_LINE = re.compile(
    rf'flowchart LR|  subgraph g_[a-z]+\["[a-z]+"\]|  end|'
    rf'    n\d+(?:\["{LABEL}"\]|\(\["{LABEL}"\]\)|\[\["{LABEL}"\]\])|'
    rf'  n\d+ (?:-->|-\.->)\|"{LABEL}"\| n\d+')
DOT_STRING = r'"(?:[^"\\\n]|\\.)*"'
DOT_LINE = re.compile(
    rf'digraph branchml \{{|\}}|  \}}|  rankdir=LR;|  (?:node|edge) \[[^\n]*\];|'
    rf'  subgraph "cluster_[a-z]+" \{{|    label="[a-z]+";|'
    rf'    "n\d+" \[label={DOT_STRING}(?:, shape=\w+)?\];|'
    rf'  "n\d+" -> "n\d+" \[label={DOT_STRING}(?:, style=dashed)?\];')


def test_hostile_names_stay_labels_in_mermaid(hostile: Path, bml) -> None:  # type: ignore[no-untyped-def]
    found = graph_json(bml, hostile)
    names = {n["name"] for n in found["nodes"]}
    assert set(HOSTILE_BRANCHES) | {HOSTILE_TRAILER} <= names
    mermaid = drawn(bml, hostile, "mermaid")
    bad = [line for line in mermaid.splitlines() if not MERMAID_LINE.fullmatch(line)]
    assert bad == []  # no line a name could have added or bent
    assert len(mermaid.splitlines()) == len(found["nodes"]) + len(found["edges"]) + 1 + 2 * len(
        {n["group"] for n in found["nodes"]})
    # the labels read back as the names (Mermaid draws #<decimal>; as the character)
    labels = re.findall(r'^    n\d+\[+"([^"]*)"', mermaid, re.M)
    decoded = {re.sub(r"#(\d+);", lambda m: chr(int(m.group(1))), label) for label in labels}
    assert set(HOSTILE_BRANCHES) <= decoded
    forged = [e for e in found["edges"] if e["src"] == HOSTILE_TRAILER]
    assert len(forged) == 1 and not forged[0]["verified"]


def test_hostile_names_stay_labels_in_dot_and_text(hostile: Path, bml) -> None:  # type: ignore[no-untyped-def]
    found = graph_json(bml, hostile)
    dot = drawn(bml, hostile, "dot")
    assert [line for line in dot.splitlines() if not DOT_LINE.fullmatch(line)] == []
    if shutil.which("dot"):  # Graphviz reads the labels back as the names, byte for byte
        import subprocess

        parsed = json.loads(subprocess.run(["dot", "-Tjson"], input=dot, text=True,
                                           capture_output=True, check=True).stdout)
        labels = {o["label"] for o in parsed.get("objects", []) if "label" in o}
        assert set(HOSTILE_BRANCHES) | {HOSTILE_TRAILER} <= labels
        assert len(parsed.get("edges", [])) == len(found["edges"])
    text = drawn(bml, hostile, "text")
    for name in HOSTILE_BRANCHES:
        assert json.dumps(name) in text
    assert f"{json.dumps(HOSTILE_TRAILER)} -> clean" in text


@pytest.mark.parametrize("name, escaped", [
    ('a"b', "a#34;b"), ("x-->y", "x-->y".replace(">", "#62;")), ("[c]", "#91;c#93;"),
    ("p|q", "p#124;q"), ("#quot;", "#35;quot#59;"), ("\x1b[0m", "#92;x1b#91;0m"),
    ("dev/ok-1.2_x", "dev/ok-1.2_x")])
def test_mermaid_text_escapes_everything_outside_a_safe_set(name: str, escaped: str) -> None:
    assert mermaid_text(name) == escaped


@pytest.mark.parametrize("name, escaped", [
    ('a"b', 'a\\"b'), ("a\\Nb", "a\\\\Nb"), ("one\ntwo", "one\\ntwo"), ("\x07", "\\\\x07")])
def test_dot_text_escapes_quotes_backslashes_and_lines(name: str, escaped: str) -> None:
    assert dot_text(name) == escaped


def test_a_name_a_mebibyte_long_is_drawn_cut() -> None:
    g = build([], [Fact("pull", "x" * (1 << 20), "clean", "d", why="forged")])
    for fmt in ("mermaid", "dot", "text"):
        assert len(render(g, fmt)) < 2000
    assert len(g.to_dict()["edges"][0]["src"]) == 1 << 20  # --json keeps the name whole


@pytest.mark.parametrize("name, shown", [
    ("stable/model", "stable/model"), ("a->b", '"a->b"'), ('q"', '"q\\""')])
def test_plain_name_quotes_what_could_read_as_two_names(name: str, shown: str) -> None:
    assert plain_name(name) == shown


# -- the model: aggregation and bounds --------------------------------------------------------

def test_aggregate_counts_pairs_keeps_the_newest_date_and_unproven_apart() -> None:
    facts = [Fact("pull", "raw", "clean", "2026-01-02"), Fact("pull", "raw", "clean",
                                                              "2026-03-04"),
             Fact("pull", "raw", "clean", "2026-02-01", why="forged"),
             Fact("promotion", "dev/a", "stable/a", "2026-01-01")]
    assert aggregate(facts) == [
        Edge("promotion", "dev/a", "stable/a", 1, "2026-01-01", True),
        Edge("pull", "raw", "clean", 2, "2026-03-04", True),
        Edge("pull", "raw", "clean", 1, "2026-02-01", False, "forged")]


def test_build_draws_every_end_of_an_edge_and_orders_by_group() -> None:
    g = build([Node("stable/a", "stable", "stable/a"), Node("main", "main", "main")],
              [Fact("track", "stable/a", "main", "d"), Fact("pull", "gone", "stable/a", "d")])
    assert [(n.name, n.group) for n in g.nodes] == [("main", "main"), ("stable/a", "stable"),
                                                     ("gone", "untyped")]
    assert render(Graph([], [], []), "text") == "\n"


def test_the_walk_and_the_releases_are_bounded_and_say_so(  # type: ignore[no-untyped-def]
        lifecycle: Path, bml, monkeypatch: pytest.MonkeyPatch) -> None:
    for n in (2, 3):
        commit(lifecycle, {"models/model.pkl": f"w{n}"}, branch="stable/model")
        assert bml("tag", "--client", "acme", cwd=lifecycle).code == 0
    assert bml("deploy", "--client", "acme", "acme-v3", "--canary", "acme-v2", "--fraction",
                "0.1", cwd=lifecycle).code == 0
    found = graph_json(bml, lifecycle, "--releases", "1")
    tags = [n["name"] for n in found["nodes"] if n["group"] == "releases"]
    assert tags == ["acme-v2", "acme-v3"]  # the newest, and the canary a deploy ref names
    assert found["cut"] == ["acme: the newest 1 of its 3 releases are drawn (--releases K "
                            "draws more)"]
    canary = [e for e in found["edges"] if e["kind"] == "canary"]
    assert [(e["src"], e["dst"], e["note"], e["verified"]) for e in canary] == \
        [("acme-v2", "deploy/acme", "0.1", True)]
    from branchml.ops import graphfacts

    monkeypatch.setattr(graphfacts, "WALK", 2)
    cut = graph_json(bml, lifecycle)["cut"]
    assert "stable/model: only its last 2 first-parent commits were read" in cut
    r = bml("graph", "--releases", "0", cwd=lifecycle)
    assert r.code == 2 and "--releases 0 must be at least 1" in r.err


# -- -o FILE ----------------------------------------------------------------------------------

@pytest.mark.parametrize("name, first", [("g.mmd", "flowchart LR"), ("g.dot", "digraph"),
                                         ("g.txt", "main:")])
def test_o_writes_the_format_its_extension_names(lifecycle: Path, bml, name: str,  # type: ignore[no-untyped-def]
                                                 first: str) -> None:
    out = lifecycle.parent / name
    r = bml("graph", "-o", str(out), cwd=lifecycle)
    assert r.code == 0, r.err
    assert out.read_text().startswith(first) and f"Wrote {out}" in r.out
    assert oct(out.stat().st_mode & 0o777) == oct(0o666 & ~_umask())
    assert not [p for p in out.parent.iterdir() if p.name.endswith(".tmp")]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_format_overrides_the_extension_and_dry_run_writes_nothing(lifecycle: Path, bml) -> None:  # type: ignore[no-untyped-def]
    out = lifecycle.parent / "g.txt"
    assert bml("graph", "--format", "mermaid", "-o", str(out), cwd=lifecycle).code == 0
    assert out.read_text().startswith("flowchart LR")
    dry = lifecycle.parent / "dry.mmd"
    r = bml("graph", "-o", str(dry), "--dry-run", cwd=lifecycle)
    assert r.code == 0 and "Would write" in r.out and not dry.exists()


def test_o_replaces_a_link_instead_of_writing_through_it(lifecycle: Path, bml) -> None:  # type: ignore[no-untyped-def]
    victim = lifecycle.parent / "victim"
    victim.write_text("keep\n")
    link = lifecycle.parent / "g.mmd"
    link.symlink_to(victim)
    # a link to a file outside the repository is refused (fu, issue 21: a rename over a link
    # must not be the way to a file elsewhere); one inside it is replaced, not followed
    assert bml("graph", "-o", str(link), cwd=lifecycle).code == 2
    assert victim.read_text() == "keep\n" and link.is_symlink()
    inside = lifecycle / "g.mmd"
    (lifecycle / "kept.txt").write_text("keep\n")
    inside.symlink_to(lifecycle / "kept.txt")
    assert bml("graph", "-o", "g.mmd", cwd=lifecycle).code == 0
    assert (lifecycle / "kept.txt").read_text() == "keep\n" and not inside.is_symlink()


@pytest.mark.parametrize("target, reason", [
    (".git/hooks/post-checkout.mmd", "inside the repository's .git folder"),
    ("gitdir/hooks/x.dot", "inside the repository's .git folder"),  # through a link to .git
    ("data", "is a folder"),
    ("graph.html", "name the file .mmd, .dot, .txt, .svg or .png"),
    ("nowhere/g.mmd", "does not exist")])
def test_o_is_refused_inside_git_on_a_folder_or_an_unknown_extension(  # type: ignore[no-untyped-def]
        lifecycle: Path, bml, target: str, reason: str) -> None:
    git("checkout", "-q", "raw", cwd=lifecycle)  # raw has a data/ folder
    (lifecycle / "gitdir").symlink_to(lifecycle / ".git")
    before = sorted(p.name for p in (lifecycle / ".git" / "hooks").iterdir())
    r = bml("graph", "-o", target, cwd=lifecycle)
    assert r.code == 2 and reason in r.err and len(r.err.strip().splitlines()) == 1
    assert sorted(p.name for p in (lifecycle / ".git" / "hooks").iterdir()) == before


def test_a_file_that_cannot_be_written_is_one_sentence_and_leaves_nothing(  # type: ignore[no-untyped-def]
        lifecycle: Path, bml) -> None:
    r = bml("graph", "-o", "h" * 300 + ".mmd", cwd=lifecycle)
    assert r.code == 2 and "File name too long" in r.err
    r = bml("graph", "-o", "/proc/graph.mmd", cwd=lifecycle)  # /proc: refused outright
    assert r.code == 2 and "/dev, /proc or /sys" in r.err
    assert len(r.err.strip().splitlines()) == 1
    assert not [p for p in lifecycle.parent.iterdir() if p.name.endswith(".tmp")]


def test_an_image_without_graphviz_says_how_to_install_it(  # type: ignore[no-untyped-def]
        lifecycle: Path, bml, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bare = tmp_path / "bin-without-dot"
    bare.mkdir()
    for tool in ("git", "git-lfs"):
        found = shutil.which(tool)
        assert found is not None
        (bare / tool).symlink_to(found)
    monkeypatch.setenv("PATH", str(bare))
    out = lifecycle.parent / "g.svg"
    r = bml("graph", "-o", str(out), cwd=lifecycle)
    assert r.code == 4 and not out.exists()
    assert r.err.strip() == ("branchml: error: Graphviz is not installed: apt-get install -y "
                             "graphviz (or write .dot/.mmd).")
    r = bml("graph", "--format", "mermaid", "-o", str(out), cwd=lifecycle)
    assert r.code == 2 and "Graphviz draws from dot" in r.err


@pytest.mark.skipif(shutil.which("dot") is None,
                    reason="Graphviz's dot is not installed (apt-get install -y graphviz)")
def test_o_svg_and_png_are_drawn_by_graphviz(lifecycle: Path, bml) -> None:  # type: ignore[no-untyped-def]
    svg, png = lifecycle.parent / "g.svg", lifecycle.parent / "g.png"
    r = bml("graph", "-o", str(svg), "--json", cwd=lifecycle)
    assert r.code == 0, r.err
    result = json.loads(r.out)
    assert result["format"] == "svg" and result["written"] == str(svg)
    assert len(result["edges"]) == len(LIFECYCLE)
    text = svg.read_text()
    assert "<svg" in text and "stable/model" in text and "acme&#45;v1" in text
    assert bml("graph", "-o", str(png), cwd=lifecycle).code == 0
    assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


@pytest.mark.skipif(shutil.which("dot") is None,
                    reason="Graphviz's dot is not installed (apt-get install -y graphviz)")
def test_a_branch_named_like_markup_is_text_in_the_svg(hostile: Path, bml) -> None:  # type: ignore[no-untyped-def]
    import xml.etree.ElementTree as ET

    name = "dev/<script>alert(1)</script>"
    git("update-ref", f"refs/heads/{name}", "main", cwd=hostile)
    svg = hostile.parent / "g.svg"
    assert bml("graph", "-o", str(svg), cwd=hostile).code == 0
    root = ET.parse(svg).getroot()  # well-formed, and the name is a text node, not markup
    assert not [e for e in root.iter() if e.tag.rsplit("}", 1)[-1] in ("script", "a")]
    assert name in {"".join(e.itertext()) for e in root.iter()
                    if e.tag.rsplit("}", 1)[-1] == "text"}


def test_api_graph_returns_the_graph_and_its_text(lifecycle: Path) -> None:
    from branchml import api

    r = api.graph(lifecycle, fmt="mermaid")
    assert r["format"] == "mermaid" and r["written"] is None and not r["dry_run"]
    assert r["text"].startswith("flowchart LR")
    assert sorted((e["kind"], e["src"], e["dst"]) for e in r["edges"]) == sorted(LIFECYCLE)
