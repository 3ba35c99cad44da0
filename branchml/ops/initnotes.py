"""What `init` tells before it adopts a repository: code that sits on main (which then takes
no code) and branches that match no type, each with what will happen to it."""

from __future__ import annotations

from collections.abc import Iterable

from branchml.core.model import BranchKind, PathClass
from branchml.core.names import check_branch_name
from branchml.core.policy import Policy
from branchml.errors import InvalidName
from branchml.repo.reader import Git

SHOWN = 5  # paths named in the sentence; --json lists them all


def code_on_main(git: Git, base: str, policy: Policy, main: str) -> list[str]:
    """The files of `base` in the code class, when main's type may not change code."""
    bt = policy.branch_type(main)
    if bt is None or bt.ops_for(PathClass.CODE):
        return []
    return sorted(p for _, _, p in git.ls_tree(base) if policy.classify(p) is PathClass.CODE)


def code_note(paths: list[str], main: str, models: Iterable[str]) -> str:
    shown = ", ".join(paths[:SHOWN]) + (f" and {len(paths) - SHOWN} more"
                                         if len(paths) > SHOWN else "")
    dev = next(iter(models), "model")
    return (f"{main} holds {len(paths)} code file(s) ({shown}): {main} takes no code, so from "
            f"now on they stay as they are there and no commit on {main} may edit or remove "
            f"them; the dev/* and stable/* branches start with them: change the code on "
            f"dev/{dev} and promote it to stable/{dev}.")


def untyped(git: Git, policy: Policy, planned: Iterable[str], head: str | None,
            main_created: bool) -> list[dict[str, str]]:
    """Each local branch no type matches (and init does not create), with what will happen."""
    skip = set(planned)
    names = [r.removeprefix("refs/heads/") for r in git.refs("refs/heads/")]
    taken = skip | set(names)
    out = []
    for name in sorted(names):
        if name in skip or policy.branch_type(name) is not None:
            continue
        out.append({"branch": name, "what": _fate(name, policy, head, main_created, taken)})
    return out


def code_name(name: str, policy: Policy, taken: Iterable[str] = ()) -> str | None:
    """A name for branch `name` that the config's first code type (dev/*) matches: its parts
    joined by '-' in the pattern's `*` (a `*` stands for one name part, so dev/feature/x
    matches nothing; dev/feature-x does). Checked against the patterns themselves (the first
    type that matches it must be that code type), git's ref rules and the branches `taken`;
    None when no code type has one `*` to fill or the name cannot be made to match."""
    used = set(taken)
    for bt in policy.branch_types:
        if bt.kind is not BranchKind.CODE or bt.pattern.count("*") != 1:
            continue
        head, _, tail = bt.pattern.partition("*")
        rest = name.removeprefix(head) if head and name.startswith(head) else name
        rest = rest.removesuffix(tail) if tail and rest.endswith(tail) else rest
        flat = "-".join(p for p in rest.split("/") if p)
        for n in range(1, 10):  # dev/feature-x taken already: dev/feature-x-2, ...
            cand = f"{head}{flat}{'' if n == 1 else f'-{n}'}{tail}"
            if (policy.branch_type(cand) is bt and _valid(cand) and cand not in used
                    and not _prefix_clash(cand, used)):
                return cand
    return None


def _valid(name: str) -> bool:
    try:
        check_branch_name(name)
    except InvalidName:
        return False
    return True


def _prefix_clash(cand: str, used: set[str]) -> bool:
    """git cannot hold dev/x beside a branch dev (one is a folder of the other's file)."""
    parts = cand.split("/")
    return any("/".join(parts[:i]) in used for i in range(1, len(parts))) or any(
        u.startswith(cand + "/") for u in used)


def _fate(name: str, policy: Policy, head: str | None, main_created: bool,
          taken: Iterable[str] = ()) -> str:
    if policy.unknown_branches != "reject":
        return (f"{name} matches no branch type and is not judged (unknown_branches: allow); "
                "what it holds is judged when it is merged into a typed branch.")
    why = (f"{name} matches no branch type, so every commit and push on it will be refused "
           "from now on")
    if name == head and main_created:
        return (f"{why}; to keep {name} as the main branch instead of a new main beside it, "
                f"run `branchml init --main {name}` instead.")
    new = code_name(name, policy, taken)
    if new is None:
        return (f"{why}; rename it to a name a branch type matches, or give it a type under "
                "branches: in branchml.yaml.")
    return (f"{why}; rename it to a typed name (`git branch -m {name} {new}` for code work) "
            "or give it a type under branches: in branchml.yaml.")
