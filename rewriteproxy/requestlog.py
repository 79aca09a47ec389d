"""What happened to one request, for its access-log line, its metrics and its headers.

A :class:`RequestRecord` is made when a request arrives and filled in as the
proxy goes: the request id, the outcome, the bypass reason, the time spent
waiting for the upstream and in the rewrite. When the answer is sent, the
proxy hands it to :meth:`AccessLog.write` (one line per request) and to the
metrics (once per request).

The request id is the client's ``X-Request-ID`` when the peer is one of
``proxy.trusted_proxies`` and the value is a plain token of at most 200
characters; otherwise a new random one. It goes to WordPress and back to the
client in ``X-Request-ID``, and into the access log.

Formats (``log.format``): ``text`` writes the access log in the common log
format (``host - - [date] "request line" status bytes``) and events as
``time level logger: message``; ``json`` writes every line as one JSON object
(access lines with method, path, status, bytes, duration, outcome, bypass
reason, upstream time and request id; events with time, level, logger and
message). A request whose client went away before its answer was sent is
logged with status 499, as nginx does.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aiohttp import web

    from .config import LogConfig

__all__ = [
    "CLIENT_GONE",
    "REQUEST_ID",
    "AccessLog",
    "JsonFormatter",
    "RequestRecord",
    "configure_logging",
    "request_id",
]

REQUEST_ID = "X-Request-ID"
CLIENT_GONE = 499  # the status logged when the client left before its answer was sent
_TOKEN = re.compile(r"[A-Za-z0-9._:+/=@-]{1,200}")


class RequestRecord:
    """One request's facts, filled in while it is answered (see the module docstring)."""

    __slots__ = (
        "added",
        "header",
        "id",
        "outcome",
        "reason",
        "rewrite_seconds",
        "sent",
        "shown",
        "started",
        "upstream_seconds",
    )

    def __init__(self, request_id: str, header: str | None = None) -> None:
        self.started = time.perf_counter()
        self.id = request_id
        self.header = header  # the outcome header's name (proxy.outcome_header)
        self.outcome = ""  # a value of rewriteproxy_requests_total's outcome label
        self.reason: str | None = None  # the bypass rule that passed it through
        self.upstream_seconds = 0.0  # waiting for the upstream's head and body
        self.rewrite_seconds: float | None = None  # None: no rewrite ran
        # What the outcome header says; None: not an answer the proxy could rewrite.
        self.shown: str | None = None
        self.added = 0.0  # the proxy's own time up to the answer (set when it is ready)
        self.sent = 0  # body bytes of a streamed answer handed to the socket

    def answer_ready(self) -> None:
        """The answer is built: what the proxy added so far is fixed now."""
        self.added = max(time.perf_counter() - self.started - self.upstream_seconds, 0.0)


def request_id(header: str | None, trusted: bool) -> str:
    """The peer's ``X-Request-ID`` if it is trusted and a plain token, else a new id."""
    if header is not None and trusted and _TOKEN.fullmatch(header):
        return header
    return os.urandom(8).hex()


class AccessLog:
    """Writes one line per answered request on the ``rewriteproxy.access`` logger."""

    def __init__(self, json_lines: bool = False, enabled: bool = True) -> None:
        self._log = logging.getLogger("rewriteproxy.access")
        self._json = json_lines
        self._enabled = enabled

    def write(
        self, request: web.BaseRequest, status: int, size: int, record: RequestRecord
    ) -> None:
        if not self._enabled or not self._log.isEnabledFor(logging.INFO):
            return
        duration = time.perf_counter() - record.started
        if self._json:
            line = json.dumps(
                {
                    "time": _iso(time.time()),
                    "type": "access",
                    "remote": request.remote,
                    "method": request.method,
                    "path": request.raw_path,
                    "status": status,
                    "bytes": size,
                    "duration": round(duration, 6),
                    "outcome": record.outcome,
                    "bypass_reason": record.reason,
                    "upstream_time": round(record.upstream_seconds, 6),
                    "request_id": record.id,
                },
                separators=(",", ":"),
            )
        else:
            version = request.version
            line = (
                f"{request.remote or '-'} - - [{_clf_time()}] "
                f'"{_printable(request.method)} {_printable(request.raw_path)} '
                f'HTTP/{version.major}.{version.minor}" {status} {size if size else "-"}'
            )
        self._log.info(line, extra={_RAW: True})


_RAW = "rewriteproxy_raw"  # a record whose message is the whole line already


def _printable(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"') if '"' in text or "\\" in text else text


def _clf_time() -> str:
    return time.strftime("%d/%b/%Y:%H:%M:%S %z")


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch)) + f".{int(epoch % 1 * 1000):03d}Z"


class JsonFormatter(logging.Formatter):
    """Each event as one JSON object: time, level, logger, message (and the traceback)."""

    def format(self, record: logging.LogRecord) -> str:
        if getattr(record, _RAW, False):
            return record.getMessage()
        entry = {
            "time": _iso(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["traceback"] = self.formatException(record.exc_info)
        return json.dumps(entry, separators=(",", ":"))


class _TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        if getattr(record, _RAW, False):
            return record.getMessage()
        return super().format(record)


def configure_logging(config: LogConfig, level: str | None = None) -> None:
    """Every line to stderr in ``config.format``; ``level`` (the command line's) overrides
    ``config.level``. The access log is written whatever the level (``log.access``
    turns it off, in :class:`AccessLog`)."""
    handler = logging.StreamHandler(sys.stderr)
    if config.format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(_TextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel((level or config.level).upper())
    logging.getLogger("rewriteproxy.access").setLevel(logging.INFO)
