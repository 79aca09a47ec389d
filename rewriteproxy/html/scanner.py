"""A byte-level HTML tag scanner that reports only the tags a consumer asked for.

The scanner knows HTML tokenizing, not URLs. It walks a document once, front to
back, and yields:

* :class:`StartTag` for every start tag whose name is in ``report_names``, and
  for every start tag with ``marker`` (case-insensitive) inside an attribute
  value; attributes are parsed lazily into offset tokens (:class:`Attribute`);
* the start tag and then a :class:`RawText` span for the contents of every
  ``<script>`` and ``<style>`` element.

Everything else (text, comments, doctype, end tags, other start tags, the
contents of ``textarea``, ``title``, ``xmp``, ``iframe``, ``noembed`` and
``noframes``, whose start tags are reported only when named in ``report_names``)
is skipped inside one compiled regular expression, so Python code
runs only where something may need rewriting. Offsets are byte offsets into the
document; the scanner never copies or changes it.

Tokenizing follows the WHATWG tokenizer states that decide where a tag ends: a
``>`` inside a quoted value does not end the tag, an attribute name may start
with ``=``, ``a="x"b="y"`` is two attributes, unquoted values end at whitespace
or ``>``, comments end at ``-->`` or ``--!>`` (``<!-->`` is a whole comment),
``<!...>`` and ``<?...>`` are bogus comments, ``</x ...>`` end tags may carry
quoted attributes, and raw-text elements end only at their own end tag. Names
are compared ASCII-case-insensitively. A tag, comment or quoted value left open
at the end of the document swallows the rest of it, as in a browser, so
nothing after it is reported; ``<plaintext>`` makes the rest text.

Limits, by design: no tree is built, so ``<noscript>`` and ``<template>``
contents are read as markup (the scripting-disabled reading), ``<title>`` and
``<style>`` inside ``<svg>`` are treated as in HTML, ``<![CDATA[`` ends at the
first ``>``, and the script-data escape states (``<!--`` ... ``<script>``
inside a script) are not modelled: a script ends at its first ``</script``.
The document must be in an ASCII-compatible encoding (see :mod:`.charset`).

Two tokenizers read documents this way. This module's regular expressions are
the reference and run everywhere; where the optional C extension
``rewriteproxy.html._tokenizer`` is built (``pip install`` builds it when a C
compiler is present), a scanner with a marker uses it instead: the same events,
read in one C loop instead of several regex calls and Python steps per tag that
holds the marker. Tests run both over the same documents and require identical
events.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import partial
from types import ModuleType
from typing import TYPE_CHECKING, NamedTuple, TypeVar

from rewriteproxy.html.native import load

if TYPE_CHECKING:
    from rewriteproxy.html._tokenizer import Event

    NativeFilter = Callable[[list[Event]], list[Event]]

__all__ = ["NATIVE", "Attribute", "RawText", "Scanner", "StartTag"]

# Not built or disabled (see .native): the regular expressions below do the same work.
_native: ModuleType | None = load("_tokenizer")

NATIVE = _native is not None
"""Whether the C tokenizer is available (scanners with a marker use it by default)."""

# Events per call of the C tokenizer: a big page is read in parts, so its events
# are never all alive at once (see _tokenizer.c).
_NATIVE_PART = 512

_WS = rb"\t\n\f\r "
_ATTR_NAME = rb"[^\t\n\f\r />][^\t\n\f\r /=>]*+"
_NO_EQUALS = rb"(?![\t\n\f\r ]*+=)"


def _attributes_pattern(value: bytes) -> bytes:
    """The attribute list of a tag, possessive so it reads exactly like the tokenizer.

    After an attribute name, ``=`` always starts a value: if the value cannot be
    read (a quote left open) the whole pattern fails rather than re-reading the
    ``=`` as the start of another attribute name.
    """
    return (
        rb"(?:[\t\n\f\r /]++|"
        + _ATTR_NAME
        + rb"(?:[\t\n\f\r ]*+=[\t\n\f\r ]*+(?:"
        + value
        + rb")|"
        + _NO_EQUALS
        + rb"))*+"
    )


_VALUE = rb"\"[^\"]*+\"|'[^']*+'|[^\t\n\f\r >\"'][^\t\n\f\r >]*+|(?=>)"
_ATTRIBUTES = _attributes_pattern(_VALUE)
_OPEN = re.compile(rb"<([A-Za-z][^\t\n\f\r />]*+)")
_START_TAG = re.compile(rb"<([A-Za-z][^\t\n\f\r />]*+)(" + _ATTRIBUTES + rb")>")
_ATTRIBUTE = re.compile(
    rb"[\t\n\f\r /]*+(" + _ATTR_NAME + rb")(?:[\t\n\f\r ]*+=[\t\n\f\r ]*+"
    rb"(?:\"([^\"]*+)\"|'([^']*+)'|([^\t\n\f\r >\"'][^\t\n\f\r >]*+)?))?"
)
_RAW_CONTENT = ("script", "style")  # contents reported
_RAW_SKIPPED = ("textarea", "title", "xmp", "iframe", "noembed", "noframes")  # contents skipped
_CLOSE = {
    name: re.compile(rb"</" + name.encode() + rb"[\t\n\f\r />]", re.IGNORECASE)
    for name in _RAW_CONTENT + _RAW_SKIPPED
}


class Attribute(NamedTuple):
    """One attribute of a start tag, as byte offsets into the document.

    ``quote`` is ``'"'``, ``"'"``, ``""`` (unquoted) or ``None`` (no value; then
    the value span is empty and sits at the end of the name).
    """

    name: str  # ASCII-lowercased
    name_start: int
    value_start: int
    value_end: int
    quote: str | None


_QUOTES = {2: '"', 3: "'", 4: ""}
T = TypeVar("T")


class StartTag:
    """One start tag: ``doc[start:end]`` is ``<name ...>``."""

    __slots__ = ("_attributes", "doc", "end", "marked", "name", "name_end", "start")

    def __init__(self, doc: bytes, name: str, start: int, name_end: int, end: int) -> None:
        self.doc = doc
        self.name = name  # ASCII-lowercased
        self.start = start
        self.name_end = name_end
        self.end = end
        self._attributes: tuple[Attribute, ...] | None = None
        self.marked: list[tuple[bytes, int, int, str]] | None = None  # see Scanner.marked_values

    def __repr__(self) -> str:
        return f"StartTag({self.name!r}, {self.start}, {self.end})"

    @property
    def attributes(self) -> tuple[Attribute, ...]:
        """Every attribute in source order, duplicates included (the first one counts)."""
        if self._attributes is None:
            self._attributes = tuple(self._parse())
        return self._attributes

    def _parse(self) -> Iterator[Attribute]:
        for m in _ATTRIBUTE.finditer(self.doc, self.name_end, self.end - 1):
            name = m.group(1).decode("latin-1").lower()
            group = m.lastindex or 1
            if group > 1:
                yield Attribute(name, m.start(1), m.start(group), m.end(group), _QUOTES[group])
            elif m.end() > m.end(1):  # "a=" with nothing before ">": an empty unquoted value
                yield Attribute(name, m.start(1), m.end(), m.end(), "")
            else:
                yield Attribute(name, m.start(1), m.end(1), m.end(1), None)

    def values(self, wanted: Mapping[bytes, T]) -> Iterator[tuple[T, int, int, str]]:
        """``(wanted[name], value_start, value_end, quote)`` for the attributes named in ``wanted``.

        ``wanted`` is keyed by lowercase ASCII names; only an attribute's first
        occurrence counts and attributes without a value are left out. The hot
        path of the rewriter: no objects are built for the other attributes.
        """
        seen: set[bytes] = set()
        for m in _ATTRIBUTE.finditer(self.doc, self.name_end, self.end - 1):
            name = m.group(1)
            if not name.islower():
                name = name.lower()
            if name in seen:
                continue
            seen.add(name)
            found = wanted.get(name)
            group = m.lastindex
            if found is not None and group is not None and group > 1:
                yield found, m.start(group), m.end(group), _QUOTES[group]

    def attribute(self, name: str) -> Attribute | None:
        """The attribute that counts for ``name`` (the first of duplicates), or ``None``."""
        for attr in self.attributes:
            if attr.name == name:
                return attr
        return None


@dataclass(frozen=True, slots=True)
class RawText:
    """The contents of a ``<script>`` or ``<style>`` element: ``doc[start:end]``."""

    tag: StartTag
    start: int
    end: int
    closed: bool  # False when the document ended before the end tag


def _no_marker_value(marker: bytes) -> bytes:
    """The value pattern, restricted to values that do not contain ``marker``.

    An unquoted value must end where unquoted values end (whitespace or ``>``);
    otherwise the rest of a value holding the marker would be read as names.
    The first byte is matched by an explicit two-case class and only the rest
    case-insensitively: a pattern compiled with IGNORECASE runs several times
    slower, and this loop is the scanner's hot path.
    """
    first = re.escape(marker[:1].lower()) + re.escape(marker[:1].upper())
    not_here = rb"[" + first + rb"](?!(?i:" + re.escape(marker[1:]) + rb"))"
    return (
        rb"\"(?:[^\"" + first + rb"]++|" + not_here + rb")*+\""
        rb"|'(?:[^'" + first + rb"]++|" + not_here + rb")*+'"
        rb"|(?:[^\t\n\f\r >\"'" + first + rb"]|" + not_here + rb")"
        rb"(?:[^\t\n\f\r >" + first + rb"]++|" + not_here + rb")*+(?=[\t\n\f\r >])"
        rb"|(?=>)"
    )


def _token_alternatives(report_names: frozenset[str], value: bytes | None, bounded: bool) -> bytes:
    """One token the consumer does not need to see, as an alternation (commonest first).

    ``value``: the attribute value pattern of skippable start tags (``None``: no start
    tag is skippable). ``bounded``: for matching with an ``endpos`` short of the
    document's end; then no token may end at the end of the input (``\\Z``) or on a
    negative lookahead, since that end would be artificial: unclosed comments, raw
    texts and tags fail instead, and the careful reading takes over.
    """
    to_end = b"" if bounded else rb"|\Z"
    stop_names = sorted(
        {*report_names, *_RAW_CONTENT, *_RAW_SKIPPED, "plaintext"}, key=len, reverse=True
    )
    stop = b"|".join(re.escape(n.encode()) for n in stop_names)
    parts = [rb"[^<]++"]
    if value is not None:
        # Most tags do not even start with a letter a stop name starts with: test that first.
        initials = sorted({n[0] for n in stop_names} | {n[0].upper() for n in stop_names})
        common = rb"[^" + "".join(initials).encode() + rb"]"
        parts.append(
            rb"<(?:(?=" + common + rb")|(?!(?i:" + stop + rb")[\t\n\f\r />]))"
            rb"[A-Za-z][^\t\n\f\r />]*+" + _attributes_pattern(value) + rb">"
        )
    parts += [
        rb"</(?:[A-Za-z][^\t\n\f\r />]*+"
        + _ATTRIBUTES
        + rb">|(?![A-Za-z])[^>]*+(?:>"
        + to_end
        + rb"))",
        rb"<!--(?:-?>|.*?--!?>" + (b"" if bounded else rb"|.*+\Z") + rb")",  # comment
        # doctype, CDATA, <?...>: bogus comments. Never "<!--": where the comment
        # alternative fails (bounded), the "<!--" must stop the loop, not end at a ">".
        rb"<(?:!(?!--)|\?)[^>]*+(?:>" + to_end + rb")",
        # One alternative per name: a back-reference would need a capturing group,
        # which CPython 3.11 mishandles inside a possessive repeat.
        *(
            rb"<(?i:"
            + name.encode()
            + rb")(?=[\t\n\f\r />])"
            + _ATTRIBUTES
            + rb">.*?(?:(?=</(?i:"
            + name.encode()
            + rb")[\t\n\f\r />])"
            + to_end
            + rb")"
            for name in _RAW_SKIPPED
            if name not in report_names
        ),
        # A "<" that opens nothing is text. Bounded, the next byte must be seen: at the
        # bound a negative lookahead would succeed on nothing.
        rb"<(?=[^A-Za-z!/?])" if bounded else rb"<(?![A-Za-z!/?])",
    ]
    # Never compiled with IGNORECASE (several times slower here): names use scoped (?i:...).
    return b"(?:" + b"|".join(parts) + b")"


def _named(name: bytes) -> re.Pattern[bytes]:
    """Where ``name`` may stand as an attribute name in lowered tag text, less the check of the
    byte before it (a superset: it may also hit inside values). It starts with the name
    itself so the search can skip ahead to it; a lookbehind first would defeat that."""
    return re.compile(re.escape(name) + rb"(?=[\t\n\f\r /=>]|$)")


_NAMED: dict[bytes, re.Pattern[bytes]] = {}
_BEFORE_NAME = frozenset(b"\t\n\f\r /\"'")
Hit = tuple[bytes, int, int, str]  # (name, value_start, value_end, quote)


def _may_repeat(pattern: re.Pattern[bytes], lowered: bytes) -> bool:
    seen = 0
    for m in pattern.finditer(lowered):
        if lowered[m.start() - 1] in _BEFORE_NAME:
            seen += 1
            if seen == 2:
                return True
    return False


def _first_occurrences(doc: bytes, name_end: int, end: int, found: list[Hit]) -> list[Hit]:
    """``found`` without attributes that repeat an earlier one of the same name (browsers use
    the first). Linear in the tag: one check per distinct name, and an exact reading of the
    tag's attributes only when a name may occur twice."""
    lowered = doc[name_end - 1 : end].lower()  # from the tag name's last byte: never a match
    for name in {hit[0] for hit in found}:
        pattern = _NAMED.get(name)
        if pattern is None:
            pattern = _NAMED[name] = _named(name)
        if _may_repeat(pattern, lowered):
            break
    else:
        return found
    starts: dict[bytes, int] = {}
    for m in _ATTRIBUTE.finditer(doc, name_end, end - 1):
        starts.setdefault(m.group(1).lower(), m.start(m.lastindex or 1))
    return [hit for hit in found if starts.get(hit[0]) == hit[1]]


def _marked_value_pattern(marker: bytes) -> re.Pattern[bytes]:
    """The next attribute whose value holds ``marker`` (its name and value), or the ``>``.

    The possessive prefix consumes, inside the C regex engine, every attribute whose
    value does not hold the marker, so Python only sees the values worth a look. Used
    with ``match`` from the end of the previous hit, never ``finditer``: a failed
    attempt must not be retried from inside a value.
    """
    assign = rb"[\t\n\f\r ]*+=[\t\n\f\r ]*+"
    other = (
        rb"[\t\n\f\r /]++|"
        + _ATTR_NAME
        + rb"(?:"
        + assign
        + rb"(?:"
        + _no_marker_value(marker)
        + rb")|"
        + _NO_EQUALS
        + rb")"
    )
    wanted = (
        rb"("
        + _ATTR_NAME
        + rb")"
        + assign
        + rb"(?:\"([^\"]*+)\"|'([^']*+)'|([^\t\n\f\r >\"'][^\t\n\f\r >]*+))"
    )
    return re.compile(rb"(?:" + other + rb")*+(?:" + wanted + rb"|>)")


class Scanner:
    """Reports the start tags and raw texts a consumer needs; built once, reused per document."""

    __slots__ = (
        "_bounded",
        "_marked",
        "_marker",
        "_native_args",
        "_one",
        "_skip",
        "_special",
        "_value_names",
    )

    def __init__(
        self,
        report_names: frozenset[str] = frozenset(),
        marker: bytes = b"",
        value_names: frozenset[str] = frozenset(),
        native: bool = NATIVE,
    ) -> None:
        """``report_names``: tag names always reported (lowercase).

        ``marker``: start tags with these bytes (compared case-insensitively) in an
        attribute value are reported too; empty means every start tag is reported.
        ``value_names``: the attribute names :meth:`marked_values` looks for.
        ``native``: read with the C tokenizer when there is a marker (it must be built).
        """
        names = frozenset(n.lower() for n in report_names)
        if not all(n.isascii() for n in names):  # both tokenizers compare names as ASCII
            raise ValueError(f"tag names to report must be ASCII: {sorted(names)}")
        self._marker = marker.lower()
        self._native_args: tuple[bytes, tuple[bytes, ...], frozenset[bytes]] | None = None
        if native and marker:
            if _native is None:
                raise RuntimeError("the C tokenizer (rewriteproxy.html._tokenizer) is not built")
            self._native_args = (
                self._marker,
                tuple(sorted(n.encode("latin-1") for n in names)),
                frozenset(n.lower().encode() for n in value_names),
            )
        if marker:
            # Up to the next occurrence of the marker no token can hold it, so the plain
            # tokenizer runs there (bounded); the token that reaches the marker is read
            # by the careful one, which tells tags with the marker in a value apart.
            self._bounded = re.compile(_token_alternatives(names, _VALUE, True) + b"*+", re.S)
            self._one = re.compile(
                _token_alternatives(names, _no_marker_value(marker), False), re.S
            )
        self._skip = re.compile(_token_alternatives(names, None, False) + b"*+", re.S)
        self._marked = _marked_value_pattern(marker) if marker and value_names else None
        self._value_names = {n.lower().encode(): n.lower().encode() for n in value_names}
        self._special = frozenset({*names, *_RAW_CONTENT, "plaintext"})

    def marked_values(self, tag: StartTag) -> list[tuple[bytes, int, int, str]]:
        """``(name, value_start, value_end, quote)`` of each attribute of ``tag`` named in
        ``value_names`` whose value holds the marker; only an attribute's first occurrence.

        Without a marker it gives every attribute named in ``value_names``.
        """
        if tag.marked is None:
            if self._marked is None:
                tag.marked = list(tag.values(self._value_names))
            else:
                walked = self._walk(tag.doc, tag.name_end)
                tag.marked = walked[0] if walked is not None else []
        return tag.marked

    def _walk(
        self, doc: bytes, name_end: int
    ) -> tuple[list[tuple[bytes, int, int, str]], int] | None:
        """The marked values of the tag whose name ends at ``name_end``, and the tag's end;
        ``None`` if the document ends inside the tag."""
        assert self._marked is not None
        match = self._marked.match
        wanted = self._value_names
        found: list[tuple[bytes, int, int, str]] = []
        pos = name_end
        while (m := match(doc, pos)) is not None:
            pos = m.end()
            group = m.lastindex
            if group is None:  # the ">" that ends the tag
                return _first_occurrences(doc, name_end, pos, found), pos
            name = m.group(1).lower()
            if name in wanted:
                found.append((name, m.start(group), m.end(group), _QUOTES[group]))
        return None

    @property
    def native(self) -> bool:
        """Whether :meth:`scan` reads with the C tokenizer."""
        return self._native_args is not None

    def scan(
        self, doc: bytes, native_filter: NativeFilter | None = None
    ) -> Iterator[StartTag | RawText]:
        """The start tags and raw texts of ``doc``, in document order.

        ``native_filter``: with the C tokenizer (:attr:`native`), called with each part
        of its events (the format ``_tokenizer.c`` describes; a big page is read in
        parts) before any event of that part is reported; it returns the ones to report.
        Events of earlier parts have been reported by then. A raw text belongs to the
        tag reported before it, so a filter keeping one must keep its tag. A consumer
        with a C fast path of its own uses it to keep the tags it has dealt with from
        becoming Python objects.
        """
        if self._native_args is not None:
            return self._scan_native(doc, self._native_args, native_filter)
        return self._scan(doc)

    @staticmethod
    def _scan_native(
        doc: bytes,
        args: tuple[bytes, tuple[bytes, ...], frozenset[bytes]],
        native_filter: NativeFilter | None,
    ) -> Iterator[StartTag | RawText]:
        assert _native is not None
        tag: StartTag | None = None
        # Attribute._make without its Python frame per attribute.
        make_attribute = partial(tuple.__new__, Attribute)
        pos = 0
        while pos >= 0:
            events, pos = _native.scan(doc, *args, pos, _NATIVE_PART)
            if native_filter is not None:
                events = native_filter(events)
            for event in events:
                if len(event) == 5:
                    start, name_end, end, hits, attributes = event
                    name = doc[start + 1 : name_end].decode("latin-1").lower()
                    tag = StartTag(doc, name, start, name_end, end)
                    tag.marked = hits
                    if attributes is not None:  # read already for a tag reported by name
                        tag._attributes = tuple(map(make_attribute, attributes))
                    yield tag
                else:
                    assert tag is not None
                    yield RawText(tag, *event)

    def _scan(self, doc: bytes) -> Iterator[StartTag | RawText]:
        n = len(doc)
        pos = 0
        special = self._special
        walk = self._walk if self._marked is not None else None
        marker = self._marker
        if marker:
            bounded, one = self._bounded.match, self._one.match
            lowered = doc.lower()  # the marker is compared case-insensitively
            next_marker = -1
        else:
            skip = self._skip.match
        while True:
            if marker:
                # Up to the next marker no token can hold it: the plain tokenizer runs there
                # (bounded); the token that reaches it is read by the careful one, which
                # stops only at start tags with the marker in a value (or special tags).
                while True:
                    if next_marker < pos:
                        next_marker = lowered.find(marker, pos)
                        if next_marker < 0:
                            next_marker = n
                    pos = bounded(doc, pos, next_marker).end()  # type: ignore[union-attr]
                    token = one(doc, pos)
                    if token is None:
                        break
                    pos = token.end()
            else:
                pos = skip(doc, pos).end()  # type: ignore[union-attr]  # matches empty strings
            if pos >= n:
                return
            opened = _OPEN.match(doc, pos)
            if opened is None:
                return  # an end tag left open at the end of the document
            name = opened.group(1).decode("latin-1").lower()
            if walk is not None and name not in special:
                # Stopped for the marker: read the attributes and find the end in one pass.
                walked = walk(doc, opened.end())
                if walked is None:
                    return  # a tag left open at the end of the document: the rest is inside it
                tag = StartTag(doc, name, pos, opened.end(), walked[1])
                tag.marked = walked[0]
                yield tag
                pos = tag.end
                continue
            m = _START_TAG.match(doc, pos)
            if m is None:
                return
            tag = StartTag(doc, name, pos, m.end(1), m.end())
            yield tag
            pos = m.end()
            if name in _CLOSE:
                close = _CLOSE[name].search(doc, pos)
                end = close.start() if close is not None else n
                if name in _RAW_CONTENT:
                    yield RawText(tag, pos, end, close is not None)
                pos = end  # a reported iframe, textarea...: its contents are still skipped
            elif name == "plaintext":
                return
