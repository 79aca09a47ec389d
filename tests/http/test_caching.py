"""Cache-Control and Vary edits only ever make caching stricter."""

from __future__ import annotations

import pytest
from multidict import CIMultiDict

from rewriteproxy.http.caching import add_vary, make_private


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ([], "private"),
        (["max-age=60"], "private, max-age=60"),
        (
            ["public, max-age=60", "s-maxage=600, must-revalidate"],
            "private, max-age=60, must-revalidate",
        ),
        (["PUBLIC"], "private"),
        (["no-cache"], "private, no-cache"),
    ],
)
def test_make_private_drops_what_lets_shared_caches_store(before, after):
    headers = CIMultiDict([("Cache-Control", v) for v in before])
    make_private(headers)
    assert headers.getall("Cache-Control") == [after]


@pytest.mark.parametrize("stricter", ["private, max-age=0", "no-store", "max-age=0, No-Store"])
def test_make_private_keeps_a_stricter_answer_as_it_is(stricter):
    headers = CIMultiDict({"Cache-Control": stricter})
    make_private(headers)
    assert headers.getall("Cache-Control") == [stricter]


def test_add_vary_merges_with_the_upstreams_own_without_repeating():
    headers = CIMultiDict([("Vary", "Accept-Encoding"), ("Vary", "cookie, Origin")])
    add_vary(headers, ("Cookie", "Authorization", "authorization"))
    assert headers.getall("Vary") == ["Accept-Encoding, cookie, Origin, Authorization"]


def test_add_vary_leaves_a_star_and_a_complete_list_alone():
    star = CIMultiDict({"Vary": "*"})
    add_vary(star, ("Cookie",))
    assert star.getall("Vary") == ["*"]
    complete = CIMultiDict([("Vary", "Cookie"), ("Vary", "Accept")])
    add_vary(complete, ("cookie",))
    assert complete.getall("Vary") == ["Cookie", "Accept"]


def test_add_vary_on_an_answer_without_one():
    headers = CIMultiDict()
    add_vary(headers, ("Cookie", "X-WP-Nonce"))
    assert headers["Vary"] == "Cookie, X-WP-Nonce"
