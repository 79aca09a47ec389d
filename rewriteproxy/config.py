"""The YAML config file, parsed once into frozen, typed values.

``load_config(path)`` reads the file and returns a :class:`Config`; any problem
raises :class:`~rewriteproxy.settings.ConfigError` naming the key, the bad
value, what is allowed and the line. An invalid file never starts the server,
and a failed reload keeps the last good config (see :mod:`rewriteproxy.app`).

Each part of the product owns the parsing of its own section (delivery,
inventory, html); this module only assembles them and owns the proxy's own
keys: ``upstream``, ``listen``, ``server``, ``enabled``, ``site``, ``proxy`` and
``bypass``
(``features`` is parsed by :mod:`rewriteproxy.features`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from ipaddress import ip_network
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import yaml

from .http.headers import TrustedProxies
from .settings import ConfigError, Section

T = TypeVar("T")

__all__ = [
    "AdminConfig",
    "BypassConfig",
    "Config",
    "ConfigError",
    "ListenConfig",
    "LogConfig",
    "ProxyConfig",
    "ServerConfig",
    "SiteConfig",
    "load_config",
    "parse_config",
]


@dataclass(frozen=True, slots=True)
class ListenConfig:
    host: str = "127.0.0.1"
    port: int = 8000


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """The client side: how long a connection may wait, and how many may be open at once."""

    header_timeout: float = 30.0  # from open (or a kept-alive request's first byte) to head end
    keepalive_timeout: float = 75.0  # idle between requests; above a load balancer's idle timeout
    max_connections: int = 0  # per worker; 0 = derived from the file-descriptor limit
    # Per worker, per client address (IPv6: per /64), trusted_proxies exempt; 0 = no cap.
    max_connections_per_ip: int = 1024
    # After SIGTERM: how long requests in flight may take to finish before they are cut off.
    shutdown_timeout: float = 30.0


@dataclass(frozen=True, slots=True)
class SiteConfig:
    hosts: tuple[str, ...]  # first = canonical; the others are aliases (old domain, staging)
    uploads_path: str = "/wp-content/uploads/"
    scheme: str = "https"  # scheme of the canonical site URL, for absolute origin URLs

    @property
    def canonical_host(self) -> str:
        return self.hosts[0]


@dataclass(frozen=True, slots=True)
class ProxyConfig:
    connect_timeout: float = 5.0
    read_timeout: float = 30.0  # upstream silent for this long → 504
    max_rewrite_bytes: int = 8 * 1024 * 1024  # larger bodies stream through unmodified
    # The response header saying what the proxy did with the answer; None: not sent.
    outcome_header: str | None = "X-RewriteProxy"
    preserve_host: bool = True  # send the client's Host upstream, so WordPress builds its own URLs
    upstream_connections: int = 256  # per worker; requests beyond wait for one
    # Peers whose X-Forwarded-* and Forwarded headers are believed (loopback, as gunicorn's).
    trusted_proxies: TrustedProxies = field(default_factory=TrustedProxies)
    send_timeout: float = 60.0  # a client that takes no bytes of its answer this long is cut off
    client_body_timeout: float = 60.0  # a request body with no new bytes this long → 408
    max_body_bytes: int = 1024 * 1024 * 1024  # larger request bodies → 413
    body_buffer_bytes: int = 1024 * 1024  # one body's bytes in memory; the rest in a temp file
    body_buffers_total_bytes: int = 64 * 1024 * 1024  # per worker, all bodies' memory
    temp_files_total_bytes: int = 1024 * 1024 * 1024  # per worker, response bodies on disk
    temp_dir: str | None = None  # where temp files go; None: the system's temp directory


@dataclass(frozen=True, slots=True)
class AdminConfig:
    """The admin listener: /metrics, /health, /ready, once per machine."""

    listen: tuple[str, int] | None = ("127.0.0.1", 9188)  # None: no admin listener


@dataclass(frozen=True, slots=True)
class LogConfig:
    format: str = "text"  # text: common log format and plain lines; json: one object a line
    level: str = "info"
    access: bool = True  # one line per request


@dataclass(frozen=True, slots=True)
class BypassConfig:
    """What is never rewritten; each rule is described in :mod:`rewriteproxy.bypass`."""

    query_param: str = "rewriteproxy"  # ?rewriteproxy=off
    header: str = "X-RewriteProxy"  # X-RewriteProxy: off
    paths: tuple[str, ...] = ("/wp-admin/", "/wp-login.php", "/xmlrpc.php", "/wp-cron.php")
    logged_in_cookie: str = "wordpress_logged_in_"  # cookie-name prefix; "" to rewrite for everyone
    previews: bool = True  # ?preview=true and ?p=… &preview pages pass through
    methods: tuple[str, ...] = ("GET", "HEAD")  # only these are ever rewritten
    authorization: bool = True  # an Authorization header, or credential_params in the query
    credential_params: tuple[str, ...] = (
        "consumer_key",  # WooCommerce REST over https
        "consumer_secret",
        "oauth_consumer_key",  # OAuth 1.0a
        "access_token",  # OAuth 2 and JWT plugins
        "_for",  # Jetpack's signed requests (_for=jetpack&token=…&signature=…)
    )
    wordpress_requests: bool = True  # WordPress fetching its own pages (User-Agent WordPress/…)
    nonce: bool = True  # X-WP-Nonce or _wpnonce: a logged-in session's REST and admin calls
    edit_context: bool = True  # REST ?context= other than view or embed
    identifiers: tuple[str, ...] = ("guid",)  # JSON keys and XML elements whose values stay local


@dataclass(frozen=True, slots=True)
class Config:
    upstream: str
    listen: ListenConfig
    server: ServerConfig
    enabled: bool
    site: SiteConfig
    proxy: ProxyConfig
    bypass: BypassConfig
    delivery: Any  # parsed by rewriteproxy.delivery
    inventory: Any  # parsed by rewriteproxy.inventory
    html: Any  # parsed by rewriteproxy.html
    features: Any  # parsed by rewriteproxy.features
    admin: AdminConfig = field(default_factory=AdminConfig)
    log: LogConfig = field(default_factory=LogConfig)
    source: str = "<config>"  # the file it came from, for messages


def load_config(path: str | Path, environ: Mapping[str, str] | None = None) -> Config:
    """Read and validate one config file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file: {exc.strerror}") from exc
    return parse_config(text, source=str(path), environ=environ)


def parse_config(
    text: str, source: str = "<config>", environ: Mapping[str, str] | None = None
) -> Config:
    data, lines = _read_yaml(text, source)
    root = Section(data, "", lines, environ)
    config = _parse_root(root, source)
    root.done()
    return config


def _parse_root(root: Section, source: str) -> Config:
    # Imported here so the parts' modules can import this one's dataclasses freely.
    from .delivery import SiteContext, parse_delivery
    from .features import parse_features
    from .html import parse_html_options
    from .inventory import parse_inventory

    upstream = root.parsed(
        "upstream", "", _http_url, "an http(s) URL such as http://127.0.0.1:8080"
    )
    if not upstream:
        raise root.error(
            "upstream", "is required: the WordPress origin, e.g. http://127.0.0.1:8080"
        )
    site = _parse_site(root.section("site"))
    delivery = parse_delivery(
        root.section("delivery"),
        SiteContext(site.hosts, site.uploads_path, f"{site.scheme}://{site.canonical_host}"),
    )
    return Config(
        upstream=upstream.rstrip("/"),
        listen=_parse_listen(root.section("listen")),
        server=_parse_server(root.section("server")),
        enabled=root.flag("enabled", True),
        site=site,
        proxy=_parse_proxy(root.section("proxy")),
        bypass=_parse_bypass(root.section("bypass")),
        delivery=delivery,
        inventory=parse_inventory(root.section("inventory"), delivery),
        html=parse_html_options(root.section("html"), site.uploads_path),
        features=parse_features(root.section("features"), delivery.provider),
        admin=_parse_admin(root.section("admin")),
        log=_parse_log(root.section("log")),
        source=source,
    )


def _parse_listen(section: Section) -> ListenConfig:
    d = ListenConfig()
    listen = ListenConfig(
        host=section.text("host", d.host),
        port=section.integer("port", d.port, minimum=0, maximum=65535),
    )
    section.done()
    return listen


def _parse_server(section: Section) -> ServerConfig:
    d = ServerConfig()
    server = ServerConfig(
        header_timeout=section.number("header_timeout", d.header_timeout, minimum=0.05),
        keepalive_timeout=section.number("keepalive_timeout", d.keepalive_timeout, minimum=0.05),
        max_connections=section.integer("max_connections", d.max_connections, minimum=0),
        max_connections_per_ip=section.integer(
            "max_connections_per_ip", d.max_connections_per_ip, minimum=0
        ),
        shutdown_timeout=section.number("shutdown_timeout", d.shutdown_timeout, minimum=0),
    )
    section.done()
    return server


def _parse_site(section: Section) -> SiteConfig:
    hosts = tuple(h.strip().lower() for h in section.texts("hosts") if h.strip())
    if not hosts:
        raise section.error("hosts", "is required: the site's host names, canonical first")
    for host in hosts:
        if "/" in host or " " in host:
            raise section.error(
                "hosts",
                f"{host!r} is not allowed: expected a bare host name "
                "such as www.example.com (no scheme, no path)",
            )
    uploads_path = section.text("uploads_path", "/wp-content/uploads/")
    if not uploads_path.startswith("/"):
        raise section.error(
            "uploads_path", f"{uploads_path!r} is not allowed: expected a path starting with /"
        )
    site = SiteConfig(
        hosts=hosts,
        uploads_path="/" + uploads_path.strip("/") + "/",
        scheme=section.choice("scheme", "https", ("https", "http")),
    )
    section.done()
    return site


def _parse_proxy(section: Section) -> ProxyConfig:
    d = ProxyConfig()
    for moved in ("health_path", "metrics_path"):
        if section.has(moved):
            raise section.error(
                moved,
                "is no longer a key: health, readiness and metrics are served on the admin "
                "listener (admin.listen, default 127.0.0.1:9188) at /health, /ready and "
                "/metrics, not on the public port; remove this key",
            )
    proxy = ProxyConfig(
        connect_timeout=section.number("connect_timeout", d.connect_timeout, minimum=0.01),
        read_timeout=section.number("read_timeout", d.read_timeout, minimum=0.01),
        max_rewrite_bytes=section.integer("max_rewrite_bytes", d.max_rewrite_bytes, minimum=0),
        outcome_header=_nullable(
            section, "outcome_header", d.outcome_header, _header_name, "a header name, or null"
        ),
        preserve_host=section.flag("preserve_host", d.preserve_host),
        upstream_connections=section.integer(
            "upstream_connections", d.upstream_connections, minimum=1
        ),
        trusted_proxies=_parse_trusted_proxies(section, d.trusted_proxies),
        send_timeout=section.number("send_timeout", d.send_timeout, minimum=0.01),
        client_body_timeout=section.number(
            "client_body_timeout", d.client_body_timeout, minimum=0.01
        ),
        max_body_bytes=section.integer("max_body_bytes", d.max_body_bytes, minimum=0),
        body_buffer_bytes=section.integer("body_buffer_bytes", d.body_buffer_bytes, minimum=0),
        body_buffers_total_bytes=section.integer(
            "body_buffers_total_bytes", d.body_buffers_total_bytes, minimum=0
        ),
        temp_files_total_bytes=section.integer(
            "temp_files_total_bytes", d.temp_files_total_bytes, minimum=0
        ),
        temp_dir=section.parsed("temp_dir", "", _directory, "an existing directory") or None,
    )
    section.done()
    return proxy


def _parse_admin(section: Section) -> AdminConfig:
    d = AdminConfig()
    admin = AdminConfig(
        listen=_nullable(
            section, "listen", d.listen, _host_port, "host:port such as 127.0.0.1:9188, or null"
        )
    )
    section.done()
    return admin


def _parse_log(section: Section) -> LogConfig:
    d = LogConfig()
    log = LogConfig(
        format=section.choice("format", d.format, ("text", "json")),
        level=section.choice("level", d.level, ("debug", "info", "warning", "error")),
        access=section.flag("access", d.access),
    )
    section.done()
    return log


def _nullable(
    section: Section, key: str, default: T | None, parse: Callable[[str], T], what: str
) -> T | None:
    """``key`` parsed, or ``None`` (the thing turned off) where it is written ``null``."""
    if section.has(key) and section.optional_str(key) is None:
        return None
    return section.parsed(key, default, parse, what)


def _host_port(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError("not host:port")
    return host, int(port)


def _header_name(value: str) -> str:
    if not _TOKEN.fullmatch(value):
        raise ValueError("not a header name")
    return value


_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


def _parse_trusted_proxies(section: Section, default: TrustedProxies) -> TrustedProxies:
    values = section.texts("trusted_proxies", tuple(map(str, default.networks)))
    networks = []
    for value in values:
        try:
            networks.append(ip_network(value.strip()))
        except ValueError as exc:
            raise section.error(
                "trusted_proxies",
                f"{value!r} is not allowed: expected an IP address or a network "
                f"such as 10.0.0.0/8 or fd00::/8 ({exc})",
            ) from exc
    return TrustedProxies(tuple(networks))


def _parse_bypass(section: Section) -> BypassConfig:
    d = BypassConfig()
    bypass = BypassConfig(
        query_param=section.text("query_param", d.query_param),
        header=section.text("header", d.header),
        paths=section.texts("paths", d.paths),
        logged_in_cookie=section.text("logged_in_cookie", d.logged_in_cookie),
        previews=section.flag("previews", d.previews),
        methods=tuple(m.upper() for m in section.texts("methods", d.methods)),
        authorization=section.flag("authorization", d.authorization),
        credential_params=section.texts("credential_params", d.credential_params),
        wordpress_requests=section.flag("wordpress_requests", d.wordpress_requests),
        nonce=section.flag("nonce", d.nonce),
        edit_context=section.flag("edit_context", d.edit_context),
        identifiers=section.texts("identifiers", d.identifiers),
    )
    for name in bypass.identifiers:
        if not _IDENTIFIER_NAME.fullmatch(name):
            raise section.error(
                "identifiers",
                f"{name!r} is not allowed: expected a JSON key or XML element name "
                "such as guid (letters, digits, _ . : -)",
            )
    section.done()
    return bypass


_IDENTIFIER_NAME = re.compile(r"[A-Za-z_][\w.:-]*")


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("not an http(s) URL with a host")
    return value


def _directory(value: str) -> str:
    if value and not os.path.isdir(value):
        raise ValueError("is not a directory")
    return value


def _read_yaml(text: str, source: str) -> tuple[dict[str, Any], dict[str, int]]:
    """The document as plain data, plus the line of every key path (for error messages)."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{source}{where}: not valid YAML: {problem}") from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping of keys at the top level")
    lines: dict[str, int] = {}
    if node is not None:
        _collect_lines(node, "", lines)
    return data, lines


def _collect_lines(node: yaml.Node, prefix: str, lines: dict[str, int]) -> None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = f"{prefix}.{key_node.value}" if prefix else str(key_node.value)
            lines[key] = key_node.start_mark.line + 1
            _collect_lines(value_node, key, lines)
