"""JSON strings that are whole URLs (or whole srcset lists), written back in the same escaping."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rewriteproxy.formats import apply_edits
from rewriteproxy.formats.jsonurls import _decode, rewrite_json_strings
from tests.formats import support
from tests.formats.support import DELIVERED, HOSTILE_URLS, UPLOAD, to_cdn


def cdn(url: str) -> str | None:
    return (
        url.replace("https://example.com/wp-content/uploads/", "https://cdn.example.net/u/")
        if url.startswith("https://example.com/wp-content/uploads/")
        else None
    )


def run(text: str) -> str:
    return apply_edits(text, rewrite_json_strings(text, cdn))


def test_slash_escaped_form_is_kept() -> None:
    text = '{"url":"https:\\/\\/example.com\\/wp-content\\/uploads\\/a.jpg"}'
    assert run(text) == '{"url":"https:\\/\\/cdn.example.net\\/u\\/a.jpg"}'


def test_plain_form_is_kept() -> None:
    text = '{"url":"https://example.com/wp-content/uploads/a.jpg","n":1}'
    assert run(text) == '{"url":"https://cdn.example.net/u/a.jpg","n":1}'


def test_only_whole_string_urls() -> None:
    text = '{"caption":"see https:\\/\\/example.com\\/wp-content\\/uploads\\/a.jpg"}'
    assert rewrite_json_strings(text, cdn) == []


def test_srcset_strings_are_rewritten_as_a_whole() -> None:
    text = (
        '{"srcset":"https:\\/\\/example.com\\/wp-content\\/uploads\\/a-300x200.jpg 300w, '
        'https:\\/\\/example.com\\/wp-content\\/uploads\\/a.jpg 1024w"}'
    )
    assert json.loads(run(text)) == {
        "srcset": "https://cdn.example.net/u/a-300x200.jpg 300w, "
        "https://cdn.example.net/u/a.jpg 1024w"
    }


def test_in_json_a_url_that_is_an_object_key_stays_and_its_value_changes() -> None:
    u = "https://example.com/wp-content/uploads/a.jpg"
    text = f'{{"{u}" : {{"full": "{u}"}}, "list": ["{u}"]}}'
    values = apply_edits(text, rewrite_json_strings(text, cdn, values_only=True))
    assert values == text.replace(f'"full": "{u}"', f'"full": "{cdn(u)}"').replace(
        f'["{u}"]', f'["{cdn(u)}"]'
    )
    # In script code a ":" after a string may end a ternary's branch: every string counts.
    code = f'x = big ? "{u}" : "{u}";'
    assert run(code) == code.replace(u, str(cdn(u)))


def test_hex_escapes_are_reproduced() -> None:
    text = '["https:\\/\\/example.com\\/wp-content\\/uploads\\/a.jpg?x=1\\u0026y=2"]'
    out = run(text)
    assert out == '["https:\\/\\/cdn.example.net\\/u\\/a.jpg?x=1\\u0026y=2"]'
    assert json.loads(out) == ["https://cdn.example.net/u/a.jpg?x=1&y=2"]


def test_script_code_strings_only_double_quoted_and_not_inside_others() -> None:
    code = (
        "document.write('<img src=\"https://example.com/wp-content/uploads/a.jpg\">');\n"
        '// "https://example.com/wp-content/uploads/b.jpg"\n'
        'var u = "https://example.com/wp-content/uploads/c.jpg";'
    )
    assert run(code) == code.replace("uploads/c.jpg", "X").replace(
        "https://example.com/wp-content/X", "https://cdn.example.net/u/c.jpg"
    )


def test_invalid_escapes_are_left_alone() -> None:
    assert (
        rewrite_json_strings('"https:\\/\\/example.com\\/wp-content\\/uploads\\/a.jpg\\x"', cdn)
        == []
    )


def test_lt_in_a_replacement_is_escaped_for_script_blocks() -> None:
    text = '"https://example.com/wp-content/uploads/a.jpg"'
    edits = rewrite_json_strings(text, lambda u: "https://cdn/</script>.jpg")
    assert apply_edits(text, edits) == '"https://cdn/\\u003C/script>.jpg"'


@settings(max_examples=500)
@given(st.text(alphabet=st.sampled_from('ab/\\"é\u2028'), max_size=12))
def test_strings_decode_as_json_reads_them(value: str) -> None:
    """Escaped slashes take a shortcut; whatever else is escaped, the reading is JSON's."""
    for raw in (json.dumps(value)[1:-1], json.dumps(value)[1:-1].replace("/", "\\/")):
        assert _decode(raw) == value


@pytest.mark.parametrize("url", HOSTILE_URLS)
@pytest.mark.parametrize("slashes", ["/", "\\/"])
def test_urls_the_upload_rule_refuses_are_kept(url: str, slashes: str) -> None:
    text = json.dumps({"ok": UPLOAD, "bad": url, "set": f"{url} 2x"}).replace("/", slashes)
    out = apply_edits(text, rewrite_json_strings(text, to_cdn))
    assert json.loads(out) == {"ok": DELIVERED, "bad": url, "set": f"{url} 2x"}


JSON_SYNTAX = [
    '{"a":"',
    '"}',
    '","',
    '"',
    "'",
    "`",
    "\\/",
    "\\u0026",
    "\\",
    "//",
    "/*",
    " 300w, ",
    "\n",
]


@settings(max_examples=300, deadline=None)
@given(support.texts(JSON_SYNTAX, '"'))
def test_properties(text: str) -> None:
    once = apply_edits(text, rewrite_json_strings(text, support.to_cdn))
    assert rewrite_json_strings(once, support.to_cdn) == []


@settings(max_examples=200, deadline=None)
@given(support.texts(JSON_SYNTAX, '"', with_uploads=False))
def test_no_upload_urls_no_edits(text: str) -> None:
    assert rewrite_json_strings(text, support.to_cdn) == []
