"""What `init` scaffolded on main, recorded in main's branchml.yaml under `scaffold:`.

A rerun of `init` adds only what branchml never made (a scaffold doc the user deleted stays
deleted) and reuses the recorded models (`init .` on a repository made with `--model churn`
does not add dev/model). `upgrade` merges template changes three-way against the exact text
init wrote: each file's blob id is recorded, and that blob is in main's history.

A repository scaffolded before the record existed has its record derived from history: the
files that the first commit adding branchml.yaml on main added, when init made that commit (its
subject says so), and the models of its dev/* branches.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from branchml import config
from branchml.core.names import model_name_problem
from branchml.errors import ConfigError
from branchml.repo.reader import Git

KEY = "scaffold"
INIT_SUBJECT = "branchml init"  # the subject of every commit init made on main
# the block as `with_record` writes it: the key at the top level and its indented lines
_BLOCK = re.compile(rb"^(# What `branchml init` scaffolded[^\n]*\n# `branchml upgrade`[^\n]*\n)?"
                    rb"scaffold:[^\n]*\n([ \t][^\n]*\n|\n(?=[ \t]))*", re.M)


@dataclass(frozen=True)
class ScaffoldRecord:
    models: tuple[str, ...] = ()
    files: dict[str, str] = field(default_factory=dict)  # path -> blob id init wrote

    def with_files(self, files: dict[str, bytes]) -> ScaffoldRecord:
        return ScaffoldRecord(self.models, {**self.files,
                                            **{p: blob_id(d) for p, d in files.items()}})


def blob_id(data: bytes) -> str:
    """git's object id of a blob holding `data` (SHA-1 repositories)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


def from_config(cfg: dict[str, Any]) -> ScaffoldRecord | None:
    """The record in a config; a model name `--model` would refuse is refused here too (a
    rerun of init makes branches from it: dev/-rf reads as an option to later commands)."""
    entry = cfg.get(KEY)
    if not isinstance(entry, dict):
        return None
    models = tuple(str(m) for m in entry.get("models") or ())
    for name in models:
        problem = model_name_problem(name)
        if problem:
            raise ConfigError(f"main's {config.CONFIG_FILE} lists the model {name!r} under "
                              f"{KEY}.models, which is not a valid model name ({problem}): "
                              "correct or remove that entry on main, then run again.")
    return ScaffoldRecord(models, dict(entry.get("files") or {}))


def read(git: Git, main_sha: str, template_paths: Iterable[str]) -> ScaffoldRecord | None:
    """The record of main's branchml.yaml, else one derived from history (None: main has no
    branchml.yaml, so nothing was scaffolded yet)."""
    found = git.cat.info(f"{main_sha}:{config.CONFIG_FILE}")
    if found is None:
        return None
    raw = (git.cat.read(found[0]) or ("", b""))[1]
    rec = from_config(config.load_bytes(raw, config.CONFIG_FILE))
    return rec if rec is not None else derived(git, main_sha, template_paths)


def derived(git: Git, main_sha: str, template_paths: Iterable[str]) -> ScaffoldRecord:
    """For a repository scaffolded before the record: what the commit that first added
    branchml.yaml on main's first-parent chain added among the template paths."""
    first = git.out("log", "--first-parent", "--diff-filter=A", "--format=%H", main_sha,
                    "--", config.CONFIG_FILE).split()
    files: dict[str, str] = {}
    # only init's own commit: a branchml.yaml the user committed with their README does not
    # make that README branchml's (upgrade would take it for an unedited template)
    if first and git.message(first[-1]).startswith(INIT_SUBJECT):
        added = git.out("diff-tree", "--root", "-r", "--no-commit-id", "--diff-filter=A",
                        "--format=", "-z", "--name-only", first[-1]).split("\0")
        wanted = set(template_paths)
        for path in added:
            info = git.cat.info(f"{first[-1]}:{path}") if path in wanted else None
            if info is not None:
                files[path] = info[0]
    return ScaffoldRecord(models_of_branches(git), files)


def models_of_branches(git: Git) -> tuple[str, ...]:
    names = git.out("for-each-ref", "--format=%(refname)", "refs/heads/dev/").split()
    return tuple(sorted({n.removeprefix("refs/heads/dev/") for n in names
                         if not model_name_problem(n.removeprefix("refs/heads/dev/"))}))


def render(rec: ScaffoldRecord) -> bytes:
    files = "".join(f"\n    {json.dumps(p)}: {json.dumps(b)}" for p, b in sorted(rec.files.items()))
    return (f"# What `branchml init` scaffolded (models, and the blob id of each file it wrote "
            f"on main);\n# `branchml upgrade` merges template changes against these. Leave "
            f"it to branchml.\n{KEY}:\n  models: {json.dumps(list(rec.models))}\n"
            f"  files:{files or ' {}'}\n").encode()


def with_record(text: bytes, rec: ScaffoldRecord) -> bytes:
    """`text` (a branchml.yaml) with its scaffold block replaced, or appended at the end; the
    rest of the user's file is kept byte for byte."""
    block = render(rec)
    if _BLOCK.search(text):
        return _BLOCK.sub(lambda _: block, text, count=1)
    return text + (b"" if text.endswith(b"\n") or not text else b"\n") + b"\n" + block
