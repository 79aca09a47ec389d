"""Rewrite every upload URL in a URL position of an HTML document, and nothing else.

Usage::

    rewriter = HtmlRewriter(HtmlOptions(uploads_path="/wp-content/uploads/"))  # once per config
    out = rewriter.rewrite(doc, map_url, encoding=header_charset)             # per response

``map_url`` is called with each candidate URL as text (character references
decoded, JSON escapes undone) and returns the replacement URL or ``None``. It is
called at most once per distinct URL in a document (pages repeat their URLs in
``src``, ``srcset``, links and JSON), so it should be a pure function of the URL.

How it works (the shape of WordPress's tag processor): the :mod:`.scanner`
reports the few start tags and raw texts that may hold an upload URL; for each,
the target table below says what kind of value an attribute holds; the value is
decoded, the format modules (:mod:`rewriteproxy.formats`) find the URLs in it,
and each replacement becomes a queued ``(start, end, bytes)`` edit of the
document. All edits are applied in one ordered splice at the end. Bytes outside
the edited URL spans are never touched; with no edit the document object itself
is returned (``out is doc``), and a document without the uploads path in any
spelling (``/``, ``\\/``, ``%2F``, ``&#x2F;``, ``&#47;``, ``&sol;``) is returned
before any scanning; so is a script or style block read only when it holds the
path in one of those spellings.

The common case runs in C when the optional ``_values`` extension is built
(:data:`NATIVE`): quoted URL and srcset values with nothing to decode, in tags
no handler asked for, are split, mapped once per distinct URL, escaped and
queued straight from the C tokenizer's events, and the splice is C too.
``_Document.plain_value``, ``.replacement`` and ``_splice`` here do the same
work and are the reference the C code is tested against; everything else
(CSS, JSON, ``<meta>``, values with character references, handlers' tags)
always runs here.

Where URLs are looked for: the attributes declared in :mod:`.targets` (per
tag, such as ``img src``, or on any tag, such as ``style``, the lazy loaders'
``data-*``, WordPress's ``data-wp-context`` and Elementor's ``data-settings``
JSON) with the ones the config declares (``html.attributes``), ``<meta
content>`` when the meta names an image/video/audio
(``og:image``, ``twitter:image``, ...), ``<style>`` blocks, and JSON strings in
``<script type="application/ld+json">`` and, unless turned off, in inline
scripts. Only the first of duplicated attributes is read, as browsers do.

Writing back: a replacement is escaped for the attribute's quote style (``&``
as ``&amp;``, the delimiting quote as a reference); an unquoted value that the
replacement would break is wrapped in double quotes. Text that cannot be
decoded in the document's encoding is left alone.

Element handlers (the hook for features such as lazy loading): an
:class:`ElementHandler` names the tags it wants; for each such start tag it is
called with an :class:`Element` after URL rewriting, and may read attributes
(decoded, already rewritten), set or add attributes and insert markup after the
tag. Its changes are queued edits like any other, so a handler's value for an
attribute replaces the URL rewriter's. Handlers are passed per call, so per
document state lives in the handler object; with handlers the fast path is off
(handlers may want to act on pages without uploads). A handler may also read an
attribute as the page wrote it (:meth:`Element.original`), ask whether the tag
sits inside ``<picture>``, ``<noscript>`` or ``<template>``
(:meth:`Element.within`; the end of such an element is its first matching end
tag, so nested templates are approximated), and, once the whole document has
been scanned, learn whether any URL was rewritten (:meth:`ElementHandler.finish`)
and still insert markup after an element it kept.

Fail open: any exception while rewriting (a bug, a failing ``map_url``) is
logged and the original document is returned.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache
from operator import itemgetter
from types import ModuleType
from typing import TYPE_CHECKING

from rewriteproxy.formats import Edit, MapUrl, apply_edits
from rewriteproxy.formats.css import rewrite_css
from rewriteproxy.formats.jsonurls import rewrite_json_strings
from rewriteproxy.formats.srcset import rewrite_srcset, safe_in_srcset, srcset_url_spans
from rewriteproxy.html.charrefs import decode_attribute, escape_attribute, needs_quotes
from rewriteproxy.html.charset import ascii_compatible, detect_encoding
from rewriteproxy.html.native import load
from rewriteproxy.html.options import HtmlOptions
from rewriteproxy.html.scanner import NATIVE as SCANNER_NATIVE
from rewriteproxy.html.scanner import Attribute, RawText, Scanner, StartTag
from rewriteproxy.html.targets import ANY_TAG, TARGETS, Kind

if TYPE_CHECKING:
    from rewriteproxy.html._tokenizer import Event

__all__ = [
    "ANY_TAG",
    "CONTEXT_TAGS",
    "NATIVE",
    "TARGETS",
    "Element",
    "ElementHandler",
    "HtmlRewriter",
    "Kind",
    "Memo",
]

log = logging.getLogger(__name__)

# Not built or disabled (see .native): _Document.plain_value does the same work.
_native: ModuleType | None = load("_values")

NATIVE = _native is not None and SCANNER_NATIVE
"""Whether the C fast path for plain URL and srcset values is available (used by default;
it works on the C tokenizer's events, so needs that built too)."""


MEDIA_META_NAMES = frozenset(
    {
        "og:image",
        "og:image:url",
        "og:image:secure_url",
        "og:video",
        "og:video:url",
        "og:video:secure_url",
        "og:audio",
        "og:audio:url",
        "og:audio:secure_url",
        "twitter:image",
        "twitter:image:src",
        "twitter:player:stream",
        "thumbnail",
        "msapplication-tileimage",
        "image",
    }
)
JSON_SCRIPT_TYPES = frozenset({"application/ld+json", "application/json"})
CODE_SCRIPT_TYPES = frozenset({"", "text/javascript", "application/javascript", "module"})
_WS = "\t\n\f\r "
CONTEXT_TAGS = frozenset({"picture", "noscript", "template"})
"""Elements :meth:`Element.within` can tell a tag is inside of."""
_CONTEXT_CLOSE = {
    name: re.compile(b"</" + name.encode() + rb"[\t\n\f\r />]", re.IGNORECASE)
    for name in CONTEXT_TAGS
}


class Element:
    """A start tag as an element handler sees it; changes are queued, not applied."""

    __slots__ = (
        "_current",
        "_document",
        "_original",
        "_per_attribute",
        "_sets",
        "_tag",
        "_unmapped",
    )

    def __init__(
        self,
        tag: StartTag,
        current: dict[str, str | Attribute],
        unmapped: set[str],
        document: _Document,
    ) -> None:
        self._tag = tag
        # Values after URL rewriting, first duplicate only. An Attribute is decoded when
        # first asked for (handlers read a few of a tag's attributes, not alt or class);
        # one named in ``unmapped`` holds upload URLs and is rewritten then too.
        self._current = current
        self._unmapped = unmapped
        self._original: dict[str, str] = {}  # decoded values as written, where they differ
        self._per_attribute: dict[str, list[tuple[int, int, bytes]]] = {}  # the byte edits
        self._document = document
        self._sets: dict[str, str] = {}

    @property
    def name(self) -> str:
        return self._tag.name

    def has(self, name: str) -> bool:
        """Whether the tag has the attribute (or a handler set it); reads no value."""
        name = name.lower()
        return name in self._sets or name in self._current

    def get(self, name: str) -> str | None:
        """The attribute's decoded value (``""`` if it has none), or ``None`` if absent."""
        name = name.lower()
        if name in self._sets:
            return self._sets[name]
        value = self._current.get(name)
        if value is None or isinstance(value, str):
            return value
        if name in self._unmapped:
            return self._document.map_attribute(self, name)
        decoded = self._current[name] = self._document.decoded(value)
        return decoded

    def original(self, name: str) -> str | None:
        """The attribute's decoded value as the page wrote it, before any URL rewriting."""
        name = name.lower()
        written = self._original.get(name)
        if written is not None:
            return written
        value = self._current.get(name)
        if value is None or isinstance(value, str):
            return value
        decoded = self._document.decoded(value)  # as written, whether or not mapped later
        if name in self._unmapped:
            self._original[name] = decoded
        else:
            self._current[name] = decoded
        return decoded

    def within(self, name: str) -> bool:
        """True if this tag is inside an element named ``name`` (one of :data:`CONTEXT_TAGS`)."""
        if name not in CONTEXT_TAGS:
            raise ValueError(f"within() knows only {sorted(CONTEXT_TAGS)}, not {name!r}")
        begin, end = self._document.open_until.get(name, (0, -1))
        return begin <= self._tag.start < end

    def set(self, name: str, value: str) -> None:
        """Set ``name`` to ``value`` (plain text, escaped when written); added if absent."""
        self._sets[name.lower()] = value

    def insert_after(self, markup: str) -> None:
        """Insert ``markup`` (written as given) right after this start tag.

        May also be called later, up to :meth:`ElementHandler.finish`; insertions at
        one place keep the order they were made in.
        """
        end = self._tag.end
        data = markup.encode(self._document.encoding, "xmlcharrefreplace")
        self._document.edits.append((end, end, data))


class ElementHandler:
    """Base contract of element handlers, and the null handler: sees nothing, changes nothing.

    Subclasses set ``tags`` (lowercase names) and override :meth:`element`.
    """

    tags: frozenset[str] = frozenset()

    def element(self, element: Element) -> None:
        """Called once per start tag named in ``tags``, in document order."""

    def finish(self, rewritten: bool) -> None:
        """Called once after the whole document was scanned.

        ``rewritten``: whether any upload URL in the document was rewritten. A
        handler may still call :meth:`Element.insert_after` on elements it kept;
        attribute changes made here are ignored.
        """


def _path_needle(uploads_path: str) -> re.Pattern[bytes] | None:
    """The uploads path in every spelling a page may use for its slashes.

    Compiled without IGNORECASE (several times slower); :meth:`HtmlRewriter.has_uploads`
    searches the lowered document when the exact case is not found.
    """
    segments = [s.lower() for s in uploads_path.split("/") if s]
    if not segments:
        return None
    slash = rb"(?:/|\\/|%2[fF]|&#[xX]0*2[fF];?|&#0*47;?|&sol;)"
    return re.compile(slash.join(re.escape(s.encode()) for s in segments) + slash)


@lru_cache(maxsize=64)
def _scanner(names: frozenset[str], marker: bytes, value_names: frozenset[str]) -> Scanner:
    return Scanner(names, marker, value_names)


def _byte_edits(
    text: str, base: int, edits: Iterable[Edit], encoding: str, errors: str
) -> list[tuple[int, int, bytes]]:
    """Edits over ``text`` (decoded from ``doc[base:...]``) as edits over the document bytes."""
    out: list[tuple[int, int, bytes]] = []
    ascii_text = text.isascii()
    for start, end, new in edits:
        try:
            data = new.encode(encoding, errors)
        except UnicodeEncodeError:
            continue  # a replacement this encoding cannot carry: keep the original
        if ascii_text:  # one byte per character in every encoding the scanner accepts
            out.append((base + start, base + end, data))
            continue
        byte_start = base + len(text[:start].encode(encoding))
        byte_end = byte_start + len(text[start:end].encode(encoding))
        out.append((byte_start, byte_end, data))
    return out


def _json_values(text: str, map_url: MapUrl) -> list[Edit]:
    """URLs in the string values of JSON (keys stay, see :mod:`rewriteproxy.formats.jsonurls`)."""
    return rewrite_json_strings(text, map_url, values_only=True)


def _memoised(map_url: MapUrl, seen: dict[str, str | None] | None = None) -> MapUrl:
    """``map_url`` called at most once per distinct URL of a document (pages repeat URLs);
    ``seen`` holds its answers."""
    if seen is None:
        seen = {}
    missing = object()  # a miss raises no KeyError: most lookups here are first sightings

    def cached(url: str) -> str | None:
        new = seen.get(url, missing)
        if new is missing:
            new = seen[url] = map_url(url)
        return new  # type: ignore[return-value]

    return cached


Replacements = tuple[dict[str, bytes | None], ...]


class Memo:
    """``map_url``'s answers, and what each becomes in a value, kept across documents.

    For a caller whose ``map_url`` answers depend on the URL alone for as long as it
    hands the same memo over (:meth:`rewriteproxy.rewriting.UrlMapper.pure_answers`):
    then a URL an earlier page had costs no call of ``map_url`` and no escaping. The
    caller bounds its size by starting a new one.
    """

    __slots__ = ("_replacements", "answers")

    def __init__(self) -> None:
        self.answers: dict[str, str | None] = {}
        self._replacements: dict[str, Replacements] = {}  # by encoding

    def __len__(self) -> int:
        return len(self.answers)

    def replacements(self, encoding: str) -> Replacements:
        """The four tables of :attr:`_Document.replacements` for documents in ``encoding``."""
        known = self._replacements.get(encoding)
        if known is None:
            known = self._replacements.setdefault(encoding, ({}, {}, {}, {}))
        return known


class _Document:
    """The state of one :meth:`HtmlRewriter.rewrite` call."""

    def __init__(
        self,
        rewriter: HtmlRewriter,
        scanner: Scanner,
        doc: bytes,
        map_url: MapUrl,
        encoding: str,
        handlers: Sequence[ElementHandler],
        memo: Memo | None = None,
    ) -> None:
        self.rw = rewriter
        self.scanner = scanner
        self.doc = doc
        self.raw_map_url = map_url
        # map_url's answers, shared with _values.c (and with other documents, if given)
        self.mapped: dict[str, str | None] = {} if memo is None else memo.answers
        self.map_url = _memoised(map_url, self.mapped)
        self.encoding = encoding
        self.handlers = handlers
        self.edits: list[tuple[int, int, bytes]] = []
        # {url → its replacement, escaped and encoded; None: kept} for URLs in a value
        # delimited by ", in a srcset so delimited, in a value delimited by ', in such a
        # srcset: indexed (quote == "'") * 2 + in_srcset, the order _values.c expects
        self.replacements: Replacements = (
            ({}, {}, {}, {}) if memo is None else memo.replacements(encoding)
        )
        self.rewritten = False  # any upload URL rewritten (handlers' own edits do not count)
        # context element → (end of its start tag, start of its end tag): the last one seen
        self.open_until: dict[str, tuple[int, int]] = {}

    def plain_tags(self, events: list[Event]) -> list[Event]:
        """The C fast path, as the scanner's filter: queues the edits of the plain URL and
        srcset values of all tags at once, and leaves the rest to :meth:`start_tag`."""
        rw = self.rw
        assert rw._native is not None
        # Called once per part of a page: the edits queued so far may be handlers' own,
        # which do not count as rewriting, so only this call's edits can set the flag.
        before = len(self.edits)
        kept: list[Event] = rw._native.plain_tags(
            self.doc,
            events,
            rw._plain_kinds,
            rw._plain_any_tag,
            self.replacements,
            self.mapped,
            self.raw_map_url,
            self.encoding,
            self.edits,
            # Script and style blocks without the marker, most of a block theme's, never
            # become Python objects; with handlers their tags may be wanted.
            b"" if self.handlers else rw._marker_lower,
        )
        if len(self.edits) > before:
            self.rewritten = True
        return kept

    def has_marker(self, start: int, end: int) -> bool:
        """Whether ``doc[start:end]`` holds the marker, compared ASCII-case-insensitively."""
        marker = self.rw._marker_lower
        if not marker:
            return True
        native = self.rw._native
        if native is not None:
            # Most script and style blocks lack the marker; find_ci proves it without the
            # lowered copy of each block (bench/engine.py measures the difference).
            found: int = native.find_ci(self.doc, marker, start, end)
            return found >= 0
        return self.doc.find(marker, start, end) >= 0 or _find_ci(self.doc, marker, start, end) >= 0

    def text(self, start: int, end: int) -> str | None:
        """``doc[start:end]`` decoded, or ``None`` when it is not valid in the encoding."""
        data = self.doc[start:end]
        if data.isascii():
            return data.decode("ascii")
        try:
            return data.decode(self.encoding)
        except UnicodeDecodeError:
            return None

    # -- raw text ------------------------------------------------------------

    def holds_uploads(self, start: int, end: int) -> bool:
        """Whether ``doc[start:end]`` holds the uploads path in a spelling
        :meth:`HtmlRewriter.has_uploads` knows: the same test for a script or style block
        as for a whole document. Block themes inline style sheets naming
        ``/wp-content/themes/`` (the marker alone), whose CSS reading found nothing."""
        if not self.has_marker(start, end):
            return False
        needle = self.rw._needle
        if needle is None:
            return True
        doc = self.doc
        return (
            needle.search(doc, start, end) is not None
            or needle.search(doc[start:end].lower()) is not None
        )

    def raw_text(self, raw: RawText) -> None:
        if raw.start == raw.end or not self.holds_uploads(raw.start, raw.end):
            return
        finder: Callable[[str, MapUrl], list[Edit]]
        if raw.tag.name == "style":
            finder = rewrite_css
        else:
            kind = self.attribute_text(raw.tag, "type")
            kind = (kind or "").strip(_WS).lower()
            if kind in JSON_SCRIPT_TYPES:
                finder = _json_values
            elif kind in CODE_SCRIPT_TYPES and self.rw.options.rewrite_inline_scripts:
                finder = rewrite_json_strings
            else:
                return
        text = self.text(raw.start, raw.end)
        if text is None:
            return
        found = _byte_edits(text, raw.start, finder(text, self.map_url), self.encoding, "strict")
        if found:
            self.rewritten = True
            self.edits.extend(found)

    # -- start tags ----------------------------------------------------------

    def attribute_text(self, tag: StartTag, name: str) -> str | None:
        attr = tag.attribute(name)
        if attr is None:
            return None
        text = self.text(attr.value_start, attr.value_end)
        return None if text is None else decode_attribute(text)[0]

    def meta_kind(self, tag: StartTag) -> Kind | None:
        """``<meta content>`` holds a URL only when the meta names an image, video or audio."""
        for name in ("property", "name", "itemprop"):
            value = self.attribute_text(tag, name)
            if value is not None and value.strip(_WS).lower() in MEDIA_META_NAMES:
                return Kind.URL
        return None

    def value_edits(self, kind: Kind, value: str) -> list[Edit]:
        """Edits over the decoded value."""
        if kind is Kind.URL_OR_CSS:
            # Read as CSS whenever it holds "url(": a choice its own rewriting cannot change,
            # so a second pass reads the value as the first did.
            kind = Kind.CSS if "url(" in value.lower() else Kind.URL
        if kind is Kind.URL:
            start = len(value) - len(value.lstrip(_WS))
            end = len(value.rstrip(_WS))
            url = value[start:end]
            if url:
                new = self.map_url(url)
                if new is not None and new != url:
                    return [(start, end, new)]
            return []
        if kind is Kind.SRCSET:
            return rewrite_srcset(value, self.map_url)
        if kind is Kind.CSS:
            return rewrite_css(value, self.map_url)
        return _json_values(value, self.map_url)

    def start_tag(self, tag: StartTag) -> None:
        if self.handlers:
            if tag.name in CONTEXT_TAGS:
                close = _CONTEXT_CLOSE[tag.name].search(self.doc, tag.end)
                self.open_until[tag.name] = (tag.end, close.start() if close else len(self.doc))
            handlers = [h for h in self.handlers if tag.name in h.tags]
            if handlers:
                self.start_tag_with_handlers(tag, handlers)
                return
        table = self.rw._tables.get(tag.name, self.rw._any_tag)
        doc = self.doc
        for name, start, end, quote in self.scanner.marked_values(tag):
            kind = table.get(name)
            if kind is None:
                continue
            if (kind is Kind.URL or kind is Kind.SRCSET) and quote:
                data = doc[start:end]
                if (
                    data.isascii()
                    and b"&" not in data
                    and self.plain_value(kind, data, start, quote)
                ):
                    continue
            found = self.rewrite_value(tag, kind, start, end, quote)
            if found is not None:
                self.rewritten = True
                self.edits.extend(found[0])

    def plain_value(self, kind: Kind, data: bytes, start: int, quote: str) -> bool:
        """The common case, a quoted URL or srcset with nothing to decode, where value
        offsets are byte offsets. Queues its edits; ``False`` if it needs the general path
        (a URL with whitespace around it)."""
        value = data.decode("ascii")
        if kind is Kind.URL:
            if not value or value[0] <= " " or value[-1] <= " ":  # every HTML space is <= " "
                return not value
            spans = [(0, len(value))]
        else:
            spans = srcset_url_spans(value)
        in_srcset = kind is Kind.SRCSET
        known = self.replacements[(quote == "'") * 2 + in_srcset]
        edits = self.edits
        for s, e in spans:
            url = value[s:e]
            try:
                new = known[url]
            except KeyError:
                new = known[url] = self.replacement(url, quote, in_srcset)
            if new is not None:
                edits.append((start + s, start + e, new))
                self.rewritten = True
        return True

    def replacement(self, url: str, quote: str, in_srcset: bool) -> bytes | None:
        """What ``url`` becomes in a value delimited by ``quote``: its replacement, escaped
        and encoded, or ``None`` to keep it (also when a srcset could not hold it)."""
        new = self.map_url(url)
        if new is None or new == url or (in_srcset and not safe_in_srcset(new)):
            return None
        if "&" in new or quote in new:  # rare in delivery URLs; two tests cost less than escaping
            new = escape_attribute(new, quote)
        return new.encode(self.encoding, "xmlcharrefreplace")

    def rewrite_value(
        self, tag: StartTag, kind: Kind | None, start: int, end: int, quote: str
    ) -> tuple[list[tuple[int, int, bytes]], str] | None:
        """The byte edits for one attribute value and its new decoded value, or ``None``."""
        if kind is Kind.META_URL:
            kind = self.meta_kind(tag)
        if kind is None:
            return None
        data = self.doc[start:end]
        if quote and data.isascii() and b"&" not in data:
            # The common case: nothing to decode, offsets are byte offsets.
            value = data.decode("ascii")
            edits = self.value_edits(kind, value)
            if not edits:
                return None
            enc = self.encoding
            return [
                (
                    start + s,
                    start + e,
                    escape_attribute(new, quote).encode(enc, "xmlcharrefreplace"),
                )
                for s, e, new in edits
            ], value if not self.handlers else apply_edits(value, edits)
        raw = self.text(start, end)
        if raw is None:
            return None
        value, offsets = decode_attribute(raw)
        edits = self.value_edits(kind, value)
        if not edits:
            return None
        return self.attribute_edits(start, quote, raw, offsets, edits), apply_edits(value, edits)

    def start_tag_with_handlers(self, tag: StartTag, handlers: list[ElementHandler]) -> None:
        """The general path: attributes decoded, and URL values rewritten, when a handler
        reads them; URL values no handler replaced are rewritten after the handlers ran."""
        current: dict[str, str | Attribute] = {}  # see Element
        for attr in tag.attributes:
            if attr.name not in current:  # a later duplicate: browsers ignore it, so do we
                current[attr.name] = "" if attr.quote is None else attr
        # The first occurrences of URL-bearing attributes whose value holds the marker.
        unmapped = {
            name
            for name in (hit[0].decode("latin-1") for hit in self.scanner.marked_values(tag))
            if not isinstance(current.get(name, ""), str)
        }
        element = Element(tag, current, unmapped, self)
        for handler in handlers:
            handler.element(element)
        for name in list(unmapped):
            # A value a handler replaced: mapping its URLs would change no byte, and is
            # needed only to learn whether the page has an upload URL at all.
            if name not in element._sets or not self.rewritten:
                self.map_attribute(element, name)
        self.handler_edits(tag, element, element._per_attribute)
        for byte_edits in element._per_attribute.values():
            self.edits.extend(byte_edits)

    def map_attribute(self, element: Element, name: str) -> str:
        """Rewrite the URLs of ``element``'s attribute ``name`` (one of its ``unmapped``):
        queues the byte edits, and returns the decoded value after rewriting."""
        attr = element._current[name]
        assert isinstance(attr, Attribute) and attr.quote is not None  # see start_tag_with_handlers
        element._unmapped.discard(name)
        tag = element._tag
        kind = self.rw._tables.get(tag.name, self.rw._any_tag).get(name.encode("latin-1"))
        found = self.rewrite_value(tag, kind, attr.value_start, attr.value_end, attr.quote)
        if found is None:
            value = element._current[name] = self.decoded(attr)
            element._original.pop(name, None)
            return value
        self.rewritten = True
        element._per_attribute[name], value = found
        element._current[name] = value
        if name not in element._original:  # found, so the value decodes
            element._original[name] = self.decoded(attr)
        return value

    def decoded(self, attr: Attribute) -> str:
        """``attr``'s value with character references decoded (``""`` if not decodable)."""
        raw = self.text(attr.value_start, attr.value_end)
        return "" if raw is None else decode_attribute(raw)[0]

    def attribute_edits(
        self, value_start: int, quote: str, raw: str, offsets: list[int] | None, edits: list[Edit]
    ) -> list[tuple[int, int, bytes]]:
        """Edits of the decoded value, as byte edits of the document."""
        raw_edits = [
            (
                offsets[s] if offsets else s,
                offsets[e] if offsets else e,
                escape_attribute(new, quote),
            )
            for s, e, new in edits
        ]
        if quote == "" and needs_quotes(new_raw := apply_edits(raw, raw_edits)):
            # The new value cannot stay unquoted: rewrite the whole value, quoted.
            quoted = '"' + new_raw.replace('"', "&quot;") + '"'
            raw_edits = [(0, len(raw), quoted)]
        return _byte_edits(raw, value_start, raw_edits, self.encoding, "xmlcharrefreplace")

    def handler_edits(
        self,
        tag: StartTag,
        element: Element,
        per_attribute: dict[str, list[tuple[int, int, bytes]]],
    ) -> None:
        enc = self.encoding
        added: list[str] = []
        for name, value in element._sets.items():
            attr = tag.attribute(name)
            if attr is None:
                added.append(f' {name}="{escape_attribute(value, chr(34))}"')
                continue
            if attr.quote == '"' or attr.quote == "'":
                text = escape_attribute(value, attr.quote)
                per_attribute[name] = [
                    (attr.value_start, attr.value_end, text.encode(enc, "xmlcharrefreplace"))
                ]
            else:  # unquoted or no value: write the whole attribute again
                text = f'{name}="{escape_attribute(value, chr(34))}"'
                per_attribute[name] = [
                    (attr.name_start, attr.value_end, text.encode(enc, "xmlcharrefreplace"))
                ]
        if added:  # right after the tag name: safe whatever follows (even "/>" or "a=b/>")
            self.edits.append(
                (tag.name_end, tag.name_end, "".join(added).encode(enc, "xmlcharrefreplace"))
            )


_SPAN = itemgetter(0, 1)


def splice(doc: bytes, edits: list[tuple[int, int, bytes]]) -> bytes:
    """``doc`` with the edits applied in one ordered pass; ``doc`` itself when there are none.

    Edits that would overlap an earlier one are dropped (they cannot come from the
    rewriter; the guard keeps a bug from garbling the page).
    """
    if not edits:
        return doc
    edits.sort(key=_SPAN)  # stable: insertions at one point keep their order
    if _native is not None:
        spliced: bytes = _native.splice(doc, edits)
        return spliced
    return _splice(doc, edits)


def _find_ci(doc: bytes, needle: bytes, start: int, end: int) -> int:
    """Where ``needle`` (no A-Z) first is in ``doc[start:end]``, ASCII case ignored; ``-1``
    if nowhere: the reference of ``_values.find_ci``. (A lowered copy and ``find()``: five
    times faster than a case-insensitive regular expression.)"""
    found = doc[start:end].lower().find(needle)
    return found + start if found >= 0 else -1


def _splice(doc: bytes, edits: list[tuple[int, int, bytes]]) -> bytes:
    """:func:`splice` in Python for edits already sorted: the reference of ``_values.splice``."""
    parts: list[bytes] = []
    pos = 0
    for start, end, data in edits:
        if start < pos:
            continue
        parts.append(doc[pos:start])
        parts.append(data)
        pos = end
    parts.append(doc[pos:])
    return b"".join(parts)


class HtmlRewriter:
    """Rewrites upload URLs in HTML; built once per config, safe to share between requests."""

    def __init__(self, options: HtmlOptions, native: bool = NATIVE) -> None:
        """``native``: queue the edits of plain URL and srcset values in C (it must be built)."""
        if native and not NATIVE:
            raise RuntimeError("the C value path (rewriteproxy.html._values) is not built")
        self.options = options
        self._native = _native if native else None
        self._needle = _path_needle(options.uploads_path)
        segments = [s for s in options.uploads_path.split("/") if s]
        marker = max(segments, key=len).encode() if segments else b""
        self._marker = marker
        self._marker_lower = marker.lower()
        any_tag: dict[str, Kind | None] = dict(ANY_TAG)
        any_tag.update(dict.fromkeys(options.extra_url_attributes, Kind.URL))
        any_tag.update(dict.fromkeys(options.extra_srcset_attributes, Kind.SRCSET))
        per_tag: dict[str, dict[str, Kind | None]] = {}
        for (tag, attribute), kind in TARGETS.items():
            per_tag.setdefault(tag, {})[attribute] = kind
        for declared_tag, attribute, declared in options.attributes:
            if declared_tag is None:
                any_tag[attribute] = declared  # None: turned off
            else:
                per_tag.setdefault(declared_tag, {})[attribute] = declared
        # tag → {attribute → kind}, keyed by bytes: one dict lookup per attribute on the hot path.
        self._any_tag = {n.encode(): k for n, k in any_tag.items() if k is not None}
        self._tables: dict[str, dict[bytes, Kind]] = {}
        for tag, table in per_tag.items():
            merged: dict[bytes, Kind | None] = dict(self._any_tag)
            merged.update({n.encode(): k for n, k in table.items()})
            self._tables[tag] = {n: k for n, k in merged.items() if k is not None}
        # The same tables as _values.c reads them: 1 for a URL, 2 for a srcset, no others.
        codes = {Kind.URL: 1, Kind.SRCSET: 2}
        self._plain_any_tag = {n: codes[k] for n, k in self._any_tag.items() if k in codes}
        self._plain_kinds = {
            tag.encode(): {n: codes[k] for n, k in table.items() if k in codes}
            for tag, table in self._tables.items()
        }
        self._value_names = frozenset(
            n.decode() for table in (self._any_tag, *self._tables.values()) for n in table
        )
        self._scanner = _scanner(frozenset(), marker, self._value_names)

    def has_uploads(self, doc: bytes) -> bool:
        """The fast-path test: may ``doc`` mention the uploads path at all?"""
        needle = self._needle
        if needle is None or needle.search(doc) is not None:
            return True
        # The locator compares the path case-insensitively, so must this test;
        # lowering costs a copy, paid only by pages without the usual spelling.
        return self._marker.upper() in doc.upper() and needle.search(doc.lower()) is not None

    def base_href(self, doc: bytes, encoding: str | None = None) -> str | None:
        """The decoded ``href`` of the document's first ``<base href>``, or ``None``: what
        its path-relative URLs resolve against instead of the document's own URL."""
        native = self._native
        if native is not None:
            if native.find_ci(doc, b"<base", 0, len(doc)) < 0:
                return None
        elif _find_ci(doc, b"<base", 0, len(doc)) < 0:
            return None
        try:
            enc = detect_encoding(doc, encoding)
            if not ascii_compatible(enc):
                return None
            for event in _scanner(frozenset({"base"}), b"", frozenset()).scan(doc):
                if isinstance(event, StartTag) and event.name == "base":
                    href = event.attribute("href")
                    if href is None:
                        continue  # the first base *with an href* counts
                    if href.quote is None:
                        return ""
                    raw = doc[href.value_start : href.value_end].decode(enc)
                    return decode_attribute(raw)[0].strip(_WS)
        except (UnicodeDecodeError, LookupError):
            return None
        return None

    def rewrite(
        self,
        doc: bytes,
        map_url: MapUrl,
        encoding: str | None = None,
        handlers: Sequence[ElementHandler] = (),
        memo: Memo | None = None,
        checked: bool = False,
    ) -> bytes:
        """``doc`` with its upload URLs mapped; ``doc`` itself when nothing changes.

        ``encoding`` is the charset from the HTTP header, if any. ``memo``: answers of
        ``map_url`` to use and fill in, for a caller that knows them valid across
        documents (see :class:`Memo`; each document otherwise starts its own).
        ``checked``: the caller has already seen :meth:`has_uploads` say yes.
        """
        if not handlers and not checked and not self.has_uploads(doc):
            return doc
        try:
            enc = detect_encoding(doc, encoding)
            if not ascii_compatible(enc):
                return doc
            scanner = self._scanner
            if handlers:
                names = frozenset().union(CONTEXT_TAGS, *(h.tags for h in handlers))
                scanner = _scanner(names, self._marker, self._value_names)
            state = _Document(self, scanner, doc, map_url, enc, handlers, memo)
            fast = state.plain_tags if self._native is not None and scanner.native else None
            for event in scanner.scan(doc, fast):
                if isinstance(event, RawText):
                    state.raw_text(event)
                else:
                    state.start_tag(event)
            for handler in handlers:
                handler.finish(state.rewritten)
            return splice(doc, state.edits)
        except Exception:
            log.exception("HTML rewriting failed; serving the original document")
            return doc
