"""Edit main's branchml.yaml for the demo: validation rules, the training command, the
promotion gate and the monitored columns. Exact text replacements, so a template change
fails loudly here instead of silently leaving a rule out."""
from __future__ import annotations

import sys
from pathlib import Path

EDITS = {
    "validate: []\n": (
        "validate:\n"
        "  - glob: \"data/patients-*.csv\"\n"
        "    schema:\n"
        "      type: object\n"
        "      required: [id, diagnosis]\n"
        "      properties:\n"
        "        id: {type: integer}\n"
        "        diagnosis: {enum: [M, B]}\n"
        "      additionalProperties: {type: number}\n"),
    "  require: []\n": "  require: [\"python -m unittest discover -s tests\"]\n",
    "  target: null\n": "  target: diagnosis\n",
    "unknown_branches: reject\n": (
        "unknown_branches: reject\n\n"
        "# `branchml train` runs this in the stable checkout (docs/reproducibility.md).\n"
        "train:\n  command: [python, src/train.py]\n"),
}


def main(path: str) -> None:
    text = Path(path).read_text()
    for old, new in EDITS.items():
        if text.count(old) != 1:
            sys.exit(f"policy.py: {old.strip()!r} is not in {path} exactly once")
        text = text.replace(old, new)
    Path(path).write_text(text)


if __name__ == "__main__":
    main(sys.argv[1])
