"""`monitor.alerts` values the schema lets through but no delivery can use: a webhook URL
that does not parse (`http://[::1/hook`), holds a space or a control character
(`http://a b/x`) or an impossible port; a command argument holding a NUL, which no program
can receive. `config validate` refuses them up front; a delivery refuses them with a warning
(the trusted config may have been committed before this check)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit


def webhook_problem(url: str) -> str | None:
    """Why `url` cannot be POSTed to (a phrase), or None. Never quotes the URL: its path,
    query or password may hold a secret."""
    if any(c.isspace() or not c.isprintable() for c in url):
        return "it holds a space or a control character"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (a port that is no number, or past 65535, raises here)
    except ValueError:
        return "it does not parse as a URL (an unclosed [ or a bad port)"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "it is not an http or https URL with a host"
    return None


def command_problem(argv: list[str]) -> str | None:
    """Why `argv` cannot be run (a phrase), or None."""
    for i, arg in enumerate(argv):
        if "\0" in arg:
            return f"its argument {i} holds a NUL character, which no program can receive"
    return None


def alerts_problem(alerts: dict[str, Any]) -> str | None:
    """The first problem of a `monitor.alerts` mapping, naming its key, or None."""
    command, webhook = alerts.get("command"), alerts.get("webhook")
    if isinstance(command, list):
        why = command_problem([str(a) for a in command])
        if why:
            return f"monitor.alerts.command: {why}; remove it"
    if isinstance(webhook, str):
        why = webhook_problem(webhook)
        if why:
            return (f"monitor.alerts.webhook: {why}; give an http(s) URL such as "
                    "https://hooks.example.com/drift")
    return None


def printable(text: str) -> str:
    """`text` with spaces and control characters as `?`: safe to print on a terminal."""
    return "".join(c if c.isprintable() and not c.isspace() else "?" for c in text)
