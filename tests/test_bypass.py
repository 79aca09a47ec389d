"""Which requests are never rewritten, and what their answers tell the caches in front.

The rules exist so that nothing the proxy writes can be saved back into
WordPress: every way a client reads content in order to write it again gets
the upstream's own bytes. Unusual spellings of a request get the safe answer.
"""

from __future__ import annotations

import pytest
from multidict import CIMultiDict
from yarl import URL

from rewriteproxy.bypass import Bypass, Decision, normalise_path, php_name
from rewriteproxy.config import BypassConfig

DEFAULT = Bypass(BypassConfig())


def reason(
    url: str,
    headers: dict[str, str] | list[tuple[str, str]] | None = None,
    method: str = "GET",
    rules: Bypass = DEFAULT,
    body: bool = False,
) -> str | None:
    path, _, query_string = url.partition("?")
    parsed = URL.build(path=path, query_string=query_string, encoded=True)  # as aiohttp does
    query = parsed.query if "?" in url else None
    return rules.reason(method, parsed.raw_path, query, CIMultiDict(headers or {}), body)


@pytest.mark.parametrize(
    "url",
    [
        "/",
        "/2024/05/hello-world/",
        "/?s=photo",
        "/wp-json/wp/v2/posts/1",
        "/wp-json/wp/v2/posts/1?context=view",
        "/wp-json/wp/v2/posts/1?context=embed",
        "/?rest_route=/wp/v2/posts/1&context=VIEW",
        "/wp-content/uploads/2024/05/wp-admin.jpg",
        "/wp-adminer/",
        "/feed/",
    ],
)
def test_an_anonymous_page_view_is_rewritten(url):
    assert reason(url, {"Cookie": "_ga=GA1.2.3; wp-settings-time-1=1"}) is None


@pytest.mark.parametrize(
    ("url", "headers", "expected"),
    [
        # Credentials of any scheme: application passwords, JWT, OAuth, even empty.
        ("/wp-json/wp/v2/posts/1", {"Authorization": "Basic YWRtaW46eHh4"}, "authorization"),
        ("/wp-json/wp/v2/posts/1", {"authorization": "Bearer eyJ0eXAi"}, "authorization"),
        ("/wp-json/wp/v2/posts/1", {"AUTHORIZATION": "Negotiate abc"}, "authorization"),
        ("/wp-json/wp/v2/posts/1", {"Authorization": ""}, "authorization"),
        ("/wp-json/wc/v3/products?consumer_key=ck_1&consumer_secret=cs_1", {}, "authorization"),
        ("/wp-json/wp/v2/posts?oauth_consumer_key=x", {}, "authorization"),
        ("/wp-json/wp/v2/posts?Access_Token=x", {}, "authorization"),
        # A logged-in session's REST and admin calls.
        ("/wp-json/wp/v2/posts/1", {"X-WP-Nonce": "abc123"}, "nonce"),
        ("/wp-json/wp/v2/posts/1", {"x-wp-nonce": ""}, "nonce"),
        ("/wp-json/wp/v2/posts/1?_wpnonce=abc123", {}, "nonce"),
        # REST edit context, however spelled.
        ("/wp-json/wp/v2/posts/1?context=edit", {}, "edit-context"),
        ("/wp-json/wp/v2/posts/1?context=EDIT", {}, "edit-context"),
        ("/wp-json/wp/v2/posts/1?context=", {}, "edit-context"),
        ("/wp-json/wp/v2/posts/1?context", {}, "edit-context"),
        ("/wp-json/wp/v2/posts/1?context=view&context=edit", {}, "edit-context"),
        ("/wp-json/wp/v2/posts/1?context=edit&context=view", {}, "edit-context"),
        ("/wp-json/wp/v2/posts/1?context%5B%5D=view", {}, "edit-context"),
        ("/wp-json/wp/v2/posts/1?%63ontext=edit", {}, "edit-context"),
        ("/?rest_route=/wp/v2/posts/1&context=edit", {}, "edit-context"),
        # A GET that WordPress's REST server treats as a write.
        ("/wp-json/wp/v2/posts/1?_method=POST", {}, "method-override"),
        ("/wp-json/wp/v2/posts/1", {"X-HTTP-Method-Override": "PUT"}, "method-override"),
        ("/wp-json/wp/v2/posts/1?_method=get", {}, None),
        # Paths that write or administer, in every spelling a web server resolves.
        ("/xmlrpc.php", {}, "path"),
        ("/wp-cron.php?doing_wp_cron=1", {}, "path"),
        ("/wp-login.php?action=logout", {}, "path"),
        ("/wp-admin/post.php?post=1&action=edit", {}, "path"),
        ("/wp-admin", {}, "path"),
        ("/WP-Admin/", {}, "path"),
        ("//wp-admin//", {}, "path"),
        ("/%77p-admin/", {}, "path"),
        ("/foo/../wp-admin/", {}, "path"),
        ("/./xmlrpc.php", {}, "path"),
        ("/blog/wp-admin/admin-ajax.php", {}, "path"),
        ("/blog/xmlrpc.php", {}, "path"),
        ("/xmlrpc.php/extra", {}, "path"),
        # Opt-outs and previews, repeated or in any case.
        ("/?rewriteproxy=off", {}, "query"),
        ("/?rewriteproxy=on&rewriteproxy=OFF", {}, "query"),
        ("/", [("X-RewriteProxy", "on"), ("x-rewriteproxy", "off")], "header"),
        ("/?p=1&preview=true", {}, "preview"),
        ("/?preview=TRUE", {}, "preview"),
        ("/?preview_id=1&preview_nonce=x", {}, "preview"),
        # Logged in, by the cookie WordPress sets, as PHP reads cookie names.
        ("/", {"Cookie": "wordpress_logged_in_abc=admin%7C1"}, "logged-in"),
        ("/", {"Cookie": "a=1; WordPress_Logged_In_abc=admin"}, "logged-in"),
        ("/", {"Cookie": "wordpress.logged.in.abc=admin"}, "logged-in"),
        ("/", {"Cookie": "wordpress%5Flogged_in_abc=admin"}, "logged-in"),
        ("/", [("Cookie", "a=1"), ("Cookie", "wordpress_logged_in_abc=x")], "logged-in"),
        ("/", {"Cookie": 'wordpress_logged_in_abc="broken'}, "logged-in"),
        # Query keys and cookie names as PHP registers them, not as they were spelled.
        ("/wp-json/wp/v2/posts/1?+context=edit", {}, "edit-context"),
        ("/wp-json/wp/v2/posts/1?%20context=edit", {}, "edit-context"),
        ("/wp-json/wp/v2/posts/1?context%00=edit", {}, "edit-context"),
        ("/wp-json/wp/v2/posts/1?context%00x=edit", {}, "edit-context"),
        ("/wp-json/wp/v2/posts/1?context[0=view", {}, None),  # PHP: "context_0", not context
        ("/wp-json/wc/v3/products?consumer.key=ck", {}, "authorization"),
        ("/wp-json/wc/v3/products?consumer+secret=cs", {}, "authorization"),
        ("/wp-json/wc/v3/products?consumer[key=ck", {}, "authorization"),
        ("/wp-json/jetpack/v4/x?_for=jetpack&token=t&signature=s", {}, "authorization"),
        ("/?preview.id=5", {}, "preview"),
        ("/?+rewriteproxy=off", {}, "query"),
        ("/wp-json/wp/v2/posts/1?.wpnonce=x", {}, "nonce"),
        ("/wp-json/wp/v2/posts/1?+_wpnonce=x", {}, "nonce"),
        ("/wp-json/wp/v2/posts/1?_method%00=DELETE", {}, "method-override"),
        ("/wp-json/wp/v2/posts/1?+_method=DELETE", {}, "method-override"),
        ("/", {"Cookie": "wordpress[logged_in_abc=admin"}, "logged-in"),
        ("/", {"Cookie": "wordpress_logged_in_abc[x]=admin"}, "logged-in"),
        # WordPress fetching its own pages, to store what it finds (URL details, loopbacks).
        ("/image-block/", {"User-Agent": "WP-URLDetails/6.1.9 (+http://wp.test)"}, "wordpress"),
        ("/", {"User-Agent": "WordPress/6.1.9; http://wp.test"}, "wordpress"),
        ("/", {"User-Agent": "Mozilla/5.0 (X11) WordPress-fan"}, None),
    ],
)
def test_requests_that_could_save_content_back_are_never_rewritten(url, headers, expected):
    assert reason(url, headers) == expected


def test_a_get_with_a_body_is_never_rewritten():
    # WordPress's REST server reads a JSON body's parameters ({"context": "edit"}) on a GET too.
    assert reason("/wp-json/wp/v2/posts/12", body=True) == "body"
    assert reason("/wp-json/wp/v2/posts/12", method="HEAD", body=True) == "body"


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE", "OPTIONS", "post"])
def test_only_get_and_head_are_rewritten(method):
    assert reason("/", method=method) == ("method" if method.upper() != "GET" else None)
    assert reason("/", method="HEAD") is None


@pytest.mark.parametrize(
    ("option", "url", "headers"),
    [
        ("authorization: false", "/wp-json/wp/v2/posts/1", {"Authorization": "Basic x"}),
        ("nonce: false", "/wp-json/wp/v2/posts/1", {"X-WP-Nonce": "x"}),
        ("edit_context: false", "/wp-json/wp/v2/posts/1?context=edit", {}),
        ("paths: []", "/xmlrpc.php", {}),
        ("logged_in_cookie: ''", "/", {"Cookie": "wordpress_logged_in_x=1"}),
        ("previews: false", "/?preview=true", {}),
        ("query_param: ''", "/?rewriteproxy=off", {}),
        ("header: ''", "/", {"X-RewriteProxy": "off"}),
        ("credential_params: []", "/?consumer_key=ck", {}),
        ("wordpress_requests: false", "/", {"User-Agent": "WordPress/6.1; http://wp.test"}),
    ],
)
def test_each_rule_can_be_turned_off(option, url, headers):
    from rewriteproxy.config import parse_config

    config = parse_config(f"upstream: http://x\nsite: {{hosts: [a]}}\nbypass: {{{option}}}\n")
    assert reason(url, headers) is not None
    assert reason(url, headers, rules=Bypass(config.bypass)) is None


@pytest.mark.parametrize(
    ("key", "name"),
    [
        ("context", ("context", False)),
        ("context[]", ("context", True)),
        ("context[a][b]", ("context", True)),
        ("context[a", ("context_a", False)),
        (" con.text x", ("con_text_x", False)),
        ("a.b[c.d]", ("a_b", True)),
        ("context\0tail", ("context", False)),
    ],
)
def test_names_are_read_as_php_registers_them(key, name):
    assert php_name(key) == name


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("/", "/"),
        ("/a/b/", "/a/b/"),
        ("/A/%42", "/a/b"),
        ("//a///b", "/a/b"),
        ("/a/./b/../c", "/a/c"),
        ("/../../a", "/a"),
        ("/a/..", "/"),
        ("/a/b/..", "/a/"),
        ("/a?x=/../b", "/a"),
    ],
)
def test_paths_are_normalised_as_the_web_server_resolves_them(raw, normal):
    assert normalise_path(raw) == normal


# -- what the answer tells caches ---------------------------------------------------------


def marked(decision: Decision, **headers: str) -> CIMultiDict[str]:
    out = CIMultiDict(headers)
    DEFAULT.cache_headers(out, decision)
    return out


def test_a_rewritten_answer_varies_on_every_header_the_rules_read():
    headers = marked(Decision(None), Vary="Accept-Encoding")
    assert headers["Vary"] == (
        "Accept-Encoding, Cookie, X-RewriteProxy, Authorization, X-WP-Nonce, X-HTTP-Method-Override"
    )
    assert "Cache-Control" not in headers


@pytest.mark.parametrize(
    "why",
    [
        "logged-in",
        "header",
        "query",
        "preview",
        "authorization",
        "nonce",
        "edit-context",
        "method-override",
    ],
)
def test_an_answer_passed_through_for_a_per_request_reason_is_private(why):
    headers = marked(Decision(why), **{"Cache-Control": "public, max-age=600, s-maxage=3600"})
    assert headers["Cache-Control"] == "private, max-age=600"
    assert "Cookie" in headers["Vary"]


@pytest.mark.parametrize("why", ["disabled", "path", "method"])
def test_an_answer_decided_by_its_url_alone_is_left_as_it_came(why):
    headers = marked(Decision(why), **{"Cache-Control": "public, max-age=60"})
    assert dict(headers) == {"Cache-Control": "public, max-age=60"}


def test_the_vary_list_follows_the_rules_that_are_on():
    from rewriteproxy.config import parse_config

    config = parse_config(
        "upstream: http://x\nsite: {hosts: [a]}\n"
        "bypass: {logged_in_cookie: '', header: X-No-CDN, authorization: false, nonce: false}\n"
    )
    assert Bypass(config.bypass).vary == ("X-No-CDN", "X-HTTP-Method-Override")
