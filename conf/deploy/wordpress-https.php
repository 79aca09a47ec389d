<?php
/*
 * WordPress behind a proxy that terminates TLS: is_ssl() reads $_SERVER['HTTPS'],
 * which PHP sets only for TLS it terminates itself. The proxies say "https" in
 * X-Forwarded-Proto: nginx sets it, and rewriteproxy passes it on only from
 * proxy.trusted_proxies. Believe it only if WordPress cannot be reached but
 * through them (it listens on loopback or a private network).
 *
 * Put the if-block in wp-config.php above "That's all, stop editing!", or this
 * file into wp-content/mu-plugins/.
 */
if (isset($_SERVER['HTTP_X_FORWARDED_PROTO']) && $_SERVER['HTTP_X_FORWARDED_PROTO'] === 'https') {
    $_SERVER['HTTPS'] = 'on';
}
