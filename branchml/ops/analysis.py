"""`branchml analysis start CLIENT`: ds/CLIENT from main, with CLIENT's monitoring data and
the raw data brought in by the append strategy, and a README/notebook stub from templates/."""

from __future__ import annotations

from pathlib import Path
from string import Template
from typing import Any

from branchml.content import strategies
from branchml.content.treemerge import TreeMerger
from branchml.core.clientdata import analysis_client, foreign
from branchml.core.model import PathClass
from branchml.core.names import check_branch_name, check_client_id
from branchml.core.plan import Plan, RefUpdate
from branchml.errors import StateError, UsageError
from branchml.ops.trusted import load_trusted, trusted_ref
from branchml.repo import apply, objectstore
from branchml.repo.reader import Git
from branchml.resources import templates_dir


def start(path: Path, client: str, dry_run: bool = False) -> dict[str, Any]:
    check_client_id(client)
    name = check_branch_name(f"ds/{client}")
    g, repo = Git(path), objectstore.Repo(path)
    if not dry_run:
        apply.prepare(repo)
    policy = load_trusted(g, [trusted_ref(g), "HEAD"]).policy
    if repo.branch_target(name) is not None:
        raise UsageError(f"{name} exists already; check it out, or pull new data into it with "
                         f"`branchml pull monitoring {name}`.")
    main = repo.branch_target(trusted_ref(g).removeprefix("refs/heads/"))
    if main is None:
        raise StateError("there is no main branch to start from.")
    with repo.writer(dry_run) as w:  # a dry run's objects (git-lfs ones too) are thrown away
        commit, files = _build(w, repo, policy, client, main)
    if not dry_run:
        apply.apply(repo, Plan(f"analysis start {client}",
                               [RefUpdate(f"refs/heads/{name}", None, commit)]))
    return {"branch": name, "commit": commit, "files": files,
            "stub": f"analysis/{client}/analysis.ipynb"}


def _build(repo: objectstore.Repo, real: objectstore.Repo, policy: Any, client: str,
           main: str) -> tuple[str, int]:
    """ds/CLIENT's first commit and its count of data files, built in `repo` (the real one,
    or a dry run's scratch store, which has no branches: they are read from `real`)."""
    cwd = (real.root or repo.common_dir) if repo is real else repo.common_dir
    store = strategies.Store(repo.common_dir, cwd)
    rule = {c: ("append" if c is PathClass.DATA else "ours") for c in PathClass}
    tree = repo.pg[main].tree
    files = 0
    for src in ("raw", "monitoring"):
        sha = real.branch_target(src)
        if sha is None:
            continue
        theirs = repo.pg[sha].tree
        if src == "monitoring":
            theirs = _only(repo, theirs, f"monitoring/{client}")
        merger = TreeMerger(repo.pg, policy, rule, store)
        base = real.merge_base(main, sha)
        tree = repo.pg[merger.merge(repo.pg[base].tree if base else None, tree, theirs)]
        files += len(merger.report.added)
    stub = {}
    for tpl in sorted((templates_dir() / "analysis").iterdir()):
        text = Template(tpl.read_text(encoding="utf-8")).safe_substitute(client=client)
        stub[f"analysis/{client}/{tpl.name}"] = text.encode()
    tree_id = _with(repo, tree.id, stub)
    message = (f"branchml analysis start {client}\n\nfrom main, with monitoring/{client}/ and "
               "raw data (append)\n")
    return repo.commit_tree(tree_id, [main], message), files


def _only(repo: objectstore.Repo, tree: Any, folder: str) -> Any:
    """`tree` reduced to one folder (the client's monitoring data)."""
    import pygit2

    index = pygit2.Index()
    index.read_tree(tree)
    for e in list(index):
        if not e.path.startswith(folder + "/"):
            index.remove(e.path)
    return repo.pg[index.write_tree(repo.pg)]


def only_client(repo: objectstore.Repo, policy: Any, dst: str, tree: Any) -> Any:
    """`tree` without the monitored data of clients other than analysis branch `dst`'s (the
    rule the checker applies: core/clientdata.py); unchanged for other branch types."""
    client = analysis_client(policy.branch_type(dst), dst)
    if client is None or tree is None or "monitoring" not in tree:
        return tree
    import pygit2

    index = pygit2.Index()
    index.read_tree(tree)
    gone = [e.path for e in index if foreign(e.path, policy.classify(e.path), client)]
    if not gone:
        return tree
    for p in gone:
        index.remove(p)
    return repo.pg[index.write_tree(repo.pg)]


def _with(repo: objectstore.Repo, tree: Any, files: dict[str, bytes]) -> Any:
    import pygit2

    index = pygit2.Index()
    index.read_tree(repo.pg[tree])
    for p, data in files.items():
        index.add(pygit2.IndexEntry(p, repo.pg.create_blob(data), pygit2.enums.FileMode.BLOB))
    return index.write_tree(repo.pg)
