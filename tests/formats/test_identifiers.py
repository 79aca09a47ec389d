"""Identifier values in JSON and XML are found whole, wherever they stand."""

from __future__ import annotations

import pytest

from rewriteproxy.formats.identifiers import Identifiers

GUID = Identifiers(("guid",))


def held(text: str, finder: Identifiers = GUID) -> list[str]:
    return [text[start:end] for start, end in finder.spans(text)]


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
    assert GUID.spans(text) == []


def test_other_names_and_none_at_all():
    ids = Identifiers(("uuid", "id"))
    assert held('{"id":"a","uuid":"b","idx":"c"}', ids) == ['"a"', '"b"']
    assert Identifiers(()).spans('{"guid":"a"}') == []
