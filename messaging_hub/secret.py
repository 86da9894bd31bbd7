"""A wrapper that keeps credentials out of reprs, logs and tracebacks."""

from __future__ import annotations

from typing import Any, final

__all__ = ["Secret"]


@final
class Secret:
    """A credential whose value is shown only on purpose, via :meth:`reveal`."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if isinstance(value, Secret):
            value = value.reveal()
        if not isinstance(value, str):
            raise TypeError("a Secret wraps a str")
        self._value = value

    def reveal(self) -> str:
        """The secret value, for putting on the wire."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)

    def __reduce__(self) -> Any:
        # Pickling would write the value to disk unnoticed.
        raise TypeError("Secret values cannot be pickled")
