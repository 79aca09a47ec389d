"""The HTML engine's settings: the ``html:`` section of the config.

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

``uploads_path`` is not a key of this section: it belongs to the site section
and comes from there (the validation context), so the engine and
:class:`rewriteproxy.media.UploadLocator` agree on it.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    ValidationInfo,
    WithJsonSchema,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema

from rewriteproxy.html.targets import DECLARED_KINDS, Kind, parse_target_key
from rewriteproxy.settings import INTERNAL, Names, Settings, not_allowed, rule

__all__ = ["DeclaredTarget", "HtmlOptions"]

DeclaredTarget = tuple[str | None, str, Kind | None]
"""``(tag or None for any tag, attribute, kind or None to turn the target off)``."""

_ATTRIBUTE_NAME = re.compile(r"[a-z_:][a-z0-9_.:-]*\Z")


def _attribute_names(names: tuple[str, ...]) -> tuple[str, ...]:
    cleaned = tuple(n.strip().lower() for n in names)
    for name in cleaned:
        if not _ATTRIBUTE_NAME.match(name):
            raise not_allowed("an attribute name such as data-src", name)
    return cleaned


AttributeNames = Annotated[Names, AfterValidator(_attribute_names)]


def _declared(value: object) -> object:
    """``{"[tag.]attribute": kind}`` as written → ``DeclaredTarget`` tuples, in that order."""
    if isinstance(value, tuple):  # built in code
        return value
    if not isinstance(value, dict):
        raise not_allowed("a mapping of [tag.]attribute to a kind")
    out: list[DeclaredTarget] = []
    for key, kind in value.items():
        try:
            tag, attribute = parse_target_key(str(key))
        except ValueError as exc:
            raise rule(
                f"{exc}: expected an attribute (data-src) or tag.attribute (div.data-src)",
                at=(str(key),),
            ) from exc
        if not isinstance(kind, str) or kind not in DECLARED_KINDS:
            raise not_allowed(f"one of {', '.join(DECLARED_KINDS)}", kind, at=(str(key),))
        out.append((tag, attribute, DECLARED_KINDS[kind]))
    return tuple(out)


Declared = Annotated[
    tuple[DeclaredTarget, ...],
    BeforeValidator(_declared),
    WithJsonSchema(
        {"type": "object", "additionalProperties": {"enum": list(DECLARED_KINDS)}, "default": {}}
    ),
]


class HtmlOptions(Settings):
    """``html``: where the HTML engine looks for URLs besides its built-in targets."""

    uploads_path: SkipJsonSchema[str] = Field("/wp-content/uploads/", json_schema_extra=INTERNAL)
    """site.uploads_path (taken from there when the file is validated; not a key of html)."""
    attributes: Declared = ()
    """[tag.]attribute → url, srcset, css, json, url-or-css or none (none turns a built-in
    target off), such as {data-hero: url, div.data-slides: json}; a per-tag entry wins over
    an any-tag one (see Page-speed features, Which attributes hold URLs)."""
    extra_url_attributes: AttributeNames = ()
    """Shorthand for "name: url" in attributes, such as data-hero."""
    extra_srcset_attributes: AttributeNames = ()
    """Shorthand for "name: srcset" in attributes, such as data-hero-srcset."""
    rewrite_inline_scripts: bool = True
    """Rewrite whole-URL JSON strings in inline <script>."""

    @model_validator(mode="before")
    @classmethod
    def _uploads_path_of_the_site(cls, data: Any, info: ValidationInfo) -> Any:
        site = (info.context or {}).get("site")
        if not isinstance(data, dict) or "site" not in (info.context or {}):
            return data
        if "uploads_path" in data:
            raise rule("is site.uploads_path's: write it there", at="uploads_path")
        return data if site is None else {**data, "uploads_path": site.uploads_path}
