"""rewriteproxy: serve a WordPress site's uploads from a CDN or Cloudinary, without its database."""

__version__ = "0.1.0"
