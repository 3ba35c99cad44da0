"""The doc-example convention's parser: the fenced blocks of README.md and docs/**/*.md, each
with the marker and hidden setup standing before it (tests/test_doc_examples.py runs them)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

RUN_LANGS = {"bash", "sh", "shell", "python"}
# Tags that look like a shell but would silently not run: name them bash/sh, or text for output.
SHELL_LOOKALIKES = {"console", "shell-session", "shellsession", "zsh", "bash-session", "terminal",
                    "sh-session", "ksh", "fish", "cmd", "powershell", "ps1", "py", "python3",
                    "pycon", "ipython"}
SKIP_REASONS = {
    "installs": "apt-get/pip/make targets that install",
    "server": "starts a long-running server",
    "peer": "another tool's commands, shown for comparison",
    "ci": "a CI configuration snippet",
    "placeholder": "needs something the reader has (their remote URL, their serving code)",
    "bench": "a benchmark that runs for minutes; its figures are the page",
}
# So the skips stay few: raise this only with a reason the review accepts. Skips of another
# tool's commands (`peer`, the docs/peers/ pages) are what those pages are, so not counted.
FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<ticks>`{3,}|~{3,})[ \t]*(?P<info>[^`\s]*)[^`]*$")
# `[--json]`, `[FILE]`: a usage line, not a command (outside comments and quotes, roughly).
SYNOPSIS = re.compile(r"^[^#'\"\n]*\s\[(--?[a-z]|[A-Z]{2,})", re.M)
MARKER = re.compile(r"^[ \t]*<!--\s*example:\s*(?P<body>.*?)\s*(?P<end>-->)?[ \t]*$")


@dataclass
class Block:
    page: str
    line: int  # 1-based line of the opening fence
    lang: str
    code: str
    marker: str = ""  # "", "skip", "fails"
    reason: str = ""
    setup: str = ""  # hidden shell lines to run first
    bad: str = ""  # what is wrong with the block's marker, when something is

    @property
    def runs(self) -> bool:
        return self.lang in RUN_LANGS and self.marker != "skip"

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line}"


def pages() -> list[Path]:
    found = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    return [p for p in found if p.is_file()]


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else path.name


def _marker(body: str, block: Block) -> None:
    """Read one `example:` marker's body into the block it stands before."""
    if body == "fails":
        block.marker = "fails"
    elif body.startswith("skip"):
        block.marker = "skip"
        block.reason = body.partition(":")[2].strip()
        if block.reason not in SKIP_REASONS:
            block.bad = f"skip reason {block.reason!r} is not one of {sorted(SKIP_REASONS)}"
    else:
        block.bad = f"unknown marker `example: {body}` (skip: REASON, fails, setup)"


def parse(path: Path) -> list[Block]:
    """The page's fenced blocks, each with the marker and hidden setup standing before it."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    setup: list[str] = []
    pending: tuple[int, str] | None = None  # (line, body) of a one-line marker
    i = 0
    while i < len(lines):
        m_mark = MARKER.match(lines[i])
        fence = FENCE.match(lines[i])
        if m_mark and m_mark["body"].startswith("setup"):
            i = _read_setup(lines, i, setup)
            continue
        if m_mark:
            pending = (i, m_mark["body"])
        elif fence:
            block, i = _read_block(path, lines, i, fence)
            if pending is not None and pending[0] == block.line - 2:
                _marker(pending[1], block)
            elif pending is not None:
                blocks.append(Block(rel(path), pending[0] + 1, "", "",
                                    bad="marker not on the line right before a block"))
            if block.lang in RUN_LANGS and block.marker != "skip":
                block.setup, setup = "\n".join(setup), []
            blocks.append(block)
            pending = None
            continue
        elif lines[i].strip() and pending is not None:
            blocks.append(Block(rel(path), pending[0] + 1, "", "",
                                bad="marker not on the line right before a block"))
            pending = None
        i += 1
    return blocks


def _read_setup(lines: list[str], i: int, setup: list[str]) -> int:
    """Collect a `<!-- example: setup` comment's lines; returns the line after it."""
    first = lines[i].split("setup", 1)[1]
    if "-->" in first:
        setup.append(first.split("-->")[0].strip())
        return i + 1
    i += 1
    while i < len(lines) and "-->" not in lines[i]:
        setup.append(lines[i])
        i += 1
    return i + 1


def _read_block(path: Path, lines: list[str], i: int, fence: re.Match[str]) -> tuple[Block, int]:
    indent, ticks = len(fence["indent"]), fence["ticks"]
    body: list[str] = []
    j = i + 1
    while j < len(lines):
        close = lines[j].strip()
        if close.startswith(ticks[0] * len(ticks)) and not close.strip(ticks[0]):
            break
        # A block indented under a list item: drop that indent, keep the code's own.
        line = lines[j]
        body.append(line[indent:] if not line[:indent].strip() else line.lstrip())
        j += 1
    block = Block(rel(path), i + 1, fence["info"].lower(), "\n".join(body) + "\n")
    return block, j + 1
