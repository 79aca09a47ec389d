"""What each fuzz target checks: one function per parser, of one input (bytes).

Each check raises ``AssertionError`` (or lets the parser's own exception through)
when the input breaks a property; otherwise it returns ``None``. They run under
atheris from ``fuzz/run.py`` and, without atheris, over the seed inputs in the
test suite (``tests/test_fuzz_targets.py``), so they cannot rot unnoticed.

The properties, for every target:

- never raises (the HTML engine fails open, so an error it logs counts too);
- a second pass over the output changes nothing (idempotence);
- an input in which no URL was mapped comes back unchanged (no edits; the
  engine returns the very same object);
- edits are ordered, do not overlap and lie inside the input;
- ``html``: the C value path and the pure-Python path give the same bytes;
- ``url``: :meth:`UploadLocator.parse` (with its shortcut) answers as
  :meth:`UploadLocator.parse_by_rule`, :func:`read_url` never raises, and every
  URL accepted as an upload is, to a WHATWG URL parser (ada, when installed),
  on one of the site's hosts with a path below the uploads base on an ``http``
  and an ``https`` page.

The URL mapping is the real :class:`UploadLocator` with a CDN prefix, as in the
tests: an upload ``.../wp-content/uploads/P`` becomes ``https://cdn.example.net/u/P``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from urllib.parse import unquote

from rewriteproxy.formats import Edit, MapUrl, apply_edits
from rewriteproxy.formats.css import rewrite_css
from rewriteproxy.formats.jsonurls import rewrite_json_strings
from rewriteproxy.formats.srcset import rewrite_srcset
from rewriteproxy.formats.urltext import UrlSweep
from rewriteproxy.html import HtmlOptions, HtmlRewriter
from rewriteproxy.html.rewriter import NATIVE
from rewriteproxy.media import UploadLocator, read_url

try:
    from ada_url import URL as WhatwgUrl
except ImportError:  # a test dependency: without it the url target checks the rest
    WhatwgUrl = None

__all__ = ["NATIVE", "TARGETS", "WhatwgUrl"]

HOSTS = ("example.com", "www.example.com")
UPLOADS = "/wp-content/uploads/"
LOCATOR = UploadLocator(HOSTS, UPLOADS)
SWEEP = UrlSweep(HOSTS, UPLOADS)
CDN = "https://cdn.example.net/u/"
REWRITERS = ((HtmlRewriter(HtmlOptions(), native=True),) if NATIVE else ()) + (
    HtmlRewriter(HtmlOptions(), native=False),
)
# The url target's first byte may pick one of these to start the URL: the
# shortcut of UploadLocator.parse is taken only for such exact spellings.
URL_STARTS = ("", *LOCATOR._prefixes, "https://example.com", "//", "http:")


def map_url(url: str) -> str | None:
    ref = LOCATOR.parse(url)
    if ref is None:
        return None
    query = f"?{ref.query}" if ref.query else ""
    return CDN + ref.path + query + (f"#{ref.fragment}" if ref.fragment else "")


class Recorder:
    """``map_url`` that remembers whether it mapped anything."""

    def __init__(self) -> None:
        self.mapped = False

    def __call__(self, url: str) -> str | None:
        new = map_url(url)
        self.mapped = self.mapped or new is not None
        return new


class _Errors(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(self.format(record))


def _without_errors(rewrite: Callable[[], bytes]) -> bytes:
    errors = _Errors()
    errors.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger("rewriteproxy.html.rewriter")
    logger.addHandler(errors)
    logger.propagate = False  # the fuzzer's output stays readable; the record is raised
    try:
        out = rewrite()
    finally:
        logger.removeHandler(errors)
        logger.propagate = True
    assert not errors.messages, errors.messages[0]
    return out


def _text(data: bytes) -> str:
    return data.decode("utf-8", "replace")


def check_html(data: bytes) -> None:
    outputs = []
    for rewriter in REWRITERS:
        mapper = Recorder()
        out = _without_errors(lambda r=rewriter, m=mapper: r.rewrite(data, m))  # type: ignore[misc]
        if not mapper.mapped:
            assert out is data, "changed although no URL was mapped"
        again = _without_errors(lambda r=rewriter, o=out: r.rewrite(o, map_url))  # type: ignore[misc]
        assert again is out, ("a second pass changed the output", out, again)
        outputs.append(out)
    assert all(o == outputs[0] for o in outputs), ("C and Python differ", outputs)


def _check_edits(text: str, edits: list[Edit]) -> None:
    pos = 0
    for start, end, _ in edits:
        assert pos <= start <= end <= len(text), ("edits out of order or bounds", edits)
        pos = end


def _check_format(find: Callable[[str, MapUrl], list[Edit]], text: str) -> None:
    mapper = Recorder()
    edits = find(text, mapper)
    _check_edits(text, edits)
    if not mapper.mapped:
        assert edits == [], "edits although no URL was mapped"
    once = apply_edits(text, edits)
    assert find(once, map_url) == [], ("a second pass changed the output", once)


def check_srcset(data: bytes) -> None:
    _check_format(rewrite_srcset, _text(data))


def check_css(data: bytes) -> None:
    _check_format(rewrite_css, _text(data))


def check_json(data: bytes) -> None:
    _check_format(rewrite_json_strings, _text(data))


def check_urltext(data: bytes) -> None:
    text = _text(data)
    mapper = Recorder()
    once = SWEEP.rewrite(text, mapper)
    if not mapper.mapped:
        assert once is text, "changed although no URL was mapped"
    again = SWEEP.rewrite(once, map_url)
    assert again is once, ("a second pass changed the output", once, again)


def check_url(data: bytes) -> None:
    start = URL_STARTS[data[0] % len(URL_STARTS)] if data and data[0] < 32 else ""
    url = start + _text(data[1:] if start else data)
    read_url(url)
    ref = LOCATOR.parse(url)
    assert ref == LOCATOR.parse_by_rule(url), "the shortcut and the full rule differ"
    if ref is None or WhatwgUrl is None:
        return
    for page in ("http://example.com/blog/post/", "https://example.com/blog/post/"):
        browser = WhatwgUrl(url, page)
        assert browser.hostname in HOSTS, ("a browser reads another host", browser.href)
        path = unquote(browser.pathname)
        assert path[: len(UPLOADS)].lower() == UPLOADS, ("outside the uploads", browser.href)
        assert path[len(UPLOADS) :] == ref.key, ("another file", browser.href, ref.key)


TARGETS: dict[str, Callable[[bytes], None]] = {
    "html": check_html,
    "srcset": check_srcset,
    "css": check_css,
    "json": check_json,
    "urltext": check_urltext,
    "url": check_url,
}
"""Target name → its check; ``fuzz/run.py`` runs them in this order."""
