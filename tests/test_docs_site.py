"""The documentation site: the generated references equal a fresh generation, every schema key
and every exit code is documented, every page is in the nav, and `mkdocs build --strict`
passes (when mkdocs is installed: the dev extra carries it, so CI builds the site)."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from branchml import errors
from branchml.cli import reference
from branchml.errors import BranchmlError, ExitCode
from branchml.resources import schema

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PEERS = ("dvc", "gto", "lakefs", "mlflow", "gitflow")


def test_committed_references_equal_a_fresh_generation(tmp_path: Path) -> None:
    written = reference.write(tmp_path)
    assert [p.name for p in written] == ["commands.md", "config.md"]
    for page in written:
        committed = (DOCS / "reference" / page.name).read_text(encoding="utf-8")
        assert committed == page.read_text(encoding="utf-8"), (
            f"docs/reference/{page.name} is stale: run "
            "`python -m branchml.cli.reference docs/reference` and commit it")


def test_the_generator_runs_as_a_module_and_says_its_usage(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "branchml.cli.reference", str(tmp_path)],
                          capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "commands.md").is_file() and (tmp_path / "config.md").is_file()
    bare = subprocess.run([sys.executable, "-m", "branchml.cli.reference"],
                          capture_output=True, text=True, cwd=ROOT)
    assert bare.returncode != 0
    assert bare.stderr.strip() == "usage: python -m branchml.cli.reference FOLDER"


def _visible_commands() -> Iterator[str]:
    import typer

    from branchml.cli.commands import app

    root = typer.main.get_command(app)
    ctx = root.context_class(root, info_name="branchml")
    for path, cmd, _ in reference._walk(root, ctx, []):
        if path:
            assert cmd.help, f"branchml {' '.join(path)} has no help text"
            yield " ".join(["branchml", *path])


def test_every_visible_command_has_a_section_and_hidden_ones_none() -> None:
    page = (DOCS / "reference" / "commands.md").read_text(encoding="utf-8")
    titles = set(re.findall(r"^#{2,4} `(branchml[^`]*)`$", page, re.MULTILINE))
    commands = set(_visible_commands())
    assert {"branchml check", "branchml config validate", "branchml monitor check"} <= commands
    assert titles == commands
    assert "branchml hook" not in titles and "branchml merge-driver" not in titles


def test_a_command_lists_the_exit_codes_its_help_names() -> None:
    page = (DOCS / "reference" / "commands.md").read_text(encoding="utf-8")
    check = page.split("## `branchml check`", 1)[1].split("\n## ", 1)[0]
    assert "1 (verdict)" in check and "2 (usage)" in check and "4 (state)" in check
    assert "| `--range` |" in check


def _keys(node: dict[str, Any], defs: dict[str, Any], path: str) -> Iterator[tuple[str, Any]]:
    for name, raw in node.get("properties", {}).items():
        key = f"{path}{name}"
        yield key, reference._resolve(raw, defs).get("description")
        yield from _keys(reference._resolve(raw, defs), defs, key + ".")
        extra = raw.get("additionalProperties")
        if isinstance(extra, dict):
            yield from _keys(reference._resolve(extra, defs), defs, key + ".*.")
        items = raw.get("items")
        if isinstance(items, dict):
            yield from _keys(reference._resolve(items, defs), defs, key + "[].")


def test_every_config_key_has_a_description_and_a_row() -> None:
    doc = schema("config")
    keys = list(_keys(doc, doc["$defs"], ""))
    assert len(keys) > 60
    assert [k for k, text in keys if not (isinstance(text, str) and text.strip())] == []
    page = (DOCS / "reference" / "config.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| <span id=\"[a-z0-9-]+\"></span>`([^`]+)` \|", page, re.MULTILINE)
    assert len(rows) == len(keys)
    assert "monitor.thresholds.ks_pvalue" in rows and "branches.<branch pattern>.ops" in rows


def test_the_config_reference_shows_the_built_in_values() -> None:
    page = (DOCS / "reference" / "config.md").read_text(encoding="utf-8")
    assert "`tags.format` | string | `\"{client}-v{n}\"` |" in page
    assert "`monitor.target` | string or null | `null` |" in page


def _error_classes() -> list[str]:
    return sorted(name for name, obj in vars(errors).items()
                  if isinstance(obj, type) and issubclass(obj, BranchmlError)
                  and obj is not BranchmlError)


def test_the_exit_codes_page_names_every_code_and_every_error() -> None:
    page = (DOCS / "exit-codes.md").read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\| (\d+) \| `([A-Z]+)` \|", page, re.MULTILINE))
    assert rows == {str(int(code)): code.name for code in ExitCode}
    missing = [name for name in _error_classes() if f"`{name}`" not in page]
    assert missing == [], f"docs/exit-codes.md does not name {missing}"
    examples = re.findall(r"\|\| test \$\? -eq (\d+)", page)
    assert sorted(set(examples)) == ["1", "2", "3", "4"]


class _NavLoader(yaml.SafeLoader):
    """mkdocs.yml names a Python function (the toc's slugify): read it as nothing, safely."""


_NavLoader.add_multi_constructor("tag:yaml.org,2002:python/",
                                 lambda loader, suffix, node: None)


def _nav_pages(nav: Any) -> Iterator[str]:
    if isinstance(nav, str):
        yield nav
    elif isinstance(nav, list):
        for item in nav:
            yield from _nav_pages(item)
    elif isinstance(nav, dict):
        for value in nav.values():
            yield from _nav_pages(value)


def test_every_page_is_in_the_nav_and_every_nav_entry_exists() -> None:
    # _NavLoader is a SafeLoader: the one tag it adds builds nothing
    config = yaml.load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"), Loader=_NavLoader)
    assert config["theme"]["name"] == "material" and config["strict"] is True
    nav = list(_nav_pages(config["nav"]))
    pages = sorted(str(p.relative_to(DOCS)) for p in DOCS.rglob("*.md")
                   if not str(p.relative_to(DOCS)).startswith("demo/"))
    assert sorted(nav) == pages
    for must in ("index.md", "tutorial.md", "concepts.md", "undo.md", "exit-codes.md",
                 "reference/commands.md", "reference/config.md"):
        assert must in nav


@pytest.mark.parametrize("peer", PEERS)
def test_a_peer_page_maps_the_tool_and_shows_the_same_task_both_ways(peer: str) -> None:
    page = (DOCS / "peers" / f"{peer}.md").read_text(encoding="utf-8")
    assert re.search(r"^\|---\|---\|", page, re.MULTILINE), "a table of what maps to what"
    assert re.search(r"<!-- example: skip: peer -->\n```(bash|sh|python)\n", page)
    ours = re.findall(r"(<!-- example:[^\n]*-->\n)?```bash\n", page)
    assert "" in ours, "a ```bash block of ours that the doc-example test runs"
    assert "do not" in page or "does not" in page, "what they do that we do not"


def test_mkdocs_builds_the_site_strictly(tmp_path: Path) -> None:
    for module in ("mkdocs", "material"):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not installed (pip install -e '.[docs]')")
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir",
                           str(tmp_path / "site")], capture_output=True, text=True, cwd=ROOT,
                          env={**_env(), "NO_MKDOCS_2_WARNING": "1"}, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "WARNING" not in done.stderr
    assert (tmp_path / "site" / "reference" / "commands" / "index.html").is_file()
    assert (tmp_path / "site" / "peers" / "dvc" / "index.html").is_file()


def _env() -> dict[str, str]:
    import os

    return dict(os.environ)


def test_the_config_guide_links_the_reference_for_every_key_it_explains() -> None:
    guide = (DOCS / "config.md").read_text(encoding="utf-8")
    unlinked = re.findall(r"^\| `([a-z0-9_.]+)` \|", guide, re.MULTILINE)
    assert unlinked == [], f"docs/config.md explains {unlinked} without linking the reference"
    anchors = set(re.findall(r"\(reference/config\.md#(key-[a-z0-9-]+)\)", guide))
    assert len(anchors) > 40
    page = (DOCS / "reference" / "config.md").read_text(encoding="utf-8")
    ids = set(re.findall(r'<span id="(key-[a-z0-9-]+)"></span>', page))
    assert anchors - ids == set()
    for top in schema("config")["properties"]:  # the key itself, or one of its keys
        here = reference.key_anchor(top)
        assert any(a == here or a.startswith(here + "-") for a in anchors), \
            f"docs/config.md never explains {top} with a link to the reference"


@pytest.mark.parametrize(("text", "shown"), [
    ("pull into stable/* from split/*", "pull into stable/\\* from split/\\*"),
    ("`dev/*` stays code", "`dev/*` stays code"),
    ("a <tag> here", "a &lt;tag&gt; here"),
    ("`<kept>` as code", "`<kept>` as code"),
])
def test_help_text_is_escaped_outside_code_spans_only(text: str, shown: str) -> None:
    assert reference.prose(text) == shown


def test_a_table_cell_is_one_line_with_its_pipes_escaped() -> None:
    assert reference.cell("a | b\n  c") == "a \\| b c"
