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

__all__ = ["FileInfo", "UploadLocator", "UploadRef", "Variant", "wordpress_variant"]


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

    @property
    def known_version(self) -> bool:
        return self.mtime is not None or self.etag is not None


class UploadLocator:
    """Recognises the site's upload URLs. Built once per config; ``parse`` is the hot path."""

    __slots__ = ("_hosts", "_prefixes", "_uploads_path", "_uploads_path_lower")

    def __init__(self, hosts: tuple[str, ...], uploads_path: str) -> None:
        self._hosts = frozenset(h.lower() for h in hosts)
        path = "/" + uploads_path.strip("/") + "/"
        self._uploads_path = path
        self._uploads_path_lower = path.lower()
        # How pages almost always write an upload URL, exactly: one startswith() call
        # settles those (see parse).
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
        base = self._uploads_path
        if url.startswith(self._prefixes) and not url[-1].isspace():
            # The common spellings, as the general path below would read them: the first
            # "/" after the host starts the path, so the first base in url is the path's.
            rest = url[url.find(base) + len(base) :]
        else:
            path = self._local_path(url.strip())
            if path is None:
                return None
            if not path.startswith(base) and path[: len(base)].lower() != self._uploads_path_lower:
                return None
            rest = path[len(base) :]
        query = fragment = ""  # most URLs have neither: test before splitting
        if "#" in rest:
            rest, _, fragment = rest.partition("#")
        if "?" in rest:
            rest, _, query = rest.partition("?")
        if not rest or rest[-1] == "/" or rest.startswith("../") or "/../" in rest or "\\" in rest:
            return None
        return UploadRef(url, rest, query, fragment)

    def _local_path(self, url: str) -> str | None:
        """The path (with query) of a URL on one of our hosts, or ``None``."""
        if url.startswith("/"):
            if not url.startswith("//"):
                return url
            authority_and_path = url[2:]
        else:
            scheme, sep, rest = url.partition("://")
            if not sep or scheme.lower() not in ("http", "https") or not rest:
                return None
            authority_and_path = rest
        slash = authority_and_path.find("/")
        if slash < 0:
            return None
        host = authority_and_path[:slash].lower()
        if "@" in host:
            host = host.rsplit("@", 1)[1]
        if host not in self._hosts and host.split(":", 1)[0] not in self._hosts:
            return None
        return authority_and_path[slash:]


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
