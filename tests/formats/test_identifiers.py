"""Identifier values in JSON and XML are found whole, wherever they stand."""

from __future__ import annotations

import pytest

from rewriteproxy.formats.identifiers import Identifiers

GUID = Identifiers(("guid",))


def held(text: str, finder: Identifiers = GUID) -> list[str]:
    """The identifier values found, reading ``text`` as JSON if it starts as JSON, else XML."""
    spans = finder.json_spans(text) if text[:1] in "{[" else finder.xml_spans(text)
    return [text[start:end] for start, end in spans]


def test_a_rest_guid_object_is_one_span_with_everything_in_it():
    text = (
        '{"id":5,"guid":{"rendered":"http:\\/\\/wp.test\\/wp-content\\/uploads\\/a.jpg",'
        '"raw":"http:\\/\\/wp.test\\/wp-content\\/uploads\\/a.jpg"},'
        '"source_url":"http:\\/\\/wp.test\\/wp-content\\/uploads\\/a.jpg"}'
    )
    (span,) = held(text)
    assert span.startswith('{"rendered"') and span.endswith('a.jpg"}')
    assert "source_url" not in span


def test_a_string_value_and_braces_inside_strings():
    text = '[{"guid" : "x}]{", "b": 1}, {"guid":{"rendered":"a\\"}b"}}]'
    assert held(text) == ['"x}]{"', '{"rendered":"a\\"}b"}']


def test_values_that_cannot_hold_a_url_are_no_spans():
    assert held('{"guid": null, "guid": 12}') == []


def test_feed_guid_elements_with_attributes_prefixes_and_cdata():
    text = (
        '<item><guid isPermaLink="false">http://wp.test/?p=1</guid>'
        "<guid><![CDATA[http://wp.test/wp-content/uploads/a.jpg]]></guid>"
        "<dc:guid>u</dc:guid><guidance>not one</guidance><guid/></item>"
    )
    assert held(text) == [
        "http://wp.test/?p=1",
        "<![CDATA[http://wp.test/wp-content/uploads/a.jpg]]>",
        "u",
    ]


def test_an_unclosed_value_holds_the_rest_of_the_text():
    assert held('{"guid": {"rendered": "a"') == ['{"rendered": "a"']
    assert held("<guid>abc") == ["abc"]


@pytest.mark.parametrize("text", ["", '{"id": 1}', "<rss></rss>", "guid without structure"])
def test_text_without_identifiers_has_no_spans(text):
    assert GUID.json_spans(text) == [] and GUID.xml_spans(text) == []


def test_each_format_is_read_only_as_itself():
    # A feed quoting JSON, and a REST answer quoting markup (with </ escaped as <\/).
    assert GUID.xml_spans('<description>"guid": {"rendered": "x</description>') == []
    assert GUID.json_spans('{"content":"<guid>a<\\/guid>"}') == []


def test_keys_and_tags_inside_a_value_belong_to_it():
    assert held('{"guid":{"guid":"a","x":{"guid":"b"}},"guid":"c"}') == [
        '{"guid":"a","x":{"guid":"b"}}',
        '"c"',
    ]
    assert held("<rss><guid>a<guid>b</guid>c</guid></rss>") == ["a<guid>b"]


@pytest.mark.parametrize(
    "text",
    [
        '{"guid":[' * 20_000,  # nested and never closed: each key once would be quadratic
        '{"guid":"' * 20_000,
        "<guid>" * 20_000,
        "<rss>" + "<guid>a</guid>" * 20_000,
        '[{"guid":1},' * 20_000,
    ],
)
def test_adversarial_nesting_is_read_in_one_forward_pass(text):
    # A bound a thousand times what one pass takes, so only a quadratic reading can fail it.
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        pool.submit(lambda: (GUID.json_spans(text), GUID.xml_spans(text))).result(timeout=30)


def test_other_names_and_none_at_all():
    ids = Identifiers(("uuid", "id"))
    assert held('{"id":"a","uuid":"b","idx":"c"}', ids) == ['"a"', '"b"']
    assert Identifiers(()).json_spans('{"guid":"a"}') == []
