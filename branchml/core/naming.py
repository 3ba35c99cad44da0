"""Release tag names: the format is defined once (template + parser), configurable in
branchml.yaml as `tags.format` (default "{client}-v{n}")."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

from branchml.core.names import CLIENT_ID, check_client_id
from branchml.errors import ConfigError

DEFAULT_FORMAT = "{client}-v{n}"


@dataclass(frozen=True)
class TagFormat:
    template: str = DEFAULT_FORMAT

    def __post_init__(self) -> None:
        t = self.template
        if t.count("{client}") != 1 or t.count("{n}") != 1 or re.search(r"\{(?!client\}|n\})", t):
            raise ConfigError(f"tags.format {t!r} must hold {{client}} and {{n}} once each and "
                              "no other {...} field.")
        literal = t.replace("{client}", "").replace("{n}", "")
        if not re.fullmatch(r"[A-Za-z0-9._/-]*", literal) or ".." in t:
            raise ConfigError(f"tags.format {t!r} may only add letters, digits and . _ / - "
                              "around the fields.")

    @cached_property
    def _regex(self) -> re.Pattern[str]:
        parts = re.split(r"(\{client\}|\{n\})", self.template)
        rx = "".join(
            f"(?P<client>{CLIENT_ID.pattern.removesuffix(chr(92) + 'Z')})" if p == "{client}"
            else "(?P<n>[1-9][0-9]*)" if p == "{n}" else re.escape(p)
            for p in parts
        )
        return re.compile(rx + r"\Z")

    def render(self, client: str, n: int) -> str:
        check_client_id(client)
        if n < 1:
            raise ValueError("release numbers start at 1")
        return self.template.replace("{client}", client).replace("{n}", str(n))

    def parse(self, name: str) -> tuple[str, int] | None:
        m = self._regex.match(name)
        return (m["client"], int(m["n"])) if m else None

    def glob(self, client: str) -> str:
        """A for-each-ref pattern for one client's tags."""
        return "refs/tags/" + self.template.replace("{client}", client).replace("{n}", "*")
