"""The base of commands and events: fixed fields and value semantics, cheaply built.

Commands and events are created once or several times per operation, so they are plain
classes with ``__slots__`` and an explicit ``__init__`` (about 25 ns each when the engine
is compiled with mypyc, against about 230 ns for a ``NamedTuple``). This base gives them
what a named tuple would: equality by value, a readable ``repr``, iteration in field
order, ``_asdict`` and ``_replace``.

They are also declared *acyclic* to mypyc: they hold only strings, numbers and tuples of
other records, so they can never be part of a reference cycle, and compiled instances
then skip the cyclic garbage collector's bookkeeping (a header per object, tracking on
allocation and free, and scans by a peer's collector). ``mypyc_attr`` is a no-op at run
time; the fallback lets the uncompiled sources run where mypy is not installed.
"""

from typing import Any, ClassVar

try:
    from mypy_extensions import mypyc_attr
except ImportError:  # mypy is not installed, so the engine is not compiled either

    def mypyc_attr(*attrs: str, **kwattrs: object) -> Any:  # type: ignore[misc]
        return lambda cls: cls


@mypyc_attr(acyclic=True)
class Record:
    __slots__ = ()
    _fields: ClassVar[tuple[str, ...]] = ()

    def _values(self) -> tuple[Any, ...]:
        return tuple([getattr(self, name) for name in self._fields])

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self._values() == other._values()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._values()))

    def __iter__(self) -> Any:
        return iter(self._values())

    def __repr__(self) -> str:
        inner = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._fields)
        return f"{type(self).__name__}({inner})"

    def _asdict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self._fields}

    def _replace(self, **changes: Any) -> Any:
        return type(self)(**{**self._asdict(), **changes})
