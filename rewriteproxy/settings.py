"""Reading one YAML mapping into typed values, with errors that name the key.

Every part of rewriteproxy that has settings (the proxy, each delivery
provider, each inventory source, each feature) parses its own section with a
:class:`Section` into a frozen dataclass once, when the config loads. The hot
path then reads plain attributes and never touches a dict or a string key.

A :class:`Section` remembers its dotted key path and, when YAML gave it, the
line of each key, so every error reads like
``delivery.cdn.base_url (line 12): 'ftp://x' is not allowed: expected an http(s) URL``.
Unknown keys are errors too (a typo must not silently fall back to a default).

Values of the form ``${NAME}`` or ``${NAME:-default}`` are read from the
environment, so secrets never need to be written in the file.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

__all__ = ["ConfigError", "Section"]

T = TypeVar("T")

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class ConfigError(ValueError):
    """A config file that cannot be used; the message names the key and the line."""


class Section:
    """One mapping of the config file, read key by key."""

    def __init__(
        self,
        data: Mapping[str, Any] | None,
        path: str = "",
        lines: Mapping[str, int] | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self._data: Mapping[str, Any] = data or {}
        self._path = path
        self._lines = lines or {}
        self._environ = os.environ if environ is None else environ
        self._read: set[str] = set()

    # -- locating errors -------------------------------------------------

    def key_path(self, key: str) -> str:
        return f"{self._path}.{key}" if self._path else key

    def error(self, key: str, message: str) -> ConfigError:
        full = self.key_path(key)
        line = self._lines.get(full)
        where = f"{full} (line {line})" if line else full
        return ConfigError(f"{where}: {message}")

    def has(self, key: str) -> bool:
        return key in self._data

    def names(self) -> tuple[str, ...]:
        """The keys as written (for sections whose keys are names the user chose)."""
        return tuple(str(k) for k in self._data)

    # -- raw access --------------------------------------------------------

    def _raw(self, key: str) -> Any:
        self._read.add(key)
        value = self._data.get(key)
        if isinstance(value, str):
            value = self._expand_env(key, value)
        return value

    def _expand_env(self, key: str, value: str) -> str:
        def lookup(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            if name in self._environ:
                return self._environ[name]
            if default is not None:
                return default
            raise self.error(key, f"environment variable {name} is not set")

        return _ENV_REF.sub(lookup, value)

    def _typed(self, key: str, default: T, kind: type | tuple[type, ...], what: str) -> T:
        value = self._raw(key)
        if value is None:
            return default
        if isinstance(value, bool) and kind is not bool:
            raise self.error(key, f"{value!r} is not allowed: expected {what}")
        if not isinstance(value, kind):
            raise self.error(key, f"{value!r} is not allowed: expected {what}")
        return value  # type: ignore[return-value]

    # -- typed readers -----------------------------------------------------

    def text(self, key: str, default: str) -> str:
        value = self._raw(key)
        if value is None:
            return default
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return f"{value}"
        if not isinstance(value, str):
            raise self.error(key, f"{value!r} is not allowed: expected a string")
        return value

    def optional_str(self, key: str) -> str | None:
        value = self.text(key, "")
        return value or None

    def secret(self, key: str) -> str | None:
        """Like :meth:`optional_str`; kept separate so secrets are never echoed in errors."""
        value = self._raw(key)
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            raise self.error(key, "expected a string (the value is not shown: it is a secret)")
        return value

    def flag(self, key: str, default: bool) -> bool:
        value = self._raw(key)
        if value is None:
            return default
        if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no", "on", "off"):
            return value.lower() in ("true", "yes", "on")
        if not isinstance(value, bool):
            raise self.error(key, f"{value!r} is not allowed: expected true or false")
        return value

    def integer(
        self, key: str, default: int, *, minimum: int | None = None, maximum: int | None = None
    ) -> int:
        value = self._raw(key)
        if value is None:
            return default
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(key, f"{value!r} is not allowed: expected a whole number")
        self._check_range(key, value, minimum, maximum)
        return value

    def number(
        self,
        key: str,
        default: float,
        *,
        minimum: float | None = None,
        maximum: float | None = None,
    ) -> float:
        value = self._raw(key)
        if value is None:
            return default
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                raise self.error(key, f"{value!r} is not allowed: expected a number") from None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.error(key, f"{value!r} is not allowed: expected a number")
        self._check_range(key, value, minimum, maximum)
        return float(value)

    def _check_range(
        self, key: str, value: float, minimum: float | None, maximum: float | None
    ) -> None:
        if minimum is not None and value < minimum:
            raise self.error(key, f"{value!r} is not allowed: expected at least {minimum}")
        if maximum is not None and value > maximum:
            raise self.error(key, f"{value!r} is not allowed: expected at most {maximum}")

    def choice(self, key: str, default: str, allowed: tuple[str, ...]) -> str:
        value = self.text(key, default)
        if value not in allowed:
            raise self.error(key, f"{value!r} is not allowed: expected one of {', '.join(allowed)}")
        return value

    def texts(self, key: str, default: tuple[str, ...] = ()) -> tuple[str, ...]:
        value = self._raw(key)
        if value is None:
            return default
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, (str, int)) for v in value):
            raise self.error(key, f"{value!r} is not allowed: expected a list of strings")
        return tuple(self._expand_env(key, f"{v}") for v in value)

    def integers(self, key: str, default: tuple[int, ...] = ()) -> tuple[int, ...]:
        value = self._raw(key)
        if value is None:
            return default
        if not isinstance(value, list) or not all(
            isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value
        ):
            raise self.error(key, f"{value!r} is not allowed: expected a list of positive numbers")
        return tuple(value)

    def parsed(self, key: str, default: T, parse: Callable[[str], T], what: str) -> T:
        """A string parsed by ``parse``; a ``ValueError`` from it becomes a named error."""
        value = self._raw(key)
        if value is None:
            return default
        if not isinstance(value, str):
            raise self.error(key, f"{value!r} is not allowed: expected {what}")
        try:
            return parse(value)
        except ValueError as exc:
            raise self.error(key, f"{value!r} is not allowed: expected {what} ({exc})") from exc

    def section(self, key: str) -> Section:
        value = self._raw(key)
        if value is None:
            value = {}
        if not isinstance(value, Mapping):
            raise self.error(key, f"{value!r} is not allowed: expected a mapping of keys")
        return Section(value, self.key_path(key), self._lines, self._environ)

    def done(self) -> None:
        """Reject keys that nothing read: a typo must never fall back to a default silently."""
        unknown = sorted(set(self._data) - self._read)
        if unknown:
            raise self.error(unknown[0], "unknown key")
