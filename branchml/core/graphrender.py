"""`branchml graph`'s three forms of one Graph: Mermaid (`flowchart LR`, a subgraph per
group), Graphviz dot (a cluster per group) and text (a line per group, then a line per edge).

Every name comes from refs and commit messages, which anyone who can push writes: a branch
`dev/x"]-->n0` or a trailer naming `a];click n0 evil` must stay a label. So nodes are drawn
by generated ids (`n0`, `n1`, ...), and every label is escaped for its format: in Mermaid
each character outside a small safe set becomes an entity code (`#34;`), in dot a quoted
string with `\\` and `"` escaped; control characters are first made visible (`\\x1b`)."""

from __future__ import annotations

import json
import re

from branchml.core.graph import BRANCH_GROUPS, GROUPS, Edge, Graph

FORMATS = ("mermaid", "dot", "text")
WORDS = {"promotion": "promoted", "pull": "pulled", "track": "tracked", "release": "released",
         "deploy": "deployed", "canary": "canary"}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_MERMAID_SAFE = re.compile(r"[A-Za-z0-9 ._/-]")
_PLAIN_NAME = re.compile(r"[A-Za-z0-9._/@+-]+")
_SHAPES = {"releases": ('(["', '"])'), "deployments": ('[["', '"]]')}  # else a box


LONGEST = 200  # characters of a name drawn: a trailer may name a branch 1 MiB long


def visible(text: str) -> str:
    """Control characters as `\\xNN` text (nothing a name holds can move a line), and at most
    LONGEST characters of it (then `...`)."""
    text = text if len(text) <= LONGEST else text[:LONGEST] + "..."
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def mermaid_text(text: str) -> str:
    """A label's characters for a quoted Mermaid label: outside [A-Za-z0-9 ._/-], each is an
    entity code `#<decimal>;`, which Mermaid draws as the character and never parses."""
    return "".join(c if _MERMAID_SAFE.fullmatch(c) else f"#{ord(c)};" for c in visible(text))


def dot_text(text: str) -> str:
    """A label as a dot quoted string's inside: `\\` and `"` escaped (so no `\\N`-style
    escape of dot's either), a line break as dot's `\\n`."""
    return "\\n".join(visible(line).replace("\\", "\\\\").replace('"', '\\"')
                      for line in text.split("\n"))


def plain_name(name: str) -> str:
    """A name for the text form: as it is when plain, else JSON-quoted (a name holding
    ` -> ` or a space must not read as two names)."""
    name = visible(name)
    return name if _PLAIN_NAME.fullmatch(name) and "->" not in name else json.dumps(name)


def edge_label(e: Edge) -> str:
    word = WORDS.get(e.kind, e.kind)
    parts = [f"{word} {e.note}" if e.note else word]
    if e.count > 1:
        parts.append(f"x{e.count}")
    if e.newest:
        parts.append(e.newest[:10])
    if not e.verified:
        parts.append("unverified")
    return " ".join(parts)


def render(graph: Graph, fmt: str) -> str:
    """`graph` as `fmt` (one of FORMATS), ending with a newline."""
    if fmt == "mermaid":
        return mermaid(graph)
    if fmt == "dot":
        return dot(graph)
    return text(graph)


def mermaid(graph: Graph) -> str:
    ids = graph.ids()
    lines = ["flowchart LR"]
    for group in GROUPS:
        members = [n for n in graph.nodes if n.group == group]
        if not members:
            continue
        lines.append(f'  subgraph g_{group}["{group}"]')
        for n in members:
            start, end = _SHAPES.get(group, ('["', '"]'))
            label = "<br>".join(mermaid_text(part) for part in n.label.split("\n"))
            lines.append(f"    {ids[n.name]}{start}{label}{end}")
        lines.append("  end")
    for e in graph.edges:
        arrow = "-->" if e.verified else "-.->"
        lines.append(f'  {ids[e.src]} {arrow}|"{mermaid_text(edge_label(e))}"| {ids[e.dst]}')
    lines += [f"  %% {mermaid_text(c)}" for c in graph.cut]
    return "\n".join(lines) + "\n"


def dot(graph: Graph) -> str:
    ids = graph.ids()
    lines = ["digraph branchml {", "  rankdir=LR;", '  node [shape=box, fontname="Helvetica"];',
             '  edge [fontname="Helvetica", fontsize=10];']
    for group in GROUPS:
        members = [n for n in graph.nodes if n.group == group]
        if not members:
            continue
        shape = "" if group in BRANCH_GROUPS else \
            (", shape=ellipse" if group == "releases" else ", shape=component")
        lines += [f'  subgraph "cluster_{group}" {{', f'    label="{group}";']
        lines += [f'    "{ids[n.name]}" [label="{dot_text(n.label)}"{shape}];' for n in members]
        lines.append("  }")
    for e in graph.edges:
        style = "" if e.verified else ", style=dashed"
        lines.append(f'  "{ids[e.src]}" -> "{ids[e.dst]}" '
                     f'[label="{dot_text(edge_label(e))}"{style}];')
    lines += [f"  // {visible(c)}" for c in graph.cut]
    lines.append("}")
    return "\n".join(lines) + "\n"


def text(graph: Graph) -> str:
    lines = []
    for group in GROUPS:
        members = [n for n in graph.nodes if n.group == group]
        if members:
            shown = ", ".join(plain_name(n.name) + _detail(n.label, n.name) for n in members)
            lines.append(f"{group + ':':<13}{shown}")
    width = max((len(e.kind) for e in graph.edges), default=0) + 2
    for e in graph.edges:
        line = f"{e.kind:<{width}}{plain_name(e.src)} -> {plain_name(e.dst)}  {e.count}x"
        line += f", newest {e.newest[:10]}" if e.newest else ""
        line += f", {visible(e.note)}" if e.note else ""
        if not e.verified:
            line += f"  UNVERIFIED: {visible(e.why)}" if e.why else "  UNVERIFIED"
        lines.append(line)
    lines += [f"cut: {visible(c)}" for c in graph.cut]
    return "\n".join(lines) + "\n"


def _detail(label: str, name: str) -> str:
    """What a node's label adds to its name (a tag's model, a deploy's releases)."""
    rest = label.removeprefix(name).strip().replace("\n", ", ")
    return f" ({visible(rest)})" if rest else ""
