"""What `init` tells before it adopts a repository: code that sits on main (which then takes
no code) and branches that match no type, each with what will happen to it."""

from __future__ import annotations

from collections.abc import Iterable

from branchml.core.model import PathClass
from branchml.core.policy import Policy
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
    out = []
    for name in sorted(names):
        if name in skip or policy.branch_type(name) is not None:
            continue
        out.append({"branch": name, "what": _fate(name, policy, head, main_created)})
    return out


def _fate(name: str, policy: Policy, head: str | None, main_created: bool) -> str:
    if policy.unknown_branches != "reject":
        return (f"{name} matches no branch type and is not judged (unknown_branches: allow); "
                "what it holds is judged when it is merged into a typed branch.")
    why = (f"{name} matches no branch type, so every commit and push on it will be refused "
           "from now on")
    if name == head and main_created:
        return (f"{why}; to keep {name} as the main branch instead of a new main beside it, "
                f"run `branchml init --main {name}` instead.")
    return (f"{why}; rename it to a typed name (`git branch -m {name} dev/{name}` for code "
            "work) or give it a type under branches: in branchml.yaml.")
