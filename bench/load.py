"""Load benchmark: rewriteproxy against nginx + sub_filter, in one run, on loopback.

    python bench/load.py [--duration 3] [--repeat 5] [--connections 32] [--markdown FILE]

Needs ``nginx`` and ``wrk`` (Debian: ``apt-get install -y nginx wrk``); it says
what is missing and stops otherwise. ``taskset`` (util-linux) is used when present.

What it starts, all on 127.0.0.1 with free ports and its own temporary
directory (removed at the end, every process stopped):

- the upstream: nginx serving saved WordPress pages as static files, so PHP's
  noise is out of the picture;
- nginx as a reverse proxy with ``sub_filter`` doing a plain host swap of the
  uploads base (what a sysadmin would set up instead; ``Accept-Encoding`` is
  cleared upstream or ``sub_filter`` would see gzip and do nothing);
- ``rewriteproxy serve`` three times: rewriting off (pass-through), CDN
  rewriting, and Cloudinary rewriting (plus srcset and lazy loading when the
  installed package accepts a ``features:`` section; the label says which).
- the same with a client that accepts gzip, as browsers do (``-gz`` setups):
  the upstream sends gzipped files (level 5, ``gzip_static``, as page-cache
  plugins store them) at ``/gz/``, rewriteproxy decodes,
  rewrites and encodes again, and nginx + sub_filter gets identity bodies from
  upstream and gzips its own answers. Their ratios are against the gzip rows
  of nginx + sub_filter and pass-through.
- the same pages as PHP sends them (``-chunked`` setups): chunked, 4 KB at a
  time, no Content-Length (``/chunked/``); compared with their own rows of
  nginx + sub_filter and pass-through.

Pages, each with real upload URLs on ``wp.test``: a real WordPress 6.1 capture
(tests/fixtures/wordpress, about 56 KB) and the engine corpus's "blog" family
(bench/corpus, 20 KB to 2 MB, the 2 MB page built on demand) with its host
swapped to ``wp.test``.

For every page, wrk runs against each target in turn (``--repeat`` rounds,
interleaved, so all see the same machine load) after a short warm-up, and the
medians of requests/s and of p50/p99 latency are reported with ratios against
nginx + sub_filter and against rewriteproxy pass-through. Before loading, one
request through each target checks it really rewrites (the count of delivery
URLs in the answer is printed). Then: peak RSS of each proxy (VmHWM), the
engine's MB/s on each page in this process, ``--workers 2`` against
``--workers 1`` on the same load, and peak RSS with ``--memory-clients`` (500)
clients fetching the 2 MB page.

Pinning (when taskset exists): the proxy under test runs on CPU 1, wrk and the
upstream nginx on CPU 0, so every proxy gets one core of its own and the same
one. The multi-core check cannot do that on a 2-core machine: there the
workers, wrk and the upstream share both cores, so its ratio is a lower bound.

Not a test: nothing fails on a slow machine; it reports.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from gzip import compress as gzip_compress
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.make_corpus import CORPUS, build  # noqa: E402

HOST = "127.0.0.1"
# Every setup loaded by default, by key (``--setups`` picks some).
SETUPS = (
    "upstream",
    "nginx-sub",
    "rp-off",
    "rp-cdn",
    "rp-full",
    "rp-cdn-fresh",
    "nginx-sub-gz",
    "rp-off-gz",
    "rp-cdn-gz",
    "nginx-sub-chunked",
    "rp-off-chunked",
    "rp-cdn-chunked",
    "rp-full-chunked",
)
# Rows compared with their own nginx + sub_filter and pass-through rows, by key suffix.
VARIANTS = ("-gz", "-chunked")
GZIP_LEVEL = 5  # a usual gzip_comp_level in production nginx configs (the default is 1)
SITE = b"http://wp.test"
CDN_BASE = "https://cdn.example.net/wp-content/uploads/"
# The features section tried for the fullest cell; used only if parse_config accepts it.
FEATURES_YAML = """\
features:
  responsive: {enabled: true}
  preconnect: {enabled: true}
  lazy: {enabled: true}
"""
DELIVERY_MARKERS = {"cdn": b"cdn.example.net", "cloudinary": b"res.cloudinary.com"}


# ---------------------------------------------------------------- pages


@dataclass(frozen=True)
class Page:
    name: str
    label: str
    body: bytes


def load_pages(which: list[str]) -> list[Page]:
    real = (ROOT / "tests/fixtures/wordpress/twentytwentythree-gallery.html").read_bytes()
    available = {"wp-56k": ("real WordPress 6.1 capture (gallery post)", lambda: real)}
    for label, size in (("20k", 20_000), ("50k", 50_000), ("200k", 200_000), ("2m", 2_000_000)):
        available[f"blog-{label}"] = (
            "corpus blog post",
            lambda label=label, size=size: _blog(label, size),
        )
    pages = []
    for name in which:
        if name not in available:
            raise SystemExit(f"unknown page {name!r}; known: {', '.join(available)}")
        label, make = available[name]
        pages.append(Page(name, label, make()))
    return pages


def _blog(label: str, size: int) -> bytes:
    path = CORPUS / f"blog-{label}.html"
    data = path.read_bytes() if path.exists() else build(size, "blog")
    # The corpus is written for www.example.com; the site here is wp.test (as in the captures).
    return data.replace(b"https://www.example.com", SITE).replace(
        b"https:\\/\\/www.example.com", SITE.replace(b"/", b"\\/")
    )


# ---------------------------------------------------------------- processes


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def pinned(cpus: str | None, argv: list[str]) -> list[str]:
    return ["taskset", "-c", cpus, *argv] if cpus and shutil.which("taskset") else argv


def wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited with status {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=0.5):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port} after {timeout} s")


def children_of(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of the process and its children so far."""
    ticks = 0
    for p in (pid, *children_of(pid)):
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int) -> float:
    """Largest VmHWM (peak resident set) of the process and its children, in MB."""
    peaks = []
    for p in (pid, *children_of(pid)):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peaks.append(int(line.split()[1]) / 1024)
    return max(peaks, default=0.0)


@dataclass
class Target:
    key: str
    title: str
    port: int
    proc: subprocess.Popen[bytes]
    marker: bytes | None = None  # a delivery host its answers must contain, if it rewrites
    prefix: str = "/"  # /fresh/: every answer different; /gz/: gzipped; /chunked/: 4 KB chunks
    gzip: bool = False  # the client sends Accept-Encoding: gzip (as browsers do)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}{self.prefix}"


class Processes:
    """Everything the run starts; ``stop()`` ends each of them by its own pid."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(
        self, argv: list[str], port: int, log: str, cpus: str | None, cwd: Path = ROOT
    ) -> subprocess.Popen[bytes]:
        out = open(self.tmp / log, "wb")  # noqa: SIM115 - lives as long as the process
        proc = subprocess.Popen(pinned(cpus, argv), stdout=out, stderr=subprocess.STDOUT, cwd=cwd)
        self.procs.append(proc)
        wait_for_port(port, proc)
        return proc

    def stop(self, proc: subprocess.Popen[bytes]) -> None:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        with contextlib.suppress(ValueError):
            self.procs.remove(proc)

    def stop_all(self) -> None:
        for proc in list(reversed(self.procs)):
            self.stop(proc)


def nginx_conf(prefix: Path, server: str, workers: int = 1) -> Path:
    for d in ("logs", "tmp"):
        (prefix / d).mkdir(parents=True, exist_ok=True)
        (prefix / d).chmod(0o777)  # workers may run as another user when started as root
    conf = prefix / "nginx.conf"
    conf.write_text(f"""\
daemon off;
worker_processes {workers};
pid {prefix}/nginx.pid;
error_log {prefix}/logs/error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {prefix}/tmp/body;
  proxy_temp_path {prefix}/tmp/proxy;
  fastcgi_temp_path {prefix}/tmp/fastcgi;
  uwsgi_temp_path {prefix}/tmp/uwsgi;
  scgi_temp_path {prefix}/tmp/scgi;
  keepalive_requests 1000000;
{server}
}}
""")
    return conf


def start_upstream(procs: Processes, www: Path, cpus: str | None) -> Target:
    port = free_port()
    prefix = procs.tmp / "nginx-upstream"
    conf = nginx_conf(
        prefix,
        f"""\
  types {{ text/html html; }}
  charset utf-8;
  sendfile on;
  server {{
    listen {HOST}:{port};
    root {www};
    # The same pages, each answer made unique (as a page with a nonce is), so no cache helps.
    location /fresh/ {{
      alias {www}/;
      sub_filter '</body>' '<!-- $request_id --></body>';
    }}
    # The same pages gzipped for clients that accept it, from files compressed beforehand
    # (as page-cache plugins store them), so the upstream's core is not spent compressing.
    location /gz/ {{
      alias {www}/;
      gzip_static on;
    }}
    # The same pages as WordPress sends them through PHP: chunked, 4 KB at a time (PHP's
    # output_buffering), so no Content-Length. A sub_filter that never matches makes nginx
    # stream the file in its 4 KB output buffers.
    location /chunked/ {{
      alias {www}/;
      sendfile off;
      output_buffers 1 4k;
      sub_filter '<!-- never in a page -->' '';
    }}
  }}""",
    )
    proc = procs.start(["nginx", "-p", str(prefix), "-c", str(conf)], port, "upstream.log", cpus)
    return Target("upstream", "upstream (nginx static), direct", port, proc)


def start_subfilter(
    procs: Processes, upstream: int, cpus: str | None, workers: int = 1, gzip: bool = False
) -> Target:
    """nginx + sub_filter; with ``gzip`` it also compresses its answers for clients that
    accept it (sub_filter itself needs identity bodies from upstream)."""
    port = free_port()
    prefix = procs.tmp / f"nginx-subfilter-{workers}{'-gz' if gzip else ''}"
    site = SITE.decode() + "/wp-content/uploads/"
    compress = f"gzip on;\n    gzip_comp_level {GZIP_LEVEL};\n    " if gzip else ""
    conf = nginx_conf(
        prefix,
        f"""\
  upstream wordpress {{ server {HOST}:{upstream}; keepalive 64; }}
  server {{
    listen {HOST}:{port};
    {compress}location / {{
      proxy_pass http://wordpress;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header Accept-Encoding "";
      proxy_max_temp_file_size 0;
      sub_filter '{site}' '{CDN_BASE}';
      sub_filter_once off;
    }}
  }}""",
        workers,
    )
    proc = procs.start(
        ["nginx", "-p", str(prefix), "-c", str(conf)], port, f"{prefix.name}.log", cpus
    )
    if gzip:
        title = "nginx + sub_filter (host swap), gzip to the client"
        return Target("nginx-sub-gz", title, port, proc, b"cdn.example.net", gzip=True)
    return Target("nginx-sub", "nginx + sub_filter (host swap)", port, proc, b"cdn.example.net")


def proxy_yaml(upstream: int, port: int, mode: str, features: bool = False) -> str:
    head = f"""\
upstream: http://{HOST}:{upstream}
listen: {{host: {HOST}, port: {port}}}
enabled: {"false" if mode == "off" else "true"}
site:
  hosts: [wp.test]
  scheme: http
"""
    if mode in ("off", "cdn"):
        return (
            head
            + f"""\
delivery:
  provider: cdn
  cdn: {{base_url: "{CDN_BASE}"}}
  health: {{enabled: false}}  # the CDN is a name only: a probe would turn rewriting off
"""
        )
    return (
        head
        + """\
delivery:
  provider: cloudinary
  cloudinary:
    cloud_name: demo
    delivery_type: upload
    folder: wp
    transformation: f_auto,q_auto
  health: {enabled: false}  # no network here: a probe would turn rewriting off
"""
        + (FEATURES_YAML if features else "")
    )


def features_accepted(text: str) -> bool:
    from rewriteproxy.config import ConfigError, parse_config

    try:
        parse_config(text)
    except ConfigError:
        return False
    return True


def start_proxy(
    procs: Processes,
    key: str,
    title: str,
    yaml_text: str,
    port: int,
    cpus: str | None,
    workers: int = 1,
    marker: bytes | None = None,
    tree: Path = ROOT,
) -> Target:
    """``rewriteproxy serve`` with this config; ``tree`` is the source tree it runs from
    (``python -m`` imports the package from its working directory)."""
    config = procs.tmp / f"{key}.yaml"
    config.write_text(yaml_text)
    argv = [sys.executable, "-m", "rewriteproxy", "serve", "--config", str(config)]
    if workers > 1:
        argv += ["--workers", str(workers)]
    proc = procs.start(argv, port, f"{key}.log", cpus, tree)
    return Target(key, title, port, proc, marker)


# ---------------------------------------------------------------- load


@dataclass
class Sample:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    requests: int
    cpu_s: float | None = None  # CPU time the measured server used meanwhile, when asked


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if m is None:
        raise ValueError(f"unreadable wrk latency {text!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


def wrk(
    url: str,
    seconds: float,
    connections: int,
    cpus: str | None,
    threads: int = 1,
    gzip: bool = False,
    measured: int | None = None,
) -> Sample:
    """One wrk run; with ``measured`` (a server's pid), also the CPU time it used."""
    duration = f"-d{max(1, round(seconds))}s"  # wrk takes whole seconds
    header = ["-H", "Accept-Encoding: gzip"] if gzip else []
    options = [f"-t{threads}", f"-c{connections}", duration, "--latency", "--timeout", "30s"]
    argv = pinned(cpus, ["wrk", *options, *header, url])
    cpu_before = cpu_seconds(measured) if measured is not None else 0.0
    out = subprocess.run(
        argv, capture_output=True, text=True, check=True, timeout=seconds + 60
    ).stdout
    cpu_s = cpu_seconds(measured) - cpu_before if measured is not None else None
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    errors = 0
    if m := re.search(r"Non-2xx or 3xx responses: (\d+)", out):
        errors += int(m.group(1))
    if m := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out):
        errors += sum(int(g) for g in m.groups())
    return Sample(rps, p50, p99, errors, requests, cpu_s)


@dataclass
class Cell:
    samples: list[Sample] = field(default_factory=list)

    @property
    def rps(self) -> float:
        return statistics.median(s.rps for s in self.samples)

    @property
    def p50(self) -> float:
        return statistics.median(s.p50_ms for s in self.samples)

    @property
    def p99(self) -> float:
        return statistics.median(s.p99_ms for s in self.samples)

    @property
    def errors(self) -> int:
        return sum(s.errors for s in self.samples)

    @property
    def cpu_us_per_request(self) -> float:
        return statistics.median(1e6 * (s.cpu_s or 0.0) / max(1, s.requests) for s in self.samples)

    @property
    def cores(self) -> float:
        """CPU seconds per second of load (wrk's own measure of how long it ran)."""
        return statistics.median(
            (s.cpu_s or 0.0) * s.rps / max(1, s.requests) for s in self.samples
        )

    def ratio(self, other: Cell) -> float:
        """Median of the per-round ratios: each round's cells ran back to back under the same
        machine load, so pairing them cancels most of the noise of a shared machine."""
        pairs = zip(self.samples, other.samples, strict=True)
        return statistics.median(a.rps / b.rps for a, b in pairs)


def fetch(url: str, gzip: bool = False) -> bytes:
    """The body, decoded; with ``gzip`` the answer must come gzipped."""
    headers = {"Accept-Encoding": "gzip"} if gzip else {}
    request = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(request, timeout=30) as response:  # loopback only
        body = bytes(response.read())
        coding = response.headers.get("Content-Encoding", "")
    if gzip != (coding == "gzip"):
        raise RuntimeError(f"{url}: Content-Encoding {coding!r} for Accept-Encoding {headers}")
    return zlib.decompress(body, 16 + zlib.MAX_WBITS) if gzip else body


def check_target(target: Target, page: Page) -> str:
    body = fetch(target.url + page.name + ".html", target.gzip)
    if target.marker is None:
        if body != page.body:
            raise RuntimeError(f"{target.key} changed {page.name} although it must not")
        return "unchanged"
    found = body.count(target.marker)
    if found == 0:
        raise RuntimeError(f"{target.key} did not rewrite {page.name}")
    if target.prefix == "/fresh/" and fetch(target.url + page.name + ".html") == body:
        raise RuntimeError(f"{target.key}: two answers for {page.name} are the same")
    return f"{found} delivery URLs"


# ---------------------------------------------------------------- engine


def engine_mb_s(pages: list[Page], repeat: int = 15) -> dict[str, float]:
    """The engine alone (HtmlRewriter with the CDN config's URL mapper), in this process."""
    from rewriteproxy.config import parse_config
    from rewriteproxy.html import HtmlRewriter
    from rewriteproxy.inventory import NullInventory
    from rewriteproxy.rewriting import build_url_mapper

    config = parse_config(proxy_yaml(1, 1, "cdn"))
    mapper = build_url_mapper(config, NullInventory())
    rewriter = HtmlRewriter(config.html)
    result = {}
    for page in pages:
        times = []
        for _ in range(repeat if len(page.body) < 1e6 else max(3, repeat // 3)):
            start = time.perf_counter()
            rewriter.rewrite(page.body, mapper)
            times.append(time.perf_counter() - start)
        result[page.name] = len(page.body) / 1e6 / statistics.median(times)
    return result


def scaling(
    procs: Processes,
    upstream: int,
    page: Page,
    full_title: str,
    features: bool,
    args: argparse.Namespace,
) -> str:
    """--workers 2 against --workers 1, and nginx's 2 workers against 1 as the ceiling here.

    No pinning: each setup may use both cores, which wrk and the upstream use too.
    Twice: pages from the rewrite cache (the proxy's share of the work per request
    is small, so wrk and the upstream take much of the second core) and pages that
    differ on every request (the proxy's own work dominates, which shows how the
    workers themselves scale). All run interleaved, round after round, and ratios
    are per round.
    """
    targets = []
    for mode, prefix in (("full", "/"), ("cdn", "/fresh/")):
        for workers in (1, 2):
            port = free_port()
            marker = DELIVERY_MARKERS["cloudinary" if mode == "full" else "cdn"]
            target = start_proxy(
                procs,
                f"rp-w{workers}-{mode}",
                f"rewriteproxy --workers {workers}",
                proxy_yaml(upstream, port, mode, features and mode == "full"),
                port,
                None,
                workers,
                marker,
            )
            target.prefix = prefix
            targets.append(target)
    targets += [start_subfilter(procs, upstream, None, workers) for workers in (1, 2)]
    time.sleep(0.5)  # the forked workers bind after the parent starts listening
    path = page.name + ".html"
    conns = args.connections * 2
    cells = [Cell() for _ in targets]
    for t in targets:
        check_target(t, page)
        wrk(t.url + path, args.warmup or 1, conns, None, 2)
    for _ in range(args.repeat):
        for t, cell in zip(targets, cells, strict=True):
            cell.samples.append(wrk(t.url + path, args.duration, conns, None, 2, False, t.proc.pid))
    for t in targets:
        procs.stop(t.proc)
    rp1, rp2, fresh1, fresh2, ng1, ng2 = cells
    text = (
        f"Multi-core ({page.name}, no pinning, wrk -t2 -c{conns}, median of "
        f"{args.repeat} interleaved rounds): {full_title}, pages from the rewrite cache: "
        f"--workers 1 {rp1.rps:,.0f} req/s, --workers 2 {rp2.rps:,.0f} req/s: "
        f"{rp2.ratio(rp1):.2f}x. CDN, every answer different (the proxy's own work "
        f"dominates): --workers 1 {fresh1.rps:,.0f} req/s, --workers 2 {fresh2.rps:,.0f} "
        f"req/s: {fresh2.ratio(fresh1):.2f}x. For scale, nginx + sub_filter with 1 and 2 "
        f"worker processes on the same machine: {ng1.rps:,.0f} and {ng2.rps:,.0f} req/s, "
        f"{ng2.ratio(ng1):.2f}x (wrk and the upstream use the same 2 cores, so none can "
        "reach 2x). CPU per request, --workers 1 → 2 (if it stays level, the workers "
        "do not get in each other's way, and requests/s follow the cores they get): "
        f"cached pages {rp1.cpu_us_per_request:.0f} → {rp2.cpu_us_per_request:.0f} µs, "
        f"every answer different {fresh1.cpu_us_per_request:.0f} → "
        f"{fresh2.cpu_us_per_request:.0f} µs; cores used {rp1.cores:.2f} → "
        f"{rp2.cores:.2f} and {fresh1.cores:.2f} → {fresh2.cores:.2f}."
    )
    print("  " + text, flush=True)
    return text


# ---------------------------------------------------------------- report


def machine() -> str:
    cpu = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    nginx = subprocess.run(["nginx", "-v"], capture_output=True, text=True).stderr.strip()
    wrk_v = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.splitlines()
    import aiohttp

    try:
        import uvloop

        loop = f"uvloop {uvloop.__version__}"
    except ImportError:
        loop = "asyncio (no uvloop)"
    return (
        f"{os.cpu_count()} CPUs ({cpu}), Linux {platform.release()}, "
        f"Python {platform.python_version()}, aiohttp {aiohttp.__version__}, {loop}, "
        f"{nginx.replace('nginx version: ', '')}, {(wrk_v or ['wrk'])[0].split(' [')[0]}"
    )


def table(
    pages: list[Page],
    targets: list[Target],
    cells: dict[tuple[str, str], Cell],
    rss: dict[tuple[str, str], float],
) -> list[str]:
    rows = [
        "| page | bytes | setup | req/s | p50 ms | p99 ms | vs nginx+sub_filter "
        "| vs pass-through | peak RSS MB |",
        "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for page in pages:
        for target in targets:
            # gzip rows with the gzip pass-through and nginx rows, chunked with chunked
            suffix = next((v for v in VARIANTS if target.key.endswith(v)), "")
            nginx = cells.get((page.name, "nginx-sub" + suffix))
            passthrough = cells.get((page.name, "rp-off" + suffix))
            cell = cells[(page.name, target.key)]
            vs_nginx = f"{cell.ratio(nginx):.2f}x" if nginx and target.key != "upstream" else ""
            vs_pass = (
                f"{cell.ratio(passthrough):.2f}x"
                if passthrough and target.key.startswith("rp-")
                else ""
            )
            mem = rss.get((page.name, target.key))
            errors = f" ({cell.errors} errors)" if cell.errors else ""
            rows.append(
                f"| {page.name} | {len(page.body):,} | {target.title} | "
                f"{cell.rps:,.0f}{errors} | {cell.p50:.2f} | {cell.p99:.2f} | {vs_nginx} | "
                f"{vs_pass} | {'' if mem is None else f'{mem:.0f}'} |"
            )
    return rows


# ---------------------------------------------------------------- main


def missing_tools() -> list[str]:
    problems = []
    for tool, package in (("nginx", "nginx"), ("wrk", "wrk")):
        if shutil.which(tool) is None:
            problems.append(f"{tool} is not installed (Debian: apt-get install -y {package})")
    return problems


@contextlib.contextmanager
def workspace(prefix: str = "rewriteproxy-load-") -> Iterator[tuple[Path, Processes]]:
    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    tmp.chmod(0o755)  # nginx workers may run as another user
    procs = Processes(tmp)
    try:
        yield tmp, procs
    finally:
        procs.stop_all()
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=3.0, help="seconds per cell")
    parser.add_argument("--repeat", type=int, default=5, help="interleaved rounds per cell")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds of load first")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--pages", default="blog-20k,blog-50k,wp-56k,blog-200k,blog-2m")
    parser.add_argument(
        "--setups",
        default=",".join(SETUPS),
        help=f"which setups to load, of {', '.join(SETUPS)} (also rp-base with --baseline)",
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        metavar="TREE",
        help="also run pass-through from this source tree (e.g. a checkout of "
        "main), as rp-base, paired round by round with rp-off",
    )
    parser.add_argument("--memory-clients", type=int, default=500)
    parser.add_argument("--skip-workers", action="store_true", help="no --workers 2 check")
    parser.add_argument("--skip-memory", action="store_true", help="no many-clients check")
    parser.add_argument("--markdown", type=Path, help="also write the results here")
    parser.add_argument("--json", type=Path, help="also write the raw samples here")
    args = parser.parse_args()
    setups = set(args.setups.split(","))
    if args.baseline is not None:
        setups.add("rp-base")
    if unknown := setups - {*SETUPS, "rp-base"}:
        parser.error(f"unknown setups: {', '.join(sorted(unknown))}")
    if problems := missing_tools():
        print("bench/load.py cannot run:\n  " + "\n  ".join(problems), file=sys.stderr)
        return 2
    two_cores = (os.cpu_count() or 1) >= 2 and shutil.which("taskset") is not None
    load_cpu, proxy_cpu = ("0", "1") if two_cores else (None, None)
    pages = load_pages(args.pages.split(","))
    lines = [f"Machine: {machine()}.", ""]
    print(lines[0], flush=True)

    engine = engine_mb_s(pages)
    with workspace() as (tmp, procs):
        www = tmp / "www"
        www.mkdir()
        www.chmod(0o755)
        for page in pages:
            (www / f"{page.name}.html").write_bytes(page.body)
            (www / f"{page.name}.html").chmod(0o644)
            gz = www / f"{page.name}.html.gz"
            gz.write_bytes(gzip_compress(page.body, GZIP_LEVEL, mtime=0))
            gz.chmod(0o644)
        upstream = start_upstream(procs, www, load_cpu)
        full_yaml = proxy_yaml(upstream.port, 0, "cloudinary", features=True)
        features = features_accepted(full_yaml)
        full_title = (
            "rewriteproxy, Cloudinary + srcset + lazy"
            if features
            else "rewriteproxy, Cloudinary (features: not available yet)"
        )

        def proxy(
            key: str,
            title: str,
            mode: str,
            marker: bytes | None,
            cpus: str | None,
            workers: int = 1,
        ) -> Target:
            port = free_port()
            return start_proxy(
                procs,
                key,
                title,
                proxy_yaml(upstream.port, port, mode, features and mode == "full"),
                port,
                cpus,
                workers,
                marker,
            )

        targets = [upstream]
        started: dict[str, Target] = {}  # by setup key, for the chunked variants
        if setups & {"nginx-sub", "nginx-sub-chunked"}:
            nginx_sub = started["nginx-sub"] = start_subfilter(procs, upstream.port, proxy_cpu)
            if "nginx-sub" in setups:
                targets.append(nginx_sub)
        if setups & {"rp-off", "rp-off-gz", "rp-off-chunked"}:
            rp_off = proxy("rp-off", "rewriteproxy, rewriting off", "off", None, proxy_cpu)
            started["rp-off"] = rp_off
            if "rp-off" in setups:
                targets.append(rp_off)
        if "rp-base" in setups:
            port = free_port()
            targets.append(
                start_proxy(
                    procs,
                    "rp-base",
                    f"rewriteproxy, rewriting off, from {args.baseline.name}",
                    proxy_yaml(upstream.port, port, "off"),
                    port,
                    proxy_cpu,
                    tree=args.baseline.resolve(),
                )
            )
        if setups & {"rp-cdn", "rp-cdn-fresh", "rp-cdn-gz", "rp-cdn-chunked"}:
            rp_cdn = proxy("rp-cdn", "rewriteproxy, CDN", "cdn", DELIVERY_MARKERS["cdn"], proxy_cpu)
            started["rp-cdn"] = rp_cdn
            if "rp-cdn" in setups:
                targets.append(rp_cdn)
            if "rp-cdn-fresh" in setups:
                targets.append(
                    Target(
                        "rp-cdn-fresh",
                        "rewriteproxy, CDN, every answer different",
                        rp_cdn.port,
                        rp_cdn.proc,
                        rp_cdn.marker,
                        "/fresh/",
                    )
                )
        if setups & {"rp-full", "rp-full-chunked"}:
            rp_full = proxy(
                "rp-full", full_title, "full", DELIVERY_MARKERS["cloudinary"], proxy_cpu
            )
            started["rp-full"] = rp_full
            if "rp-full" in setups:
                targets.append(rp_full)
        # Browsers ask for gzip: the same processes, fetched through the gzipping location.
        if "nginx-sub-gz" in setups:
            targets.append(start_subfilter(procs, upstream.port, proxy_cpu, gzip=True))
        if "rp-off-gz" in setups:
            title = "rewriteproxy, rewriting off, gzip"
            targets.append(Target("rp-off-gz", title, rp_off.port, rp_off.proc, None, "/gz/", True))
        if "rp-cdn-gz" in setups:
            title = "rewriteproxy, CDN, gzip"
            targets.append(
                Target("rp-cdn-gz", title, rp_cdn.port, rp_cdn.proc, rp_cdn.marker, "/gz/", True)
            )
        # Pages as PHP sends them: the same processes, fetched through the chunking location.
        for key, base in started.items():
            if f"{key}-chunked" in setups:
                title = f"{base.title}, upstream chunked"
                chunked = Target(f"{key}-chunked", title, base.port, base.proc, base.marker)
                chunked.prefix = "/chunked/"
                targets.append(chunked)
        if "upstream" not in setups:  # still needed by the others, just not loaded
            targets = targets[1:]
        proxies = [t for t in targets if t is not upstream]
        pinning = (
            f"proxies pinned to CPU {proxy_cpu}, wrk and the upstream to CPU {load_cpu}"
            if two_cores
            else "no pinning"
        )
        print(
            f"{pinning}; wrk -t1 -c{args.connections}, {args.duration:g} s per cell, "
            f"median of {args.repeat}",
            flush=True,
        )
        cells: dict[tuple[str, str], Cell] = {}
        rss: dict[tuple[str, str], float] = {}
        for page in pages:
            path = f"{page.name}.html"
            for target in targets:
                print(f"  {page.name} via {target.key}: {check_target(target, page)}", flush=True)
            for target in targets:
                if args.warmup > 0:
                    wrk(target.url + path, args.warmup, args.connections, load_cpu, 1, target.gzip)
            for _ in range(args.repeat):
                for target in targets:
                    sample = wrk(
                        target.url + path, args.duration, args.connections, load_cpu, 1, target.gzip
                    )
                    cells.setdefault((page.name, target.key), Cell()).samples.append(sample)
            for target in proxies:
                rss[(page.name, target.key)] = peak_rss_mb(target.proc.pid)
            for target in targets:
                cell = cells[(page.name, target.key)]
                print(
                    f"    {target.key:<17} {cell.rps:>9,.0f} req/s  p50 {cell.p50:7.2f} ms  "
                    f"p99 {cell.p99:7.2f} ms  rss {rss.get((page.name, target.key), 0):5.0f} MB"
                    f"{f'  ERRORS {cell.errors}' if cell.errors else ''}",
                    flush=True,
                )
        lines += [
            f"Setup: {pinning}; wrk -t1 -c{args.connections}, {args.duration:g} s per cell "
            f"after a {args.warmup:g} s warm-up, median of {args.repeat} interleaved "
            "rounds; ratios are medians of the per-round ratios. "
            "Peak RSS is the proxy's largest VmHWM so far in the run (it only grows).",
            "",
        ]
        lines += table(pages, targets, cells, rss)
        lines += ["", "| page | engine MB/s (CDN mapping, this process) |", "| --- | ---: |"]
        lines += [f"| {p.name} | {engine[p.name]:.0f} |" for p in pages]
        for target in proxies:
            procs.stop(target.proc)  # stopping twice is harmless

        extra: list[str] = []
        mid = next((p for p in pages if p.name in ("blog-50k", "wp-56k")), pages[0])
        if not args.skip_workers:
            extra.append(scaling(procs, upstream.port, mid, full_title, features, args))
        big = next((p for p in pages if len(p.body) > 1_000_000), None)
        if big is not None and not args.skip_memory:
            t = proxy("rp-mem", "memory", "full", DELIVERY_MARKERS["cloudinary"], proxy_cpu)
            check_target(t, big)
            cell = Cell(
                [
                    wrk(
                        t.url + big.name + ".html",
                        max(args.duration, 10),
                        args.memory_clients,
                        load_cpu,
                        2,
                    )
                ]
            )
            peak = peak_rss_mb(t.proc.pid)
            procs.stop(t.proc)
            extra.append(
                f"Memory ({full_title}, {big.name}, {args.memory_clients} concurrent "
                f"clients, {max(args.duration, 10):g} s): peak RSS {peak:.0f} MB, "
                f"{cell.rps:,.0f} req/s, p99 {cell.p99:.0f} ms, {cell.errors} errors."
            )
            print(f"  memory: {extra[-1]}", flush=True)
        lines += ["", *extra]

    print()
    print("\n".join(lines))
    if args.markdown:
        args.markdown.write_text("\n".join(lines) + "\n")
    if args.json:
        args.json.write_text(
            json.dumps(
                {f"{p}/{t}": [s.__dict__ for s in c.samples] for (p, t), c in cells.items()},
                indent=1,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
