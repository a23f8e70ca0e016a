"""The local stand-in provider: a WSGI application and a small HTTP/1.1 server (stdlib only).

``make_app`` wraps an :class:`~payment_intent.dialects.Api` as a PEP 3333 callable that any WSGI
server or framework can mount. ``make_server`` serves it over HTTP/1.1 with persistent connections
and a thread per connection, which is what ``payment-intent serve`` and the test suite run: a
checkout's requests then share one TCP connection instead of paying a connect, a thread start and
:mod:`wsgiref`'s per-request machinery each. Its design and limits are in ``docs/http.md``.
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import re
import socket
import socketserver
import struct
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from email.utils import formatdate
from typing import Any
from urllib.parse import unquote

from payment_intent.dialects.api import MAX_BODY, Api

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

_LOG = logging.getLogger(__name__)

#: Longest request line, and most bytes of header fields (or of chunked trailer fields) a request
#: may carry.
MAX_REQUEST_LINE = 8 * 1024
MAX_HEADER_BYTES = 64 * 1024
#: Most header fields a request may carry.
MAX_HEADERS = 100
#: Longest chunk-size line (the size and its extensions).
MAX_CHUNK_LINE = 1024
#: Seconds an idle persistent connection (or a stalled request) is kept before it is closed.
IDLE_TIMEOUT = 30.0
#: The longest idle timeout (and request deadline) accepted: a day.
MAX_IDLE_TIMEOUT = 86400.0
#: Seconds a request may take from its first byte to its last; then it is answered 408. The
#: response gets as long again to be written.
REQUEST_TIMEOUT = 10.0
#: Connections served at once; one more is answered 503 at once and closed. Below the few hundred
#: a slow-client attack opens, so those past it cost no thread (docs/http.md).
MAX_CONNECTIONS = 256
#: After an error answer, how long (seconds) and how much (bytes) of what the client still sends
#: is read and dropped before the connection is closed: closing with unread input resets the
#: connection, and the reset can destroy the answer before the client reads it (RFC 9112 9.6).
LINGER = 2.0
LINGER_BYTES = 1024 * 1024

# RFC 9110 5.6.2: a token, the grammar of field names, transfer codings and their parameters.
_TCHAR = r"!#$%&'*+\-.^_`|~0-9A-Za-z"
_TOKEN = f"[{_TCHAR}]+"
_QUOTED = r'"(?:[\t \x21\x23-\x5b\x5d-\x7e\x80-\xff]|\\[\t \x21-\x7e\x80-\xff])*"'
_FIELD_NAME = re.compile(_TOKEN)
# RFC 9112 7.1: chunk-size [ chunk-ext ] CRLF, chunk-ext = *( BWS ";" BWS name [ BWS "=" BWS
# value ] ). Exactly CRLF here: a bare LF inside a body is how requests are smuggled.
_CHUNK_EXT = rf"(?:[ \t]*;[ \t]*{_TOKEN}(?:[ \t]*=[ \t]*(?:{_TOKEN}|{_QUOTED}))?)*"
_CHUNK_LINE = re.compile(rf"([0-9A-Fa-f]+){_CHUNK_EXT}\r\n".encode())
_TRAILER_LINE = re.compile(rf"{_TOKEN}:[^\r\n\x00]*\r\n".encode())
# RFC 9112 6.1: transfer-coding = token *( OWS ";" OWS name BWS "=" BWS value ), in a list whose
# empty elements are ignored (RFC 9110 5.6.1).
_CODING = rf"({_TOKEN})((?:[ \t]*;[ \t]*{_TOKEN}[ \t]*=[ \t]*(?:{_TOKEN}|{_QUOTED}))*)"
_CODING_LIST = re.compile(rf"(?:{_CODING})?(?:[ \t]*,[ \t]*(?:{_CODING})?)*")
_ONE_CODING = re.compile(_CODING)
_VERSION = re.compile(r"HTTP/[0-9]\.[0-9]")
#: Digits of the largest body accepted: a longer number (leading zeros aside) is over the limit.
_BODY_DIGITS = len(str(MAX_BODY))

_REASONS = {
    100: "Continue",
    200: "OK",
    303: "See Other",
    400: "Bad Request",
    401: "Unauthorized",
    402: "Payment Required",
    404: "Not Found",
    408: "Request Timeout",
    409: "Conflict",
    413: "Content Too Large",
    500: "Internal Server Error",
    501: "Not Implemented",
    503: "Service Unavailable",
    505: "HTTP Version Not Supported",
}
_JSON_HEADER = ("Content-Type", "application/json; charset=utf-8")


def make_app(api: Api) -> WSGIApp:
    """The WSGI application answering every request with ``api``."""

    def application(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        headers = {
            name[5:].replace("_", "-").lower(): value
            for name, value in environ.items()
            if name[:5] == "HTTP_" and isinstance(value, str)
        }
        content_type = environ.get("CONTENT_TYPE")
        if content_type:
            headers["content-type"] = str(content_type)
        length = environ.get("CONTENT_LENGTH")
        if length:
            headers["content-length"] = str(length)
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
    if raw.isascii():
        return raw
    try:
        return raw.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return raw


def _body(environ: dict[str, Any]) -> bytes:
    # Whatever server hosts the application, a length that is not ASCII digits means no body.
    length = _content_length(str(environ.get("CONTENT_LENGTH") or "").strip(" \t"))
    if not length:
        return b""
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    # Read at most one byte past the limit: enough for Api to refuse an oversized body.
    data: bytes = stream.read(min(length, MAX_BODY + 1))
    return data


def _content_length(raw: str) -> int | None:
    """A ``Content-Length`` value (RFC 9112: ``1*DIGIT``, ASCII digits only) read as a number,
    capped at one past :data:`MAX_BODY`; ``None`` when it is not one.

    ``str.isdigit`` alone also passes '²' (which ``int`` then refuses) and other scripts' digits
    (which ``int`` reads): only ASCII is a digit on the wire. The cap spares converting a number
    of thousands of digits only to find it too large.
    """
    if not raw.isascii() or not raw.isdigit():
        return None
    digits = raw.lstrip("0")
    return MAX_BODY + 1 if len(digits) > _BODY_DIGITS else int(digits or "0")


def _unready(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
    return [b"starting"]


# -- the server ----------------------------------------------------------------------------------


class BadRequest(Exception):
    """A request the server cannot frame or parse; it is answered with ``status`` and closed."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class _Watch:
    """A connection's deadline, which the server's watchdog enforces.

    ``deadline`` (a :func:`time.monotonic` instant) is infinite while the connection waits for a
    request or the application runs, so only reading a request and writing its response are
    timed. ``reading`` says which of the two is going on, ``expired`` that the watchdog cut it.
    """

    __slots__ = ("deadline", "expired", "reading")

    def __init__(self) -> None:
        self.deadline = math.inf
        self.reading = True
        self.expired = False


class Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
    """An HTTP/1.1 server for one WSGI application, a thread per connection.

    Connections are persistent (``Connection: close`` and HTTP/1.0 without ``keep-alive`` end
    them after the response); one idle for ``idle_timeout`` seconds is closed. A request must
    arrive whole within ``request_timeout`` seconds of its first byte (else 408), and at most
    ``max_connections`` connections are served at once (one more gets 503 and is closed).
    ``server_close`` also closes the connections still open, so no thread outlives the server for
    long.
    """

    daemon_threads = True
    allow_reuse_address = True
    # A burst of connections past the listen queue has its handshakes dropped and retried a
    # second later; the kernel caps this at net.core.somaxconn.
    request_queue_size = 1024

    def __init__(
        self,
        address: tuple[str, int],
        app: WSGIApp,
        *,
        idle_timeout: float = IDLE_TIMEOUT,
        request_timeout: float = REQUEST_TIMEOUT,
        max_connections: int = MAX_CONNECTIONS,
        verbose: bool = False,
    ) -> None:
        for name, seconds in (("idle_timeout", idle_timeout), ("request_timeout", request_timeout)):
            if not 0 < seconds <= MAX_IDLE_TIMEOUT:
                raise ValueError(
                    f"{name} must be a number of seconds above 0 and at most "
                    f"{MAX_IDLE_TIMEOUT:g}, got {seconds!r}."
                )
        if isinstance(max_connections, bool) or not isinstance(max_connections, int):
            raise ValueError(f"max_connections must be a whole number, got {max_connections!r}.")
        if max_connections < 1:
            raise ValueError(f"max_connections must be at least 1, got {max_connections!r}.")
        self.app = app
        self.idle_timeout = idle_timeout
        self.request_timeout = request_timeout
        self.max_connections = max_connections
        self.verbose = verbose
        self._connections: dict[socket.socket, _Watch] = {}
        #: Refused connections being drained before they are closed, with when to give up.
        self._refused: deque[tuple[float, socket.socket]] = deque()
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._watchdog: threading.Thread | None = None
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Connection)
        host, port = self.server_address[:2]
        self.server_name = str(host) if host not in ("", "0.0.0.0", "::") else "localhost"
        self.server_port = int(port)

    def set_app(self, app: WSGIApp) -> None:
        """Serve ``app`` from the next request on."""
        self.app = app

    def get_app(self) -> WSGIApp:
        """The application being served."""
        return self.app

    def process_request(self, request: Any, client_address: Any) -> None:
        """Serve the connection on a thread of its own, or refuse it when the server is full.

        The place is taken here, on the accepting thread, so a burst of connections cannot
        overshoot the cap before their threads start.
        """
        with self._lock:
            full = len(self._connections) >= self.max_connections
            if not full:
                self._connections[request] = _Watch()
            if self._watchdog is None:
                self._watchdog = threading.Thread(
                    target=self._watch, name="http-deadlines", daemon=True
                )
                self._watchdog.start()
        if full:
            self._refuse(request)
        else:
            super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        """Close a served connection and free its place."""
        with self._lock:
            self._connections.pop(request, None)
        super().shutdown_request(request)

    def server_close(self) -> None:
        """Stop listening and end every open connection (their threads then finish)."""
        super().server_close()
        self._closing.set()
        with self._lock:
            open_connections = list(self._connections)
            refused = [connection for _, connection in self._refused]
            self._refused.clear()
        for connection in open_connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        for connection in refused:
            connection.close()

    def _refuse(self, connection: socket.socket) -> None:
        """Answer 503 without a thread, then leave the connection to the watchdog to drain and
        close (see :data:`LINGER`)."""
        body = f"The server is serving {self.max_connections} connections; try again.\n".encode()
        head = (
            f"HTTP/1.1 503 Service Unavailable\r\nDate: {_date()}\r\n"
            "Content-Type: text/plain; charset=utf-8\r\nRetry-After: 1\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        ).encode("latin-1")
        try:
            connection.setblocking(False)
            connection.send(head + body)  # a new connection's send buffer takes it whole
            connection.shutdown(socket.SHUT_WR)
        except OSError:
            connection.close()
            return
        with self._lock:
            self._refused.append((time.monotonic() + LINGER, connection))
            # Past as many refused as served, the oldest is closed at once: a flood of
            # connections must not pile up open sockets.
            oldest = (
                self._refused.popleft()[1] if len(self._refused) > self.max_connections else None
            )
        if oldest is not None:
            oldest.close()

    def _watch(self) -> None:
        """The watchdog: cut requests past their deadline, close drained refused connections."""
        tick = min(0.25, self.request_timeout / 4)
        while not self._closing.wait(tick):
            now = time.monotonic()
            with self._lock:
                served = list(self._connections.items())
                refused = list(self._refused)
            for connection, watch in served:
                if watch.deadline <= now:
                    watch.deadline = math.inf
                    watch.expired = True
                    # Shutting the reading side ends a blocked receive, and the connection's
                    # thread then answers 408; while writing, both sides are shut, which ends
                    # the send.
                    with contextlib.suppress(OSError):
                        connection.shutdown(socket.SHUT_RD if watch.reading else socket.SHUT_RDWR)
            done = [entry for entry in refused if _drained(*entry, now)]
            if done:
                with self._lock:
                    for entry in done:
                        with contextlib.suppress(ValueError):
                            self._refused.remove(entry)


#: Header field names seen so far, with their environ keys ("" for a name that is dropped): the
#: same few names come with every request, so each is checked and converted once. Bounded, so
#: made-up names cannot grow it without end.
_ENVIRON_KEYS: dict[str, str] = {}
_MAX_KNOWN_NAMES = 1024


def _environ_key(name: str) -> str | None:
    """The WSGI environ key of header field ``name`` ("" to drop it), ``None`` if the name is not
    a token (RFC 9110 5.1)."""
    if _FIELD_NAME.fullmatch(name) is None:
        return None
    if "_" in name:
        key = ""
    else:
        key = name.upper().replace("-", "_")
        if key != "CONTENT_TYPE" and key != "CONTENT_LENGTH":
            key = "HTTP_" + key
    if len(_ENVIRON_KEYS) < _MAX_KNOWN_NAMES:
        _ENVIRON_KEYS[name] = key
    return key


def _drained(give_up_at: float, connection: socket.socket, now: float) -> bool:
    """Drop what a refused client has sent so far; once it has closed its side, or failed, or
    its :data:`LINGER` is over, close the connection and say so."""
    try:
        for _ in range(LINGER_BYTES // 65536):  # a client that floods is not read forever
            if not connection.recv(65536):
                break  # the client closed its side
        else:
            if now < give_up_at:
                return False
    except BlockingIOError:  # nothing more has arrived yet
        if now < give_up_at:
            return False
    except OSError:
        pass
    connection.close()
    return True


def _check_chunked_is_final(value: str) -> None:
    """Refuse a ``Transfer-Encoding`` under which the body cannot be read.

    RFC 9112 6.3: unless ``chunked`` is the last coding, where the body ends is unknowable
    (400); 6.1: with ``chunked`` last, any coding before it is one this server does not
    implement (501).
    """
    if _CODING_LIST.fullmatch(value) is None:
        raise BadRequest("Malformed Transfer-Encoding.")
    codings = [(coding[1].lower(), coding[2]) for coding in _ONE_CODING.finditer(value)]
    if (
        not codings
        or codings[-1] != ("chunked", "")
        or any(name == "chunked" for name, _ in codings[:-1])
    ):
        raise BadRequest("A request body must be framed by one final chunked transfer coding.")
    if len(codings) > 1:
        raise BadRequest("Only the chunked transfer coding is accepted.", 501)


class _Connection(socketserver.StreamRequestHandler):
    """One client connection: requests read and answered in turn until either side closes."""

    server: Server
    rfile: io.BufferedReader  # what StreamRequestHandler makes with its default buffering
    disable_nagle_algorithm = True  # responses go out whole, at once; never wait for an ACK

    def setup(self) -> None:
        super().setup()
        _set_timeouts(self.connection, self.server.idle_timeout)
        self.watch = self.server._connections.get(self.connection) or _Watch()
        self.base_environ = {
            "SERVER_NAME": self.server.server_name,
            "SERVER_PORT": str(self.server.server_port),
            "REMOTE_ADDR": str(self.client_address[0]),
            "REMOTE_HOST": "",
            "SCRIPT_NAME": "",
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }

    def finish(self) -> None:
        with contextlib.suppress(OSError):
            super().finish()

    def handle(self) -> None:
        try:
            while self._handle_one():
                pass
        except (TimeoutError, ConnectionError, OSError):
            # An idle or vanished client has nothing to answer; one the watchdog cut off while
            # it was still sending its request is told why.
            if self.watch.expired and self.watch.reading:
                self._refuse_request(
                    408, f"The request did not arrive within {self.server.request_timeout:g} s."
                )

    def _handle_one(self) -> bool:
        """Read and answer one request; whether the connection stays open for another."""
        rfile = self.rfile
        watch = self.watch
        # Waiting for a request is idleness (the idle timeout's business); the request's own
        # deadline starts with its first byte.
        if not rfile.peek(1):
            return False
        watch.reading = True
        watch.deadline = time.monotonic() + self.server.request_timeout
        line = rfile.readline(MAX_REQUEST_LINE + 1)
        while line in (b"\r\n", b"\n"):  # RFC 9112 2.2: ignore empty lines before a request
            line = rfile.readline(MAX_REQUEST_LINE + 1)
        if not line:
            return False
        try:
            environ, keep_alive = self._read_request(line)
        except BadRequest as error:
            self._refuse_request(error.status, str(error))
            return False
        watch.deadline = math.inf
        status, headers, chunks = self._run_app(environ)
        if chunks is None:
            keep_alive = False
        watch.reading = False
        watch.deadline = time.monotonic() + self.server.request_timeout
        self._send(environ, status, headers, chunks or [], keep_alive)
        watch.deadline = math.inf
        if self.server.verbose:
            sys.stderr.write(
                f"{self.client_address[0]} - - [{time.strftime('%d/%b/%Y %H:%M:%S')}] "
                f'"{line.decode("latin-1").rstrip()}" {status.split(" ", 1)[0]}\n'
            )
        return keep_alive

    def _read_request(self, line: bytes) -> tuple[dict[str, Any], bool]:
        """The request's WSGI environ, its body read, and whether the connection persists."""
        if len(line) > MAX_REQUEST_LINE:
            raise BadRequest("Request line too long.")
        if not line.endswith(b"\n"):  # the client left, or went quiet, mid-line
            raise ConnectionResetError("incomplete request line")
        parts = line.decode("latin-1").rstrip("\r\n").split(" ")
        if len(parts) != 3 or not parts[0] or not parts[1]:
            raise BadRequest("Malformed request line.")
        method, target, version = parts
        if not method.isascii() or not method.isalpha() or not method.isupper():
            raise BadRequest("Malformed request method.")
        if version == "HTTP/1.1":
            keep_alive = True
        elif version == "HTTP/1.0":
            keep_alive = False
        elif _VERSION.fullmatch(version):
            raise BadRequest("Only HTTP/1.0 and HTTP/1.1 are served.", 505)
        else:
            raise BadRequest("Malformed request line.")
        environ = dict(self.base_environ)
        self._read_headers(environ)
        if (
            version == "HTTP/1.1" and "HTTP_HOST" not in environ
        ):  # RFC 9112 3.2: HTTP/1.1 names its host
            raise BadRequest("An HTTP/1.1 request must carry a Host header field.")

        connection = str(environ.get("HTTP_CONNECTION", "")).lower()
        if "close" in connection:
            keep_alive = False
        elif "keep-alive" in connection:
            keep_alive = True

        if target[:1] != "/":
            if target[:7].lower() == "http://" or target[:8].lower() == "https://":
                target = "/" + target.split("://", 1)[1].partition("/")[2]
            elif not (target == "*" and method == "OPTIONS"):
                raise BadRequest("Malformed request target.")
        path, _, query = target.partition("?")
        environ["REQUEST_METHOD"] = method
        environ["SERVER_PROTOCOL"] = version
        environ["PATH_INFO"] = unquote(path, "latin-1") if "%" in path else path
        environ["QUERY_STRING"] = query

        if "HTTP_TRANSFER_ENCODING" in environ:
            body = self._read_chunked(environ)
        else:
            body = self._read_body(environ)
        environ["wsgi.input"] = io.BytesIO(body)
        return environ, keep_alive

    def _read_headers(self, environ: dict[str, Any]) -> None:
        rfile = self.rfile
        total = 0
        count = 0
        while True:
            line = rfile.readline(MAX_HEADER_BYTES + 1)
            total += len(line)
            if total > MAX_HEADER_BYTES:
                raise BadRequest("Request header fields too large.")
            if not line.endswith(b"\n"):  # the client left, or went quiet, mid-request
                raise ConnectionResetError("incomplete request header")
            if line in (b"\r\n", b"\n"):
                return
            count += 1
            if count > MAX_HEADERS:
                raise BadRequest("Too many request header fields.")
            if line[:1] in (b" ", b"\t"):
                raise BadRequest("Folded header lines are not accepted.")
            # RFC 9112 5: field-line = field-name ":" OWS field-value OWS.
            name, colon, value = line.decode("latin-1").partition(":")
            key = _ENVIRON_KEYS.get(name) if colon else None
            if key is None:
                key = _environ_key(name) if colon else None
                if key is None:
                    raise BadRequest("Malformed header field.")
            if not key:  # as wsgiref: never let X_Forwarded pose as X-Forwarded
                continue
            # Only SP and HTAB surround a value, not what str.strip() takes (a vertical tab, a
            # no-break space: "chunked\xa0" is not "chunked"). A CR may not split a value; at
            # its ends it reads as the SP that RFC 9110 5.5 allows in its place.
            value = value.strip(" \t\r\n")
            if "\r" in value or "\x00" in value:
                raise BadRequest("Malformed header field value.")
            if key == "CONTENT_TYPE" or key == "CONTENT_LENGTH":
                if key in environ and environ[key] != value:
                    raise BadRequest(f"Conflicting {name} header fields.")
                environ[key] = value
                continue
            if key in environ:
                environ[key] += "," + value
            else:
                environ[key] = value

    def _expect_continue(self, environ: dict[str, Any]) -> None:
        expect = str(environ.get("HTTP_EXPECT", "")).lower()
        if expect == "100-continue" and environ["SERVER_PROTOCOL"] == "HTTP/1.1":
            self.connection.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")

    def _read_body(self, environ: dict[str, Any]) -> bytes:
        """The body framed by Content-Length.

        A length over :data:`~payment_intent.dialects.api.MAX_BODY` is refused (413) from the
        header, before any ``100 Continue`` invites the body and before a byte of it is read.
        """
        raw = environ.get("CONTENT_LENGTH")
        if raw is None:
            return b""
        length = _content_length(raw)
        if length is None:
            raise BadRequest("Malformed Content-Length.")
        if length > MAX_BODY:
            raise BadRequest(f"The request body is over {MAX_BODY} bytes.", 413)
        environ["CONTENT_LENGTH"] = str(length)
        if length == 0:
            return b""
        self._expect_continue(environ)
        return self._read_exactly(length)

    def _read_chunked(self, environ: dict[str, Any]) -> bytes:
        """The body in the chunked transfer coding (RFC 9112 7.1), its trailer fields dropped.

        A chunk that would take the body over :data:`~payment_intent.dialects.api.MAX_BODY` is
        refused (413) from its size line, before its data is read.
        """
        _check_chunked_is_final(environ.pop("HTTP_TRANSFER_ENCODING"))
        if "CONTENT_LENGTH" in environ:
            raise BadRequest("Content-Length and Transfer-Encoding together are refused.")
        if environ["SERVER_PROTOCOL"] == "HTTP/1.0":  # RFC 9112 6.1: its framing is faulty
            raise BadRequest("HTTP/1.0 has no transfer codings.")
        self._expect_continue(environ)
        readline = self.rfile.readline
        body = bytearray()
        while True:
            line = readline(MAX_CHUNK_LINE + 1)
            chunk = _CHUNK_LINE.fullmatch(line)
            if chunk is None:
                if len(line) <= MAX_CHUNK_LINE and not line.endswith(b"\n"):
                    raise ConnectionResetError("the client left mid-body")
                raise BadRequest("Malformed chunk size line.")
            digits = chunk[1].lstrip(b"0")
            if not digits:  # the last chunk
                break
            # More hex digits than MAX_BODY has decimal ones is over it without converting: a
            # size of 2**80 is as easily refused as one of 2**800.
            size = int(digits, 16) if len(digits) <= _BODY_DIGITS else MAX_BODY + 1
            if len(body) + size > MAX_BODY:
                raise BadRequest(f"The request body is over {MAX_BODY} bytes.", 413)
            body += self._read_exactly(size)
            if self._read_exactly(2) != b"\r\n":
                raise BadRequest("Malformed chunk: its data must end with CRLF.")
        trailer_bytes = 0
        while True:  # trailer fields: read and dropped
            line = readline(MAX_HEADER_BYTES + 1)
            trailer_bytes += len(line)
            if line == b"\r\n":
                break
            if trailer_bytes > MAX_HEADER_BYTES or _TRAILER_LINE.fullmatch(line) is None:
                if len(line) <= MAX_HEADER_BYTES and not line.endswith(b"\n"):
                    raise ConnectionResetError("the client left mid-trailer")
                raise BadRequest("Malformed chunked trailer.")
        environ["CONTENT_LENGTH"] = str(len(body))
        return bytes(body)

    def _read_exactly(self, length: int) -> bytes:
        data = self.rfile.read(length)
        if data is None or len(data) != length:  # None: the receive timeout ran out
            raise ConnectionResetError("the client left mid-body")
        return data

    def _run_app(
        self, environ: dict[str, Any]
    ) -> tuple[str, list[tuple[str, str]], list[bytes] | None]:
        """Call the application; its status, headers and body (``None``: it failed)."""
        started: list[Any] = []

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Callable[[bytes], None]:
            if started and exc_info is None:
                raise AssertionError("start_response was called twice without exc_info")
            started[:] = [status, headers]
            return written.append

        written: list[bytes] = []
        try:
            result = self.server.app(environ, start_response)
            try:
                chunks = [*written, *result]
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
        except Exception:
            _LOG.exception("The WSGI application failed on %s", environ.get("PATH_INFO"))
            return "500 Internal Server Error", [("Content-Type", "text/plain")], None
        if not started:
            _LOG.error("The WSGI application returned without calling start_response")
            return "500 Internal Server Error", [("Content-Type", "text/plain")], None
        return started[0], started[1], chunks

    def _send(
        self,
        environ: dict[str, Any],
        status: str,
        headers: list[tuple[str, str]],
        chunks: list[bytes],
        keep_alive: bool,
    ) -> None:
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        lines = [f"HTTP/1.1 {status}\r\nDate: {_date()}\r\n"]
        has_length = False
        for name, value in headers:
            lowered = name.lower()
            if lowered == "content-length":
                has_length = True
            elif lowered == "connection":
                if value.lower() == "close":
                    keep_alive = False
                continue
            lines.append(f"{name}: {value}\r\n")
        if not has_length:
            lines.append(f"Content-Length: {len(body)}\r\n")
        if not keep_alive:
            lines.append("Connection: close\r\n")
        elif environ["SERVER_PROTOCOL"] == "HTTP/1.0":
            lines.append("Connection: keep-alive\r\n")
        lines.append("\r\n")
        head = "".join(lines).encode("latin-1")
        if environ["REQUEST_METHOD"] == "HEAD":
            body = b""
        self.connection.sendall(head + body)

    def _refuse_request(self, status: int, message: str) -> None:
        """Answer ``status`` in plain text, then end the connection without resetting it."""
        body = (message + "\n").encode("utf-8")
        head = (
            f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\nDate: {_date()}\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        ).encode("latin-1")
        with contextlib.suppress(OSError):
            self.connection.sendall(head + body)
            self._linger()

    def _linger(self) -> None:
        """Send the end of the stream, then read and drop what the client still sends until it
        closes its side, for at most :data:`LINGER` seconds and :data:`LINGER_BYTES` bytes.

        The request was not read to its end; closing with its rest unread would reset the
        connection, and a reset can destroy the answer before the client reads it.
        """
        connection = self.connection
        connection.shutdown(socket.SHUT_WR)
        self.watch.reading = True
        self.watch.deadline = time.monotonic() + LINGER
        drained = 0
        while drained < LINGER_BYTES:
            data = connection.recv(65536)
            if not data:
                return
            drained += len(data)


def _set_timeouts(connection: socket.socket, seconds: float) -> None:
    """Make a blocked receive or send give up after ``seconds``.

    On Linux the kernel's own timeouts do it and the socket stays blocking; a Python-level
    timeout would cost a ``poll`` before every ``recv`` and every ``send``. A receive that times
    out then reads as the end of the stream, and the connection is closed.
    """
    if sys.platform.startswith("linux"):
        whole = int(seconds)
        timeval = struct.pack("ll", whole, int((seconds - whole) * 1_000_000))
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, timeval)
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, timeval)
    else:
        connection.settimeout(seconds)


_date_cache: tuple[int, str] = (0, "")


def _date() -> str:
    """The ``Date`` header's value, formatted once a second."""
    global _date_cache
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache = (now, formatdate(now, usegmt=True))
    return _date_cache[1]


def make_server(
    api: Api | Callable[[str], Api],
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    verbose: bool = False,
    idle_timeout: float = IDLE_TIMEOUT,
    request_timeout: float = REQUEST_TIMEOUT,
    max_connections: int = MAX_CONNECTIONS,
) -> Server:
    """A threaded HTTP/1.1 server for ``api`` on ``host:port`` (port 0: any free port).

    ``api`` may be a function of the server's origin (``http://host:port``), called once the port
    is bound, so that the API's redirects can point at the server itself. ``idle_timeout`` is how
    long a persistent connection may wait for its next request, ``request_timeout`` how long a
    request may take to arrive from its first byte, ``max_connections`` how many connections are
    served at once.
    """
    server = Server(
        (host, port),
        _unready,
        idle_timeout=idle_timeout,
        request_timeout=request_timeout,
        max_connections=max_connections,
        verbose=verbose,
    )
    if not isinstance(api, Api):
        reachable = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "[::1]"}.get(host, host)
        api = api(f"http://{reachable}:{server.server_port}")
    server.set_app(make_app(api))
    return server
