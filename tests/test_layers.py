"""The layering of branchml/ cannot rot quietly: imports run one way only,
cli -> api -> ops -> content -> repo -> (config, errors, resources) -> core.

Every `import` and `from ... import` of every module is read with `ast` (the ones inside
functions too: a lazy import is still an import)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "branchml"

# rank of each part: a module may import only parts of its own rank or lower
RANKS = {"core": 0, "errors": 1, "resources": 1, "config": 1, "schemas": 1, "results": 1, "": 1,
         "repo": 2, "content": 3, "ops": 4, "api": 5, "cli": 6, "__main__": 6}


def part_of(module: str) -> str:
    """`branchml.repo.lfs` -> `repo`; `branchml` -> `` (the package's own __init__)."""
    pieces = module.split(".")
    return pieces[1] if len(pieces) > 1 else ""


def imported_modules(source: str) -> list[tuple[int, str]]:
    """(line, dotted name) of every branchml module the source imports."""
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "branchml"]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "branchml":  # `from branchml import api, config`
                out += [(node.lineno, f"branchml.{a.name}") for a in node.names]
            elif node.module.startswith("branchml."):
                out.append((node.lineno, node.module))
    return out


def violations(module: str, source: str) -> list[str]:
    """Each import of a higher layer, as `module:line imports target`."""
    mine = part_of(module)
    bad = []
    for line, target in imported_modules(source):
        theirs = part_of(target)
        if theirs == "__version__":  # `from branchml import __version__`: the package itself
            theirs = ""
        allowed = RANKS[theirs] <= RANKS[mine]
        if mine == "core":  # pure: nothing of branchml but the error family
            allowed = theirs in ("core", "errors")
        if not allowed:
            bad.append(f"{module}:{line} imports {target}")
    return bad


def modules() -> list[tuple[str, Path]]:
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts.pop()
        out.append((".".join(parts), path))
    return out


def test_every_part_has_a_rank() -> None:
    for module, _ in modules():
        assert part_of(module) in RANKS, f"{module}: add its package to RANKS in this test"


def test_no_module_imports_a_higher_layer() -> None:
    bad = [v for module, path in modules() for v in violations(module, path.read_text())]
    assert bad == [], "\n".join(bad)


@pytest.mark.parametrize(("module", "source", "flagged"), [
    ("branchml.core.rules", "from branchml.repo import proc", True),
    ("branchml.core.rules", "import branchml.config", True),
    ("branchml.core.rules", "from branchml.errors import UsageError", False),
    ("branchml.repo.apply", "def f():\n    from branchml.content import strategies\n", True),
    ("branchml.repo.apply", "from branchml import api", True),
    ("branchml.repo.apply", "from branchml import config", False),
    ("branchml.content.strategies", "from branchml.ops.trusted import trusted_ref", True),
    ("branchml.content.strategies", "from branchml.repo import lfs", False),
    ("branchml.ops.merge", "from branchml.cli import render", True),
    ("branchml.ops.merge", "import branchml.cli.render as r", True),
    ("branchml.api", "from branchml.ops import merge", False),
    ("branchml.cli.main", "from branchml.ops.hook import run_hook", False),
])
def test_the_checker_itself(module: str, source: str, flagged: bool) -> None:
    """A lower layer importing a higher one is caught, lazily or not; its legitimate twin
    passes (so a checker that flags everything, or nothing, fails here)."""
    assert bool(violations(module, source)) == flagged
