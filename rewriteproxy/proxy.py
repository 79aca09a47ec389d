"""Forwarding one request to WordPress and its response back, rewriting where it may.

The flow for every request:

1. Decide whether this request may be rewritten at all (``enabled``, the bypass
   rules). If not, it is a faithful pass-through: a body of known length up to
   256 KiB is read whole and sent in one piece (far cheaper than streaming it),
   as is a chunked one (PHP's way) that is all here when its headers are;
   anything else streams, each write carrying all that has arrived.
2. A request body is read from the client whole first (memory, then a temporary
   file: :mod:`.http.buffering`), so a slow or stalled upload never holds an
   upstream connection: over ``proxy.max_body_bytes`` is a 413 (at once when
   ``Content-Length`` says so), no new byte for ``proxy.client_body_timeout`` a
   408; both end the connection. It then goes upstream with a ``Content-Length``.
3. Forward method, path, query, body and end-to-end headers upstream, with
   ``X-Forwarded-*`` believed only from ``proxy.trusted_proxies`` and otherwise
   set from what the proxy saw (:mod:`.http.headers`); ``Accept-Encoding`` is
   narrowed to codings the proxy can decode, so it can always read what comes back.
4. A response that cannot be rewritten (an image, a type no rewriter handles,
   ``Cache-Control: no-transform``, an unknown coding, a body over
   ``proxy.max_rewrite_bytes``) streams straight through, never held whole: the
   upstream is read into a spool as fast as it sends while a second task feeds
   the client from it, so the upstream connection goes back to the pool when the
   upstream is done, not when the client is.
5. A rewritable one is collected, run through the :class:`~.pipeline.Pipeline`
   and sent with a correct ``Content-Length`` and its own weak ``ETag``. If the
   rewrite fails, the original bytes and headers are sent (fail open).

Every answer is sent after the upstream connection is given back, and under
``proxy.send_timeout`` (:mod:`.http.sendwatch`): a client that takes nothing
that long is cut off.

A HEAD request or a 206 partial answer for a rewritable page is fetched again as
a plain GET, so that headers, length and validators match what a GET would
give (a server may always answer a Range request with the full 200).

Memory: pages are held whole only while being rewritten, and a
:class:`~.budget.ByteBudget` (64 MiB per worker by default) bounds how much of that
there is at once. A rewritable response waits for its share (three times its
length: the body, the transient copies of a rewrite, the unsent part of the
answer) before its body is read, and gives it back once the answer has been
handed to the client's socket, so many clients fetching big pages queue
instead of multiplying memory; the bodies they wait for stay in the kernel's
socket buffers. A body of unknown length is reserved at a guess and may
overdraw the budget as it grows (never past ``max_rewrite_bytes``), because
making it wait then could deadlock. Streamed and request bodies are bounded by
the spools' own limits.

Upstream refusing connections or answering with something that cannot be
passed on (:mod:`.http.syntax`) is a 502, upstream silent past
``proxy.read_timeout`` a 504, a request that cannot be written upstream as it
is a 400; all short plain-text answers. A client that
goes away cancels the upstream request (the app runs with handler cancellation)
and counts in ``rewriteproxy_client_disconnects_total`` (``send_timeout`` when
the proxy cut it off), apart from the request's outcome and never as an
upstream error.

Each request has a :class:`~.requestlog.RequestRecord` (in the request's
mapping, under :data:`RECORD`) that the steps above fill in; once the answer
is sent it is counted and logged once (:func:`_finish`). :func:`stamp` runs
as each answer's head is prepared and writes ``X-Request-ID``, the outcome
header and ``Server-Timing`` from it: what the record says at that moment,
which for a streamed answer is the decision made before its body was read.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import aiohttp
from aiohttp import web
from multidict import CIMultiDict
from yarl import URL

from .bypass import Decision
from .http import codings
from .http.buffering import Spool, SpoolBroken, SpoolClosed, SpoolLimits
from .http.headers import end_to_end, forwarded_request_headers, request_host
from .http.sendwatch import Send, SendWatch
from .http.validators import etag_for, our_tags
from .requestlog import CLIENT_GONE, REQUEST_ID, RequestRecord, request_id
from .runtime import Runtime, State
from .upstream import UPSTREAM_ERRORS, InvalidRequest, UpstreamResponse

if TYPE_CHECKING:
    from .config import ProxyConfig
    from .pipeline import Pipeline

__all__ = ["RECORD", "handle", "stamp"]

log = logging.getLogger("rewriteproxy.proxy")

RECORD = "rewriteproxy.record"  # the request's RequestRecord, in the request's mapping
_CLIENT_GONE = "client_gone"  # the outcome of a request its client ended before one was reached
# A pass-through body of known length up to this size is read whole and sent in one piece.
_WHOLE_BELOW = 256 * 1024
_NO_BODY_STATUSES = frozenset((204, 304)) | frozenset(range(100, 200))
# Headers that describe the upstream's bytes: a rewritten body gets its own (or none).
_OF_THE_UPSTREAM_BYTES = frozenset(
    ("content-length", "etag", "content-md5", "accept-ranges", "digest")
)
# Rewriting in a worker thread keeps the loop answering while a big page is processed.
_THREAD_THRESHOLD = 512 * 1024
# A compressed body is rewritten decoded, so it counts as this many times its size
# (HTML compresses 4 to 10 times): a page that unpacks to megabytes goes to the thread.
_EXPANSION_GUESS = 8


# What a body of unknown length reserves before its first byte is read.
_UNKNOWN_LENGTH_GUESS = 256 * 1024


@dataclass(slots=True)
class _Whole:
    """An answer not yet sent, all of it here; ``lease``: budget bytes to give back once sent."""

    response: web.StreamResponse
    lease: int = 0


@dataclass(slots=True)
class _Streamed:
    """An answer being fed to the client from ``spool`` by ``feeder`` (True: all of it sent)."""

    response: web.StreamResponse
    feeder: asyncio.Task[bool]
    spool: Spool


_Reply = _Whole | _Streamed


async def handle(request: web.Request, state: State) -> web.StreamResponse:
    runtime = state.runtime  # one snapshot for the whole request, whatever a reload does meanwhile
    settings = runtime.config.proxy
    trusted = settings.trusted_proxies.trusts(request.remote)
    record = RequestRecord(
        request_id(request.headers.get(REQUEST_ID), trusted), settings.outcome_header
    )
    request[RECORD] = record
    send = Send(request.transport, settings.send_timeout)
    try:
        reply = await _answer(request, state, runtime, send)
        record.answer_ready()
        response = await _deliver(request, state, reply, send)
    except asyncio.CancelledError:  # aiohttp cancels the handler when the client's connection ends
        _count_gone(state, send)
        if not record.added:
            record.answer_ready()
        record.outcome = record.outcome or _CLIENT_GONE
        _finish(request, state, record, CLIENT_GONE, 0)
        raise
    _finish(request, state, record, response.status, _body_bytes(request, response, record))
    return response


def _body_bytes(request: web.Request, response: web.StreamResponse, record: RequestRecord) -> int:
    """The body bytes sent (``body_length`` would count the head too)."""
    if not isinstance(response, web.Response):
        return record.sent
    body = response.body
    return len(body) if isinstance(body, bytes) and request.method != "HEAD" else 0


def _finish(
    request: web.Request, state: State, record: RequestRecord, status: int, size: int
) -> None:
    """Count the request once and write its access-log line."""
    state.metrics.request(
        record.outcome or "passthrough", time.perf_counter() - record.started, record.added
    )
    state.access_log.write(request, status, size, record)


async def stamp(request: web.BaseRequest, response: web.StreamResponse) -> None:
    """Before a proxied answer's head is written: its request id, and what the proxy did
    with it (the outcome header, ``Server-Timing``). Run for every answer of the app."""
    record = request.get(RECORD)
    if record is None:
        return
    headers = response.headers
    headers[REQUEST_ID] = record.id
    name = record.header
    if name is not None:
        if record.shown is not None:
            headers[name] = record.shown
        elif name in headers:
            del headers[name]  # only the proxy says what the proxy did
    if record.rewrite_seconds is not None:
        timing = f"rewrite;dur={record.rewrite_seconds * 1000:.3f}"
        earlier = headers.get("Server-Timing")
        headers["Server-Timing"] = f"{earlier}, {timing}" if earlier else timing


async def _answer(request: web.Request, state: State, runtime: Runtime, send: Send) -> _Reply:
    """The answer to send, with the upstream connection given back already (or never taken)."""
    config = runtime.config
    if config.enabled:
        query = request.rel_url.query if request.query_string else None
        decision = Decision(
            runtime.bypass.reason(
                request.method,
                request.rel_url.raw_path,
                query,
                request.headers,
                request.body_exists,
            )
        )
    else:
        decision = _DISABLED
    peer = request.remote
    trusted = config.proxy.trusted_proxies.trusts(peer)
    sites = runtime.sites
    pipeline = sites.select(request_host(request.headers, trusted))
    if pipeline is None:  # a host of no site: passed through, yet typed like the others
        pipeline = sites.all[0]
        if decision.reason is None:
            decision = _UNKNOWN_HOST
    reason = decision.reason
    record: RequestRecord = request[RECORD]
    if reason is not None:
        record.reason = reason
        state.metrics.bypass(reason)
    revalidating = our_tags(request.headers.get("If-None-Match")) if reason is None else frozenset()
    bypass = runtime.bypass

    def mark(headers: CIMultiDict[str]) -> None:
        """What the answer tells caches in front about the decision (Vary, private)."""
        bypass.cache_headers(headers, decision)

    headers = forwarded_request_headers(
        request.headers,
        peer=peer,
        trusted=trusted,
        scheme=request.scheme,
        upstream_host=URL(config.upstream).raw_authority,
        preserve_host=config.proxy.preserve_host,
    )
    headers[REQUEST_ID] = record.id
    if reason is None:
        headers["Accept-Encoding"] = codings.narrow_accept_encoding(
            request.headers.get("Accept-Encoding")
        )
    if revalidating:
        # Our tags mean nothing to WordPress; the proxy decides the 304 itself.
        headers.popall("If-None-Match", None)
        headers.popall("If-Modified-Since", None)

    target = request.raw_path
    if not target.startswith("/"):  # absolute-form ("GET http://host/path"), as proxies get
        target = request.rel_url.raw_path_qs
    body: Spool | None = None
    if request.body_exists:
        read = await _read_body(request, state, config.proxy)
        if isinstance(read, _Whole):
            return read
        body = read
        headers["Content-Length"] = str(body.size)
        headers.popall("Expect", None)  # the proxy has the body already; it answered the client
    try:
        return await _exchange(
            request,
            state,
            _Site(runtime, pipeline),
            send,
            target,
            headers,
            decision,
            mark,
            revalidating,
            body,
        )
    except (TimeoutError, aiohttp.ServerTimeoutError):
        record.outcome = "upstream_timeout"
        state.metrics.upstream_error("timeout")
        return _Whole(
            _error(504, "Gateway Timeout: the WordPress origin did not answer in time.\n")
        )
    except UPSTREAM_ERRORS as exc:
        record.outcome = "upstream_error"
        state.metrics.upstream_error("error")
        state.logs.log("upstream", logging.WARNING, "upstream %s: %s", config.upstream, exc)
        return _Whole(_error(502, "Bad Gateway: the WordPress origin could not be reached.\n"))
    except InvalidRequest as exc:  # nothing was sent: what cannot be written came from the client
        record.outcome = "invalid_request"
        state.logs.log("not-forwarded", logging.INFO, "request not forwarded: %s", exc)
        return _Whole(_error(400, "Bad Request: the request cannot be forwarded.\n"))
    finally:
        if body is not None:
            body.close()


async def _exchange(
    request: web.Request,
    state: State,
    site: _Site,
    send: Send,
    target: str,
    headers: CIMultiDict[str],
    decision: Decision,
    mark: Mark,
    revalidating: frozenset[str],
    body: Spool | None,
) -> _Reply:
    data: bytes | AsyncIterator[bytes] | None = None
    if body is not None:
        data = body.whole() if body.in_memory else body.pieces()
    record: RequestRecord = request[RECORD]
    asked = time.perf_counter()
    async with state.upstream.request(request.method, target, headers, data) as upstream:
        record.upstream_seconds += time.perf_counter() - asked
        of_type = _of_a_rewritten_type(upstream, site.pipeline)
        why_not = decision.reason or (_why_not_rewritable(upstream, site) if of_type else "")
        if why_not is None:
            if request.method != "HEAD" and upstream.status != 206:
                return await _rewrite(request, state, site, upstream, revalidating, send, mark)
        else:
            record.outcome = "too_large" if why_not == _TOO_LARGE else "passthrough"
            if of_type:
                record.shown = (
                    "too-large" if why_not == _TOO_LARGE else f"bypassed; reason={why_not}"
                )
            # A bypassed answer of a type the proxy rewrites tells caches why it was not,
            # whatever its coding or size (those make no difference to a cache).
            marked = decision.marks_answers and of_type
            return await _pass_through(request, state, upstream, send, mark if marked else None)
    # Fetched again as a GET once this answer's connection is given back: holding it
    # while waiting for a second one, enough HEADs at once would take every connection.
    return await _refetch_and_rewrite(
        request, state, site, target, headers, revalidating, send, mark
    )


async def _read_body(request: web.Request, state: State, settings: ProxyConfig) -> Spool | _Whole:
    """The request body, read whole from the client before any upstream connection is
    taken (so a slow or stalled upload costs no upstream connection), or the refusal."""
    limit = settings.max_body_bytes
    length = request.content_length
    record: RequestRecord = request[RECORD]
    if length is not None and length > limit:
        record.outcome = "body_too_large"
        return _refusal(413, "Content Too Large: the request body is over the proxy's limit.\n")
    spool = state.buffers.spool(_spool_limits(settings), backpressure=False)
    content = request.content
    timeout = settings.client_body_timeout
    try:
        while True:
            chunk = content.read_nowait()
            if not chunk:
                if content.at_eof():
                    break
                async with asyncio.timeout(timeout):
                    chunk = await content.readany()
                if not chunk:
                    break
            if spool.size + len(chunk) > limit:  # chunked, or more than announced
                spool.close()
                record.outcome = "body_too_large"
                return _refusal(
                    413, "Content Too Large: the request body is over the proxy's limit.\n"
                )
            await spool.put(chunk)
    except TimeoutError:
        spool.close()
        record.outcome = "body_timeout"
        return _refusal(408, "Request Timeout: the request body stopped arriving.\n")
    except OSError as exc:
        spool.close()
        record.outcome = "body_unbuffered"
        state.logs.log("request-body", logging.WARNING, "cannot buffer a request body: %s", exc)
        return _refusal(503, "Service Unavailable: the request body could not be buffered.\n")
    except BaseException:
        spool.close()
        raise
    spool.finish()
    return spool


async def _deliver(
    request: web.Request, state: State, reply: _Reply, send: Send
) -> web.StreamResponse:
    """Send ``reply`` to the client, under the send timeout."""
    if isinstance(reply, _Streamed):
        try:
            sent = await reply.feeder
        finally:
            reply.feeder.cancel()
            reply.spool.close()
        if not sent:
            _count_gone(state, send)
        return reply.response
    response = reply.response
    sends = state.sends
    sends.watch(send)
    try:
        await response.prepare(request)
        await response.write_eof()
    except ConnectionResetError:  # aiohttp's ClientConnectionResetError: the client went
        _count_gone(state, send)
        response.force_close()
    finally:
        sends.unwatch(send)
        if reply.lease:
            state.budget.release(reply.lease)
    return response


def _count_gone(state: State, send: Send) -> None:
    state.metrics.client_gone(send.timed_out)


_DISABLED = Decision("disabled")
Mark = Callable[[CIMultiDict[str]], None]


@dataclass(frozen=True, slots=True)
class _Site:
    """The runtime a request sees, and the pipeline of the site its host selected."""

    runtime: Runtime
    pipeline: Pipeline


_UNKNOWN_HOST = Decision("unknown-host")


def _of_a_rewritten_type(upstream: UpstreamResponse, pipeline: Pipeline) -> bool:
    return upstream.status not in _NO_BODY_STATUSES and pipeline.handles(
        upstream.headers.get("Content-Type")
    )


_TOO_LARGE = "too-large"


def _why_not_rewritable(upstream: UpstreamResponse, site: _Site) -> str | None:
    """Why an answer of a rewritten type is passed on as it is (the outcome header's
    reason), or ``None`` when it may be rewritten."""
    if "no-transform" in upstream.headers.get("Cache-Control", "").lower():
        return "no-transform"
    encoding = upstream.headers.get("Content-Encoding", "")
    if any(
        c.strip().lower() not in (*codings.SUPPORTED, "x-gzip", "identity")
        for c in encoding.split(",")
        if c.strip()
    ):
        return "content-coding"
    length = upstream.content_length
    if length is not None and length > site.runtime.config.proxy.max_rewrite_bytes:
        return _TOO_LARGE
    return None


async def _refetch_and_rewrite(
    request: web.Request,
    state: State,
    site: _Site,
    target: str,
    headers: CIMultiDict[str],
    revalidating: frozenset[str],
    send: Send,
    mark: Mark,
) -> _Reply:
    headers = headers.copy()
    for name in ("Range", "If-Range"):
        headers.popall(name, None)
    asked = time.perf_counter()
    async with state.upstream.request("GET", target, headers) as upstream:
        request[RECORD].upstream_seconds += time.perf_counter() - asked
        return await _rewrite(request, state, site, upstream, revalidating, send, mark)


async def _rewrite(
    request: web.Request,
    state: State,
    site: _Site,
    upstream: UpstreamResponse,
    revalidating: frozenset[str],
    send: Send,
    mark: Mark,
) -> _Reply:
    budget = state.budget
    length = upstream.content_length
    wanted = 3 * (length if length is not None else _UNKNOWN_LENGTH_GUESS)
    reserved = budget.try_acquire(wanted)
    if reserved is None:
        # Stop reading the body while waiting: it stays in the kernel, not in our buffers.
        upstream.pause_reading()
        try:
            reserved = await budget.acquire(wanted)
        finally:
            upstream.resume_reading()
    lease = [reserved]  # grows if a body of unknown length outgrows the guess
    try:
        response = await _buffer_and_rewrite(
            request, state, site, upstream, revalidating, lease, mark
        )
    except BaseException:
        budget.release(lease[0])
        raise
    if isinstance(response, tuple):  # too large: stream it, outside the budget
        budget.release(lease[0])
        headers = _response_headers(upstream)
        mark(headers)
        return await _stream(request, state, upstream, headers, send, response[0])
    # Given back once sent, so the reservation covers the unsent bytes.
    return _Whole(response, lease[0])


async def _buffer_and_rewrite(
    request: web.Request,
    state: State,
    site: _Site,
    upstream: UpstreamResponse,
    revalidating: frozenset[str],
    lease: list[int],
    mark: Mark,
) -> web.Response | tuple[list[bytes]]:
    """The rewritten (or original) answer, or the chunks read so far when the body is too large."""
    pipeline = site.pipeline
    record: RequestRecord = request[RECORD]
    limit = site.runtime.config.proxy.max_rewrite_bytes
    length = upstream.content_length
    reading = time.perf_counter()
    if length is not None and length <= min(limit, _WHOLE_BELOW):
        # Small, known and allowed: its share is reserved already, so read it whole,
        # as pass-through does (no per-chunk wake-ups and bookkeeping). Bigger bodies
        # keep the chunk loop: read whole, 2 MB pages at 500 clients went from
        # 2.0 s to 4.4-5.4 s p99 (more req/s, but served less evenly).
        body = await upstream.read()
    else:
        chunks: list[bytes] = []
        size = 0
        while chunk := await upstream.read_some():
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:  # too big to rewrite: what we have, then the rest, untouched
                record.outcome, record.shown = "too_large", _TOO_LARGE
                record.upstream_seconds += time.perf_counter() - reading
                return (chunks,)
            if 3 * size > lease[0]:  # a body of unknown length: overdraw, never wait
                lease[0] += state.budget.overdraw(3 * size - lease[0])
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        del chunks
    record.upstream_seconds += time.perf_counter() - reading

    content_type = upstream.headers.get("Content-Type")
    encoding = upstream.headers.get("Content-Encoding", "")
    page_url = request.raw_path  # what the page's relative URLs resolve against
    if len(body) * (_EXPANSION_GUESS if encoding else 1) > _THREAD_THRESHOLD:
        result = await asyncio.get_running_loop().run_in_executor(
            state.rewriter, pipeline.apply, body, content_type, encoding, page_url
        )
    else:
        result = pipeline.apply(body, content_type, encoding, page_url)
    record.outcome = record.shown = result.status
    record.rewrite_seconds = result.seconds
    rewritten = len(body) if result.body is not None else 0
    state.metrics.rewrite(result.seconds, result.counts, rewritten, result.url_errors)
    if result.error is not None:
        state.logs.log(
            "rewrite-failed",
            logging.WARNING,
            "rewrite failed, serving the original: %s",
            result.error,
        )
    if result.url_errors:
        state.logs.log(
            "url-mapping-failed",
            logging.WARNING,
            "%d URL(s) of %s kept local, mapping them failed; first: %s",
            result.url_errors,
            page_url[:200],
            result.url_error,
        )

    if result.body is None:  # unchanged or failed: the upstream's own bytes and headers
        headers = _response_headers(upstream)
        headers.popall("Content-Length", None)
        mark(headers)
        return _respond(request, upstream, headers, body)

    headers = end_to_end(upstream.headers, _OF_THE_UPSTREAM_BYTES)
    mark(headers)
    etag = etag_for(result.body)
    headers["ETag"] = etag
    if etag in revalidating:
        for name in ("Content-Type", "Content-Encoding", "Content-Language"):
            headers.popall(name, None)
        return web.Response(status=304, headers=headers)
    return _respond(request, upstream, headers, result.body)


def _respond(
    request: web.Request, upstream: UpstreamResponse, headers: CIMultiDict[str], body: bytes
) -> web.Response:
    status = 200 if upstream.status == 206 else upstream.status
    reason = upstream.reason if status == upstream.status else None
    return web.Response(status=status, reason=reason, headers=headers, body=body)


async def _pass_through(
    request: web.Request,
    state: State,
    upstream: UpstreamResponse,
    send: Send,
    mark: Mark | None = None,
) -> _Reply:
    """The upstream's answer, untouched: small bodies of known length whole, the rest streamed.

    ``mark`` adds what caches in front must know when the body could have been rewritten.
    """
    headers = _response_headers(upstream)
    if mark is not None:
        mark(headers)
    length = upstream.content_length
    if request.method != "HEAD" and upstream.status not in _NO_BODY_STATUSES:
        if length is None:
            # Chunked (as PHP answers) but already here whole: sent like a body of known
            # length. Streamed, a 56 KB page in PHP's 4 KB chunks cost 2.2x the CPU.
            whole = upstream.body_arrived()
        else:
            whole = length <= _WHOLE_BELOW and "Content-Length" in headers
        if whole:
            # Read whole, then headers and body leave in one write. Streaming cost a write
            # for the headers and a write, a drain and a read wake-up per chunk: 1.16x
            # the requests/s at 50 KB and 1.45x at 200 KB with this on one core.
            reading = time.perf_counter()
            body = await upstream.read()
            request[RECORD].upstream_seconds += time.perf_counter() - reading
            return _Whole(
                web.Response(
                    status=upstream.status, reason=upstream.reason, headers=headers, body=body
                )
            )
    return await _stream(request, state, upstream, headers, send)


async def _stream(
    request: web.Request,
    state: State,
    upstream: UpstreamResponse,
    headers: CIMultiDict[str],
    send: Send,
    head: list[bytes] | None = None,
) -> _Reply:
    """Read the upstream's body into a spool as fast as the upstream sends it while a
    feeder task sends it on as fast as the client takes it; returns once the upstream
    is done, so its connection goes back to the pool whatever the client's speed."""
    response = web.StreamResponse(status=upstream.status, reason=upstream.reason, headers=headers)
    if upstream.content_length is not None and "Content-Length" in headers:
        response.content_length = upstream.content_length
    if request.method == "HEAD" or upstream.status in _NO_BODY_STATUSES:
        return _Whole(response)
    spool = state.buffers.spool(_spool_limits(state.runtime.config.proxy), backpressure=True)
    # Past the buffers' bounds the body goes at the client's pace: its connection then
    # stops counting against the upstream limit, so slow readers cannot starve the rest.
    spool.on_first_wait = upstream.detach
    feeder = asyncio.create_task(_feed(request, response, spool, state.sends, send))
    record: RequestRecord = request[RECORD]
    pumping = time.perf_counter()
    try:
        for chunk in head or ():
            await spool.put(chunk)
        while chunk := await upstream.read_some():
            await spool.put(chunk)
        spool.finish()
    except SpoolClosed:
        pass  # the client went away; the feeder says so
    except (TimeoutError, *UPSTREAM_ERRORS) as exc:
        state.logs.log(
            "mid-body",
            logging.WARNING,
            "upstream failed mid-body for %s: %s",
            request.path,
            exc,
        )
        state.metrics.upstream_error("mid_body")
        spool.fail()
    except BaseException:
        feeder.cancel()
        spool.close()
        raise
    finally:
        record.upstream_seconds += time.perf_counter() - pumping
    return _Streamed(response, feeder, spool)


async def _feed(
    request: web.Request, response: web.StreamResponse, spool: Spool, sends: SendWatch, send: Send
) -> bool:
    """Send the answer from ``spool``; False if the client went away first."""
    sends.watch(send)
    try:
        await response.prepare(request)
        record: RequestRecord = request[RECORD]
        while piece := await spool.get():
            await response.write(piece)
            send.wrote()
            record.sent += len(piece)
        await response.write_eof()
        return True
    except SpoolBroken:
        # The upstream broke off and the client has all it sent: the only honest
        # signal left is a cut connection.
        response.force_close()
        if request.transport is not None:
            request.transport.close()
        return True
    except (ConnectionResetError, SpoolClosed):  # aiohttp's ClientConnectionResetError
        spool.close()  # the pump stops at its next chunk
        return False
    finally:
        sends.unwatch(send)


def _spool_limits(settings: ProxyConfig) -> SpoolLimits:
    return SpoolLimits(
        memory_per_body=settings.body_buffer_bytes,
        memory_total=settings.body_buffers_total_bytes,
        files_total=settings.temp_files_total_bytes,
        directory=settings.temp_dir,
    )


def _response_headers(upstream: UpstreamResponse) -> CIMultiDict[str]:
    return end_to_end(upstream.headers)


def _error(status: int, text: str) -> web.Response:
    return web.Response(status=status, text=text, headers={"Cache-Control": "no-store"})


def _refusal(status: int, text: str) -> _Whole:
    """An answer to a request whose body is not (all) read: the connection ends with it."""
    response = _error(status, text)
    response.force_close()
    return _Whole(response)
