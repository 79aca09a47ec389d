"""The HTML engine's settings, parsed once from the ``html:`` section of the config.

.. code-block:: yaml

    html:
      attributes:                        # attribute → kind: url, srcset, css, json (or none)
        data-hero: url                   # on any tag
        div.data-slides: json            # on <div> only
        data-settings: none              # turns a built-in target off
      extra_url_attributes: [data-thumb]               # shorthand for "name: url"
      extra_srcset_attributes: [data-hero-srcset]      # shorthand for "name: srcset"
      rewrite_inline_scripts: true                     # whole-URL JSON strings in <script>

The built-in targets are :data:`rewriteproxy.html.targets.DEFAULT_TARGETS`;
``attributes`` is applied after them and the two shorthands, and a per-tag
entry wins over an any-tag one on that tag.

``uploads_path`` is not read here: it belongs to the site section and is passed
in, so the engine and :class:`rewriteproxy.media.UploadLocator` agree on it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rewriteproxy.html.targets import DECLARED_KINDS, Kind, parse_target_key
from rewriteproxy.settings import Section

__all__ = ["DeclaredTarget", "HtmlOptions", "parse_html_options"]

DeclaredTarget = tuple[str | None, str, Kind | None]
"""``(tag or None for any tag, attribute, kind or None to turn the target off)``."""

_ATTRIBUTE_NAME = re.compile(r"[a-z_:][a-z0-9_.:-]*\Z")


@dataclass(frozen=True, slots=True)
class HtmlOptions:
    """What the HTML engine rewrites besides its built-in targets."""

    uploads_path: str = "/wp-content/uploads/"
    extra_url_attributes: tuple[str, ...] = ()
    extra_srcset_attributes: tuple[str, ...] = ()
    rewrite_inline_scripts: bool = True
    attributes: tuple[DeclaredTarget, ...] = ()  # html.attributes, in the order written


def _names(section: Section, key: str) -> tuple[str, ...]:
    names = tuple(n.strip().lower() for n in section.texts(key))
    for name in names:
        if not _ATTRIBUTE_NAME.match(name):
            raise section.error(
                key, f"{name!r} is not allowed: expected an attribute name such as data-src"
            )
    return names


def _declared(section: Section) -> tuple[DeclaredTarget, ...]:
    """``html.attributes``: ``{"[tag.]attribute": kind}``."""
    declared = section.section("attributes")
    kinds = tuple(DECLARED_KINDS)
    out: list[DeclaredTarget] = []
    for key in declared.names():
        try:
            tag, attribute = parse_target_key(key)
        except ValueError as exc:
            raise declared.error(
                key, f"{exc}: expected an attribute (data-src) or tag.attribute (div.data-src)"
            ) from exc
        kind = declared.choice(key, "", kinds)
        out.append((tag, attribute, DECLARED_KINDS[kind]))
    declared.done()
    return tuple(out)


def parse_html_options(section: Section, uploads_path: str) -> HtmlOptions:
    """Read the ``html:`` section; unknown keys are errors."""
    options = HtmlOptions(
        uploads_path=uploads_path,
        extra_url_attributes=_names(section, "extra_url_attributes"),
        extra_srcset_attributes=_names(section, "extra_srcset_attributes"),
        rewrite_inline_scripts=section.flag("rewrite_inline_scripts", True),
        attributes=_declared(section),
    )
    section.done()
    return options
