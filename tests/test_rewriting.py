"""Rewritten pages are reused, but never once the inventory answers differently or a
delivery host's circuit changes state."""

from __future__ import annotations

import gzip
from typing import Any

from rewriteproxy import rewriting
from rewriteproxy.config import parse_config
from rewriteproxy.delivery.health import DeliveryHealth, HealthConfig, Probe
from rewriteproxy.html import HtmlRewriter
from rewriteproxy.inventory import Inventory, NullInventory
from rewriteproxy.media import FileInfo
from rewriteproxy.rewriting import (
    RewriteCache,
    UrlMapper,
    _key,
    build_pipeline,
    build_url_mapper,
)

CONFIG = parse_config(
    """
upstream: http://127.0.0.1:9
site: {hosts: [wp.test]}
delivery:
  provider: cdn
  cdn: {base_url: "https://cdn.example.net/u/"}
  versioning: {style: query, param: v}
"""
)
PAGE = b'<p><img src="http://wp.test/wp-content/uploads/2024/05/a.jpg"></p>'
PLAIN = b"<p>no uploads here</p>"


class ChangingInventory(Inventory):
    """A stand-in whose answers the test changes between requests, as a bucket's do over time
    (the real sources have their own tests against a real S3 server and a real directory)."""

    _ready = True

    def __init__(self, known: dict[str, FileInfo]) -> None:
        self.known = known
        self.lookups = 0

    def lookup(self, key: str) -> FileInfo | None:
        self.lookups += 1
        return self.known.get(key)

    def snapshot_stats(self) -> dict[str, Any]:
        return {"source": "test"}


def counting(calls: list[bytes]) -> Any:
    def rewrite(body: bytes, mapper: UrlMapper) -> bytes:
        calls.append(body)
        url = mapper("http://wp.test/wp-content/uploads/2024/05/a.jpg")
        return body if url is None else body.replace(b"http://wp.test/wp-content/uploads/", b"X")

    return rewrite


def mapper_for(inventory: Inventory) -> UrlMapper:
    return build_url_mapper(CONFIG, inventory)


def test_a_page_seen_before_is_not_rewritten_again() -> None:
    cache, calls = RewriteCache(), []
    mapper = mapper_for(ChangingInventory({"2024/05/a.jpg": FileInfo(size=1, etag="e1")}))
    first = cache.rewrite(b"h", PAGE, None, mapper, counting(calls))
    again = cache.rewrite(b"h", bytes(PAGE), None, mapper, counting(calls))
    assert again == first != PAGE
    assert len(calls) == 1


def test_the_inventory_is_asked_again_on_every_hit_and_a_changed_answer_rewrites() -> None:
    inventory = ChangingInventory({"2024/05/a.jpg": FileInfo(size=1, etag="e1")})
    pipeline = build_pipeline(CONFIG, inventory)
    first = pipeline.apply(PAGE, "text/html").body
    asked = inventory.lookups
    assert pipeline.apply(PAGE, "text/html").body == first
    assert inventory.lookups == asked + 1  # the recorded answer was checked, not trusted
    inventory.known["2024/05/a.jpg"] = FileInfo(size=2, etag="e2")  # a new version uploaded
    second = pipeline.apply(PAGE, "text/html").body
    assert second is not None and first is not None and second != first
    assert (
        second == build_pipeline(CONFIG, inventory, RewriteCache(0)).apply(PAGE, "text/html").body
    )
    del inventory.known["2024/05/a.jpg"]  # gone from the bucket: the local URL again
    assert pipeline.apply(PAGE, "text/html").status == "unchanged"


def test_without_an_inventory_nothing_is_asked_twice_since_no_answer_can_change() -> None:
    class Counted(NullInventory):
        lookups = 0

        def lookup(self, key: str) -> FileInfo | None:
            self.lookups += 1
            return super().lookup(key)

    inventory = Counted()
    pipeline = build_pipeline(CONFIG, inventory)
    first = pipeline.apply(PAGE, "text/html")
    asked = inventory.lookups
    again = pipeline.apply(bytes(PAGE), "text/html")
    assert first.status == again.status == "rewritten" and again.body is first.body
    other = pipeline.apply(PAGE.replace(b"<p>", b"<div>"), "text/html")  # the same URL
    assert other.status == "rewritten" and other.body != first.body
    assert inventory.lookups == asked == 1


def test_an_unchanged_page_comes_back_as_the_same_object_from_the_cache_too() -> None:
    cache, calls = RewriteCache(), []
    mapper = mapper_for(ChangingInventory({}))
    for body in (PLAIN, bytes(PLAIN)):
        assert cache.rewrite(b"h", body, None, mapper, counting(calls)) is body
    assert len(calls) == 1


def test_kind_charset_and_coding_are_part_of_the_key() -> None:
    cache, calls = RewriteCache(), []
    mapper = mapper_for(ChangingInventory({"2024/05/a.jpg": FileInfo()}))
    for kind, charset, coding in (
        (b"h", None, ""),
        (b"t", None, ""),
        (b"h", "windows-1252", ""),
        (b"h", None, "deflate"),
    ):
        cache.rewrite(kind, PAGE, charset, mapper, counting(calls), coding)
    assert len(calls) == 4


def test_a_compressed_page_served_again_is_neither_decoded_nor_encoded_again() -> None:
    """The cache sits in front of decoding: a hit hands back the compressed answer it made
    the first time (the very same object), and still follows the inventory."""
    inventory = ChangingInventory({"2024/05/a.jpg": FileInfo(size=1, etag="e1")})
    pipeline = build_pipeline(CONFIG, inventory)
    sent = gzip.compress(PAGE)
    first = pipeline.apply(sent, "text/html", "gzip")
    again = pipeline.apply(bytes(sent), "text/html", "gzip")
    assert first.status == again.status == "rewritten"
    assert again.body is first.body
    assert first.body is not None and gzip.decompress(first.body) == (
        build_pipeline(CONFIG, inventory).apply(PAGE, "text/html").body
    )
    inventory.known["2024/05/a.jpg"] = FileInfo(size=2, etag="e2")
    changed = pipeline.apply(sent, "text/html", "gzip").body
    assert changed is not None and changed != first.body
    assert (
        gzip.decompress(changed) == build_pipeline(CONFIG, inventory).apply(PAGE, "text/html").body
    )
    plain = gzip.compress(PLAIN)
    assert pipeline.apply(plain, "text/html", "gzip").status == "unchanged"
    assert pipeline.apply(plain, "text/html", "gzip").status == "unchanged"


def test_answers_that_change_during_one_rewrite_are_not_cached() -> None:
    inventory = ChangingInventory({"2024/05/a.jpg": FileInfo(etag="e1")})
    cache, calls = RewriteCache(), []

    def flapping(body: bytes, mapper: UrlMapper) -> bytes:
        calls.append(body)
        mapper("http://wp.test/wp-content/uploads/2024/05/a.jpg")
        inventory.known["2024/05/a.jpg"] = FileInfo(etag=f"e{len(calls) + 1}")
        mapper("http://wp.test/wp-content/uploads/2024/05/a.jpg")
        return body + b"!"

    cache.rewrite(b"h", PAGE, None, mapper_for(inventory), flapping)
    cache.rewrite(b"h", PAGE, None, mapper_for(inventory), flapping)
    assert len(calls) == 2


def test_size_zero_turns_the_cache_off_and_huge_bodies_are_not_kept() -> None:
    mapper = mapper_for(ChangingInventory({}))
    off, calls = RewriteCache(0), []
    off.rewrite(b"h", PAGE, None, mapper, counting(calls))
    off.rewrite(b"h", PAGE, None, mapper, counting(calls))
    small, huge = RewriteCache(8 * 1024), b"x" * 2048  # entries above 1/8 of the budget
    small.rewrite(b"h", huge, None, mapper, counting(calls))
    small.rewrite(b"h", huge, None, mapper, counting(calls))
    assert len(calls) == 4


def test_bodies_that_share_a_key_never_get_each_others_output() -> None:
    cache, calls = RewriteCache(), []
    mapper = mapper_for(ChangingInventory({"2024/05/a.jpg": FileInfo()}))
    one = PAGE + b"." * 10_000
    two = one.replace(b"<p>", b"<b>", 1)  # only byte 1 differs, and the key's sample skips it
    assert _key(one, b"h", None, "") == _key(two, b"h", None, "")
    assert cache.rewrite(b"h", one, None, mapper, counting(calls)) == counting([])(one, mapper)
    assert cache.rewrite(b"h", two, None, mapper, counting(calls)) == counting([])(two, mapper)
    assert len(calls) == 2


def test_a_url_remembered_from_another_page_follows_the_inventory() -> None:
    inventory = ChangingInventory({"2024/05/a.jpg": FileInfo(size=1, etag="e1")})
    mapper = mapper_for(inventory)
    url = "http://wp.test/wp-content/uploads/2024/05/a.jpg"
    first = mapper(url)
    assert mapper(url) == first is not None
    inventory.known["2024/05/a.jpg"] = FileInfo(size=2, etag="e2")
    second = mapper(url)
    assert second is not None and second != first
    assert second == mapper_for(inventory)(url)  # what a mapper that never saw it says
    inventory.known.clear()
    assert mapper(url) is None
    assert mapper("http://elsewhere.test/wp-content/uploads/2024/05/a.jpg") is None


CLOUDINARY = parse_config(
    """
upstream: http://127.0.0.1:9
site: {hosts: [wp.test]}
delivery:
  provider: cloudinary
  cloudinary: {cloud_name: demo}
"""
)


def test_a_derived_size_carries_its_masters_version_and_needs_its_master() -> None:
    # Cloudinary serves photo-300x200.jpg as a transformation of photo.jpg: the sub-size
    # file's own facts say nothing about the URL, the master's say everything.
    inventory = ChangingInventory(
        {
            "2024/05/photo.jpg": FileInfo(size=9, mtime=1700000000),
            "2024/05/photo-300x200.jpg": FileInfo(size=1, mtime=1800000000),
        }
    )
    mapper = build_url_mapper(CLOUDINARY, inventory)
    master = mapper("http://wp.test/wp-content/uploads/2024/05/photo.jpg")
    size = mapper("http://wp.test/wp-content/uploads/2024/05/photo-300x200.jpg")
    assert master is not None and "/v1700000000/2024/05/photo.jpg" in master
    assert size is not None and "/c_lfill,g_center,h_200,w_300/" in size
    assert "/v1700000000/2024/05/photo.jpg" in size
    located = mapper.locate("/wp-content/uploads/2024/05/photo-300x200.jpg")
    assert located is not None and located[1] == FileInfo(size=9, mtime=1700000000)
    # Without its master on the delivery side, a size stays local like any missing file.
    del inventory.known["2024/05/photo.jpg"]
    assert mapper("http://wp.test/wp-content/uploads/2024/05/photo-150x150.jpg") is None
    assert mapper.locate("/wp-content/uploads/2024/05/photo-150x150.jpg") is None


def test_a_compressed_body_that_would_decode_past_max_rewrite_bytes_fails_open() -> None:
    """The size limit holds for what a body decodes to, not only for the bytes as sent."""
    small = parse_config(
        """
upstream: http://127.0.0.1:9
site: {hosts: [wp.test]}
proxy: {max_rewrite_bytes: 4096}
delivery: {provider: cdn, cdn: {base_url: "https://cdn.example.net/u/"}}
"""
    )
    pipeline = build_pipeline(small, ChangingInventory({"2024/05/a.jpg": FileInfo()}))
    page = PAGE + b"<p>" + b"padding " * 1000 + b"</p>"  # 8 KB, about 200 bytes gzipped
    sent = gzip.compress(page)
    assert len(sent) < 4096 < len(page)
    result = pipeline.apply(sent, "text/html", "gzip")
    assert result.status == "failed" and result.body is None
    assert result.error is not None and "more than 4096" in result.error
    assert pipeline.apply(gzip.compress(PAGE), "text/html", "gzip").status == "rewritten"


# -- identifiers stay local -----------------------------------------------------------------

REST_MEDIA = (
    b'[{"id":7,"guid":{"rendered":"http:\\/\\/wp.test\\/wp-content\\/uploads\\/2024\\/05\\/a.jpg",'
    b'"raw":"http:\\/\\/wp.test\\/wp-content\\/uploads\\/2024\\/05\\/a.jpg"},'
    b'"source_url":"http:\\/\\/wp.test\\/wp-content\\/uploads\\/2024\\/05\\/a.jpg"}]'
)
FEED = (
    b'<?xml version="1.0"?><rss><channel><item>'
    b'<guid isPermaLink="false">http://wp.test/wp-content/uploads/2024/05/a.jpg</guid>'
    b'<enclosure url="http://wp.test/wp-content/uploads/2024/05/a.jpg" type="image/jpeg"/>'
    b"</item></channel></rss>"
)


def test_a_rest_guid_stays_local_while_the_source_url_is_rewritten():
    result = build_pipeline(CONFIG, NullInventory()).apply(REST_MEDIA, "application/json")
    assert result.status == "rewritten"
    assert result.body is not None
    guid, rest = result.body.split(b'"source_url"')
    assert guid == REST_MEDIA.split(b'"source_url"')[0]  # byte for byte
    assert b"cdn.example.net" in rest


def test_a_feed_guid_stays_local_while_the_enclosure_is_rewritten():
    result = build_pipeline(CONFIG, NullInventory()).apply(FEED, "application/rss+xml")
    assert result.body is not None
    assert b'"false">http://wp.test/wp-content/uploads/2024/05/a.jpg</guid>' in result.body
    assert b'<enclosure url="https://cdn.example.net/u/2024/05/a.jpg' in result.body


def test_identifier_names_come_from_the_config():
    config = parse_config(
        "upstream: http://127.0.0.1:9\nsite: {hosts: [wp.test]}\n"
        "delivery: {provider: cdn, cdn: {base_url: 'https://cdn.example.net/u/'}}\n"
        "bypass: {identifiers: [source_url]}\n"
    )
    result = build_pipeline(config, NullInventory()).apply(REST_MEDIA, "application/json")
    assert result.body is not None
    guid, rest = result.body.split(b'"source_url"')
    assert b"cdn.example.net" in guid  # guid is no longer an identifier here
    assert rest == REST_MEDIA.split(b'"source_url"')[1]


# -- the health of the delivery host ----------------------------------------------------
# The circuit is driven through DeliveryHealth.record, which is what its probe calls after
# each HEAD; the probe itself runs against a real server in tests/delivery/test_health.py.

UPLOAD = "http://wp.test/wp-content/uploads/2024/05/a.jpg"


def circuit() -> DeliveryHealth:
    return DeliveryHealth(HealthConfig(failures=1, successes=1))


def host_down(health: DeliveryHealth) -> None:
    health.record("cdn.example.net", Probe(False, "HEAD https://cdn.example.net/u/a.jpg: 503"))


def host_up(health: DeliveryHealth) -> None:
    health.record("cdn.example.net", Probe(True, "HEAD https://cdn.example.net/u/a.jpg: 200"))


def test_while_the_host_is_down_every_upload_keeps_its_local_url() -> None:
    health = circuit()
    for inventory in (NullInventory(), ChangingInventory({"2024/05/a.jpg": FileInfo(etag="e")})):
        mapper = build_url_mapper(CONFIG, inventory, health=health)
        delivered = mapper(UPLOAD)
        assert delivered is not None and delivered.startswith("https://cdn.example.net/u/")
        host_down(health)
        assert mapper(UPLOAD) is None  # remembered, yet not handed out
        assert mapper(UPLOAD.replace("a.jpg", "b.jpg")) is None  # never seen before
        assert mapper.locate(UPLOAD) is None  # features get nothing to build on either
        host_up(health)
        assert mapper(UPLOAD) == delivered
        assert mapper.locate(UPLOAD) is not None


def test_the_urls_it_builds_become_the_probes_targets() -> None:
    health = circuit()
    mapper = build_url_mapper(CONFIG, NullInventory(), health=health)
    delivered = mapper(UPLOAD)
    assert health._hosts["cdn.example.net"].targets.urls() == (delivered,)
    assert mapper("https://elsewhere.test/wp-content/uploads/a.jpg") is None
    assert list(health._hosts) == ["cdn.example.net"]


def test_the_page_cache_serves_no_page_across_a_change_of_circuit() -> None:
    health = circuit()
    for inventory in (NullInventory(), ChangingInventory({"2024/05/a.jpg": FileInfo(etag="e")})):
        pipeline = build_pipeline(CONFIG, inventory, health=health)
        rewritten = pipeline.apply(PAGE, "text/html")
        assert rewritten.status == "rewritten"
        assert pipeline.apply(PAGE, "text/html").body is rewritten.body  # a hit
        host_down(health)
        assert pipeline.apply(PAGE, "text/html").status == "unchanged"
        assert pipeline.apply(PAGE, "text/html").status == "unchanged"
        host_up(health)
        again = pipeline.apply(PAGE, "text/html")
        assert again.status == "rewritten" and again.body == rewritten.body


def test_a_rewrite_overtaken_by_a_change_of_circuit_is_not_kept() -> None:
    health, cache, calls = circuit(), RewriteCache(), []
    mapper = build_url_mapper(CONFIG, NullInventory(), health=health)

    def opening_midway(body: bytes, mapper: UrlMapper) -> bytes:
        out = counting(calls)(body, mapper)
        host_down(health)  # the probe's verdict arrives while the page is being rewritten
        return out

    assert cache.rewrite(b"h", PAGE, None, mapper, opening_midway) != PAGE
    assert cache.rewrite(b"h", PAGE, None, mapper, counting(calls)) == PAGE
    assert len(calls) == 2


def test_json_quoted_in_a_feed_and_a_css_comment_do_not_stop_the_sweep():
    feed = (
        b'<rss><item><description>"guid": {"rendered": "x</description>'
        b'<enclosure url="http://wp.test/wp-content/uploads/2024/05/a.jpg"/></item></rss>'
    )
    css = b'/* "guid": [ */ .a { background: url(/wp-content/uploads/2024/05/a.jpg) }'
    pipeline = build_pipeline(CONFIG, NullInventory())
    for body, kind in ((feed, "application/rss+xml"), (css, "text/css")):
        result = pipeline.apply(body, kind)
        assert result.body is not None and b"cdn.example.net" in result.body, kind


def test_without_an_inventory_pages_share_one_memo_of_answers_until_the_circuit_changes() -> None:
    health = circuit()
    mapper = build_url_mapper(CONFIG, NullInventory(), health=health)
    pipeline_html = HtmlRewriter(CONFIG.html)
    answers = mapper.pure_answers()
    assert answers is not None and answers.answers == {}
    out = pipeline_html.rewrite(PAGE, mapper, memo=answers)
    assert answers.answers == {UPLOAD: mapper(UPLOAD)} and out != PAGE
    assert mapper.pure_answers() is answers  # the next page starts from it

    def refuses(url: str) -> str | None:
        raise AssertionError(f"{url} was asked again")

    # A page whose URL the memo knows: no call of map_url at all.
    assert pipeline_html.rewrite(PAGE.replace(b"<p>", b"<div>"), refuses, memo=answers) == (
        out.replace(b"<p>", b"<div>")
    )
    host_down(health)
    assert mapper.pure_answers() is None  # answers depend on the circuit now
    host_up(health)
    fresh = mapper.pure_answers()
    assert fresh is not None and fresh.answers == {} and fresh is not answers


def test_answers_that_follow_an_inventory_are_never_shared_across_pages() -> None:
    mapper = mapper_for(ChangingInventory({"2024/05/a.jpg": FileInfo(size=1, etag="e1")}))
    assert mapper.pure_answers() is None


def test_the_memo_across_pages_is_kept_per_base_so_relative_urls_resolve_per_page() -> None:
    pipeline = build_pipeline(CONFIG, NullInventory(), RewriteCache(0))  # every page rewritten
    page = b'<p><img src="wp-content/uploads/2024/05/a.jpg"></p>'
    at_root = pipeline.apply(page, "text/html", url="/?p=1")
    deeper = pipeline.apply(page, "text/html", url="/blog/post/")
    again = pipeline.apply(page, "text/html", url="/?p=1")
    assert (
        at_root.body == again.body == b'<p><img src="https://cdn.example.net/u/2024/05/a.jpg"></p>'
    )
    assert deeper.status == "unchanged"  # /blog/post/wp-content/uploads/... is no upload
    mapper = build_url_mapper(CONFIG, NullInventory())
    assert (
        mapper.pure_answers("/a/") is mapper.pure_answers("/a/") is not mapper.pure_answers("/b/")
    )


def test_the_memo_across_pages_stays_bounded_when_one_page_names_new_urls_every_time(
    monkeypatch: Any,
) -> None:
    # One page URL whose script carries a per-request nonce: each copy adds an answer.
    monkeypatch.setattr(rewriting, "_MEMO_SIZE", 10)
    mapper = build_url_mapper(CONFIG, NullInventory())
    html = HtmlRewriter(CONFIG.html)
    for nonce in range(30):
        page = b'<script>var s = {"u": "/wp-content/uploads/2024/05/a.jpg", "n": "/?n=%d"}'
        html.rewrite(page % nonce + b"</script>", mapper, memo=mapper.pure_answers("/"))
    memo = mapper.pure_answers("/")
    assert memo is not None and len(memo) < 10
