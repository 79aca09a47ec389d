#!/bin/sh
# Install the Debian packages that the WordPress test harness runs (as root, idempotent).
#
# WordPress 6.1 from Debian, PHP 8.2 (FPM for nginx, CLI for seeding, GD for the
# image sub-sizes, mysqli, SimpleXML for the sitemaps, mbstring), MariaDB, nginx, two themes packaged by Debian
# (twentytwentyone: classic, twentytwentythree: block) and ffmpeg, which the seed
# script uses to make a one-second MP4 for the video block.
#
# The harness starts its own private MariaDB, php-fpm and nginx on 127.0.0.1 with
# their own configs in a temporary directory, so the system services that these
# packages ship are stopped and kept from starting at boot: nothing here should
# sit on port 80 or 3306.
set -eu

if [ "$(id -u)" != 0 ]; then
    echo "install-packages.sh: run as root" >&2
    exit 1
fi

PACKAGES="nginx php php8.2 php8.2-fpm php8.2-cli php8.2-gd php8.2-mysql php8.2-xml
php8.2-mbstring mariadb-server mariadb-client wordpress wordpress-theme-twentytwentyone
wordpress-theme-twentytwentythree ffmpeg"

missing=""
for p in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done

if [ -n "$missing" ]; then
    export DEBIAN_FRONTEND=noninteractive
    # Keep maintainer scripts from starting services during the install (the usual
    # Debian policy hook); an existing hook is left as it was.
    hook=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        hook=yes
    fi
    apt-get update -qq
    # nginx and php8.2 are named explicitly so that apt satisfies WordPress's
    # "apache2 | httpd" and "libapache2-mod-php | php" with them, not with Apache.
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing
    if [ -n "$hook" ]; then
        rm -f /usr/sbin/policy-rc.d
    fi
fi

# Nothing of the system's own should run: the harness brings its own instances.
for service in nginx mariadb php8.2-fpm; do
    if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
        systemctl disable --now "$service" >/dev/null 2>&1 || true
    elif [ -x "/etc/init.d/$service" ]; then
        "/etc/init.d/$service" stop >/dev/null 2>&1 || true
    fi
done

echo "install-packages.sh: WordPress $(sed -n "s/^\$wp_version = '\(.*\)';/\1/p" /usr/share/wordpress/wp-includes/version.php) ready"
