"""A webhook delivery: the alert JSON POSTed to an http(s) URL, the whole delivery (name
lookup, connect, send, every read) within the timeout, no redirect followed. Messages name the
URL's scheme and host only: a webhook's path or query often holds its secret."""

from __future__ import annotations

import base64
import contextlib
import http.client
import socket
import threading
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.parse import unquote, urlsplit, urlunsplit
from urllib.request import (
    HTTPHandler,
    HTTPRedirectHandler,
    HTTPSHandler,
    Request,
    build_opener,
)

from branchml.core import alertsettings


class DeliveryFailed(Exception):
    """A delivery not attempted or failed: its message is the warning sentence."""


class _NoRedirect(HTTPRedirectHandler):
    """A redirect is a failure: it could send the alert (a POST) somewhere not configured."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def post(url: str, body: bytes, timeout: float) -> None:
    """POST `body` to `url`, the whole delivery (name lookup, connect, send, every read)
    within `timeout` seconds: urllib's own timeout bounds each socket operation, so a
    receiver answering a byte a second would hold the check as long as it liked."""
    request = _request(url, body)
    outcome: list[BaseException | None] = []
    sockets: list[_Connection] = []
    worker = threading.Thread(target=_deliver, args=(request, url, timeout, sockets, outcome),
                              name="branchml-webhook", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        for conn in list(sockets):  # a blocked read or send ends now: the thread goes too
            conn.cancel()
        raise DeliveryFailed(f"The alert webhook {shown(url)} did not answer within "
                             f"{timeout:g} s and was given up; make it answer sooner or raise "
                             "monitor.alerts.timeout.")
    if not outcome:  # the thread ended without a word: nothing says the POST arrived
        raise DeliveryFailed(f"The alert webhook {shown(url)} could not be reached; the alert "
                             "was not delivered to it.")
    if outcome[0] is not None:
        raise outcome[0]


def _request(url: str, body: bytes) -> Request:
    problem = alertsettings.webhook_problem(url)
    if problem == "it is not an http or https URL with a host":
        raise DeliveryFailed(f"The alert webhook is not an http or https URL (it is "
                             f"{shown(url)}); give one such as https://hooks.example.com/drift.")
    if problem:
        host = shown(url)
        named = "" if host.startswith("a ") else f" {host}"  # "a URL that does not parse"
        raise DeliveryFailed(f"The alert webhook{named} cannot be used: {problem}; fix "
                             "monitor.alerts.webhook in main's branchml.yaml.")
    parts = urlsplit(url)
    headers = {"Content-Type": "application/json", "User-Agent": "branchml"}
    if parts.username is not None:  # user:password@ in the URL: HTTP basic auth, not the host
        pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
        parts = parts._replace(netloc=parts.netloc.rsplit("@", 1)[1])
    return Request(urlunsplit(parts), data=body, method="POST",  # noqa: S310 (http(s) only)
                   headers=headers)


def _deliver(request: Request, url: str, timeout: float, sockets: list[_Connection],
             outcome: list[BaseException | None]) -> None:
    """The delivery, on its own thread: its failure (a DeliveryFailed) handed back in `outcome`."""
    try:
        opener = build_opener(_NoRedirect, _tracked(HTTPHandler, sockets),
                              _tracked(HTTPSHandler, sockets))
        with opener.open(request, timeout=timeout) as response:
            response.read(65_536)
        outcome.append(None)
    except HTTPError as e:
        outcome.append(DeliveryFailed(f"The alert webhook {shown(url)} answered HTTP {e.code}; "
                                      "the alert was not delivered to it."))
    except (URLError, OSError) as e:  # refused, unknown host, timeout
        reason = getattr(e, "reason", None) or e
        outcome.append(DeliveryFailed(f"The alert webhook {shown(url)} could not be reached "
                                      f"({reason}); the alert was not delivered to it."))
    except Exception:  # http.client's InvalidURL (a bad port) and the like: its
        # text may hold a secret, and a failed delivery is a warning, never an exception
        outcome.append(DeliveryFailed(f"The alert webhook {shown(url)} is not a URL that can "
                                      "be reached; check monitor.alerts.webhook."))


class _Connection:
    """A connection of a delivery, which the caller can cut once its time is up."""

    def __init__(self) -> None:
        self.sock: socket.socket | None = None
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True
        if self.sock is not None:
            with contextlib.suppress(OSError):
                self.sock.shutdown(socket.SHUT_RDWR)


def _tracked(handler: type[Any], sockets: list[_Connection]) -> Any:
    """`handler` (urllib's HTTP or HTTPS handler, proxies included) whose connections record
    their socket in `sockets`, so that `post` can cut a delivery past its time."""
    secure = handler is HTTPSHandler
    base: Any = http.client.HTTPSConnection if secure else http.client.HTTPConnection

    class Conn(base):  # type: ignore[misc]
        def connect(self) -> None:
            mine = _Connection()
            sockets.append(mine)
            super().connect()  # name lookup, connect (and TLS): bounded per step by timeout
            mine.sock = self.sock
            if mine.cancelled:  # given up while connecting
                mine.cancel()
                raise OSError("the delivery was given up")

    if secure:
        class Secure(HTTPSHandler):
            def https_open(self, req: Request) -> Any:
                return self.do_open(Conn, req, context=getattr(self, "_context", None))

        return Secure()

    class Plain(HTTPHandler):
        def http_open(self, req: Request) -> Any:
            return self.do_open(Conn, req)

    return Plain()


def shown(url: str) -> str:
    """Scheme and host only: no user, password, path or query (where secrets live); a space
    or control character shown as `?`, so a URL cannot write to the terminal."""
    try:
        parts = urlsplit(url)
    except ValueError:  # an unclosed [ : not even its host can be told
        return "a URL that does not parse"
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    if not parts.hostname:
        return f"a {alertsettings.printable(parts.scheme) or 'schemeless'} URL"
    return alertsettings.printable(f"{parts.scheme}://{parts.hostname}{port}")
