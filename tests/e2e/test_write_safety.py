"""Whatever a client reads through the proxy and saves back, WordPress stores no delivery URL.

The product's promise is that it never changes the site: switch it off and every
page is back on local URLs, because nothing was ever stored. That holds only if
no client that edits content is ever handed rewritten content: a REST client
reading ``context=edit`` with an application password or with a nonce and the
login cookie, an XML-RPC client (``wp.getPost`` then ``wp.editPost``), the block
editor in Chromium (a post's own blocks come preloaded in its admin page, a
reusable block's come from the REST API). Each test does one such round trip
through ``rewriteproxy serve`` in front of a real WordPress 6.1, saving the
content back unchanged (or with a word added in the editor), then looks straight
into MariaDB: no text column of ``wp_posts`` (posts, reusable blocks and their
revisions) or ``wp_postmeta`` may hold the delivery host. Logged-in round trips
run twice: with WordPress's cookie names, and with the names renamed by a
must-use plugin, as some hosts and security plugins do.

The site is private to this module (application passwords need
``WP_ENVIRONMENT_TYPE`` local over plain http, and these tests write), and its
posts and post meta are put back as seeded after each test, so that one test's
leak cannot fail the next. A control checks that the search finds a delivery
URL planted in any text column, and another that anonymous pages are rewritten
in these very tests. Last, with every kind of save done through the proxy, a
reload with ``enabled: false`` must give WordPress's own bytes, holding local
URLs only.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import http.cookies
import json
import re
import signal
import socket
import subprocess
import sys
import urllib.parse
import xmlrpc.client
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from ..support.net import free_port
from .browser import ARGS, ARTIFACTS, CHROMIUM, require_chromium
from .conftest import require_wordpress, wordpress_harness
from .test_wordpress_in_browser import Proxy, wait_until

if TYPE_CHECKING:
    from harness import Site

pytestmark = pytest.mark.wordpress

ROOT = Path(__file__).resolve().parents[2]  # run the package of this checkout
DELIVERY_HOST = "media-cdn.example.net"
DELIVERY_BASE = f"https://{DELIVERY_HOST}/wp-content/uploads/"
LOCAL = "http://wp.test/wp-content/uploads/"
LOCAL_FORMS = (LOCAL.encode(), LOCAL.replace("/", "\\/").encode())  # as in HTML and in JSON
SWEPT = ("wp_posts", "wp_postmeta")
SNAPSHOT_PREFIX = "rp_seeded_"

CONFIG = """\
upstream: {upstream}
enabled: {enabled}
listen: {{host: 127.0.0.1, port: {port}}}
site: {{hosts: [wp.test], scheme: http}}
delivery:
  provider: cdn
  cdn: {{base_url: "{delivery}"}}
admin: {{listen: "127.0.0.1:{admin}"}}
"""

# Some hosts and security plugins rename WordPress's login cookies; these names do
# not start with wordpress_logged_in_.
RENAMED_COOKIES = """<?php
define('AUTH_COOKIE', 'site_auth');
define('SECURE_AUTH_COOKIE', 'site_auth_secure');
define('LOGGED_IN_COOKIE', 'site_session');
"""

DELIVERED_URL = re.compile(re.escape(DELIVERY_BASE) + r"[^\s\"'<>()\\]+")


# --- the site, its database and the proxy ------------------------------------------


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    """A private seeded WordPress that offers application passwords; posts snapshotted."""
    require_wordpress()
    with wordpress_harness.WordPress(constants={"WP_ENVIRONMENT_TYPE": "local"}) as site:
        site.sql(
            "".join(
                f"CREATE TABLE {SNAPSHOT_PREFIX}{t} LIKE {t};"
                f" INSERT INTO {SNAPSHOT_PREFIX}{t} SELECT * FROM {t};"
                for t in SWEPT
            )
        )
        yield site


@pytest.fixture(autouse=True)
def posts_as_seeded(site: Site) -> Iterator[None]:
    """After each test, posts and post meta are back as seeded (whatever the test wrote)."""
    yield
    site.sql(
        "".join(
            f"DELETE FROM {t}; INSERT INTO {t} SELECT * FROM {SNAPSHOT_PREFIX}{t};" for t in SWEPT
        )
    )


@pytest.fixture(params=["wordpress", "renamed"])
def cookie_names(request: pytest.FixtureRequest, site: Site) -> Iterator[str]:
    """WordPress's own login cookie names, or other ones; the logged-in cookie's prefix."""
    if request.param == "wordpress":
        yield "wordpress_logged_in_"
        return
    with site.mu_plugin("renamed-cookies", RENAMED_COOKIES):
        yield "site_session"


def assert_no_delivery_url_stored(site: Site) -> None:
    """No text of posts or post meta holds the delivery host; else each hit, with an excerpt."""
    found = []
    for hit in site.rows_containing(DELIVERY_HOST, SWEPT):
        value = hit["value"] or ""
        at = value.lower().find(DELIVERY_HOST)
        excerpt = value[max(0, at - 60) : at + 80]
        found.append(f"{hit['table']} {hit['key']} {hit['column']}: …{excerpt}…")
    assert not found, "delivery URLs stored in WordPress:\n" + "\n".join(found)


@pytest.fixture
def proxy(site: Site, tmp_path: Path) -> Iterator[Proxy]:
    """``rewriteproxy serve`` in front of the site, CDN delivery; its log printed at the end."""
    port, admin = free_port(), free_port()

    def write(path: Path, port: int, enabled: str = "true") -> Path:
        path.write_text(
            CONFIG.format(
                upstream=site.base_url,
                enabled=enabled,
                port=port,
                delivery=DELIVERY_BASE,
                admin=admin,
            )
        )
        return path

    config_path = write(tmp_path / "proxy.yaml", port)
    log_path = tmp_path / "proxy.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "rewriteproxy", "serve", "--config", str(config_path)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
    running = Proxy(process, port, config_path, write, admin)
    try:
        wait_until(lambda: running.get("/")[0] == 200, "the proxy")
        yield running
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        print(log_path.read_text(errors="replace")[-4000:])  # shown with a failing test's output


# --- HTTP as the site's clients speak it ---------------------------------------------


@dataclass(frozen=True)
class Answer:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def request(
    port: int,
    method: str,
    path: str,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
) -> Answer:
    """One request to 127.0.0.1:port with Host: wp.test, as a client of the public site sends it."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request(method, path, body=body, headers={"Host": "wp.test", **(headers or {})})
        response = conn.getresponse()
        return Answer(response.status, response.headers, response.read())
    finally:
        conn.close()


def nginx_port(site: Site) -> int:
    port = urllib.parse.urlsplit(site.base_url).port
    assert port is not None
    return port


@dataclass(frozen=True)
class Login:
    """The cookies a browser keeps after logging in: (name, value, path)."""

    cookies: tuple[tuple[str, str, str], ...]

    def names(self) -> set[str]:
        return {name for name, _, _ in self.cookies}

    def cookie_header(self, path: str) -> str:
        """What a browser sends for ``path``: the cookies whose Path is a prefix of it."""
        return "; ".join(f"{n}={v}" for n, v, p in self.cookies if path.startswith(p))


def log_in(site: Site, port: int) -> Login:
    form = urllib.parse.urlencode(
        {
            "log": site.admin_user,
            "pwd": site.admin_password,
            "testcookie": "1",
            "redirect_to": "/wp-admin/",
        }
    )
    answer = request(
        port,
        "POST",
        "/wp-login.php",
        {
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": "wordpress_test_cookie=WP%20Cookie%20check",
        },
        form.encode(),
    )
    assert answer.status == 302, answer.body[:500]
    cookies = []
    for line in answer.headers.get_all("Set-Cookie") or []:
        for name, morsel in http.cookies.SimpleCookie(line).items():
            if morsel["max-age"] != "0" and morsel.value.strip(" +"):
                cookies.append((name, morsel.value, morsel["path"] or "/"))
    return Login(tuple(cookies))


def rest_nonce(login: Login, port: int) -> str:
    """A wp_rest nonce, from the endpoint the block editor renews its own from."""
    path = "/wp-admin/admin-ajax.php?action=rest-nonce"
    answer = request(port, "GET", path, {"Cookie": login.cookie_header(path)})
    assert answer.status == 200, answer.body[:500]
    nonce = answer.body.decode().strip()
    assert re.fullmatch(r"[0-9a-f]{10}", nonce), nonce
    return nonce


def basic_auth(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@pytest.fixture(scope="module")
def application_password(site: Site) -> dict[str, str]:
    """Basic auth headers with an application password of the administrator."""
    return basic_auth(site.admin_user, site.create_application_password("write-safety"))


def rest_path(post: dict[str, Any]) -> str:
    route = {"post": "posts", "page": "pages"}[post["type"]]
    return f"/wp-json/wp/v2/{route}/{post['id']}"


def rest_round_trip(port: int, post: dict[str, Any], auth: dict[str, str]) -> dict[str, Any]:
    """Read a post for editing and save title, content and excerpt back unchanged; the read."""
    path = rest_path(post)
    read = request(port, "GET", path + "?context=edit", auth)
    assert read.status == 200, read.body[:500]
    edited: dict[str, Any] = read.json()
    unchanged = {key: edited[key]["raw"] for key in ("title", "content", "excerpt")}
    saved = request(
        port,
        "POST",
        path,
        {**auth, "Content-Type": "application/json"},
        json.dumps(unchanged).encode(),
    )
    assert saved.status == 200, saved.body[:500]
    return edited


class _LoopbackConnection(http.client.HTTPConnection):
    """Names wp.test in the Host header but connects to 127.0.0.1 on a port of ours."""

    def __init__(self, port: int, timeout: float = 60) -> None:
        super().__init__("wp.test", timeout=timeout)
        self.loopback_port = port

    def connect(self) -> None:
        self.sock = socket.create_connection(("127.0.0.1", self.loopback_port), self.timeout)


class _LoopbackTransport(xmlrpc.client.Transport):
    def __init__(self, port: int) -> None:
        super().__init__()
        self.port = port

    def make_connection(self, host: Any) -> http.client.HTTPConnection:
        if self._connection[1] is None:
            self._connection = host, _LoopbackConnection(self.port)
        return self._connection[1]


@contextlib.contextmanager
def xmlrpc_client(port: int) -> Iterator[xmlrpc.client.ServerProxy]:
    """The stdlib's XML-RPC client for http://wp.test/xmlrpc.php, reaching it on ``port``."""
    with xmlrpc.client.ServerProxy(
        "http://wp.test/xmlrpc.php", transport=_LoopbackTransport(port)
    ) as client:
        yield client


def xmlrpc_round_trip(site: Site, port: int, post_id: int) -> str:
    """``wp.getPost`` then ``wp.editPost`` with the same content, as desktop editors do; the read."""
    with xmlrpc_client(port) as client:
        got = client.wp.getPost(0, site.admin_user, site.admin_password, post_id)
        content: str = got["post_content"]
        assert client.wp.editPost(
            0, site.admin_user, site.admin_password, post_id, {"post_content": content}
        )
    return content


# --- the search can fail, and the proxy is at work -----------------------------------


def test_the_database_search_finds_a_delivery_url_planted_in_any_text_column(site, proxy):
    status, body = proxy.get(urllib.parse.urlsplit(site.content["posts"]["everything"]["url"]).path)
    assert status == 200
    delivered = DELIVERED_URL.search(body.decode())
    assert delivered, "the proxy wrote no delivery URL to plant"
    assert_no_delivery_url_stored(site)

    columns = site.sql(
        "SELECT TABLE_NAME AS tbl, COLUMN_NAME AS col FROM information_schema.COLUMNS"
        " WHERE TABLE_SCHEMA = 'wordpress' AND TABLE_NAME IN ('wp_posts', 'wp_postmeta')"
        " AND DATA_TYPE IN ('char', 'varchar', 'tinytext', 'text', 'mediumtext', 'longtext')"
        f" AND CHARACTER_MAXIMUM_LENGTH >= {len(delivered[0])};"
    )
    planted = {(c["tbl"], c["col"]) for c in columns}
    assert {
        ("wp_posts", "post_content"),
        ("wp_posts", "guid"),
        ("wp_postmeta", "meta_value"),
    } <= planted
    post_id = site.content["posts"]["gallery"]["id"]  # it has post meta: its featured image
    url = wordpress_harness.sql_literal(delivered[0])
    for table, column in sorted(planted):
        key = "ID" if table == "wp_posts" else "post_id"
        site.sql(f"UPDATE {table} SET `{column}` = {url} WHERE {key} = {post_id};")

    hits = site.rows_containing(DELIVERY_HOST, SWEPT)
    assert {(h["table"], h["column"]) for h in hits} == planted


def test_an_anonymous_page_view_through_the_proxy_is_rewritten(site, proxy):
    path = urllib.parse.urlsplit(site.content["posts"]["everything"]["url"]).path
    direct = site.get(path)
    status, body = proxy.get(path)
    assert status == direct.status == 200
    assert LOCAL.encode() in direct.body
    assert DELIVERY_BASE.encode() in body
    assert LOCAL.encode() not in body


# --- REST ---------------------------------------------------------------------------


def test_a_rest_client_with_an_application_password_saves_back_local_urls(
    site, proxy, application_password
):
    post = site.content["posts"]["everything"]
    edited = rest_round_trip(proxy.port, post, application_password)

    assert_no_delivery_url_stored(site)
    raw = edited["content"]["raw"]
    assert LOCAL in raw
    assert DELIVERY_HOST not in raw


def test_a_rest_client_with_a_nonce_saves_back_local_urls(site, proxy, cookie_names):
    login = log_in(site, proxy.port)
    assert any(name.startswith(cookie_names) for name in login.names()), login.names()
    post = site.content["posts"]["gallery"]
    auth = {
        "X-WP-Nonce": rest_nonce(login, proxy.port),
        "Cookie": login.cookie_header(rest_path(post)),
    }
    edited = rest_round_trip(proxy.port, post, auth)

    assert_no_delivery_url_stored(site)
    raw = edited["content"]["raw"]
    assert LOCAL in raw
    assert DELIVERY_HOST not in raw


def test_an_edit_context_read_without_credentials_gets_wordpress_s_own_refusal(site, proxy):
    path = rest_path(site.content["posts"]["everything"]) + "?context=edit"
    direct = request(nginx_port(site), "GET", path)
    through = request(proxy.port, "GET", path)
    assert through.status == direct.status == 401
    assert through.json()["code"] == "rest_forbidden_context"
    assert through.body == direct.body
    assert DELIVERY_HOST.encode() not in through.body


def test_attachment_guids_in_the_rest_api_stay_local(site, proxy):
    # A guid is an identifier that clients (importers, sync tools) store as it is.
    path = "/wp-json/wp/v2/media?per_page=100"
    direct = {m["id"]: m for m in json.loads(site.get(path).body)}
    status, body = proxy.get(path)
    assert status == 200
    through = {m["id"]: m for m in json.loads(body)}
    assert through.keys() == direct.keys()
    for key, media in through.items():
        assert media["source_url"].startswith(DELIVERY_BASE), media["source_url"]
        assert media["guid"] == direct[key]["guid"], key
        assert media["guid"]["rendered"].startswith(LOCAL)


# --- XML-RPC --------------------------------------------------------------------------


def test_an_xmlrpc_client_saves_back_local_urls(site, proxy):
    content = xmlrpc_round_trip(site, proxy.port, site.content["posts"]["classic"]["id"])

    assert_no_delivery_url_stored(site)
    assert LOCAL in content
    assert DELIVERY_HOST not in content


# --- the block editor in Chromium -----------------------------------------------------


def post_with_a_reusable_block(site: Site, auth: dict[str, str]) -> tuple[int, int]:
    """A new post: a paragraph of its own, then a reusable block holding image blocks.

    The editor takes the post from data preloaded into its admin page, but fetches
    the reusable block (post type wp_block) from the REST API with ``context=edit``
    and saves it back there when it changed. Made straight on WordPress (not through
    the proxy), from the seeded image-block post's markup; (post id, block id).
    """
    port = nginx_port(site)
    auth = {**auth, "Content-Type": "application/json"}
    source = request(
        port, "GET", rest_path(site.content["posts"]["image-block"]) + "?context=edit", auth
    )
    assert source.status == 200, source.body[:500]
    images = source.json()["content"]["raw"]
    assert LOCAL in images
    block = request(
        port,
        "POST",
        "/wp-json/wp/v2/blocks",
        auth,
        json.dumps({"title": "Images", "content": images, "status": "publish"}).encode(),
    )
    assert block.status == 201, block.body[:500]
    block_id = block.json()["id"]
    content = (
        "<!-- wp:paragraph -->\n<p>A paragraph of the post itself.</p>\n<!-- /wp:paragraph -->"
        f'\n\n<!-- wp:block {{"ref":{block_id}}} /-->'
    )
    made = request(
        port,
        "POST",
        "/wp-json/wp/v2/posts",
        auth,
        json.dumps({"title": "A reusable block", "content": content, "status": "publish"}).encode(),
    )
    assert made.status == 201, made.body[:500]
    return made.json()["id"], block_id


@pytest.mark.browser
async def test_saving_in_the_block_editor_stores_no_delivery_url(
    site, proxy, cookie_names, application_password
):
    require_chromium()
    from playwright.async_api import async_playwright

    post_id, block_id = post_with_a_reusable_block(site, application_password)
    edit_url = f"http://wp.test/wp-admin/post.php?post={post_id}&action=edit"
    own_marker, shared_marker = "Edited in the post.", "Edited in the reusable block."
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=[*ARGS, *proxy.chromium_args]
        )
        page = await browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(60_000)
        try:
            await page.goto("http://wp.test/wp-login.php")
            await page.fill("#user_login", site.admin_user)
            await page.fill("#user_pass", site.admin_password)
            async with page.expect_navigation():
                await page.click("#wp-submit")
            assert any(c["name"].startswith(cookie_names) for c in await page.context.cookies())
            await page.goto(edit_url, wait_until="load")
            paragraph = '[data-type="core/paragraph"]'
            own = page.locator(paragraph).first
            reusable = page.locator('[data-type="core/block"]')
            shared = reusable.locator(paragraph).first
            await shared.wait_for()
            await page.wait_for_load_state("networkidle")
            guide = page.locator(".edit-post-welcome-guide")
            if await guide.count():  # shown on a user's first visit to the editor
                await guide.get_by_role("button", name="Close dialog").click()
                await guide.wait_for(state="detached")

            await own.click()
            await page.keyboard.press("End")
            await page.keyboard.type(" " + own_marker)
            # A reusable block is behind an overlay until selected; then its text is editable.
            await reusable.click(position={"x": 20, "y": 10})
            await reusable.locator(f'{paragraph}[contenteditable="true"]').first.click()
            await page.keyboard.press("End")
            await page.keyboard.type(" " + shared_marker)
            # With the reusable block changed too, Update asks which changes to save.
            await page.locator(".editor-post-publish-button").click()
            async with (
                page.expect_response(
                    lambda r: f"/wp/v2/blocks/{block_id}" in r.url and r.request.method == "POST"
                ) as block_saved,
                page.expect_response(
                    lambda r: f"/wp/v2/posts/{post_id}" in r.url and r.request.method == "POST"
                ) as post_saved,
            ):
                await page.locator(".editor-entities-saved-states__save-button").click()
            for saved in (await block_saved.value, await post_saved.value):
                assert saved.status == 200, await saved.text()
            await page.wait_for_load_state("networkidle")
        except BaseException:
            ARTIFACTS.mkdir(exist_ok=True)
            await page.screenshot(path=str(ARTIFACTS / f"write-safety-editor-{cookie_names}.png"))
            raise
        finally:
            await browser.close()

    stored = {
        row["ID"]: row["post_content"] or ""
        for row in site.sql(
            f"SELECT ID, post_content FROM wp_posts WHERE ID IN ({post_id}, {block_id});"
        )
    }
    assert own_marker in stored[str(post_id)], "the post's save did not arrive"
    assert shared_marker in stored[str(block_id)], "the reusable block's save did not arrive"
    assert_no_delivery_url_stored(site)


# --- switched off, nothing of the proxy is left -----------------------------------------


def test_switched_off_after_every_kind_of_save_the_site_is_wordpress_s_own(
    site, proxy, application_password
):
    posts = site.content["posts"]
    for post in posts.values():
        rest_round_trip(proxy.port, post, application_password)
    login = log_in(site, proxy.port)
    nonce = rest_nonce(login, proxy.port)
    cookie = login.cookie_header(rest_path(posts["cover"]))
    rest_round_trip(proxy.port, posts["cover"], {"X-WP-Nonce": nonce, "Cookie": cookie})
    xmlrpc_round_trip(site, proxy.port, posts["media-text"]["id"])

    proxy.reload(enabled="false")
    assert proxy.metric("rewriteproxy_enabled") == 0
    paths = [
        "/",
        *(urllib.parse.urlsplit(p["url"]).path for p in posts.values()),
        "/wp-json/wp/v2/posts?per_page=100",
        "/wp-json/wp/v2/media?per_page=100",
        "/feed/",
    ]
    stored_elsewhere = []
    for path in paths:
        direct = site.get(path)
        status, body = proxy.get(path)
        assert status == direct.status == 200, path
        assert body == direct.body, path
        assert any(form in direct.body for form in LOCAL_FORMS), path
        if DELIVERY_HOST.encode() in direct.body:
            stored_elsewhere.append(path)
    assert not stored_elsewhere, "WordPress itself serves delivery URLs on " + ", ".join(
        stored_elsewhere
    )
    assert_no_delivery_url_stored(site)
