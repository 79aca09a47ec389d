"""What an upload URL is: which URLs point into the site's own uploads.

A URL counts as a local upload when its host is one of ``site.hosts`` (absolute
``http``/``https`` or protocol-relative ``//host/...``), or it is root-relative,
and its path lies under ``site.uploads_path`` exactly (``/wp-content/uploads/``
matches, ``/wp-content/uploads-old/`` does not). Relative URLs (``photo.jpg``,
``../uploads/x.jpg``) are never matched: the proxy cannot know the base they
resolve against without guessing.

:class:`UploadLocator` turns such a URL into an :class:`UploadRef`, the one
value the delivery providers and the inventory speak about. Anything else is
``None``, an expected miss rather than an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote

__all__ = ["FileInfo", "UploadLocator", "UploadRef"]


@dataclass(frozen=True, slots=True)
class UploadRef:
    """One local upload URL, split into the parts delivery needs.

    ``path`` is the file's path below the uploads base exactly as it was written
    in the URL (still percent-encoded, if it was); ``key`` is the same path
    percent-decoded, as the file is named on disk and in the bucket.
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

    @property
    def known_version(self) -> bool:
        return self.mtime is not None or self.etag is not None


class UploadLocator:
    """Recognises the site's upload URLs. Built once per config; ``parse`` is the hot path."""

    __slots__ = ("_hosts", "_uploads_path", "_uploads_path_lower")

    def __init__(self, hosts: tuple[str, ...], uploads_path: str) -> None:
        self._hosts = frozenset(h.lower() for h in hosts)
        path = "/" + uploads_path.strip("/") + "/"
        self._uploads_path = path
        self._uploads_path_lower = path.lower()

    @property
    def uploads_path(self) -> str:
        return self._uploads_path

    def parse(self, url: str) -> UploadRef | None:
        path = self._local_path(url.strip())
        if path is None:
            return None
        if path[: len(self._uploads_path)].lower() != self._uploads_path_lower:
            return None
        rest = path[len(self._uploads_path) :]
        rest, _, fragment = rest.partition("#")
        rest, _, query = rest.partition("?")
        if not rest or rest.endswith("/") or "/../" in f"/{rest}" or "\\" in rest:
            return None
        return UploadRef(url=url, path=rest, query=query, fragment=fragment)

    def _local_path(self, url: str) -> str | None:
        """The path (with query) of a URL on one of our hosts, or ``None``."""
        if url.startswith("//"):
            authority_and_path = url[2:]
        elif url.startswith("/"):
            return url
        else:
            scheme, sep, rest = url.partition("://")
            if not sep or scheme.lower() not in ("http", "https") or not rest:
                return None
            authority_and_path = rest
        slash = authority_and_path.find("/")
        if slash < 0:
            return None
        authority = authority_and_path[:slash].lower()
        host = authority.rsplit("@", 1)[-1]
        if host not in self._hosts and host.split(":", 1)[0] not in self._hosts:
            return None
        return authority_and_path[slash:]
