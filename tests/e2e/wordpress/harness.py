"""A real WordPress 6.1 on loopback, from Debian's packages, for end-to-end tests.

Purpose: start a private MariaDB, php-fpm and nginx in a temporary directory, point
Debian's WordPress at them, install and seed the site through WordPress's own PHP
API (seed.php) and hand back where it is. ``stop()`` ends the three processes and
removes everything the harness made.

    with WordPress() as site:
        site.url("/")               # http://127.0.0.1:PORT/ : where to connect
        site.public_url             # http://wp.test : what WordPress writes in pages
        site.uploads_dir            # the uploads folder on disk
        site.sql("SELECT ...")      # rows straight from its MariaDB

Layout and choices:
- Debian's /usr/share/wordpress/wp-config.php includes
  /etc/wordpress/config-<name>.php, where <name> is the WORDPRESS_CONFIG server
  variable when it is set (else the request's host). The harness writes one such
  file with a unique name and passes the name as a FastCGI parameter from nginx
  and as an environment variable to php-cli. That file is the only thing written
  outside the temporary directory; ``stop()`` removes it.
- WordPress's public address is fixed by WP_HOME/WP_SITEURL (default
  ``http://wp.test``, no port), not taken from requests, so pages name the same
  host whatever port nginx got; this is also what makes captured fixtures stable.
  Clients connect to 127.0.0.1:PORT and should send ``Host: wp.test``
  (``site.headers``), as a reverse proxy in front of the site would.
- WP_CONTENT_DIR is a wp-content folder in the temporary directory (uploads, plus
  symlinks to the themes Debian installs under /usr/share/wordpress/wp-content);
  nginx serves /wp-content/ from it, as Debian's README asks of a web server.
- Processes run as root (the harness needs root for /etc/wordpress anyway);
  MariaDB listens on a Unix socket only, php-fpm on a Unix socket, nginx on
  127.0.0.1 and a free port. Outbound HTTP from WordPress is blocked and WP-cron
  is off, so nothing leaves the machine.

Helpers for tests that write through WordPress and look at what it stored:
``Site.sql`` runs SQL with the mariadb client (rows as dicts of strings),
``Site.rows_containing`` finds a string in every text column of some tables,
``Site.create_application_password`` makes an application password through
WordPress's PHP API and ``Site.mu_plugin`` puts a must-use plugin in place for a
while. WordPress 6.1 offers application passwords only over https or where
``wp_get_environment_type()`` is ``local``: start the site with
``constants={"WP_ENVIRONMENT_TYPE": "local"}`` to use them over plain http.

Limits: Linux, root and Debian bookworm's package layout; the port is picked by
binding port 0 and closing it, so another process could take it in between.
"""

from __future__ import annotations

import atexit
import contextlib
import http.client
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SEED = HERE / "seed.php"
NETWORK = HERE / "network.php"
INSTALL_SCRIPT = HERE / "install-packages.sh"

WORDPRESS_ROOT = Path("/usr/share/wordpress")
DEBIAN_THEMES = WORDPRESS_ROOT / "wp-content" / "themes"
CONFIG_DIR = Path("/etc/wordpress")
DEFAULT_PUBLIC_URL = "http://wp.test"
CLASSIC_THEME = "twentytwentyone"
BLOCK_THEME = "twentytwentythree"
THEMES = (CLASSIC_THEME, BLOCK_THEME)
ADMIN_USER = "admin"

# Program → the Debian package that provides it (install-packages.sh installs them).
PROGRAMS = {
    "/usr/sbin/mariadbd": "mariadb-server",
    "/usr/bin/mariadb-install-db": "mariadb-server",
    "/usr/bin/mariadb": "mariadb-client",
    "/usr/sbin/php-fpm8.2": "php8.2-fpm",
    "/usr/bin/php8.2": "php8.2-cli",
    "/usr/sbin/nginx": "nginx",
    "/usr/bin/ffmpeg": "ffmpeg",
    str(WORDPRESS_ROOT / "wp-config.php"): "wordpress",
    str(DEBIAN_THEMES / CLASSIC_THEME / "style.css"): "wordpress-theme-twentytwentyone",
    str(DEBIAN_THEMES / BLOCK_THEME / "style.css"): "wordpress-theme-twentytwentythree",
}
PHP_EXTENSIONS = {
    "gd": "php8.2-gd",
    "mysqli": "php8.2-mysql",
    "SimpleXML": "php8.2-xml",
    "mbstring": "php8.2-mbstring",
}

START_TIMEOUT = 60.0

# nginx compresses HTML by default once gzip is on; the rest of WordPress's text types:
GZIP = (
    "gzip on; gzip_types text/css application/javascript application/json"
    " application/rss+xml application/xml text/xml image/svg+xml;"
)


class HarnessError(RuntimeError):
    """A part of the site did not start or the seed script failed; the message says which."""


def missing_requirements() -> list[str]:
    """What keeps the harness from running here, as readable reasons (empty when nothing)."""
    reasons = []
    if os.geteuid() != 0:
        reasons.append("not root (the site config goes to /etc/wordpress)")
    missing = sorted({pkg for path, pkg in PROGRAMS.items() if not Path(path).exists()})
    if not missing and os.path.exists("/usr/bin/php8.2"):
        loaded = subprocess.run(
            ["/usr/bin/php8.2", "-m"], capture_output=True, text=True, check=False
        ).stdout.split()
        missing = [pkg for ext, pkg in PHP_EXTENSIONS.items() if ext not in loaded]
    if missing:
        reasons.append(
            "Debian packages missing: " + " ".join(missing) + f" (run {INSTALL_SCRIPT.name})"
        )
    return reasons


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]  # last value of each header, names in lower case
    body: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")


@dataclass(frozen=True)
class Site:
    """A running, seeded WordPress: where it is and what was put in it."""

    base_url: str  # where to connect, e.g. http://127.0.0.1:PORT
    public_url: str  # WP_HOME: the address WordPress writes into its pages
    uploads_dir: Path
    admin_user: str
    admin_password: str
    theme: str
    content: dict[str, Any] = field(repr=False)  # seed.php's report: attachments, posts
    config_name: str = field(repr=False)  # WORDPRESS_CONFIG: which /etc/wordpress file
    database_socket: Path = field(repr=False)  # MariaDB's Unix socket (database "wordpress")

    @property
    def host(self) -> str:
        """The Host header a reverse proxy would send: the public URL's host (and port)."""
        return urllib.parse.urlsplit(self.public_url).netloc

    @property
    def headers(self) -> dict[str, str]:
        return {"Host": self.host}

    @property
    def uploads_url(self) -> str:
        return self.public_url + "/wp-content/uploads"

    def get(self, path: str, headers: dict[str, str] | None = None) -> Response:
        """GET a path from nginx with the public Host header (``headers`` may override it).

        No redirects are followed and no content coding is asked for: the answer is
        exactly what WordPress sent.
        """
        port = urllib.parse.urlsplit(self.base_url).port
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        try:
            conn.request("GET", path, headers={**self.headers, **(headers or {})})
            resp = conn.getresponse()
            return Response(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())
        finally:
            conn.close()

    def url(self, path: str) -> str:
        """The loopback URL of a path, or of a public URL of this site."""
        if path.startswith(self.public_url):
            path = path[len(self.public_url) :]
        return self.base_url + path

    @property
    def content_dir(self) -> Path:
        """WP_CONTENT_DIR: uploads, plugins, themes and mu-plugins live here."""
        return self.uploads_dir.parent

    def sql(self, statements: str) -> list[dict[str, str | None]]:
        """Run SQL on the site's database with the mariadb client; the rows of every result.

        Each row maps column names to values as text (``None`` for NULL). The client's
        XML output is read, so values may hold tabs, newlines or any other text.
        Straight to the database, not through WordPress: what is stored, not what
        WordPress makes of it. Raises HarnessError with the client's message on error.
        """
        done = subprocess.run(
            [
                "/usr/bin/mariadb",
                f"--socket={self.database_socket}",
                "-uroot",
                "--xml",
                "--default-character-set=utf8mb4",
                "wordpress",
            ],
            input=statements.encode(),
            capture_output=True,
            check=False,
        )
        if done.returncode != 0:
            raise HarnessError(f"SQL failed: {done.stderr.decode(errors='replace')}")
        rows: list[dict[str, str | None]] = []
        # One XML document per statement that returns rows.
        for document in done.stdout.split(b"<?xml")[1:]:
            for row in ET.fromstring(b"<?xml" + document).iter("row"):
                rows.append({f.attrib["name"]: _field_value(f) for f in row.iter("field")})
        return rows

    def rows_containing(
        self, text: str, tables: tuple[str, ...] = ("wp_posts", "wp_postmeta")
    ) -> list[dict[str, str | None]]:
        """Every (table, key, column) of ``tables`` whose value holds ``text``, with the value.

        All columns of a text type are searched, found in information_schema, so a
        column added later is searched too; the match ignores case (the tables'
        collation). ``key`` is the row's primary key (ID, meta_id, option_id...).
        """
        columns = self.sql(
            "SELECT c.TABLE_NAME AS tbl, c.COLUMN_NAME AS col,"
            " (SELECT k.COLUMN_NAME FROM information_schema.COLUMNS k"
            "  WHERE k.TABLE_SCHEMA = c.TABLE_SCHEMA AND k.TABLE_NAME = c.TABLE_NAME"
            "  AND k.COLUMN_KEY = 'PRI' LIMIT 1) AS pk"
            " FROM information_schema.COLUMNS c WHERE c.TABLE_SCHEMA = 'wordpress'"
            f" AND c.TABLE_NAME IN ({', '.join(sql_literal(t) for t in tables)})"
            " AND c.DATA_TYPE IN ('char', 'varchar', 'tinytext', 'text', 'mediumtext', 'longtext')"
            " ORDER BY c.TABLE_NAME, c.ORDINAL_POSITION;"
        )
        if {c["tbl"] for c in columns} != set(tables):
            raise HarnessError(f"not all of {tables} exist: {columns}")
        selects = [
            f"SELECT {sql_literal(c['tbl'] or '')} AS `table`, `{c['pk']}` AS `key`,"
            f" {sql_literal(c['col'] or '')} AS `column`, `{c['col']}` AS `value`"
            f" FROM `{c['tbl']}` WHERE INSTR(`{c['col']}`, {sql_literal(text)}) > 0"
            for c in columns
        ]
        return self.sql(" UNION ALL ".join(selects) + ";")

    def create_application_password(self, name: str, user: str = ADMIN_USER) -> str:
        """A new application password for ``user``, made by WP_Application_Passwords.

        The site must offer application passwords (see the module docstring); the
        password is what WordPress shows once, to be sent with HTTP Basic auth.
        """
        return _run_seed(self.config_name, self.public_url, "application-password", user, name)

    @contextlib.contextmanager
    def mu_plugin(self, name: str, source: str) -> Iterator[Path]:
        """A must-use plugin ``<name>.php`` (PHP source) that WordPress loads until the block ends.

        Must-use plugins load before wp_cookie_constants(), so one can, for instance,
        rename the login cookies.
        """
        folder = self.content_dir / "mu-plugins"
        folder.mkdir(exist_ok=True)
        path = folder / f"{name}.php"
        path.write_text(source)
        try:
            yield path
        finally:
            path.unlink()


def sql_literal(value: str) -> str:
    """``value`` as a quoted MariaDB string literal."""
    return _single_quoted(value)


def _field_value(element: ET.Element) -> str | None:
    if element.attrib.get("{http://www.w3.org/2001/XMLSchema-instance}nil") == "true":
        return None
    return element.text or ""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _wait_for(check: Any, what: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if check():
            return
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
    raise HarnessError(f"{what} did not start (exit {proc.poll()}):\n{tail}")


def _connectable(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
        return True
    return False


def _single_quoted(value: str) -> str:
    # One quoting for both: PHP and MariaDB read a backslash-escaped backslash and quote.
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class WordPress:
    """Starts, seeds and stops one private WordPress. Also a context manager yielding a Site."""

    def __init__(
        self,
        public_url: str = DEFAULT_PUBLIC_URL,
        theme: str = CLASSIC_THEME,
        gzip: bool = False,
        constants: Mapping[str, str] | None = None,
    ) -> None:
        """``gzip``: nginx compresses text responses when asked, as most hosts do.

        ``constants``: more PHP constants for the site config, as a host's
        wp-config.php would define them (e.g. ``WP_ENVIRONMENT_TYPE``).
        """
        self.public_url = public_url.rstrip("/")
        self.theme = theme
        self.gzip = gzip
        self.constants = dict(constants or {})
        self.config_name = f"rewriteproxy-test-{os.getpid()}-{secrets.token_hex(4)}"
        self.admin_password = secrets.token_urlsafe(12)
        self.tmp: Path | None = None
        self.procs: list[subprocess.Popen[bytes]] = []
        self.site: Site | None = None

    @property
    def config_file(self) -> Path:
        return CONFIG_DIR / f"config-{self.config_name}.php"

    def __enter__(self) -> Site:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- start ---------------------------------------------------------------

    def start(self) -> Site:
        reasons = missing_requirements()
        if reasons:
            raise HarnessError("; ".join(reasons))
        self.tmp = Path(tempfile.mkdtemp(prefix="rewriteproxy-wp-"))
        # If the caller never reaches stop() (an uncaught error), clean up at exit.
        atexit.register(self.stop)
        try:
            self._start_mariadb()
            self._write_wordpress_config()
            self._start_php_fpm()
            port = self._start_nginx()
            self._php("install", self.admin_password, self.theme)
            report = json.loads(self._php("content", "/usr/bin/ffmpeg").splitlines()[-1])
        except BaseException:
            self.stop()
            raise
        self.site = Site(
            base_url=f"http://127.0.0.1:{port}",
            public_url=self.public_url,
            uploads_dir=self.tmp / "wp-content" / "uploads",
            admin_user=ADMIN_USER,
            admin_password=self.admin_password,
            theme=self.theme,
            content=report,
            config_name=self.config_name,
            database_socket=self.tmp / "mysqld.sock",
        )
        return self.site

    def _spawn(self, argv: list[str], log: Path) -> subprocess.Popen[bytes]:
        with log.open("ab") as out:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C in the test run is handled by stop()
            )
        self.procs.append(proc)
        return proc

    def _start_mariadb(self) -> None:
        assert self.tmp is not None
        datadir, sock, log = self.tmp / "db", self.tmp / "mysqld.sock", self.tmp / "mariadb.log"
        subprocess.run(
            [
                "/usr/bin/mariadb-install-db",
                "--no-defaults",
                f"--datadir={datadir}",
                "--user=root",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            check=True,
        )
        proc = self._spawn(
            [
                "/usr/sbin/mariadbd",
                "--no-defaults",
                f"--datadir={datadir}",
                f"--socket={sock}",
                f"--pid-file={self.tmp / 'mysqld.pid'}",
                "--skip-networking",
                "--user=root",
                "--innodb-buffer-pool-size=64M",
                # A throwaway database: durability costs time and buys nothing.
                "--innodb-flush-log-at-trx-commit=0",
                "--skip-log-bin",
            ],
            log,
        )

        def ready() -> bool:
            if not sock.exists():
                return False
            done = subprocess.run(
                [
                    "/usr/bin/mariadb",
                    f"--socket={sock}",
                    "-uroot",
                    "-e",
                    "CREATE DATABASE IF NOT EXISTS wordpress CHARACTER SET utf8mb4",
                ],
                capture_output=True,
                check=False,
            )
            return done.returncode == 0

        _wait_for(ready, "MariaDB", proc, log)

    def _write_wordpress_config(self) -> None:
        assert self.tmp is not None
        content = self.tmp / "wp-content"
        (content / "uploads").mkdir(parents=True)
        (content / "plugins").mkdir()
        (content / "themes").mkdir()
        for theme in THEMES:
            (content / "themes" / theme).symlink_to(DEBIAN_THEMES / theme)
        values = {
            "DB_NAME": "wordpress",
            "DB_USER": "root",
            "DB_PASSWORD": "",
            "DB_HOST": f"localhost:{self.tmp / 'mysqld.sock'}",
            "WP_HOME": self.public_url,
            "WP_SITEURL": self.public_url,
            "WP_CONTENT_DIR": str(content),
            "WP_CONTENT_URL": self.public_url + "/wp-content",
            "FS_METHOD": "direct",
            **self.constants,
        }
        for key in ("AUTH", "SECURE_AUTH", "LOGGED_IN", "NONCE"):
            values[f"{key}_KEY"] = secrets.token_hex(32)
            values[f"{key}_SALT"] = secrets.token_hex(32)
        lines = ["<?php", "// Written by the rewriteproxy test harness; removed when it stops."]
        lines += [f"define('{k}', {_single_quoted(v)});" for k, v in values.items()]
        lines += [
            # Nothing may leave the machine: no update checks, no cron loopback.
            "define('WP_HTTP_BLOCK_EXTERNAL', true);",
            "define('DISABLE_WP_CRON', true);",
            "define('AUTOMATIC_UPDATER_DISABLED', true);",
            "define('WP_DEBUG', false);",
        ]
        CONFIG_DIR.mkdir(exist_ok=True)
        self.config_file.write_text("\n".join(lines) + "\n")

    def _start_php_fpm(self) -> None:
        assert self.tmp is not None
        sock, log = self.tmp / "php-fpm.sock", self.tmp / "php-fpm.log"
        conf = self.tmp / "php-fpm.conf"
        conf.write_text(
            f"""[global]
pid = {self.tmp / "php-fpm.pid"}
error_log = {log}
daemonize = no

[wordpress]
user = root
group = root
listen = {sock}
pm = static
pm.max_children = 2
catch_workers_output = yes
php_admin_value[memory_limit] = 256M
php_admin_value[upload_max_filesize] = 64M
php_admin_value[post_max_size] = 64M
"""
        )
        proc = self._spawn(["/usr/sbin/php-fpm8.2", "--nodaemonize", "-R", "-y", str(conf)], log)
        _wait_for(sock.exists, "php-fpm", proc, log)

    def _start_nginx(self) -> int:
        assert self.tmp is not None
        port = free_port()
        log = self.tmp / "nginx-error.log"
        for d in ("body", "fastcgi", "proxy", "uwsgi", "scgi"):
            (self.tmp / "nginx" / d).mkdir(parents=True)
        conf = self.tmp / "nginx.conf"
        conf.write_text(
            f"""daemon off;
user root;
worker_processes 1;
pid {self.tmp / "nginx.pid"};
error_log {log};
events {{ worker_connections 256; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log {self.tmp / "nginx-access.log"};
    client_body_temp_path {self.tmp / "nginx/body"};
    fastcgi_temp_path {self.tmp / "nginx/fastcgi"};
    proxy_temp_path {self.tmp / "nginx/proxy"};
    uwsgi_temp_path {self.tmp / "nginx/uwsgi"};
    scgi_temp_path {self.tmp / "nginx/scgi"};
    client_max_body_size 64m;
    {GZIP if self.gzip else ""}
    server {{
        listen 127.0.0.1:{port};
        server_name _;
        root {WORDPRESS_ROOT};
        index index.php;
        location /wp-content/ {{
            alias {self.tmp / "wp-content"}/;
            location ~ \\.php$ {{ return 403; }}
        }}
        location / {{
            try_files $uri $uri/ /index.php?$args;
        }}
        location ~ \\.php$ {{
            try_files $uri =404;
            include /etc/nginx/fastcgi_params;
            fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;
            # Debian's fastcgi_params pass HTTP_HOST as $host, which drops the
            # port: WordPress would then redirect every request to a public URL
            # with a port. The raw header is fine on loopback (last value wins).
            fastcgi_param HTTP_HOST $http_host;
            fastcgi_param WORDPRESS_CONFIG {self.config_name};
            fastcgi_pass unix:{self.tmp / "php-fpm.sock"};
        }}
    }}
}}
"""
        )
        proc = self._spawn(
            ["/usr/sbin/nginx", "-p", str(self.tmp), "-c", str(conf), "-e", str(log)], log
        )
        _wait_for(lambda: _connectable(port), "nginx", proc, log)
        return port

    def _php(self, *args: str) -> str:
        """Run seed.php with arguments under php-cli, as this site; return its stdout."""
        return _run_seed(self.config_name, self.public_url, *args)

    # --- while running ---------------------------------------------------------

    def set_theme(self, theme: str) -> Site:
        """Switch the active theme (sub-sizes already made stay as they are)."""
        assert self.site is not None, "start() first"
        self._php("theme", theme)
        self.theme = theme
        self.site = Site(**{**self.site.__dict__, "theme": theme})
        return self.site

    def make_network(self, subdomains: Sequence[str]) -> list[dict[str, Any]]:
        """Make the running site a subdomain multisite network (network.php) with one more
        site per name, at ``<name>.<host>``, each with one image (uploads/sites/<id>/) and a
        post showing it; returns network.php's report of each (blog_id, post_url,
        image_url, upload_dir).

        After "network" the config gets the constants Network Setup asks for, and loses
        WP_CONTENT_URL, which would put every site's uploads on the main site's host
        (WordPress derives it from each site's own URL when it is not set).
        """
        assert self.site is not None, "start() first"
        host = self.site.host
        _run_seed(self.config_name, self.public_url, "network", host, script=NETWORK)
        lines = [
            line
            for line in self.config_file.read_text().splitlines()
            if not line.startswith("define('WP_CONTENT_URL',")
        ]
        lines += [
            "define('MULTISITE', true);",
            "define('SUBDOMAIN_INSTALL', true);",
            f"define('DOMAIN_CURRENT_SITE', {_single_quoted(host)});",
            "define('PATH_CURRENT_SITE', '/');",
            "define('SITE_ID_CURRENT_SITE', 1);",
            "define('BLOG_ID_CURRENT_SITE', 1);",
        ]
        self.config_file.write_text("\n".join(lines) + "\n")
        reports = []
        for name in subdomains:
            domain = f"{name}.{host}"
            _run_seed(self.config_name, self.public_url, "create", domain, name, script=NETWORK)
            out = _run_seed(self.config_name, f"http://{domain}", "image", name, script=NETWORK)
            reports.append(json.loads(out.splitlines()[-1]))
        return reports

    # --- stop ------------------------------------------------------------------

    def stop(self) -> None:
        """End the processes (newest first), remove the config file and the temporary directory."""
        for proc in reversed(self.procs):
            if proc.poll() is None:
                # SIGTERM: a fast stop for nginx and php-fpm, a clean shutdown for MariaDB.
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        self.procs.clear()
        with contextlib.suppress(FileNotFoundError):
            self.config_file.unlink()
        if self.tmp is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = None
        self.site = None
        atexit.unregister(self.stop)


def _run_seed(config_name: str, public_url: str, *args: str, script: Path = SEED) -> str:
    """Run seed.php (or ``script``) with arguments under php-cli, as the site of that config
    at ``public_url`` (its host picks the site of a network); its stdout."""
    env = dict(
        os.environ,
        WORDPRESS_CONFIG=config_name,
        HTTP_HOST=urllib.parse.urlsplit(public_url).netloc,
    )
    done = subprocess.run(
        [
            "/usr/bin/php8.2",
            "-d",
            "display_errors=stderr",
            "-d",
            "memory_limit=512M",
            str(script),
            *args,
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise HarnessError(
            f"{script.name} {args[0]} failed ({done.returncode}):\n{done.stderr[-3000:]}"
        )
    return done.stdout


def main() -> int:
    """Run a site until interrupted: ``python harness.py [PUBLIC_URL] [THEME]``."""
    public_url = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_PUBLIC_URL
    theme = sys.argv[2] if len(sys.argv) > 2 else CLASSIC_THEME
    started = time.monotonic()

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    # A shell's background job ignores SIGINT; take both signals explicitly.
    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)
    with WordPress(public_url, theme) as site:
        print(
            f"WordPress up in {time.monotonic() - started:.1f}s at {site.base_url}"
            f" (Host: {site.host}); uploads in {site.uploads_dir};"
            f" admin {site.admin_user} / {site.admin_password}",
            flush=True,
        )
        with contextlib.suppress(KeyboardInterrupt):
            signal.pause()
    return 0


if __name__ == "__main__":
    sys.exit(main())
