"""The YAML config file, validated once into frozen, typed values.

``load_config(path)`` reads the file and returns a :class:`Config`; any problem
raises :class:`~rewriteproxy.settings.ConfigError` naming every mistake in the
file at once: the key, its line, the value and what is allowed. An invalid
file never starts the server, and a failed reload keeps the last good config
(see :mod:`rewriteproxy.app`).

Each part of the product declares its own section as a model beside its code
(:mod:`rewriteproxy.delivery`, :mod:`rewriteproxy.inventory`,
:mod:`rewriteproxy.html`, :mod:`rewriteproxy.features`); this module declares
the proxy's own keys (``upstream``, ``listen``, ``server``, ``enabled``,
``site``, ``proxy``, ``bypass``) and assembles the parts. Imports go one way:
this module imports the parts, the parts import only
:mod:`rewriteproxy.settings`. The file itself (YAML, lines, ``${ENV}``,
messages) is :mod:`rewriteproxy.configfile`'s.

Facts that cross sections: the site travels as pydantic's validation context,
computed here (from the site section validated alone) before the whole file is
validated (Cloudinary's fetch delivery derives its origin from it, the HTML
engine its uploads path); the Cloudinary inventory's account is the validated
delivery section's, filled in by a validator of the root (fields validate in
order, delivery before inventory), which also checks that placeholders have
Cloudinary.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from ipaddress import ip_network
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema

from . import configfile
from .delivery import DeliveryConfig, SiteContext
from .features import FeaturesConfig
from .html import HtmlOptions
from .http.headers import TrustedProxies
from .inventory import InventoryConfig
from .inventory.cloudinary import with_account
from .settings import INTERNAL, ConfigError, Names, Settings, checked, not_allowed, rule

__all__ = [
    "AdminConfig",
    "BypassConfig",
    "Config",
    "ConfigError",
    "ListenConfig",
    "LogConfig",
    "ProxyConfig",
    "ServerConfig",
    "SiteBlock",
    "SiteConfig",
    "load_config",
    "parse_config",
]


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("not an http(s) URL with a host")
    if "@" in parts.netloc:
        # Never sent upstream, and would be printed wherever the address is.
        raise ValueError("credentials in the URL are not used: WordPress must answer without them")
    return value.rstrip("/")


def _directory(value: str) -> str:
    if value and not os.path.isdir(value):
        raise ValueError("is not a directory")
    return value


class ListenConfig(Settings):
    """Where the proxy accepts connections."""

    host: str = "127.0.0.1"
    """The address to listen on (0.0.0.0: every IPv4 interface)."""
    port: int = Field(8000, ge=0, le=65535)
    """The TCP port to listen on."""


class ServerConfig(Settings):
    """The client side: how long a connection may wait, and how many may be open at once."""

    header_timeout: float = Field(30.0, ge=0.05)
    """Seconds for a request head, from open (or a kept-alive request's first byte); else 408."""
    keepalive_timeout: float = Field(75.0, ge=0.05)
    """Seconds a kept-alive connection may idle (keep it above a load balancer's idle timeout)."""
    max_connections: int = Field(0, ge=0)
    """Open connections per worker; 0: derived from the file-descriptor limit. At the cap the
    connection idle (else silent) longest is closed for a newcomer."""
    max_connections_per_ip: int = Field(1024, ge=0)
    """Connections per worker and client address (IPv6: per /64), trusted_proxies exempt;
    0: no cap."""
    shutdown_timeout: float = Field(30.0, ge=0)
    """After SIGTERM, seconds requests in flight may take to finish before they are cut off
    (see Operations, Graceful shutdown)."""


class SiteConfig(Settings):
    """The WordPress site whose upload URLs are rewritten."""

    hosts: Names
    """The site's host names, canonical first; the others are aliases (an old domain, staging)."""
    uploads_path: str = "/wp-content/uploads/"
    """The URL path of the uploads directory."""
    uploads_aliases: Names = ()
    """More URL paths of the same uploads directory, each some path followed by uploads_path:
    the sites of a subdirectory multisite network, such as /blog/wp-content/uploads/ (see
    Configuration, Several sites)."""
    scheme: Literal["https", "http"] = "https"
    """The scheme of the canonical site URL (for absolute origin URLs, such as fetch delivery)."""

    @field_validator("hosts")
    @classmethod
    def _bare_hosts(cls, hosts: tuple[str, ...]) -> tuple[str, ...]:
        cleaned = tuple(h.strip().lower() for h in hosts if h.strip())
        if not cleaned:
            raise rule("is required: the site's host names, canonical first")
        for host in cleaned:
            if "/" in host or " " in host:
                raise not_allowed(
                    "a bare host name such as www.example.com (no scheme, no path)", host
                )
        return cleaned

    @field_validator("uploads_path")
    @classmethod
    def _one_slash_each_side(cls, path: str) -> str:
        if not path.startswith("/"):
            raise not_allowed("a path starting with /")
        return "/" + path.strip("/") + "/"

    @field_validator("uploads_aliases")
    @classmethod
    def _paths_to_the_same_uploads(
        cls, aliases: tuple[str, ...], info: ValidationInfo
    ) -> tuple[str, ...]:
        uploads = info.data.get("uploads_path")
        cleaned = []
        for alias in aliases:
            path = "/" + alias.strip("/") + "/"
            if not alias.startswith("/") or (
                uploads is not None and (path == uploads or not path.endswith(uploads))
            ):
                raise not_allowed(
                    f"a path starting with / and ending with uploads_path {uploads}, "
                    f"such as /blog{uploads}",
                    alias,
                )
            cleaned.append(path)
        return tuple(cleaned)

    @property
    def canonical_host(self) -> str:
        return self.hosts[0]

    @property
    def context(self) -> SiteContext:
        """What delivery needs to know of the site."""
        return SiteContext(self.hosts, self.uploads_path, f"{self.scheme}://{self.canonical_host}")


class SiteBlock(SiteConfig):
    """One site of ``sites``: a site of a multisite network (or any site) with its own hosts,
    uploads path and, optionally, its own delivery and inventory."""

    delivery: DeliveryConfig | None = None
    """This site's delivery; unset: the top-level delivery (a fetch origin is still this
    site's own)."""
    inventory: InventoryConfig | None = None
    """This site's inventory; unset: the top-level inventory (one shared listing)."""

    @field_validator("inventory", mode="before")
    @classmethod
    def _inventory_lists_the_delivery_account(cls, inventory: Any, info: ValidationInfo) -> Any:
        # A site's Cloudinary inventory lists the account of this site's own delivery.
        if isinstance(inventory, dict) and isinstance(inventory.get("cloudinary"), dict):
            if "delivery" in info.data and info.data["delivery"] is None:  # none written
                raise rule(
                    "lists the account of this site's own delivery: give the site a delivery "
                    "section too",
                    at="cloudinary",
                )
            section = with_account(inventory["cloudinary"], info.data.get("delivery"))
            return {**inventory, "cloudinary": section}
        return inventory


def _trusted_proxies(value: object) -> TrustedProxies:
    if isinstance(value, TrustedProxies):
        return value
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise not_allowed("a list of IP addresses or networks")
    networks = []
    for item in value:
        try:
            networks.append(ip_network(item.strip()))
        except ValueError as exc:
            raise not_allowed(
                f"an IP address or a network such as 10.0.0.0/8 or fd00::/8 ({exc})", item
            ) from exc
    return TrustedProxies(tuple(networks))


Trusted = Annotated[
    TrustedProxies,
    PlainValidator(_trusted_proxies),
    PlainSerializer(lambda t: [str(n) for n in t.networks]),
    WithJsonSchema({"type": "array", "items": {"type": "string"}}),
]


class ProxyConfig(Settings):
    """The upstream side, the proxy's own endpoints and the limits on bodies."""

    connect_timeout: float = Field(5.0, ge=0.01)
    """Seconds to get an upstream connection (a free one, or a new one), else 504
    (refused: 502)."""
    read_timeout: float = Field(30.0, ge=0.01)
    """Seconds the upstream may stay silent, else 504."""
    max_rewrite_bytes: int = Field(8 * 1024 * 1024, ge=0)
    """Larger bodies stream through unmodified."""
    outcome_header: Annotated[str | None, checked(_header_name, "a header name, or null")] = (
        "X-RewriteProxy"
    )
    """The response header that says what the proxy did with the answer (see Operations);
    null: not sent."""
    preserve_host: bool = True
    """Send the client's Host upstream, so WordPress builds its own URLs."""
    upstream_connections: int = Field(256, ge=1)
    """Upstream connections per worker; requests beyond wait for one, up to connect_timeout."""
    trusted_proxies: Trusted = Field(
        default_factory=TrustedProxies,
        json_schema_extra=lambda schema: schema.update(
            default=[str(n) for n in TrustedProxies().networks]
        ),
    )
    """Peers whose X-Forwarded-*, Forwarded, Client-IP… headers are believed; []: nobody's."""
    send_timeout: float = Field(60.0, ge=0.01)
    """Seconds a client may take no bytes of its answer before it is cut off."""
    client_body_timeout: float = Field(60.0, ge=0.01)
    """Seconds a request body may bring no new bytes, else 408."""
    max_body_bytes: int = Field(1024 * 1024 * 1024, ge=0)
    """Larger request bodies get 413 (WordPress uploads fit)."""
    body_buffer_bytes: int = Field(1024 * 1024, ge=0)
    """One body's bytes in memory; the rest in a temporary file."""
    body_buffers_total_bytes: int = Field(64 * 1024 * 1024, ge=0)
    """Per worker: memory for all request bodies held; beyond, temporary files."""
    temp_files_total_bytes: int = Field(1024 * 1024 * 1024, ge=0)
    """Per worker: response bodies on disk for slow clients."""
    temp_dir: Annotated[str | None, checked(_directory, "an existing directory")] = None
    """Where temporary files go; unset or '': the system's temporary directory."""

    @field_validator("temp_dir")
    @classmethod
    def _empty_is_default(cls, value: str | None) -> str | None:
        return value or None

    @model_validator(mode="before")
    @classmethod
    def _null_is_the_default(cls, data: Any) -> Any:
        return _null_is_the_default_but(data, cls, "outcome_header")  # null: no header

    @model_validator(mode="before")
    @classmethod
    def _endpoints_moved(cls, data: Any) -> Any:
        for moved in ("health_path", "metrics_path"):
            if isinstance(data, dict) and moved in data:
                raise rule(
                    "is no longer a key: health, readiness and metrics are served on the admin "
                    "listener (admin.listen, default 127.0.0.1:9188) at /health, /ready and "
                    "/metrics, not on the public port; remove this key",
                    at=moved,
                )
        return data


def _host_port(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError("not host:port")
    return host, int(port)


def _address(value: str) -> str:
    _host_port(value)
    return value


def _null_is_the_default_but(data: Any, model: type[Settings], *off: str) -> Any:
    """As every section reads ``key: null`` (the default), except the keys ``off``, where
    null turns the thing off."""
    if isinstance(data, dict):
        return {
            k: v
            for k, v in data.items()
            if v is not None or k not in model.model_fields or k in off
        }
    return data


class AdminConfig(Settings):
    """The admin listener: /metrics, /health and /ready, apart from the public port."""

    @model_validator(mode="before")
    @classmethod
    def _null_is_the_default(cls, data: Any) -> Any:
        return _null_is_the_default_but(data, cls, "listen")  # null: no admin listener

    listen: Annotated[
        str | None, checked(_address, "host:port such as 127.0.0.1:9188 or [::1]:9188, or null")
    ] = "127.0.0.1:9188"
    """host:port of the admin listener ([::1]:9188 for IPv6); null: none. Served once per
    machine, whatever --workers says."""
    ready_requires_delivery: bool = False
    """true: /ready is 503 while a delivery host's circuit is open. Off by default: pages
    are correct then (local URLs), and a CDN shared by every replica would take them all
    out of the load balancer at once."""

    @property
    def address(self) -> tuple[str, int] | None:
        """``listen`` as (host, port); None: no admin listener."""
        return None if self.listen is None else _host_port(self.listen)


class LogConfig(Settings):
    """What is logged, and how (see Operations, Logs)."""

    format: Literal["text", "json"] = "text"
    """text: the access log in the common log format, events as plain lines; json: every
    line one JSON object."""
    level: Literal["debug", "info", "warning", "error"] = "info"
    """The level of event lines (--log-level overrides it); the access log is not silenced."""
    access: bool = True
    """One access-log line per request."""


def _header_name(value: str) -> str:
    if not _TOKEN.fullmatch(value):
        raise ValueError("not a header name")
    return value


_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


_IDENTIFIER_NAME = re.compile(r"[A-Za-z_][\w.:-]*")


class BypassConfig(Settings):
    """Requests that are never rewritten (each rule: docs Security, rewriteproxy.bypass)."""

    query_param: str = "rewriteproxy"
    """?rewriteproxy=off passes a page through."""
    header: str = "X-RewriteProxy"
    """X-RewriteProxy: off passes a page through."""
    paths: Names = ("/wp-admin/", "/wp-login.php", "/xmlrpc.php", "/wp-cron.php")
    """Paths never rewritten (whole segments, anywhere in the path)."""
    logged_in_cookie: str = "wordpress_logged_in_"
    """Cookie-name prefix of a logged-in user; '' rewrites for logged-in users too."""
    previews: bool = True
    """?preview=true and preview_id= pages pass through."""
    methods: Names = ("GET", "HEAD")
    """Only these methods are ever rewritten (also what ?_method= / X-HTTP-Method-Override name)."""
    authorization: bool = True
    """An Authorization header, or a credential_params key in the query, passes through."""
    credential_params: Names = (
        "consumer_key",  # WooCommerce REST over https
        "consumer_secret",
        "oauth_consumer_key",  # OAuth 1.0a
        "access_token",  # OAuth 2 and JWT plugins
        "_for",  # Jetpack's signed requests (_for=jetpack&token=…&signature=…)
    )
    """Query parameters that carry credentials."""
    wordpress_requests: bool = True
    """WordPress fetching its own pages (User-Agent WordPress/…) passes through."""
    nonce: bool = True
    """X-WP-Nonce or _wpnonce (a logged-in session's REST and admin calls) passes through."""
    edit_context: bool = True
    """REST ?context= other than view or embed passes through."""
    identifiers: Names = ("guid",)
    """JSON keys and XML elements whose values stay local."""

    @field_validator("methods")
    @classmethod
    def _upper(cls, methods: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(m.upper() for m in methods)

    @field_validator("identifiers")
    @classmethod
    def _names(cls, names: tuple[str, ...]) -> tuple[str, ...]:
        for name in names:
            if not _IDENTIFIER_NAME.fullmatch(name):
                raise not_allowed(
                    "a JSON key or XML element name such as guid (letters, digits, _ . : -)", name
                )
        return names


class Config(Settings):
    """A rewriteproxy config file."""

    # One of the two site sections, never both (for editors: the validator says it too).
    model_config = ConfigDict(
        json_schema_extra={"oneOf": [{"required": ["site"]}, {"required": ["sites"]}]}
    )

    upstream: Annotated[str, checked(_http_url, "an http(s) URL such as http://127.0.0.1:8080")]
    """The WordPress origin, such as http://127.0.0.1:8080."""
    listen: ListenConfig = ListenConfig()
    """Where the proxy accepts connections."""
    server: ServerConfig = ServerConfig()
    """Client connections (see Security, Connections)."""
    enabled: bool = True
    """false: a pure pass-through, pages keep their local URLs."""
    site: SiteConfig | None = None
    """The WordPress site (or sites, for several)."""
    sites: tuple[SiteBlock, ...] = ()
    """Several sites (a multisite network, or sites sharing one proxy), each selected by the
    request's Host; instead of site (see Configuration, Several sites)."""
    proxy: ProxyConfig = ProxyConfig()
    """The upstream side and the limits."""
    bypass: BypassConfig = BypassConfig()
    """Requests that are never rewritten (see Security)."""
    delivery: DeliveryConfig = DeliveryConfig()
    """Where uploads are served from: a provider and its section (see Delivery providers)."""
    inventory: InventoryConfig = InventoryConfig()
    """Which uploads exist, and their versions (see Inventory and offload)."""
    html: HtmlOptions = HtmlOptions()
    """What the HTML engine rewrites besides its built-in targets."""
    features: FeaturesConfig = FeaturesConfig()
    """Page-speed features (see Page-speed features)."""
    admin: AdminConfig = AdminConfig()
    """Health, readiness and metrics, apart from the public port (see Operations)."""
    log: LogConfig = LogConfig()
    """Log formats and level (see Operations, Logs)."""
    source: SkipJsonSchema[str] = Field("<config>", json_schema_extra=INTERNAL)
    """The file the config came from, for messages (set by the loader, not a key)."""

    @model_validator(mode="before")
    @classmethod
    def _sections_see_the_site(cls, data: Any, info: ValidationInfo) -> Any:
        if not isinstance(data, dict):
            return data
        if "source" in data and "site" in (info.context or {}):  # written in the file
            raise rule("unknown key", at="source")
        # html takes its uploads path from the validation context, so it is validated even
        # when the file has no html section.
        return {**data, "html": {}} if data.get("html") is None else data

    @field_validator("inventory", mode="before")
    @classmethod
    def _inventory_lists_the_delivery_account(cls, inventory: Any, info: ValidationInfo) -> Any:
        if isinstance(inventory, dict) and isinstance(inventory.get("cloudinary"), dict):
            section = with_account(inventory["cloudinary"], info.data.get("delivery"))
            return {**inventory, "cloudinary": section}
        return inventory

    @model_validator(mode="after")
    def _one_site_section(self) -> Config:
        if self.site is not None and self.sites:
            raise rule("site and sites cannot both be set: put the site in sites", at="sites")
        if self.site is None and not self.sites:
            raise rule("is required: site (one site) or sites (several)", at="site")
        seen: dict[str, int] = {}
        for index, block in enumerate(self.sites):
            for host in block.hosts:
                if host in seen:
                    raise rule(
                        f"host {host} is in sites[{seen[host]}] and sites[{index}]: "
                        "each host selects one site",
                        at=("sites", index, "hosts"),
                    )
                seen[host] = index
        return self

    @model_validator(mode="after")
    def _placeholders_need_cloudinary(self) -> Config:
        providers = {self.delivery.provider} if self.site is not None else set()
        providers |= {(b.delivery or self.delivery).provider for b in self.sites}
        if self.features.placeholders.enabled and providers != {"cloudinary"}:
            raise rule(
                f"{self.features.placeholders.style} needs delivery provider cloudinary "
                f"(the provider is {', '.join(sorted(providers))}); use none",
                at="features.placeholders.style",
            )
        return self


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
    """Validate the text of a config file; ``source`` names it in messages."""
    document = configfile.read(text, source, os.environ if environ is None else environ)
    config = configfile.validate(
        Config,
        document,
        source,
        context={"site": _site(document.data)},
        optional=_unselected_providers(document.data),
    )
    sites = tuple(_own_sections(config, document.data, i) for i in range(len(config.sites)))
    return config.model_copy(update={"source": source, "sites": sites})


def _site(data: Mapping[str, Any]) -> SiteContext | None:
    """The site, if its section is valid (if not, its errors are reported with the others);
    with several sites, the first (each site's own sections are settled by _own_sections)."""
    site = data.get("site")
    if site is None and isinstance(data.get("sites"), list) and data["sites"]:
        site = data["sites"][0]
        if isinstance(site, dict):
            site = {k: v for k, v in site.items() if k not in ("delivery", "inventory")}
    try:
        return SiteConfig.model_validate(site).context
    except ValidationError:
        return None


def _own_sections(config: Config, data: Mapping[str, Any], index: int) -> SiteBlock:
    """Site ``index`` with its delivery and inventory, its own or the top-level ones,
    validated again in its own context: what a section derives from the site (a fetch
    origin) is this site's, not the first one's."""
    block = config.sites[index]
    raw = data["sites"][index]
    context = {"site": block.context}
    delivery = block.delivery or config.delivery
    inventory = block.inventory or config.inventory
    raw_delivery = raw.get("delivery") if raw.get("delivery") is not None else data.get("delivery")
    raw_inventory = raw.get("inventory")
    if raw_inventory is None:
        raw_inventory = data.get("inventory")
    try:
        delivery = _delivery_of(raw_delivery or {}, context)
        if isinstance(raw_inventory, dict) and isinstance(raw_inventory.get("cloudinary"), dict):
            section = with_account(raw_inventory["cloudinary"], delivery)
            raw_inventory = {**raw_inventory, "cloudinary": section}
        inventory = InventoryConfig.model_validate(raw_inventory or {}, context=context)
    except ValidationError:
        pass  # valid in the whole file's context, so only a deferred section (unset ${VAR})
    return block.model_copy(update={"delivery": delivery, "inventory": inventory})


def _delivery_of(raw: Any, context: dict[str, Any]) -> DeliveryConfig:
    try:
        return DeliveryConfig.model_validate(raw, context=context)
    except ValidationError:
        if not isinstance(raw, dict):
            raise
        # An unset ${VAR} in a provider section not selected is allowed (see parse_config).
        unselected = DeliveryConfig.unselected(raw)
        selected = {k: v for k, v in raw.items() if k not in unselected}
        return DeliveryConfig.model_validate(selected, context=context)


def _unselected_providers(data: Mapping[str, Any]) -> list[configfile.Loc]:
    return [("delivery", name) for name in DeliveryConfig.unselected(data.get("delivery"))]
