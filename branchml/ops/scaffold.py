"""What `init` writes on main, rendered from the top-level templates/ (shipped in the wheel)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from string import Template

from branchml.core.model import PathClass
from branchml.core.policy import Policy
from branchml.resources import template_text, templates_dir


def scaffold_files(project: str, model: str, lfs: bool, main: str = "main") -> dict[str, bytes]:
    """Path on main -> content, for a repository that has none of them; `main`: the name of
    the branch of type main (`init --main master`)."""
    root = templates_dir() / "main"
    out: dict[str, bytes] = {}
    for path in sorted(root.rglob("*")):
        if path.is_file():
            text = Template(path.read_text(encoding="utf-8"))
            rel = path.relative_to(root).as_posix()
            out[rel] = text.safe_substitute(project=project, model=model, main=main).encode()
    config = template_text("branchml.yaml")
    if not lfs:
        config = config.replace("lfs: [data, models]", "lfs: []")
    out["branchml.yaml"] = config_for_main(config, main).encode()
    return out


def config_for_main(text: str, main: str) -> str:
    """The config template with `main` as the main branch's pattern and as the parent of the
    types that start from main (the template's own lines only: two-space keys, `parent:`)."""
    if main == "main":
        return text
    name = json.dumps(main)  # a quoted YAML string whatever the name holds
    text = re.sub(r"^  main:$", lambda _: f"  {name}:", text, flags=re.M)
    text = re.sub(r"^    parent: main$", lambda _: f"    parent: {name}", text, flags=re.M)
    return text.replace("The copy on `main`", f"The copy on `{main}`")


def attribute_lines(policy: Policy, merge: Mapping[str, str]) -> list[str]:
    """One line per glob of each class stored in git-lfs or merged by a branchml driver:
    `data/** filter=lfs diff=lfs merge=branchml-append -text`. The merge attribute comes after
    git-lfs's, so it wins over the `merge=lfs` that `git lfs track` writes."""
    lines = []
    for cls, globs in policy.path_classes:
        strategy = merge.get(str(cls), "text")
        driver = f"merge=branchml-{strategy}" if strategy in ("append", "overwrite") else ""
        lfs = cls in policy.lfs_classes
        if not (lfs or driver):
            continue
        attrs = " ".join(a for a in ("filter=lfs diff=lfs" if lfs else "", driver,
                                      "-text" if lfs else "") if a)
        lines += [f"{g} {attrs}" for g in globs]
    return lines + _overrides(policy, merge)


def _overrides(policy: Policy, merge: Mapping[str, str]) -> list[str]:
    """The first class whose glob matches owns a path, but git takes a path's attributes from
    the last matching line: where a glob of a class with neither git-lfs nor a merge driver
    lies inside the folder (`x/**`) of a later class with them, a line after theirs undoes
    them (`monitoring/checks/**`, config, inside `monitoring/**`, data)."""
    def special(cls: PathClass) -> bool:
        return cls in policy.lfs_classes or merge.get(str(cls)) in ("append", "overwrite")

    classes = list(policy.path_classes)
    out = []
    for i, (cls, globs) in enumerate(classes):
        if special(cls):
            continue
        folders = [g[:-2] for c, gs in classes[i + 1:] if special(c) for g in gs
                   if g.endswith("/**")]
        out += [f"{g} !filter !diff !merge !text" for g in globs
                if any(g.startswith(f) for f in folders)]
    return out


def ignore_lines() -> list[str]:
    return [ln for ln in template_text("gitignore").splitlines() if ln.strip()]


def extend_lines(existing: bytes | None, lines: list[str], header: str) -> bytes | None:
    """`existing` with the missing `lines` appended (never rewritten); None if none missing."""
    text = (existing or b"").decode("utf-8", errors="surrogateescape")
    have = {ln.strip() for ln in text.splitlines()}
    missing = [ln for ln in lines if ln.strip() not in have]
    if not missing:
        return None
    if text and not text.endswith("\n"):
        text += "\n"
    block = (f"# {header}\n" if text else "") + "\n".join(missing) + "\n"
    return (text + block).encode("utf-8", errors="surrogateescape")
