"""Validating one section of the config on its own, as the whole file would validate it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel

from rewriteproxy import configfile
from rewriteproxy.delivery import SiteContext

M = TypeVar("M", bound=BaseModel)


def validate_section(
    model: type[M],
    data: Mapping[str, Any] | None,
    at: str,
    environ: Mapping[str, str] | None = None,
    site: SiteContext | None = None,
    optional: tuple[str, ...] = (),
) -> M:
    """``data`` as the section ``at`` (``delivery.health``) of a file, errors named from there."""
    return configfile.validate(
        model,
        configfile.document(data or {}, environ or {}),
        context={"site": site} if site is not None else {},
        optional=[(name,) for name in optional],
        at=tuple(at.split(".")) if at else (),
    )
