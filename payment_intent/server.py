"""The local stand-in provider: a WSGI application (standard library only) and a threaded server.

``make_app`` wraps an :class:`~payment_intent.dialects.Api` as a WSGI callable that any WSGI server
or framework can mount; ``make_server`` binds it with :mod:`wsgiref` on a thread per request, which
is what ``payment-intent serve`` and the test suite run.
"""

from __future__ import annotations

import socketserver
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer
from wsgiref.simple_server import make_server as _make_server

from payment_intent.dialects.api import MAX_BODY, Api

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    402: "Payment Required",
    404: "Not Found",
    409: "Conflict",
    303: "See Other",
    500: "Internal Server Error",
}


def make_app(api: Api) -> WSGIApp:
    """The WSGI application answering every request with ``api``."""

    def application(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        headers = {
            name[5:].replace("_", "-").lower(): value
            for name, value in environ.items()
            if name.startswith("HTTP_") and isinstance(value, str)
        }
        for name in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            if environ.get(name):
                headers[name.replace("_", "-").lower()] = str(environ[name])
        response = api.handle(
            str(environ.get("REQUEST_METHOD", "GET")),
            _path(environ),
            str(environ.get("QUERY_STRING", "")),
            headers,
            _body(environ),
        )
        content = response.content()
        status = f"{response.status} {_REASONS.get(response.status, 'Error')}"
        start_response(status, [*response.headers, ("Content-Length", str(len(content)))])
        return [content]

    return application


def _path(environ: dict[str, Any]) -> str:
    # PEP 3333 hands the path over as latin-1 decoded bytes; undo that to read it as UTF-8.
    raw = str(environ.get("SCRIPT_NAME", "")) + str(environ.get("PATH_INFO", ""))
    try:
        return raw.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return raw


def _body(environ: dict[str, Any]) -> bytes:
    try:
        length = int(str(environ.get("CONTENT_LENGTH") or 0))
    except ValueError:
        length = 0
    if length <= 0:
        return b""
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    # Read at most one byte past the limit: enough for Api to refuse an oversized body.
    data: bytes = stream.read(min(length, MAX_BODY + 1))
    return data


def _unready(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
    return [b"starting"]


class _ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        if getattr(self.server, "verbose", False):
            super().log_message(format, *args)


def make_server(
    api: Api | Callable[[str], Api],
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    verbose: bool = False,
) -> WSGIServer:
    """A threaded HTTP server for ``api`` on ``host:port`` (port 0: any free port).

    ``api`` may be a function of the server's origin (``http://host:port``), called once the port
    is bound, so that the API's redirects can point at the server itself.
    """
    server = _make_server(
        host, port, _unready, server_class=_ThreadingWSGIServer, handler_class=_QuietHandler
    )
    if not isinstance(api, Api):
        reachable = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "[::1]"}.get(host, host)
        api = api(f"http://{reachable}:{server.server_port}")
    server.set_app(make_app(api))
    server.verbose = verbose  # type: ignore[attr-defined]
    return server
