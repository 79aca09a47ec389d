"""The HTML engine's settings, parsed once from the ``html:`` section of the config.

.. code-block:: yaml

    html:
      extra_url_attributes: [data-hero, data-thumb]    # whole-URL attributes on any tag
      extra_srcset_attributes: [data-hero-srcset]      # srcset-valued attributes on any tag
      rewrite_inline_scripts: true                     # whole-URL JSON strings in <script>

``uploads_path`` is not read here: it belongs to the site section and is passed
in, so the engine and :class:`rewriteproxy.media.UploadLocator` agree on it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rewriteproxy.settings import Section

__all__ = ["HtmlOptions", "parse_html_options"]

_ATTRIBUTE_NAME = re.compile(r"[a-z_:][a-z0-9_.:-]*\Z")


@dataclass(frozen=True, slots=True)
class HtmlOptions:
    """What the HTML engine rewrites besides its built-in targets."""

    uploads_path: str = "/wp-content/uploads/"
    extra_url_attributes: tuple[str, ...] = ()
    extra_srcset_attributes: tuple[str, ...] = ()
    rewrite_inline_scripts: bool = True


def _names(section: Section, key: str) -> tuple[str, ...]:
    names = tuple(n.strip().lower() for n in section.texts(key))
    for name in names:
        if not _ATTRIBUTE_NAME.match(name):
            raise section.error(
                key, f"{name!r} is not allowed: expected an attribute name such as data-src"
            )
    return names


def parse_html_options(section: Section, uploads_path: str) -> HtmlOptions:
    """Read the ``html:`` section; unknown keys are errors."""
    options = HtmlOptions(
        uploads_path=uploads_path,
        extra_url_attributes=_names(section, "extra_url_attributes"),
        extra_srcset_attributes=_names(section, "extra_srcset_attributes"),
        rewrite_inline_scripts=section.flag("rewrite_inline_scripts", True),
    )
    section.done()
    return options
