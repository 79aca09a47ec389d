"""Soak: rewriteproxy under a crowd of normal clients and hostile ones, judged from outside.

    python bench/soak.py [--duration 60] [--quick] [--json]

A black box test of "a slow or hostile client costs only itself": the proxy
runs as a subprocess from this tree, and everything is judged by what its
clients see and what ``/proc`` says about it.

What it starts, on 127.0.0.1 with free ports and one temporary directory
(every process is stopped and the directory removed at the end, also on
Ctrl-C, SIGTERM or an error):

- **upstream**: an aiohttp app standing in for WordPress. Every path answers
  a real WordPress page (the 56 KB gallery capture in tests/fixtures/wordpress,
  24 upload URLs on ``wp.test``), ``/wp-content/uploads/soak/big.bin`` is a
  20 MB upload (sent with sendfile), and ``POST /wp-login.php`` reads its
  whole body and answers how many bytes it read.
- **delivery host**: an aiohttp app answering HEAD and GET of any path with a
  200, the CDN the rewritten pages link to. In the middle of the attack it is
  frozen (SIGSTOP: connections hang, as with a dead CDN), then thawed.
- **rewriteproxy serve** (``sys.executable -m rewriteproxy``, one worker) with
  CDN rewriting to the delivery host. Where the tree has ``delivery.health``,
  it probes every second so the outage is seen within the run; every other
  limit keeps its default, because the defaults are what is promised.
  ``--set KEY=VALUE`` changes any key (e.g. ``--set proxy.read_timeout=10``).
- **normal clients** in their own process (``--client-procs``): ``--clients``
  keep-alive connections, each sending a request, reading the whole answer,
  then waiting 0.5 to 1.5 times ``--think`` seconds (2 s: 1,000 clients offer
  about 500 requests a second, which leaves the proxy idle time on a shared
  2-core machine, so latency measures waiting, not a saturated core). 95% ask
  for the page, 5% POST a login form. A page must come back either rewritten
  (byte for byte the answer the proxy gave before the load) or entirely local
  (the upstream's bytes); anything else is a wrong body.

Phases:

1. **baseline** (``--baseline`` seconds): normal clients alone. They connect
   over a ramp of at most 200 connections a second (at most 5 s); latency
   counts requests started after twice the ramp, because a burst of new
   connections measures the listen backlog's SYN retries, not the proxy.
2. **attack** (``--duration`` seconds): the same normal clients, plus, from
   the harness's own process and arriving over a ramp of the same length
   once latency starts to count: ``--slow-readers`` clients asking for the
   20 MB file and never reading (a 4 KB receive buffer), ``--stalled`` uploads
   (``Content-Length: 1000000``, 3 bytes, then silence), and ``--silent``
   connections (half send nothing, a quarter half a request line, a quarter a
   request line and half a header). Stalled and silent attackers connect
   again when the proxy hangs up on them; slow readers hold on. At 30% of the
   phase the config file changes (``delivery.cache_size``) and the proxy gets
   a SIGHUP; from 40% to 70% the delivery host is frozen.
3. **settle**: the attackers hang up; the proxy's file descriptors are polled
   for up to ``--settle`` seconds until they are back near their count after
   the baseline.

What it reports: failed normal requests by kind (connect error, timeout,
disconnect, non-2xx status, wrong body) for both phases, p50/p99 latency of
normal requests in each and the p99 ratio, the proxy's RSS (VmRSS, and the
peak VmHWM) and open file descriptors before, during and after (its sockets
counted by side: from clients, to the upstream, other), what each
kind of attacker saw (how often the proxy hung up on it, with what answer,
after how long), whether pages went local while the delivery host was frozen
and were rewritten again after, the reload count, and the proxy's log volume.
``--json`` prints all of it as one JSON object on stdout (the text report then
goes to stderr).

Targets (exit status 0 when all pass, 1 when one fails, 2 when the harness
could not run):

- 0 failed normal requests, in both phases;
- normal-client p99 with attackers within 2x of the baseline's;
- peak RSS of the proxy (VmHWM) at most 300 MB;
- file descriptors after the settle at most the count after the baseline plus
  10% (at least 16): the upstream pool's idle connections vary a little;
- pages local during the outage and rewritten again after it.

Limits: one machine, loopback only, so the clients, the upstream and the proxy
share the cores; the baseline shares them the same way, which is why the p99
target is a ratio. The client process's CPU time is reported: if it is near
one core per process, the clients themselves are the bottleneck (raise
``--client-procs``); the clients and the stand-ins run without Python's
cyclic garbage collector, whose pauses would count as the proxy's. Latency
counts from the request's first byte written (a new connection's connect
included) to its answer's last byte read. A keep-alive connection the proxy
closed while idle is retried once on a new connection, as browsers do, and
counted as "retried", not failed. The harness raises its own RLIMIT_NOFILE to
the hard limit, and its children inherit it; the proxy's limit is reported.
The machine's load average at the start and the end is printed: other work
on the machine shows up as latency, so run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import dataclasses
import gc
import json
import os
import random
import re
import resource
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.load import HOST, Processes, cpu_seconds, free_port, load_pages, workspace  # noqa: E402

SITE_HOST = "wp.test"
PAGE_PATH = "/2024/05/soak-post/"
BIG_PATH = "/wp-content/uploads/soak/big.bin"
LOGIN_PATH = "/wp-login.php"
LOGIN_BODY = b"log=admin&pwd=not-a-password&testcookie=1"
LOGIN_ANSWER = b"read %d bytes" % len(LOGIN_BODY)
PAGE_REQUEST = f"GET {PAGE_PATH} HTTP/1.1\r\nHost: {SITE_HOST}\r\nUser-Agent: soak\r\n\r\n".encode()
LOGIN_REQUEST = (
    f"POST {LOGIN_PATH} HTTP/1.1\r\nHost: {SITE_HOST}\r\nUser-Agent: soak\r\n"
    "Content-Type: application/x-www-form-urlencoded\r\n"
    f"Content-Length: {len(LOGIN_BODY)}\r\n\r\n"
).encode() + LOGIN_BODY
SLOW_READER_OPENING = f"GET {BIG_PATH} HTTP/1.1\r\nHost: {SITE_HOST}\r\n\r\n".encode()
STALLED_OPENING = (
    f"POST {LOGIN_PATH} HTTP/1.1\r\nHost: {SITE_HOST}\r\n"
    "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000000\r\n\r\nlog"
).encode()
SILENT_OPENINGS = (  # by connection number modulo 4
    b"",
    b"",
    b"GET /2024/05/soak-p",
    f"GET {PAGE_PATH} HTTP/1.1\r\nHost: {SITE_HOST}\r\nUser-Ag".encode(),
)
# Proxy keys this harness was written against; any others the tree has are listed as new.
KNOWN_PROXY_KEYS = frozenset(
    (
        "connect_timeout",
        "read_timeout",
        "max_rewrite_bytes",
        "health_path",
        "metrics_path",
        "preserve_host",
        "upstream_connections",
        "trusted_proxies",
    )
)
HEALTH_PROBE = {"interval": 1.0, "timeout": 0.5, "failures": 2, "successes": 2}
CACHE_SIZE, CACHE_SIZE_AFTER_RELOAD = 4096, 4095
RELOAD_AT, OUTAGE_FROM, OUTAGE_TO = 0.3, 0.4, 0.7  # fractions of the attack phase
SUCCESSES = ("rewritten", "local", "login")
MAX_RSS_MB = 300.0
MAX_P99_RATIO = 2.0


@dataclass(frozen=True)
class Settings:
    duration: float = 60.0  # attack phase, seconds
    baseline: float = 20.0  # phase without attackers, seconds
    clients: int = 1000
    slow_readers: int = 300
    stalled: int = 300
    silent: int = 500
    think: float = 2.0  # mean seconds a normal client waits between two requests
    timeout: float = 10.0  # a normal request slower than this failed
    client_procs: int = 1
    settle: float = 15.0  # seconds to wait for the proxy's descriptors to come back
    big_mb: int = 20
    post_share: float = 0.05


QUICK = Settings(
    duration=10.0,
    baseline=4.0,
    clients=100,
    slow_readers=30,
    stalled=30,
    silent=50,
    timeout=5.0,
    settle=5.0,
)


def progress(message: str) -> None:
    print(f"[soak {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- the stand-ins


def run_upstream(port: int, workdir: Path) -> None:
    """The WordPress stand-in (runs in its own process)."""
    from aiohttp import web

    page = (workdir / "page.html").read_bytes()
    big = workdir / "big.bin"

    async def serve_page(request: web.Request) -> web.StreamResponse:
        return web.Response(body=page, content_type="text/html", charset="UTF-8")

    async def serve_big(request: web.Request) -> web.StreamResponse:
        return web.FileResponse(big, headers={"Content-Type": "application/octet-stream"})

    async def login(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        return web.Response(body=b"read %d bytes" % len(body), content_type="text/plain")

    app = web.Application()
    app.router.add_get(BIG_PATH, serve_big)
    app.router.add_post(LOGIN_PATH, login)
    app.router.add_get("/{tail:.*}", serve_page)
    _run_app(app, port)


def run_delivery(port: int) -> None:
    """The delivery host stand-in (runs in its own process): 200 for HEAD or GET of anything."""
    from aiohttp import web

    async def answer(request: web.Request) -> web.StreamResponse:
        return web.Response(body=b"delivered\n", content_type="image/jpeg")

    app = web.Application()
    app.router.add_get("/{tail:.*}", answer)
    _run_app(app, port)


def _run_app(app: Any, port: int) -> None:
    from aiohttp import web

    _prepare_helper_process()
    web.run_app(app, host=HOST, port=port, access_log=None, print=None, shutdown_timeout=1)


def _prepare_helper_process() -> None:
    """uvloop when installed, and no cyclic garbage collector: its pauses in the clients or
    the stand-ins would count as the proxy's latency (these processes live minutes)."""
    gc.disable()
    with contextlib.suppress(ImportError):
        import uvloop

        uvloop.install()


# ---------------------------------------------------------------- the proxy's config


def proxy_config(
    upstream: int,
    port: int,
    delivery: int,
    cache_size: int,
    health: bool,
    overrides: list[str],
    admin: int | None = None,
) -> str:
    import yaml

    data: dict[str, Any] = {
        "upstream": f"http://{HOST}:{upstream}",
        "listen": {"host": HOST, "port": port},
        "site": {"hosts": [SITE_HOST], "scheme": "http"},
        "delivery": {
            "provider": "cdn",
            "cache_size": cache_size,
            "cdn": {"base_url": delivery_base(delivery)},
        },
    }
    if health:
        data["delivery"]["health"] = dict(HEALTH_PROBE)
    if admin is not None:  # trees with an admin listener: metrics there, no access log
        data["admin"] = {"listen": f"{HOST}:{admin}"}
        data["log"] = {"access": False}
    for item in overrides:
        key, _, value = item.partition("=")
        *parents, last = key.split(".")
        node = data
        for name in parents:
            node = node.setdefault(name, {})
        node[last] = yaml.safe_load(value)
    return str(yaml.safe_dump(data, sort_keys=False))


def delivery_base(port: int) -> str:
    return f"http://{HOST}:{port}/wp-content/uploads/"


def accepts(text: str, key: str) -> bool:
    """Whether the tree's config parser knows ``key`` in this config text."""
    from rewriteproxy.config import ConfigError, parse_config

    try:
        parse_config(text)
    except ConfigError as exc:
        return not (str(exc).startswith(key) and "unknown key" in str(exc))
    return True


def new_proxy_keys() -> list[str]:
    """``proxy.*`` keys of this tree that the harness was not written against."""
    from rewriteproxy.config import ProxyConfig

    names = iter(ProxyConfig.model_fields)
    return [f"proxy.{name}" for name in names if name not in KNOWN_PROXY_KEYS]


def check_config(text: str) -> None:
    from rewriteproxy.config import parse_config

    parse_config(text)  # a ConfigError here names the key that --set got wrong


# ---------------------------------------------------------------- a normal client


class ConnectFailed(Exception):
    """No connection could be made."""


class Stale(Exception):
    """A reused keep-alive connection was closed before any byte of the answer."""


@dataclass
class Answer:
    status: int
    body: bytes
    close: bool


class Client:
    """One keep-alive connection of a normal client, reconnecting when it must."""

    def __init__(self, port: int, connect_timeout: float) -> None:
        self.port = port
        self.connect_timeout = connect_timeout
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.connects = 0
        self.retried = 0

    async def connect(self) -> None:
        try:
            async with asyncio.timeout(self.connect_timeout):
                self.reader, self.writer = await asyncio.open_connection(HOST, self.port)
        except (OSError, TimeoutError) as exc:
            raise ConnectFailed(str(exc)) from exc
        self.connects += 1

    def close(self) -> None:
        if self.writer is not None:
            self.writer.transport.abort()
        self.reader = self.writer = None

    async def request(self, data: bytes) -> Answer:
        """The answer to ``data``; a stale keep-alive connection is replaced once."""
        if self.writer is None:
            await self.connect()
        try:
            answer = await self._exchange(data)
        except Stale:
            self.close()
            self.retried += 1
            await self.connect()
            answer = await self._exchange(data)
        if answer.close:
            self.close()
        return answer

    async def _exchange(self, data: bytes) -> Answer:
        assert self.reader is not None and self.writer is not None
        try:
            self.writer.write(data)
            head = await self.reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as exc:
            if exc.partial:
                raise
            raise Stale() from exc
        except (ConnectionResetError, BrokenPipeError) as exc:
            raise Stale() from exc
        return await read_answer(head, self.reader)


async def read_answer(head: bytes, reader: asyncio.StreamReader) -> Answer:
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip().lower()
    close = headers.get("connection") == "close"
    if "chunked" in headers.get("transfer-encoding", ""):
        body = await read_chunked(reader)
    elif "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    else:
        body, close = await reader.read(), True
    return Answer(status, body, close)


async def read_chunked(reader: asyncio.StreamReader) -> bytes:
    parts = []
    while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
        parts.append(await reader.readexactly(size))
        await reader.readexactly(2)
    while await reader.readuntil(b"\r\n") != b"\r\n":  # trailer fields, if any
        pass
    return b"".join(parts)


# ---------------------------------------------------------------- the normal clients' process


@dataclass(frozen=True)
class ClientPlan:
    port: int
    clients: int
    epoch: float  # time.monotonic() of the phase start; event times are relative to it
    until: float  # seconds after epoch when clients stop starting requests
    ramp: float  # connections start spread over this many seconds
    think: float
    timeout: float
    post_share: float
    local_page: str  # files holding the two acceptable page bodies
    rewritten_page: str
    seed: int


@dataclass
class ClientLog:
    events: dict[str, list[float]] = field(default_factory=dict)  # kind -> end times
    latencies: list[tuple[float, float]] = field(default_factory=list)  # (start time, ms)
    wrong: list[str] = field(default_factory=list)  # what the first few wrong bodies were
    connects: int = 0
    retried: int = 0
    cpu_seconds: float = 0.0  # the clients' own process(es)


def judge(answer: Answer, is_page: bool, local: bytes, rewritten: bytes) -> str:
    """The kind of a normal request's outcome: a success in SUCCESSES, else a failure."""
    if not 200 <= answer.status < 300:
        return f"status {answer.status}"
    if not is_page:
        return "login" if answer.body == LOGIN_ANSWER else "wrong body"
    if answer.body == rewritten:
        return "rewritten"
    if answer.body == local:
        return "local"
    return "wrong body"


def describe_wrong(body: bytes, local: bytes, rewritten: bytes) -> str:
    def first_difference(expected: bytes) -> int:
        return next(
            (i for i, (a, b) in enumerate(zip(body, expected, strict=False)) if a != b),
            min(len(body), len(expected)),
        )

    at = max(first_difference(local), first_difference(rewritten))
    return f"{len(body)} bytes, differs from both at {at}: {body[max(0, at - 40) : at + 40]!r}"


async def normal_client(
    index: int, plan: ClientPlan, pages: tuple[bytes, bytes], log: ClientLog
) -> None:
    local, rewritten = pages
    rng = random.Random(plan.seed * 100_003 + index)
    client = Client(plan.port, plan.timeout)
    await asyncio.sleep(max(0.0, plan.epoch - time.monotonic()) + plan.ramp * rng.random())
    while time.monotonic() - plan.epoch < plan.until:
        is_page = rng.random() >= plan.post_share
        started = time.monotonic()
        result = await one_request(client, PAGE_REQUEST if is_page else LOGIN_REQUEST, plan.timeout)
        ended = time.monotonic()
        kind = result if isinstance(result, str) else judge(result, is_page, local, rewritten)
        if kind == "wrong body" and isinstance(result, Answer) and len(log.wrong) < 3:
            log.wrong.append(describe_wrong(result.body, local, rewritten))
        log.events.setdefault(kind, []).append(round(ended - plan.epoch, 3))
        if kind in SUCCESSES:
            log.latencies.append(
                (round(started - plan.epoch, 3), round((ended - started) * 1000, 2))
            )
        pause = plan.think * rng.uniform(0.5, 1.5)
        if time.monotonic() + pause - plan.epoch >= plan.until:
            break
        await asyncio.sleep(pause)
    client.close()
    log.connects += client.connects
    log.retried += client.retried


async def one_request(client: Client, data: bytes, timeout: float) -> Answer | str:
    """The answer, or the kind of failure."""
    try:
        async with asyncio.timeout(timeout):
            return await client.request(data)
    except ConnectFailed:
        return "connect error"
    except TimeoutError:
        client.close()
        return "timeout"
    except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
        client.close()
        return "disconnect"


async def run_clients(plan: ClientPlan) -> ClientLog:
    pages = (Path(plan.local_page).read_bytes(), Path(plan.rewritten_page).read_bytes())
    log = ClientLog()
    await asyncio.gather(*(normal_client(i, plan, pages, log) for i in range(plan.clients)))
    return log


def clients_main(plan_file: Path, out: Path) -> None:
    plan = ClientPlan(**json.loads(plan_file.read_text()))
    _prepare_helper_process()
    log = asyncio.run(run_clients(plan))
    usage = resource.getrusage(resource.RUSAGE_SELF)
    log.cpu_seconds = round(usage.ru_utime + usage.ru_stime, 2)
    out.write_text(json.dumps(dataclasses.asdict(log)))


# ---------------------------------------------------------------- attackers


@dataclass
class AttackTally:
    """What one kind of attacker saw of the proxy."""

    kind: str
    count: int
    opened: int = 0
    connect_errors: int = 0
    hung_up: int = 0  # connections the proxy ended (silent and stalled only: they listen)
    answers: collections.Counter[str] = field(default_factory=collections.Counter)
    lifetimes: list[float] = field(default_factory=list)  # connect to hang-up, seconds

    def summary(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "opened": self.opened,
            "connect_errors": self.connect_errors,
            "hung_up_by_proxy": self.hung_up,
            "answers": dict(self.answers),
            "median_seconds_to_hang_up": (
                round(statistics.median(self.lifetimes), 2) if self.lifetimes else None
            ),
        }


async def open_socket(
    port: int, rcvbuf: int | None
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    if rcvbuf:  # before connecting, so the window is small from the start
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    try:
        async with asyncio.timeout(5):
            await asyncio.get_running_loop().sock_connect(sock, (HOST, port))
    except BaseException:
        sock.close()
        raise
    return await asyncio.open_connection(sock=sock)


async def listen_until(reader: asyncio.StreamReader, deadline: float) -> str | None:
    """Read whatever comes until ``deadline``: the proxy's answer status ("none" if it
    closed without a word, "reset") when it hung up, None if it was still open."""
    first = b""
    try:
        while (left := deadline - time.monotonic()) > 0:
            async with asyncio.timeout(left):
                data = await reader.read(65536)
            if not data:
                status = first.split(b" ", 2)[1:2]
                return status[0].decode("latin-1") if status else "none"
            first = (first + data)[:32]
    except TimeoutError:
        return None
    except OSError:
        return "reset"
    return None


async def attacker(
    tally: AttackTally, index: int, port: int, deadline: float, delay: float
) -> None:
    await asyncio.sleep(delay)
    while time.monotonic() < deadline:
        slow = tally.kind == "slow readers"
        try:
            reader, writer = await open_socket(port, 4096 if slow else None)
        except (OSError, TimeoutError):
            tally.connect_errors += 1
            await asyncio.sleep(0.5)
            continue
        tally.opened += 1
        opened_at = time.monotonic()
        try:
            writer.write(opening(tally.kind, index))
            if slow:
                await asyncio.sleep(deadline - time.monotonic())
                return
            answer = await listen_until(reader, deadline)
        finally:
            writer.transport.abort()
        if answer is None:
            return
        tally.hung_up += 1
        tally.answers[answer] += 1
        tally.lifetimes.append(time.monotonic() - opened_at)
        await asyncio.sleep(0.2)  # and again, as a persistent attacker would


def opening(kind: str, index: int) -> bytes:
    if kind == "slow readers":
        return SLOW_READER_OPENING
    if kind == "stalled uploads":
        return STALLED_OPENING
    return SILENT_OPENINGS[index % len(SILENT_OPENINGS)]


def attack_tasks(
    settings: Settings, port: int, deadline: float
) -> tuple[list[AttackTally], list[asyncio.Task[None]]]:
    """Every attacker, each starting at a random moment of a ramp as long as the normal
    clients' (the harness calls this once they are all connected)."""
    spread = ramp(settings)
    tallies = [
        AttackTally("slow readers", settings.slow_readers),
        AttackTally("stalled uploads", settings.stalled),
        AttackTally("silent connections", settings.silent),
    ]
    tasks = [
        asyncio.ensure_future(attacker(t, i, port, deadline, spread * random.random()))
        for t in tallies
        for i in range(t.count)
    ]
    return tallies, tasks


# ---------------------------------------------------------------- watching the proxy


@dataclass(frozen=True)
class Watch:
    """The proxy as /proc shows it."""

    pid: int
    port: int  # where it listens
    upstream_port: int

    def fds(self) -> int:
        try:
            return len(os.listdir(f"/proc/{self.pid}/fd"))
        except OSError:
            return -1

    def memory_mb(self) -> tuple[float, float]:
        """VmRSS and VmHWM (the peak so far), MB."""
        values = {"VmRSS": 0.0, "VmHWM": 0.0}
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                name, _, rest = line.partition(":")
                if name in values:
                    values[name] = int(rest.split()[0]) / 1024
        return round(values["VmRSS"], 1), round(values["VmHWM"], 1)

    def sockets(self) -> dict[str, int]:
        """The proxy's TCP sockets: from its clients, to the upstream, and others."""
        fd_dir = f"/proc/{self.pid}/fd"
        inodes = set()
        for fd in os.listdir(fd_dir) if os.path.isdir(fd_dir) else ():
            with contextlib.suppress(OSError):
                link = os.readlink(f"{fd_dir}/{fd}")
                if link.startswith("socket:["):
                    inodes.add(link[8:-1])
        counts = {"from clients": 0, "to upstream": 0, "other": 0}
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            with contextlib.suppress(OSError), open(table) as lines:
                next(lines)
                for line in lines:
                    fields = line.split()
                    if fields[9] in inodes and fields[3] != "0A":  # 0A: listening
                        counts[self._side(fields[1], fields[2])] += 1
        return counts

    def _side(self, local: str, remote: str) -> str:
        if int(local.rsplit(":", 1)[1], 16) == self.port:
            return "from clients"
        if int(remote.rsplit(":", 1)[1], 16) == self.upstream_port:
            return "to upstream"
        return "other"

    def open_files_limit(self) -> str:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{self.pid}/limits").read_text().splitlines():
                if line.startswith("Max open files"):
                    return line.split()[3]
        return "unknown"


async def sample(watch: Watch, epoch: float, samples: list[tuple[float, int, float]]) -> None:
    while True:
        rss, _ = watch.memory_mb()
        samples.append((round(time.monotonic() - epoch, 2), watch.fds(), rss))
        await asyncio.sleep(0.5)


def reloads_ok(port: int, admin: int | None) -> int | None:
    url = (
        f"http://{HOST}:{admin}/metrics"
        if admin is not None
        else f"http://{HOST}:{port}/-/rewriteproxy/metrics"  # trees before the admin listener
    )
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # loopback only
            text = response.read().decode()
    except OSError:
        return None
    match = re.search(r'config_reloads_total\{result="ok"\}\s+(\d+)', text)
    return int(match.group(1)) if match else 0


def log_volume(path: Path) -> dict[str, Any]:
    """Lines and bytes the proxy logged, and its most frequent messages (digits as #)."""
    text = path.read_text(errors="replace") if path.exists() else ""
    lines = text.splitlines()
    shapes = collections.Counter(
        re.sub(r"\d+", "#", line.split(": ", 1)[-1])[:120] for line in lines
    )
    return {"lines": len(lines), "bytes": len(text), "top": shapes.most_common(3)}


# ---------------------------------------------------------------- the run


@dataclass
class Stack:
    """What the run started."""

    procs: Processes
    workdir: Path
    proxy: subprocess.Popen[bytes]
    delivery: subprocess.Popen[bytes]
    upstream: subprocess.Popen[bytes]
    proxy_port: int
    upstream_port: int
    delivery_port: int
    write_config: Callable[[int], None]  # with this delivery.cache_size
    health: bool
    pids: list[int]  # of every process started, to show they are gone at the end
    admin_port: int | None = None  # the admin listener, in trees that have one

    def watch(self) -> Watch:
        return Watch(self.proxy.pid, self.proxy_port, self.upstream_port)


def start_stack(procs: Processes, workdir: Path, settings: Settings, overrides: list[str]) -> Stack:
    page = load_pages(["wp-56k"])[0].body
    (workdir / "page.html").write_bytes(page)
    with open(workdir / "big.bin", "wb") as big:
        big.truncate(settings.big_mb * 1024 * 1024)
    me = [sys.executable, str(Path(__file__).resolve())]
    delivery_port, upstream_port, proxy_port = free_port(), free_port(), free_port()
    delivery = procs.start(
        [*me, "--role", "delivery", "--port", str(delivery_port)],
        delivery_port,
        "delivery.log",
        None,
    )
    upstream = procs.start(
        [*me, "--role", "upstream", "--port", str(upstream_port), "--workdir", str(workdir)],
        upstream_port,
        "upstream.log",
        None,
    )
    probe = proxy_config(upstream_port, proxy_port, delivery_port, CACHE_SIZE, True, [])
    health = accepts(probe, "delivery.health")
    admin_port: int | None = free_port()
    with_admin = proxy_config(
        upstream_port, proxy_port, delivery_port, CACHE_SIZE, health, [], admin_port
    )
    if not accepts(with_admin, "admin"):
        admin_port = None
    config_path = workdir / "proxy.yaml"

    def write_config(cache_size: int) -> None:
        text = proxy_config(
            upstream_port, proxy_port, delivery_port, cache_size, health, overrides, admin_port
        )
        check_config(text)
        config_path.write_text(text)

    write_config(CACHE_SIZE)
    argv = [sys.executable, "-m", "rewriteproxy", "serve", "--config", str(config_path)]
    proxy = procs.start(argv, proxy_port, "proxy.log", None)
    pids = [delivery.pid, upstream.pid, proxy.pid]
    return Stack(
        procs,
        workdir,
        proxy,
        delivery,
        upstream,
        proxy_port,
        upstream_port,
        delivery_port,
        write_config,
        health,
        pids,
        admin_port,
    )


def reference_pages(stack: Stack) -> tuple[Path, Path]:
    """The two acceptable page bodies: the upstream's, and the proxy's rewrite of it."""
    local = (stack.workdir / "page.html").read_bytes()
    answer = asyncio.run(fetch_once(stack.proxy_port, PAGE_REQUEST))
    marker = delivery_base(stack.delivery_port).encode()
    if answer.status != 200 or marker not in answer.body or answer.body == local:
        raise RuntimeError(
            f"the proxy did not rewrite the page (status {answer.status}, "
            f"{answer.body.count(marker)} delivery URLs)"
        )
    rewritten = stack.workdir / "rewritten.html"
    rewritten.write_bytes(answer.body)
    progress(f"reference page: {answer.body.count(marker)} delivery URLs in the rewritten page")
    return stack.workdir / "page.html", rewritten


async def fetch_once(port: int, data: bytes) -> Answer:
    client = Client(port, 10)
    try:
        async with asyncio.timeout(30):
            return await client.request(data)
    finally:
        client.close()


@dataclass
class Phase:
    name: str
    duration: float
    log: ClientLog
    cpu: dict[str, float]  # seconds of CPU each process used in the phase
    samples: list[tuple[float, int, float]] = field(default_factory=list)
    attackers: list[AttackTally] = field(default_factory=list)
    moments: dict[str, float] = field(default_factory=dict)  # seconds after the phase start
    # fds, RSS MB and sockets just before the attackers hang up
    end: tuple[int, float, dict[str, int]] = (-1, -1.0, {})
    steady_from: float = 0.0  # latency counts requests started from here (after the ramp)


def start_clients(
    stack: Stack, settings: Settings, pages: tuple[Path, Path], epoch: float, duration: float
) -> list[tuple[subprocess.Popen[bytes], Path]]:
    started = []
    me = [sys.executable, str(Path(__file__).resolve())]
    for n in range(settings.client_procs):
        share = settings.clients // settings.client_procs
        share += settings.clients % settings.client_procs if n == 0 else 0
        plan = ClientPlan(
            port=stack.proxy_port,
            clients=share,
            epoch=epoch,
            until=duration,
            ramp=ramp(settings),
            think=settings.think,
            timeout=settings.timeout,
            post_share=settings.post_share,
            local_page=str(pages[0]),
            rewritten_page=str(pages[1]),
            seed=n + int(epoch),
        )
        plan_file = stack.workdir / f"clients-{n}.json"
        out = stack.workdir / f"clients-{n}-result.json"
        plan_file.write_text(json.dumps(dataclasses.asdict(plan)))
        log = open(stack.workdir / f"clients-{n}.log", "wb")  # noqa: SIM115 - the process's
        argv = [*me, "--role", "clients", "--plan", str(plan_file), "--out", str(out)]
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
        stack.procs.procs.append(proc)
        stack.pids.append(proc.pid)
        started.append((proc, out))
    return started


async def wait_clients(
    started: list[tuple[subprocess.Popen[bytes], Path]], deadline: float
) -> ClientLog:
    merged = ClientLog()
    for proc, out in started:
        while proc.poll() is None:
            if time.monotonic() > deadline:
                raise RuntimeError("the normal clients did not finish in time")
            await asyncio.sleep(0.2)
        if proc.returncode != 0 or not out.exists():
            log = out.with_name(out.name.replace("-result.json", ".log"))
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"the normal clients' process failed ({proc.returncode}):\n{tail}")
        part = json.loads(out.read_text())
        for kind, times in part["events"].items():
            merged.events.setdefault(kind, []).extend(times)
        merged.latencies += [(t, ms) for t, ms in part["latencies"]]
        merged.cpu_seconds += part["cpu_seconds"]
        merged.wrong += part["wrong"]
        merged.connects += part["connects"]
        merged.retried += part["retried"]
    return merged


def cpu_now(stack: Stack) -> dict[str, float]:
    return {
        "proxy": cpu_seconds(stack.proxy.pid),
        "upstream": cpu_seconds(stack.upstream.pid),
    }


async def run_phase(
    stack: Stack, settings: Settings, pages: tuple[Path, Path], attack: bool
) -> Phase:
    name, duration = ("attack", settings.duration) if attack else ("baseline", settings.baseline)
    progress(
        f"{name}: {duration:g} s, {settings.clients} normal clients"
        + (
            f", {settings.slow_readers} slow readers, {settings.stalled} stalled uploads, "
            f"{settings.silent} silent connections"
            if attack
            else ""
        )
    )
    epoch = time.monotonic() + 1.5  # the clients' process needs a moment to start
    started = start_clients(stack, settings, pages, epoch, duration)
    procs = [p for p, _ in started]
    before = cpu_now(stack)
    phase = Phase(name, duration, ClientLog(), {}, steady_from=steady_from(settings))
    sampler = asyncio.ensure_future(sample(stack.watch(), epoch, phase.samples))
    tasks: list[asyncio.Future[Any]] = []
    if attack:
        await asyncio.sleep(max(0.0, epoch + steady_from(settings) - time.monotonic()))
        phase.attackers, attackers = attack_tasks(settings, stack.proxy_port, epoch + duration)
        tasks = [*attackers, asyncio.ensure_future(timeline(stack, epoch, duration, phase))]
    try:
        phase.log = await wait_clients(started, epoch + duration + settings.timeout + 20)
        await asyncio.gather(*tasks)
    finally:
        for task in (sampler, *tasks):
            task.cancel()
        await asyncio.gather(sampler, *tasks, return_exceptions=True)
        with contextlib.suppress(ProcessLookupError):
            os.kill(stack.delivery.pid, signal.SIGCONT)
    after = cpu_now(stack)
    phase.cpu = {k: round(after[k] - before[k], 2) for k in before}
    phase.cpu["clients"] = phase.log.cpu_seconds
    for proc in procs:
        stack.procs.stop(proc)
    return phase


async def timeline(stack: Stack, epoch: float, duration: float, phase: Phase) -> None:
    """The reload and the delivery host's outage, at their moments of the phase."""

    async def at(fraction: float) -> None:
        await asyncio.sleep(max(0.0, epoch + fraction * duration - time.monotonic()))

    def now() -> float:
        return round(time.monotonic() - epoch, 2)

    await at(RELOAD_AT)
    stack.write_config(CACHE_SIZE_AFTER_RELOAD)
    stack.proxy.send_signal(signal.SIGHUP)
    phase.moments["reload"] = now()
    await at(OUTAGE_FROM)
    stack.delivery.send_signal(signal.SIGSTOP)
    phase.moments["outage_from"] = now()
    try:
        await at(OUTAGE_TO)
    finally:
        stack.delivery.send_signal(signal.SIGCONT)
        phase.moments["outage_to"] = now()
    # What the proxy holds while every attacker is still connected.
    await asyncio.sleep(max(0.0, epoch + duration - 0.3 - time.monotonic()))
    watch = stack.watch()
    phase.end = (watch.fds(), watch.memory_mb()[0], watch.sockets())


async def settle(watch: Watch, limit: int, seconds: float) -> int:
    """The proxy's descriptor count once it is at most ``limit``, or after ``seconds``."""
    deadline = time.monotonic() + seconds
    while (fds := watch.fds()) > limit and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
    return fds


def ramp(settings: Settings) -> float:
    """Seconds over which connections start, normal clients first, then attackers: 200 a
    second (at most 5 s, a quarter of the baseline), as a burst beyond the listen backlog
    only measures SYN retries."""
    return min(5.0, settings.baseline / 4, max(settings.clients / 200, 0.5))


def steady_from(settings: Settings) -> float:
    """When latency starts to count (and attackers start to arrive): the normal clients'
    ramp, then as long again for the proxy to catch up with so many new connections."""
    return 2 * ramp(settings)


def fd_tolerance(before: int) -> int:
    return max(16, before // 10)


# ---------------------------------------------------------------- judging


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def phase_summary(phase: Phase) -> dict[str, Any]:
    events = phase.log.events
    steady = [(t, ms) for t, ms in phase.log.latencies if t >= phase.steady_from]
    latencies = [ms for _, ms in steady]
    slowest = sorted(((ms, t) for t, ms in steady), reverse=True)[:5]
    failed = {k: len(v) for k, v in events.items() if k not in SUCCESSES}
    requests = sum(len(v) for v in events.values())
    return {
        "seconds": phase.duration,
        "requests": requests,
        "requests_per_second": round(requests / phase.duration, 1),
        "failed": sum(failed.values()),
        "failed_by_kind": failed,
        "pages_rewritten": len(events.get("rewritten", [])),
        "pages_local": len(events.get("local", [])),
        "logins": len(events.get("login", [])),
        "p50_ms": percentile(latencies, 0.50),
        "p99_ms": percentile(latencies, 0.99),
        "latency_counted_from_s": phase.steady_from,
        "slowest": [{"started_at_s": t, "ms": ms} for ms, t in slowest],
        "connections_opened": phase.log.connects,
        "retried_on_new_connection": phase.log.retried,
        "wrong_bodies": phase.log.wrong,
        "cpu_seconds": phase.cpu,
        "timeline": timeline_of(phase),
    }


def timeline_of(phase: Phase, parts: int = 12) -> list[dict[str, float]]:
    """Normal requests answered and failed in each twelfth of the phase (by end time), and
    in one more row for those that ended after it (requests in flight when it ended)."""
    width = phase.duration / parts
    rows = [{"from_s": round(i * width, 1), "answered": 0, "failed": 0} for i in range(parts + 1)]
    for kind, times in phase.log.events.items():
        column = "answered" if kind in SUCCESSES else "failed"
        for t in times:
            rows[min(parts, max(0, int(t / width)))][column] += 1
    return rows


def outage_view(phase: Phase) -> dict[str, Any]:
    """Did pages go local while the delivery host was frozen, and come back after?"""
    start, end = phase.moments.get("outage_from"), phase.moments.get("outage_to")
    if start is None or end is None:
        return {"went_local": False, "back": False}
    local = phase.log.events.get("local", [])
    rewritten = phase.log.events.get("rewritten", [])
    during = [t for t in local if start <= t <= end]
    last_local = max((t for t in local if t >= start), default=None)
    again = min((t for t in rewritten if last_local is not None and t > last_local), default=None)
    return {
        "frozen_from_s": start,
        "frozen_to_s": end,
        "pages_during": sum(1 for t in (*local, *rewritten) if start <= t <= end),
        "local_during": len(during),
        "local_before": sum(1 for t in local if t < start),
        "first_local_after_s": round(min(during) - start, 2) if during else None,
        "rewritten_again_after_s": (
            round(again - end, 2) if again is not None and during else None
        ),
        "went_local": bool(during),
        "back": bool(during) and again is not None,
    }


def targets(report: dict[str, Any]) -> list[dict[str, Any]]:
    base, attack, proxy = report["baseline"], report["attack"], report["proxy"]
    failed = base["failed"] + attack["failed"]
    ratio = (
        round(attack["p99_ms"] / base["p99_ms"], 2)
        if attack["p99_ms"] is not None and base["p99_ms"]
        else None
    )
    fds = proxy["fds"]
    fd_limit = fds["after_baseline"] + fd_tolerance(fds["after_baseline"])
    outage = report["outage"]
    rows = [
        ("failed normal requests", failed, "0", failed == 0),
        ("p99 with attackers / without", ratio, f"<= {MAX_P99_RATIO:g}x",
         ratio is not None and ratio <= MAX_P99_RATIO),
        ("peak RSS MB (VmHWM)", proxy["rss_mb"]["peak"], f"<= {MAX_RSS_MB:g}",
         proxy["rss_mb"]["peak"] <= MAX_RSS_MB),
        ("file descriptors after", fds["after"], f"<= {fd_limit} (after baseline + margin)",
         0 <= fds["after"] <= fd_limit),
        ("pages local in the outage and rewritten after",
         f"local {outage['went_local']}, back {outage['back']}", "both",
         outage["went_local"] and outage["back"]),
    ]  # fmt: skip
    return [{"target": t, "value": v, "limit": lim, "pass": ok} for t, v, lim, ok in rows]


def tree_version() -> str:
    result = subprocess.run(
        ["git", "-C", str(ROOT), "describe", "--always", "--dirty"],
        capture_output=True,
        text=True,
        check=False,
    )
    return result.stdout.strip() or "unknown"


# ---------------------------------------------------------------- the text report


def seconds_after(value: float | None) -> str:
    return "never" if value is None else f"+{value:g} s"


def text_report(report: dict[str, Any]) -> str:
    s, base, attack, proxy = (
        report["settings"],
        report["baseline"],
        report["attack"],
        report["proxy"],
    )
    fds, rss, outage = proxy["fds"], proxy["rss_mb"], report["outage"]
    keys = report["config"]
    lines = [
        f"rewriteproxy soak: tree {report['tree']}, one worker, loopback; machine load "
        f"average {report['load_average']['start']:.1f} at the start, "
        f"{report['load_average']['end']:.1f} at the end ({os.cpu_count()} CPUs)",
        "config keys: delivery.health "
        + ("available (probing every 1 s)" if keys["delivery.health"] else "not available")
        + "; "
        f"proxy keys new to this harness: {', '.join(keys['new_proxy_keys']) or 'none'}"
        + (f"; --set {' '.join(keys['overrides'])}" if keys["overrides"] else ""),
        f"normal clients: {s['clients']} keep-alive in {s['client_procs']} process(es), "
        f"think {s['think']:g} s (x0.5-1.5), {s['post_share']:.0%} POST {LOGIN_PATH}, "
        f"timeout {s['timeout']:g} s",
        "",
        f"{'':32}{'baseline':>12}{'attack':>12}",
    ]

    def row(label: str, a: Any, b: Any) -> None:
        def cell(v: Any) -> str:
            if v is None:
                return "-"
            return (
                f"{v:,.1f}" if isinstance(v, float) else f"{v:,}" if isinstance(v, int) else str(v)
            )

        lines.append(f"  {label:30}{cell(a):>12}{cell(b):>12}")

    row("seconds", base["seconds"], attack["seconds"])
    row("normal requests", base["requests"], attack["requests"])
    row("requests/s", base["requests_per_second"], attack["requests_per_second"])
    row("p50 ms", base["p50_ms"], attack["p50_ms"])
    row("p99 ms", base["p99_ms"], attack["p99_ms"])
    row("FAILED", base["failed"], attack["failed"])
    for kind in sorted({*base["failed_by_kind"], *attack["failed_by_kind"]}):
        row(f"  {kind}", base["failed_by_kind"].get(kind, 0), attack["failed_by_kind"].get(kind, 0))
    row("pages rewritten", base["pages_rewritten"], attack["pages_rewritten"])
    row("pages local", base["pages_local"], attack["pages_local"])
    row("logins answered", base["logins"], attack["logins"])
    row("retried on a new connection", base["retried_on_new_connection"],
        attack["retried_on_new_connection"])  # fmt: skip
    for who in ("proxy", "upstream", "clients"):
        row(f"CPU s, {who}", base["cpu_seconds"][who], attack["cpu_seconds"][who])
    for name, phase in (("baseline", base), ("attack", attack)):
        *slices, late = phase["timeline"]
        lines.append(
            f"  {name} in slices of {phase['seconds'] / len(slices):.3g} s: answered "
            + " ".join(str(r["answered"]) for r in slices)
            + "; failed "
            + " ".join(str(r["failed"]) for r in slices)
            + f"; after its end: {late['answered']} answered, {late['failed']} failed"
        )
    for wrong in base["wrong_bodies"] + attack["wrong_bodies"]:
        lines.append(f"  wrong body: {wrong}")
    lines.append("")
    lines.append("attackers (attack phase; stalled and silent ones connect again when hung up on):")
    for kind, a in report["attackers"].items():
        answers = ", ".join(f"{k} x{v}" for k, v in sorted(a["answers"].items())) or "-"
        after = a["median_seconds_to_hang_up"]
        lines.append(
            f"  {kind:20} {a['count']:>5} at once, {a['opened']:>6} connections, "
            f"{a['connect_errors']} connect errors, hung up by the proxy {a['hung_up_by_proxy']}"
            + (f" (answers: {answers}; median after {after:g} s)" if after is not None else "")
        )
    m = report["moments"]
    reloads = report["reloads_ok"]
    lines += [
        "",
        f"SIGHUP at {m.get('reload', '-')} s (config reloads ok: {reloads['before']} -> "
        f"{reloads['after']}); delivery host frozen {outage.get('frozen_from_s', '-')} to "
        f"{outage.get('frozen_to_s', '-')} s",
        f"  pages during the outage: {outage.get('local_during', 0):,} local of "
        f"{outage.get('pages_during', 0):,}; local before it: {outage.get('local_before', 0)}; "
        f"first local {seconds_after(outage.get('first_local_after_s'))} after the freeze, "
        f"rewritten again {seconds_after(outage.get('rewritten_again_after_s'))} after the thaw",
        f"proxy: file descriptors {fds['start']} at start, {fds['after_baseline']} after the "
        f"baseline, {fds['peak']} peak, {fds['end_of_attack']} at the end of the attack "
        f"(attackers still connected), {fds['after']} after they left "
        f"(RLIMIT_NOFILE {proxy['open_files_limit']})",
        "       sockets from clients / to the upstream / other: "
        + ", ".join(
            f"{'/'.join(map(str, counts.values()))} {when.replace('_', ' ')}"
            for when, counts in proxy["sockets"].items()
        ),
        f"       RSS MB {rss['after_baseline']} after the baseline, {rss['end_of_attack']} at "
        f"the end of the attack, {rss['after']} after; peak (VmHWM) {rss['peak']}",
        f"       log: {proxy['log']['lines']:,} lines, {proxy['log']['bytes']:,} bytes; most "
        f"frequent: {proxy['log']['top'][0][1] if proxy['log']['top'] else 0} x "
        f"{proxy['log']['top'][0][0] if proxy['log']['top'] else '-'}",
        "",
        "targets:",
    ]
    for t in report["targets"]:
        lines.append(
            f"  {'PASS' if t['pass'] else 'FAIL'}  {t['target']}: {t['value']} "
            f"(target {t['limit']})"
        )
    lines.append(f"result: {'all targets met' if report['passed'] else 'TARGETS MISSED'}")
    return "\n".join(lines)


# ---------------------------------------------------------------- main


def raise_open_files_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def soak(settings: Settings, overrides: list[str]) -> dict[str, Any]:
    nofile = raise_open_files_limit()
    needed = settings.clients + settings.slow_readers + settings.stalled + settings.silent
    if nofile < needed + 64:
        progress(f"RLIMIT_NOFILE is {nofile}: not enough for {needed} connections; lower them")
    report: dict[str, Any] = {
        "settings": dataclasses.asdict(settings),
        "tree": tree_version(),
        "load_average": {"start": os.getloadavg()[0]},
    }
    with workspace("rewriteproxy-soak-") as (workdir, procs):
        report["cleanup"] = {"workdir": str(workdir)}
        stack = start_stack(procs, workdir, settings, overrides)
        report["config"] = {
            "delivery.health": stack.health,
            "new_proxy_keys": new_proxy_keys(),
            "overrides": overrides,
        }
        progress(
            f"started in {workdir}: upstream pid {stack.upstream.pid}, delivery host pid "
            f"{stack.delivery.pid}, rewriteproxy pid {stack.proxy.pid}; "
            f"delivery.health {'available' if stack.health else 'not available'}"
        )
        pages = reference_pages(stack)
        watch = stack.watch()
        fds = {"start": watch.fds()}
        baseline = asyncio.run(run_phase(stack, settings, pages, attack=False))
        time.sleep(1.0)
        fds["after_baseline"] = watch.fds()
        rss = {"after_baseline": watch.memory_mb()[0]}
        sockets = {"after_baseline": watch.sockets()}
        reloads = {"before": reloads_ok(stack.proxy_port, stack.admin_port)}
        attack = asyncio.run(run_phase(stack, settings, pages, attack=True))
        fds["peak"] = max((f for _, f, _ in attack.samples), default=-1)
        fds["end_of_attack"], rss["end_of_attack"], sockets["end_of_attack"] = attack.end
        reloads["after"] = reloads_ok(stack.proxy_port, stack.admin_port)
        limit = fds["after_baseline"] + fd_tolerance(fds["after_baseline"])
        progress(f"settle: waiting up to {settings.settle:g} s for the proxy's descriptors")
        fds["after"] = asyncio.run(settle(watch, limit, settings.settle))
        rss["after"], rss["peak"] = watch.memory_mb()
        sockets["after"] = watch.sockets()
        report["proxy"] = {
            "fds": fds,
            "rss_mb": rss,
            "sockets": sockets,
            "open_files_limit": watch.open_files_limit(),
            "log": log_volume(workdir / "proxy.log"),
            "samples": attack.samples,
        }
        report["proxy"]["alive_at_end"] = stack.proxy.poll() is None
        report["baseline"] = phase_summary(baseline)
        report["attack"] = phase_summary(attack)
        report["attackers"] = {t.kind: t.summary() for t in attack.attackers}
        report["moments"] = attack.moments
        report["reloads_ok"] = reloads
        report["outage"] = outage_view(attack)
        report["targets"] = targets(report)
        report["passed"] = all(t["pass"] for t in report["targets"])
        report["load_average"]["end"] = os.getloadavg()[0]
        report["cleanup"]["pids"] = stack.pids
    return report


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short run with fewer clients")
    for name, f in Settings.__dataclass_fields__.items():
        parser.add_argument(
            f"--{name.replace('_', '-')}",
            type=type(f.default),
            default=None,
            help=f"default {f.default} ({getattr(QUICK, name)} with --quick)",
        )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a config key for the proxy, dotted (value in YAML), e.g. proxy.read_timeout=10",
    )
    parser.add_argument("--json", action="store_true", help="print the outcome as JSON")
    parser.add_argument("--role", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--plan", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def settings_from(args: argparse.Namespace) -> Settings:
    chosen = QUICK if args.quick else Settings()
    given = {
        name: getattr(args, name)
        for name in Settings.__dataclass_fields__
        if getattr(args, name) is not None
    }
    return dataclasses.replace(chosen, **given)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.role == "upstream":
        run_upstream(args.port, args.workdir)
        return 0
    if args.role == "delivery":
        run_delivery(args.port)
        return 0
    if args.role == "clients":
        clients_main(args.plan, args.out)
        return 0
    signal.signal(signal.SIGTERM, _interrupt)  # so SIGTERM cleans up as Ctrl-C does
    try:
        report = soak(settings_from(args), args.set)
    except KeyboardInterrupt:
        progress("interrupted; every process stopped and the temporary directory removed")
        return 2
    except Exception as exc:  # the harness could not run: say why, after cleaning up
        progress(f"the soak could not run: {type(exc).__name__}: {exc}")
        return 2
    text = text_report(report)
    if args.json:
        print(text, file=sys.stderr)
        print(json.dumps(report))
    else:
        print(text)
    return 0 if report["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
