"""Names that reach git: checked here, before any git call, by git's own ref-name rules."""

from __future__ import annotations

import re

from branchml.errors import InvalidName

_FORBIDDEN = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]")
_SEGMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\Z")
CLIENT_ID = re.compile(r"[a-z0-9][a-z0-9_-]*\Z")
MAX_NAME = 200


def ref_name_problem(name: str) -> str | None:
    """Why git would refuse `name` as a branch name (git check-ref-format), or None."""
    if not name:
        return "it is empty"
    if len(name) > MAX_NAME:
        return f"it is longer than {MAX_NAME} characters"
    if name.startswith("-"):
        return "it starts with '-'"
    if _FORBIDDEN.search(name):
        return "it holds a space, a control character or one of ~ ^ : ? * [ \\"
    if ".." in name or "@{" in name or name == "@" or "//" in name:
        return "it holds '..', '@{' or '//', or is '@'"
    if name.endswith(("/", ".", ".lock")) or name.startswith("/"):
        return "it starts or ends with '/', or ends with '.' or '.lock'"
    if any(part.startswith(".") or part.endswith(".lock") for part in name.split("/")):
        return "a part of it starts with '.' or ends with '.lock'"
    return None


def check_branch_name(name: str) -> str:
    """Return `name` if git and branchml accept it as a branch name, else raise InvalidName."""
    problem = ref_name_problem(name)
    if problem is None and name == "HEAD":  # as `git branch HEAD` refuses: a revision's name
        problem = "git reserves HEAD"
    if problem is None and not all(_SEGMENT.match(p) for p in name.split("/")):
        problem = "each part must start with a letter or digit and hold only letters, digits, . _ -"
    if problem:
        raise InvalidName(f"{name!r} is not a valid branch name: {problem}.")
    return name


def model_name_problem(name: str) -> str | None:
    """Why `name` is not a model name (None: it is): one name part that makes valid branches
    dev/NAME and stable/NAME. The rule of `--model` and of the models init's record lists."""
    if "/" in name:
        return "it must be one name part, without '/'"
    if name == "HEAD":
        return "git reserves HEAD"
    try:
        check_branch_name(f"dev/{name}")
    except InvalidName as e:
        return str(e).rstrip(".")
    return None


def pattern_matches(pattern: str, name: str) -> bool:
    """Branch-type patterns: literal parts, and `*` standing for exactly one name part."""
    pparts, nparts = pattern.split("/"), name.split("/")
    if len(pparts) != len(nparts):
        return False
    return all(p == "*" or p == n for p, n in zip(pparts, nparts, strict=True))


def check_client_id(client: str) -> str:
    if not CLIENT_ID.match(client) or len(client) > 64:
        raise InvalidName(
            f"{client!r} is not a valid client id: use lowercase letters, digits, '_' and '-', "
            "starting with a letter or digit (at most 64 characters)."
        )
    return client


REMOTE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\Z")


def check_remote_name(remote: str) -> str:
    """A remote's name (origin, upstream): never an option, a URL or a path here."""
    if not REMOTE_NAME.match(remote) or len(remote) > 100 or remote.endswith(".lock"):
        raise InvalidName(f"{remote!r} is not a remote name: use the name `git remote` lists "
                          "(letters, digits, . _ -).")
    return remote
