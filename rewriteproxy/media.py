"""What an upload URL is: which URLs point into the site's own uploads.

A URL counts as a local upload when its host is one of ``site.hosts`` (absolute
``http``/``https`` or protocol-relative ``//host/...``), or it is root-relative,
and its path lies under ``site.uploads_path`` exactly (``/wp-content/uploads/``
matches, ``/wp-content/uploads-old/`` does not). Path-relative URLs (``photo.jpg``,
``../uploads/x.jpg``) are never matched here: the locator has no base to resolve
them against; the page's mapper (:class:`rewriteproxy.rewriting.PageMapper`)
resolves them against the page's URL first.

:class:`UploadLocator` turns such a URL into an :class:`UploadRef`, the one
value the delivery providers and the inventory speak about. Anything else is
``None``, an expected miss rather than an error.

:func:`wordpress_variant` reads WordPress's media file names without the
database: ``name-300x200.jpg`` is a sub-size of ``name.jpg`` and
``name-scaled.jpg`` the big-image downscale of it (WordPress 5.3+). It is a pure
function of the name; whether the original really exists is for the caller to
know (an inventory) or to assume (a provider that was told so).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NamedTuple
from urllib.parse import unquote

__all__ = [
    "FileInfo",
    "UploadLocator",
    "UploadRef",
    "UrlReading",
    "Variant",
    "read_url",
    "wordpress_variant",
]


class UploadRef(NamedTuple):
    """One local upload URL, split into the parts delivery needs.

    ``path`` is the file's path below the uploads base exactly as it was written
    in the URL (still percent-encoded, if it was); ``key`` is the same path
    percent-decoded, as the file is named on disk and in the bucket.

    A named tuple rather than a frozen dataclass: one is built for every distinct
    URL a page mentions, and a frozen dataclass's ``__init__`` (one
    ``object.__setattr__`` per field) was a third of :meth:`UploadLocator.parse`.
    """

    url: str
    path: str
    query: str = ""
    fragment: str = ""

    @property
    def key(self) -> str:
        return unquote(self.path)

    @property
    def extension(self) -> str:
        name = self.path.rsplit("/", 1)[-1]
        dot = name.rfind(".")
        return name[dot + 1 :].lower() if dot > 0 else ""


@dataclass(frozen=True, slots=True)
class FileInfo:
    """What the inventory knows of one upload: facts from the bucket or the disk, never guesses.

    Every field may be ``None`` when the source does not tell it (a configuration
    with no inventory knows nothing, and delivery then adds no version).
    """

    size: int | None = None
    mtime: float | None = None  # seconds since the epoch (S3 LastModified, or the file's mtime)
    etag: str | None = None  # S3 ETag without quotes
    # The version token of the ETag (delivery.versioning.etag_token) when a source keeps
    # only that, as the shared snapshot does: it is all a delivery URL needs of the ETag.
    etag_token: str | None = None

    @property
    def known_version(self) -> bool:
        return self.mtime is not None or self.etag is not None or self.etag_token is not None


class UrlReading(NamedTuple):
    """How a browser reads a URL written on a page of an ``http``/``https`` site.

    ``host`` is ``None`` for a root-relative URL (the page's own host); otherwise
    the host as written, ASCII-lowercased, with ``port`` the digits after it
    (``""`` when none are written). ``path``, ``query`` and ``fragment`` are as
    written (``query``/``fragment`` ``None`` when absent), less the tabs and
    newlines a browser removes; a backslash in ``path`` is a separator to a browser.
    """

    host: str | None
    port: str
    path: str
    query: str | None
    fragment: str | None


# WHATWG strips these from both ends ("C0 control or space") and tab/newline everywhere.
_C0_OR_SPACE = "".join(map(chr, range(0x21)))
_SLASHES = "/\\"  # special schemes read a backslash as a slash
_AUTHORITY_ENDS = re.compile(r"[/\\?#]")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")


def read_url(url: str) -> UrlReading | None:
    """The WHATWG URL parser's reading of ``url`` on an ``http``/``https`` page, as far as
    which host and path it names go; ``None`` when that reading is not certain.

    Followed from the standard: leading and trailing C0 controls and spaces are
    stripped, tabs and newlines removed; the scheme is case-insensitive; after
    ``http:``/``https:`` or at the start of a scheme-less URL, any run of two or
    more slashes or backslashes starts the authority; the authority ends at the
    first ``/``, ``\\``, ``?`` or ``#``, and the host follows its last ``@``
    (userinfo) and ends at the ``:`` of a port (after the ``]`` of an IPv6
    literal); a port is ASCII digits, at most 65535.

    ``None`` (not certain, or not ``http``/``https``): other schemes; a scheme
    followed by fewer than two slashes (``http:/x``, ``http:x``: a host or a path
    depending on the page's own scheme); path-, query- or fragment-relative URLs
    (they depend on the page's path); a missing host; a port that is not a
    number; a host that is not ASCII or holds ``%`` (decoding it, and IDNA, are
    not modelled: such a host is never taken for one of ours).
    """
    url = url.strip(_C0_OR_SPACE)
    if "\t" in url or "\n" in url or "\r" in url:
        url = url.replace("\t", "").replace("\n", "").replace("\r", "")
    scheme = _SCHEME.match(url)
    rest = url[scheme.end() :] if scheme is not None else url
    if scheme is not None and scheme.group().lower() not in ("http:", "https:"):
        return None
    slashes = len(rest) - len(rest.lstrip(_SLASHES))
    if slashes == 1 and scheme is None:
        host, port = None, ""
    elif slashes >= 2:
        rest = rest[slashes:]
        end = _AUTHORITY_ENDS.search(rest)
        authority, rest = (rest[: end.start()], rest[end.start() :]) if end else (rest, "")
        host_port = authority.rpartition("@")[2]
        if host_port.startswith("["):
            close = host_port.find("]") + 1
            if close == 0:
                return None
            host, port = host_port[:close], host_port[close:]
            if port and port[0] != ":":
                return None
            port = port[1:]
        else:
            host, _, port = host_port.partition(":")
        if not host or not host.isascii() or "%" in host or not _valid_port(port):
            return None
        host = host.lower()
    else:
        return None
    query = fragment = None
    if "#" in rest:
        rest, _, fragment = rest.partition("#")
    if "?" in rest:
        rest, _, query = rest.partition("?")
    return UrlReading(host, port, rest, query, fragment)


def _valid_port(port: str) -> bool:
    return not port or (port.isascii() and port.isdigit() and int(port) <= 65535)


def _key_of(rest: str) -> str | None:
    """The inventory key of the path ``rest`` below the uploads base (percent-decoded),
    or ``None`` when no delivery side can name that file: its percent-decoding is not
    UTF-8, or it holds a character UTF-8 cannot carry (a lone surrogate from JSON)."""
    key = rest
    if "%" in rest:
        try:
            key = unquote(rest, errors="strict")
        except UnicodeDecodeError:
            return None
    if not key.isascii():
        try:
            key.encode("utf-8")
        except UnicodeEncodeError:
            return None
    return key


def _climbs(key: str) -> bool:
    """Whether a decoded path below the uploads base has a ``.`` or ``..`` segment or a
    backslash: a browser, a bucket or a disk could read it as outside that base."""
    if "\\" in key:
        return True
    if not key.startswith(".") and "/." not in key:  # the usual case, settled in C
        return False
    return any(segment in (".", "..") for segment in key.split("/"))


class UploadLocator:
    """Recognises the site's upload URLs. Built once per config; ``parse`` is the hot path.

    The rule, for every format (attributes, srcset, CSS, JSON, the text sweep): the
    URL as a browser reads it (:func:`read_url`) names one of ``hosts`` (``host`` or
    ``host:port`` as configured) or is root-relative; its path starts with the
    uploads base (ASCII case ignored) and below it names a file (not empty, no
    trailing ``/``) without a backslash, and neither the path nor its
    percent-decoded form (the inventory key) has a ``.`` or ``..`` segment, in any
    spelling (``%2e``, ``.%2E``, ``..%2f``). WordPress writes none of these, and
    a path that holds one could leave the base once normalised, so such a URL is
    left alone whether or not it would. Nor is a URL whose key no delivery side
    could name: percent-decoding that is not UTF-8 (``%FF``), or a lone surrogate.

    ``aliases``: more URL paths of the same uploads directory (a subdirectory
    multisite site's ``/blog/wp-content/uploads/``); a URL under one of them names
    the same file as under ``uploads_path`` (its path below the alias). Each is
    tried, by the same rule, only when ``uploads_path`` did not match.
    """

    __slots__ = ("_aliases", "_hosts", "_prefixes", "_uploads_path", "_uploads_path_lower")

    def __init__(
        self, hosts: tuple[str, ...], uploads_path: str, aliases: tuple[str, ...] = ()
    ) -> None:
        self._aliases = tuple(UploadLocator(hosts, alias) for alias in aliases)
        self._hosts = frozenset(h.lower() for h in hosts)
        path = "/" + uploads_path.strip("/") + "/"
        self._uploads_path = path
        self._uploads_path_lower = path.lower()
        # How pages almost always write an upload URL, exactly: one startswith() call
        # settles where its path starts (see parse).
        self._prefixes = (
            path,
            *(
                f"{scheme}//{h}{path}"
                for h in sorted(self._hosts)
                for scheme in ("https:", "http:", "")
            ),
        )

    @property
    def uploads_path(self) -> str:
        return self._uploads_path

    def parse(self, url: str) -> UploadRef | None:
        """The upload ``url`` names, or ``None``: :meth:`parse_by_rule`, with a shortcut."""
        found = self._parse(url)
        if found is None and self._aliases:
            for alias in self._aliases:
                if (found := alias.parse(url)) is not None:
                    return found
        return found

    def _parse(self, url: str) -> UploadRef | None:
        if (
            url.startswith(self._prefixes)
            and url[-1] > " "
            and not ("\t" in url or "\n" in url or "\r" in url)
        ):
            # One of the exact spellings, which read_url reads the same way: the authority
            # is exactly a host of ours, so the first base in url starts the rest.
            rest = url[url.find(self._uploads_path) + len(self._uploads_path) :]
            query = fragment = ""  # most URLs have neither: test before splitting
            if "#" in rest:
                rest, _, fragment = rest.partition("#")
            if "?" in rest:
                rest, _, query = rest.partition("?")
            if not rest or rest[-1] == "/" or (key := _key_of(rest)) is None or _climbs(key):
                return None
            return UploadRef(url, rest, query, fragment)
        return self._parse_by_rule(url)

    def parse_by_rule(self, url: str) -> UploadRef | None:
        """The upload ``url`` names by the full rule (the class docstring), or ``None``.

        The reference of :meth:`parse`, whose shortcut must give the same answers.
        """
        found = self._parse_by_rule(url)
        if found is None and self._aliases:
            for alias in self._aliases:
                if (found := alias.parse_by_rule(url)) is not None:
                    return found
        return found

    def _parse_by_rule(self, url: str) -> UploadRef | None:
        base, base_lower = self._uploads_path, self._uploads_path_lower
        if (
            base not in url
            and base_lower not in url.lower()
            and not ("\t" in url or "\n" in url or "\r" in url)  # a browser removes those
        ):
            return None  # no spelling of the base at all: most URLs a page holds
        reading = read_url(url)
        if reading is None:
            return None
        host, hosts = reading.host, self._hosts
        if host is not None and host not in hosts and f"{host}:{reading.port}" not in hosts:
            return None  # neither the host nor, as configured, host:port is ours
        path = reading.path
        if not path.startswith(base) and path[: len(base)].lower() != base_lower:
            return None
        rest = path[len(base) :]
        if not rest or rest[-1] == "/" or (key := _key_of(rest)) is None or _climbs(key):
            return None
        return UploadRef(url, rest, reading.query or "", reading.fragment or "")


@dataclass(frozen=True, slots=True)
class Variant:
    """A file WordPress derived from an original: a sub-size or the big-image downscale.

    ``original_path`` is the original's path, written the same way as the path
    given (a sub-size keeps its original's extension in WordPress's naming).
    ``width``/``height`` are the sub-size's exact pixel size from its name;
    both are ``None`` for a ``-scaled`` file, whose size depends on the
    original's aspect ratio.
    """

    original_path: str
    width: int | None
    height: int | None
    scaled: bool


# Sub-sizes are "<original stem>-<W>x<H>.<ext>": WordPress writes plain integers,
# so a leading zero means the name came from somewhere else.
_SIZE_SUFFIX = re.compile(r"^(?P<stem>.+)-(?P<w>[1-9][0-9]{0,4})x(?P<h>[1-9][0-9]{0,4})$")
_SCALED_SUFFIX = "-scaled"


def wordpress_variant(path: str) -> Variant | None:
    """The original a WordPress file name was derived from, or ``None`` if it is not derived.

    Only the suffix right before the extension counts, exactly as WordPress
    writes it:

    - ``photo-300x200.jpg``: a sub-size of ``photo.jpg``, 300x200 pixels.
    - ``photo-scaled.jpg``: the big-image downscale of ``photo.jpg``.
    - ``photo-e1699999999-300x200.jpg``: a sub-size of the edited image
      ``photo-e1699999999.jpg`` (which is itself not derived: its pixels differ
      from ``photo.jpg``).
    - ``photo-1.jpg`` (a second upload of the same name) and
      ``photo-300x200-1.jpg`` (an upload that WordPress renamed so it cannot
      clash with a sub-size name) are originals: ``None``.

    Names without an extension are never derived (WordPress sizes images only).
    """
    slash = path.rfind("/")
    directory, name = path[: slash + 1], path[slash + 1 :]
    dot = name.rfind(".")
    if dot <= 0:
        return None
    stem, extension = name[:dot], name[dot:]
    if stem.endswith(_SCALED_SUFFIX) and len(stem) > len(_SCALED_SUFFIX):
        original = directory + stem[: -len(_SCALED_SUFFIX)] + extension
        return Variant(original, None, None, scaled=True)
    match = _SIZE_SUFFIX.match(stem)
    if match is None:
        return None
    return Variant(
        directory + match["stem"] + extension, int(match["w"]), int(match["h"]), scaled=False
    )
