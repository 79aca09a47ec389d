"""``rewriteproxy url``: print the delivery URL of one upload URL, as the proxy would write it.

Uses the same locator and provider as the running proxy, so it is the quickest
way to check a delivery config. There is no inventory here: the file's version
is only known when given (``--mtime``, ``--etag``); without it the URL carries
no version, exactly as the proxy does for a file the inventory does not know.

Exit status: 0 with the URL printed (the local URL itself when the provider
keeps it local), 1 when the URL is not an upload on the configured site. With several
sites, the URL's host selects the site (its delivery and uploads path).
"""

from __future__ import annotations

import argparse
import sys

from rewriteproxy.delivery import DeliveryProvider, build_delivery
from rewriteproxy.media import FileInfo, UploadLocator
from rewriteproxy.sites import site_for_url

from ._common import load_or_explain

NAME = "url"
HELP = "print the delivery URL of one upload URL"

__all__ = ["HELP", "NAME", "add_arguments", "delivery_url_for", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "url",
        help="an upload URL on the site, e.g. "
        "https://wp.test/wp-content/uploads/2024/05/photo-300x200.jpg",
    )
    parser.add_argument("--config", required=True, metavar="FILE", help="the YAML config")
    parser.add_argument(
        "--width", type=int, metavar="N", help="ask a resizing provider (cloudinary) for this width"
    )
    parser.add_argument(
        "--mtime",
        type=float,
        metavar="SECONDS",
        help="the file's modification time, as the inventory would report it",
    )
    parser.add_argument("--etag", metavar="ETAG", help="the file's S3 ETag")


def delivery_url_for(
    url: str,
    locator: UploadLocator,
    provider: DeliveryProvider,
    width: int | None = None,
    info: FileInfo | None = None,
) -> str | None:
    """The URL the proxy writes for ``url``; ``None`` if ``url`` is not a local upload."""
    ref = locator.parse(url)
    if ref is None:
        return None
    return provider.url_for(ref, info, width) or url


def run(args: argparse.Namespace) -> int:
    whole = load_or_explain(args.config)  # the whole config: site + delivery
    if whole is None:
        return 2
    config = site_for_url(whole, args.url)  # with several sites, the one of the URL's host
    if config is None or config.site is None:
        hosts = ", ".join(h for block in whole.sites for h in block.hosts)
        print(f"not an upload URL of any site (hosts {hosts})", file=sys.stderr)
        return 1
    site = config.site
    locator = UploadLocator(site.hosts, site.uploads_path, site.uploads_aliases)
    provider = build_delivery(config.delivery)
    info = None
    if args.mtime is not None or args.etag:
        info = FileInfo(mtime=args.mtime, etag=args.etag)
    result = delivery_url_for(args.url, locator, provider, args.width, info)
    if result is None:
        print(
            f"not an upload URL of this site (hosts {', '.join(config.site.hosts)}, "
            f"uploads path {locator.uploads_path})",
            file=sys.stderr,
        )
        return 1
    print(result)
    return 0
