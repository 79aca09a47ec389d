"""The YAML file is the user contract: documented keys work, anything else is a clear error."""

from __future__ import annotations

import re
from ipaddress import ip_network

import pytest

from rewriteproxy.config import ConfigError, load_config, parse_config

MINIMAL = """
upstream: http://127.0.0.1:8080
site:
  hosts: [wp.test]
"""


def test_the_documented_example_loads():
    config = parse_config(
        """
upstream: http://127.0.0.1:8080          # the WordPress origin
listen: {host: 127.0.0.1, port: 8000}
enabled: true
site:
  hosts: [wp.test, www.wp.test, old.wp.test]
  uploads_path: /wp-content/uploads/
delivery:
  provider: cdn
  cdn:
    base_url: https://cdn.example.net/wp-content/uploads/
"""
    )
    assert config.upstream == "http://127.0.0.1:8080"
    assert (config.listen.host, config.listen.port) == ("127.0.0.1", 8000)
    assert config.enabled is True
    assert config.site.hosts == ("wp.test", "www.wp.test", "old.wp.test")
    assert config.site.canonical_host == "wp.test"
    assert config.site.uploads_path == "/wp-content/uploads/"


def test_defaults_for_everything_optional():
    config = parse_config(MINIMAL)
    assert config.enabled is True
    assert config.listen.port == 8000
    assert config.bypass.paths == ("/wp-admin/", "/wp-login.php", "/xmlrpc.php", "/wp-cron.php")
    assert config.bypass.logged_in_cookie == "wordpress_logged_in_"
    assert (config.bypass.authorization, config.bypass.nonce, config.bypass.edit_context) == (
        True,
        True,
        True,
    )
    assert config.bypass.identifiers == ("guid",)
    assert config.proxy.max_rewrite_bytes == 8 * 1024 * 1024
    assert config.proxy.upstream_connections == 256
    assert config.proxy.trusted_proxies.networks == (
        ip_network("127.0.0.1/32"),
        ip_network("::1/128"),
    )
    assert config.server.header_timeout == 30.0
    assert config.server.keepalive_timeout == 75.0
    assert config.server.max_connections == 0  # derived from the file-descriptor limit
    assert config.server.max_connections_per_ip == 1024
    assert config.server.shutdown_timeout == 30.0


def test_server_keys():
    config = parse_config(
        MINIMAL + "server: {header_timeout: 10, keepalive_timeout: 620, max_connections: 4000}\n"
    )
    assert config.server.header_timeout == 10.0
    assert config.server.keepalive_timeout == 620.0
    assert config.server.max_connections == 4000
    assert parse_config(MINIMAL + "server: {max_connections: null}\n").server.max_connections == 0
    per_ip = parse_config(MINIMAL + "server: {max_connections_per_ip: 0}\n").server
    assert per_ip.max_connections_per_ip == 0  # no cap
    assert parse_config(MINIMAL + "server: {shutdown_timeout: 5}\n").server.shutdown_timeout == 5.0


def test_body_limits_and_buffers_have_defaults():
    proxy = parse_config(MINIMAL).proxy
    assert (proxy.send_timeout, proxy.client_body_timeout) == (60.0, 60.0)
    assert proxy.max_body_bytes == 1024**3
    assert proxy.body_buffer_bytes == 1024**2
    assert proxy.body_buffers_total_bytes == 64 * 1024**2
    assert proxy.temp_files_total_bytes == 1024**3
    assert proxy.temp_dir is None  # the system's temporary directory


def test_body_limits_and_buffers_are_configurable(tmp_path):
    proxy = parse_config(
        MINIMAL
        + f"""proxy:
  send_timeout: 5
  client_body_timeout: 2.5
  max_body_bytes: 1000
  body_buffer_bytes: 0
  body_buffers_total_bytes: 4096
  temp_files_total_bytes: 0
  temp_dir: {tmp_path}
"""
    ).proxy
    assert (proxy.send_timeout, proxy.client_body_timeout) == (5.0, 2.5)
    assert (proxy.max_body_bytes, proxy.body_buffer_bytes) == (1000, 0)
    assert (proxy.body_buffers_total_bytes, proxy.temp_files_total_bytes) == (4096, 0)
    assert proxy.temp_dir == str(tmp_path)


def test_uploads_path_is_normalised():
    config = parse_config(MINIMAL.replace("[wp.test]", "[WP.test]\n  uploads_path: /media"))
    assert config.site.uploads_path == "/media/"
    assert config.site.hosts == ("wp.test",)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("site: {hosts: [wp.test]}", "upstream: is required"),
        ("upstream: ftp://x\nsite: {hosts: [a]}", "upstream (line 1): 'ftp://x' is not allowed"),
        (
            MINIMAL + "enabled: maybe\n",
            "enabled (line 5): 'maybe' is not allowed: expected true or false",
        ),
        (
            MINIMAL + "listen: {port: 70000}\n",
            "listen.port (line 5): 70000 is not allowed: expected at most 65535",
        ),
        (MINIMAL + "listn: {}\n", "listn (line 5): unknown key"),
        (
            MINIMAL + "proxy: {upstream_connections: 0}\n",
            "proxy.upstream_connections (line 5): 0 is not allowed: expected at least 1",
        ),
        (
            MINIMAL + "proxy: {trusted_proxies: [10.0.0.1/8]}\n",
            "proxy.trusted_proxies (line 5): '10.0.0.1/8' is not allowed: expected an IP address "
            "or a network such as 10.0.0.0/8 or fd00::/8 (10.0.0.1/8 has host bits set)",
        ),
        (MINIMAL + "proxy: {trusted_proxies: [nginx]}\n", "'nginx' is not allowed"),
        (
            MINIMAL + "proxy: {trusted_proxies: {a: 1}}\n",
            "proxy.trusted_proxies (line 5): a mapping is not allowed: expected a list of IP addresses",
        ),
        (
            MINIMAL + "server: {header_timeout: 0}\n",
            "server.header_timeout (line 5): 0 is not allowed: expected at least 0.05",
        ),
        (
            MINIMAL + "server: {keepalive_timeout: -1}\n",
            "server.keepalive_timeout (line 5): -1 is not allowed: expected at least 0.05",
        ),
        (
            MINIMAL + "server: {max_connections: -5}\n",
            "server.max_connections (line 5): -5 is not allowed: expected at least 0",
        ),
        (
            MINIMAL + "server: {max_connections_per_ip: -1}\n",
            "server.max_connections_per_ip (line 5): -1 is not allowed: expected at least 0",
        ),
        (MINIMAL + "server: {read_timeout: 5}\n", "server.read_timeout (line 5): unknown key"),
        (
            MINIMAL + "proxy: {send_timeout: 0}\n",
            "proxy.send_timeout (line 5): 0 is not allowed: expected at least 0.01",
        ),
        (
            MINIMAL + "proxy: {client_body_timeout: -1}\n",
            "proxy.client_body_timeout (line 5): -1 is not allowed",
        ),
        (
            MINIMAL + "proxy: {max_body_bytes: -1}\n",
            "proxy.max_body_bytes (line 5): -1 is not allowed: expected at least 0",
        ),
        (
            MINIMAL + "proxy: {temp_dir: /no/such/directory}\n",
            "proxy.temp_dir (line 5): '/no/such/directory' is not allowed: expected an existing",
        ),
        ("upstream: http://x\nsite: {hosts: []}", "site.hosts (line 2): is required"),
        ("upstream: http://x\nsite: {hosts: ['https://wp.test/']}", "expected a bare host name"),
        (
            "upstream: http://x\nsite: {hosts: [a], uploads_path: uploads}",
            "expected a path starting with /",
        ),
        (
            MINIMAL + "bypass: {identifiers: ['a b']}\n",
            "bypass.identifiers (line 5): 'a b' is not allowed: expected a JSON key",
        ),
        (
            MINIMAL + "bypass: {nonce: sometimes}\n",
            "bypass.nonce (line 5): 'sometimes' is not allowed: expected true or false",
        ),
        ("upstream: [http://x", "not valid YAML"),
        ("- a list", "expected a mapping of keys at the top level"),
    ],
)
def test_errors_name_the_key_the_value_and_the_line(text, message):
    with pytest.raises(ConfigError) as error:
        parse_config(text)
    assert message in str(error.value)


def test_secrets_come_from_the_environment():
    text = MINIMAL + "upstream_note: x\n"
    with pytest.raises(ConfigError):
        parse_config(text)  # (unknown key, to show strictness)
    config = parse_config(
        "upstream: ${ORIGIN}\nsite: {hosts: ['${HOST:-wp.test}']}\n",
        environ={"ORIGIN": "http://10.0.0.5:8080"},
    )
    assert config.upstream == "http://10.0.0.5:8080"
    assert config.site.hosts == ("wp.test",)


def test_a_missing_environment_variable_is_named():
    with pytest.raises(ConfigError, match="environment variable ORIGIN is not set"):
        parse_config("upstream: ${ORIGIN}\nsite: {hosts: [a]}\n", environ={})


def test_load_config_names_an_unreadable_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read the config file"):
        load_config(tmp_path / "missing.yaml")


def test_trusted_proxies_are_networks_parsed_once():
    config = parse_config(
        MINIMAL + "proxy:\n  trusted_proxies: [10.0.0.0/8, 192.168.1.5, 'fd00::/8']\n"
    )
    trusted = config.proxy.trusted_proxies
    assert trusted.networks == (
        ip_network("10.0.0.0/8"),
        ip_network("192.168.1.5/32"),
        ip_network("fd00::/8"),
    )
    assert trusted.trusts("10.9.8.7") and trusted.trusts("192.168.1.5")
    assert not trusted.trusts("127.0.0.1")
    assert (
        parse_config(MINIMAL + "proxy: {trusted_proxies: []}\n").proxy.trusted_proxies.networks
        == ()
    )


CDN_TYPO = """upstream: http://127.0.0.1:8080
site: {hosts: [wp.test]}
delivery:
  provider: cdn
  cdn:
    base_ur: https://cdn.example.net/wp-content/uploads/
"""


def test_a_typo_in_a_required_key_names_the_key_written_its_line_and_the_key_meant():
    with pytest.raises(ConfigError) as error:
        parse_config(CDN_TYPO)
    lines = str(error.value).splitlines()
    assert lines[0] == "2 problems:"
    # The key written comes first, so the "required" that follows reads as its consequence.
    assert lines[1] == "  delivery.cdn.base_ur (line 6): unknown key; did you mean base_url?"
    assert lines[2].startswith("  delivery.cdn.base_url: is required: the URL that replaces")
    assert lines[2].endswith("(in delivery.cdn, line 5)")


def test_an_unknown_key_without_a_near_one_lists_the_keys_allowed():
    with pytest.raises(ConfigError) as error:
        parse_config(MINIMAL + "listen: {zzz: 1}\n")
    assert str(error.value) == "listen.zzz (line 5): unknown key (allowed here: host, port)"


def test_every_mistake_of_the_file_is_reported_at_once_in_the_order_of_the_file():
    text = """upstream: ftp://wp.test
site: {hosts: [wp.test]}
listen: {port: 70000}
proxy:
  upstream_connections: 0
  connect_timout: 5
bypass: {nonce: sometimes}
"""
    with pytest.raises(ConfigError) as error:
        parse_config(text, source="site.yaml")
    assert str(error.value).splitlines() == [
        "site.yaml: 5 problems:",
        "  proxy.connect_timout (line 6): unknown key; did you mean connect_timeout?",
        "  upstream (line 1): 'ftp://wp.test' is not allowed: expected an http(s) URL such as "
        "http://127.0.0.1:8080 (not an http(s) URL with a host)",
        "  listen.port (line 3): 70000 is not allowed: expected at most 65535",
        "  proxy.upstream_connections (line 5): 0 is not allowed: expected at least 1",
        "  bypass.nonce (line 7): 'sometimes' is not allowed: expected true or false",
    ]


def test_the_sections_of_providers_not_selected_are_validated_too():
    text = CDN_TYPO.replace("base_ur:", "base_url:") + "  s3: {bucket: Not_A_Bucket}\n"
    with pytest.raises(ConfigError, match=r"delivery\.s3\.bucket \(line 7\): 'Not_A_Bucket'"):
        parse_config(text)


def test_an_unset_variable_in_a_provider_not_selected_is_no_error_unless_its_value_is_refused():
    cdn = CDN_TYPO.replace("base_ur:", "base_url:")
    secret = cdn + '  cloudinary: {cloud_name: demo, api_secret: "${CLOUDINARY_API_SECRET}"}\n'
    assert parse_config(secret, environ={}).delivery.provider == "cdn"
    name = cdn + '  cloudinary: {cloud_name: "${CLOUD}"}\n'
    assert parse_config(name, environ={"CLOUD": "demo"}).delivery.cloudinary is not None
    with pytest.raises(ConfigError) as error:
        parse_config(name.replace("${CLOUD}", "${CLOUD}!"), environ={})
    assert str(error.value) == (
        "delivery.cloudinary.cloud_name (line 7): environment variable CLOUD is not set "
        "(or write ${CLOUD:-default})"
    )
    selected = secret.replace("provider: cdn", "provider: cloudinary")
    with pytest.raises(ConfigError, match="environment variable CLOUDINARY_API_SECRET is not set"):
        parse_config(selected, environ={})


def test_a_secret_repeated_through_a_yaml_alias_is_not_echoed_where_it_is_refused():
    text = (
        MINIMAL
        + "delivery:\n  provider: cloudinary\n"
        + "  cloudinary: {cloud_name: demo, api_secret: &s TOPSECRET, api_key: k, sign_urls: *s}\n"
    )
    with pytest.raises(ConfigError) as error:
        parse_config(text)
    assert "TOPSECRET" not in str(error.value)
    assert "delivery.cloudinary.sign_urls (line 7): a secret's value (not shown)" in str(
        error.value
    )


def test_secrets_and_values_from_the_environment_are_never_echoed():
    text = (
        MINIMAL
        + "delivery:\n  provider: cloudinary\n"
        + "  cloudinary: {cloud_name: demo, api_secret: [TOPSECRET]}\n"
        + "inventory:\n  s3: {bucket: m, access_key_id: AKIA, secret_access_key: {a: SHHH}}\n"
        + 'listen: {port: "${PORT}"}\n'
    )
    with pytest.raises(ConfigError) as error:
        parse_config(text, environ={"PORT": "hunter2"})
    message = str(error.value)
    for secret in ("TOPSECRET", "SHHH", "hunter2"):
        assert secret not in message
    assert (
        "delivery.cloudinary.api_secret (line 7): the secret (not shown) is not allowed" in message
    )
    assert (
        "inventory.s3.secret_access_key (line 9): the secret (not shown) is not allowed" in message
    )
    assert (
        "listen.port (line 10): the value from the environment (not shown) is not allowed: "
        "expected a whole number"
    ) in message


def test_environment_references_expand_in_every_string_and_list_item():
    config = parse_config(
        "upstream: http://${ORIGIN_HOST}:${ORIGIN_PORT:-8080}\n"
        "listen: {port: '${PORT}'}\n"
        "site: {hosts: ['${HOST}', 'www.${HOST}']}\n"
        "delivery: {provider: cdn, cdn: {base_url: '${CDN:-https://cdn.test/}'}}\n",
        environ={"ORIGIN_HOST": "10.0.0.5", "PORT": "9000", "HOST": "wp.test"},
    )
    assert config.upstream == "http://10.0.0.5:8080"
    assert config.listen.port == 9000
    assert config.site.hosts == ("wp.test", "www.wp.test")
    assert config.delivery.settings is not None
    assert config.delivery.settings.base_url == "https://cdn.test/"


def test_null_means_the_default_and_html_takes_the_sites_uploads_path():
    config = parse_config(
        MINIMAL.replace("[wp.test]", "[wp.test]\n  uploads_path: /media")
        + "html:\nlisten: {port: ~}\n"
    )
    assert config.listen.port == 8000
    assert config.html.uploads_path == "/media/"


def test_a_typo_in_every_section_gets_its_did_you_mean():
    # Each model answers for its own keys, whatever the metadata its fields carry.
    from rewriteproxy.reference import markdown

    sections = re.findall(r"^## `([\w.]+)`", markdown(), re.MULTILINE)
    assert "proxy" in sections and "delivery.cloudinary" in sections
    for section in sections:
        if section == "sites":  # a list of sections instead of site (tests/test_sites.py)
            continue
        if section == "site":  # MINIMAL has it already: one key more in it
            text = MINIMAL + "  zzzzzz: 1\n"
        else:
            text = MINIMAL + "".join(
                f"{part}:\n" + "  " * (i + 1) for i, part in enumerate(section.split("."))
            )
            text = text.rstrip() + " {zzzzzz: 1}\n"
        with pytest.raises(
            ConfigError, match=rf"{re.escape(section)}\.zzzzzz \(line \d+\): unknown key"
        ):
            parse_config(text, environ={})


def test_a_key_written_twice_is_an_error_naming_both_lines():
    # YAML alone keeps the second and drops the first without a word.
    text = (
        MINIMAL + "proxy:\n  read_timeout: 5\n  read_timeout: 50\nenabled: true\nenabled: false\n"
    )
    with pytest.raises(ConfigError) as error:
        parse_config(text)
    message = str(error.value)
    assert re.search(r"proxy\.read_timeout \(lines \d+ and \d+\): is written twice", message)
    assert re.search(r"enabled \(lines \d+ and \d+\): is written twice", message)


def test_credentials_in_the_upstream_url_are_refused_and_not_echoed():
    text = MINIMAL.replace("http://127.0.0.1:8080", "http://admin:hunter2@127.0.0.1:8080")
    assert text != MINIMAL
    with pytest.raises(ConfigError) as error:
        parse_config(text)
    assert "credentials in the URL are not used" in str(error.value)
