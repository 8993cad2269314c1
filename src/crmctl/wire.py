"""Operation requests and results as JSON and back, exactly: what the server and its client send each other.

Both sides know the types (the operation registry gives each operation's request and result type), so a value
is written as plain JSON where its declared type says what it is (a `dt.datetime` field is an ISO string, a
dataclass an object of its fields) and read back into that type. Where the declared type is `Any` (a record's
field values), a value JSON cannot tell apart is tagged: `{"$datetime": "..."}`, `{"$date": ...}`,
`{"$time": ...}`, `{"$decimal": "1.50"}`, so that a result read back renders exactly as the original. Bytes
travel as base64 text. A dataclass field with the metadata `{"local": True}` (a progress callback) stays
with the caller: it is not sent, and the other side gets its default.

Pure: no I/O, nothing of crmctl's imported, nothing heavy; the client imports it without duckdb.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import enum
import functools
import types
import typing
from decimal import Decimal
from pathlib import Path
from typing import Any

_TAGS: dict[str, tuple[type, typing.Callable[[str], Any]]] = {
    "$datetime": (dt.datetime, dt.datetime.fromisoformat),
    "$date": (dt.date, dt.date.fromisoformat),
    "$time": (dt.time, dt.time.fromisoformat),
    "$decimal": (Decimal, Decimal),
}


# A request's reserved key asking for a dry run (`--dry-run`): the server runs the write in one transaction that
# it rolls back, and answers with an ops.session.Rehearsal of what it did instead of the operation's result.
DRY_RUN = "$dry_run"


class WireError(ValueError):
    """JSON that does not fit the declared type."""


def encode(value: Any, declared: Any = Any) -> Any:
    """A value as JSON-ready data; `declared` is its type where known (tags are used only where it is not)."""
    if isinstance(value, enum.Enum):
        return value.value
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {name: encode(getattr(value, name), hint) for name, hint in _sent(type(value))}
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, (list, tuple, set, frozenset)):
        item = _item_type(declared)
        return [encode(v, item) for v in value]
    if isinstance(value, dict):
        item = _value_type(declared)
        return {str(k): encode(v, item) for k, v in value.items()}
    if isinstance(value, Path):
        return str(value)
    for tag, (kind, _) in _TAGS.items():
        if isinstance(value, kind):
            text = value.isoformat() if hasattr(value, "isoformat") else str(value)
            return text if _names(declared, kind) else {tag: text}
    raise WireError(f"cannot send a {type(value).__name__}")


def decode(declared: Any, data: Any) -> Any:
    """JSON data read back into the declared type."""
    if declared is str or declared is int or declared is bool:  # the most common, first (a result's rows)
        return _typed(declared, data)
    if declared is Any or declared is object:
        return _untagged(data)
    origin = typing.get_origin(declared)
    if origin is typing.Union or origin is types.UnionType:
        return _union(declared, data)
    if origin is typing.Literal:
        if data not in typing.get_args(declared):
            raise WireError(f"{data!r} is not one of {typing.get_args(declared)}")
        return data
    if origin in (list, tuple, set, frozenset):
        if not isinstance(data, list):
            raise WireError(f"expected a list, not {type(data).__name__}")
        args = typing.get_args(declared)
        if origin is tuple and args and args[-1] is not Ellipsis:
            return tuple(decode(t, v) for t, v in zip(args, data, strict=True))
        item = args[0] if args else Any
        return origin(decode(item, v) for v in data)
    if origin is dict:
        if not isinstance(data, dict):
            raise WireError(f"expected an object, not {type(data).__name__}")
        _, item = typing.get_args(declared) or (str, Any)
        return {k: decode(item, v) for k, v in data.items()}
    if isinstance(declared, type):
        return _plain(declared, data)
    raise WireError(f"cannot read a {declared}")


def _plain(declared: type, data: Any) -> Any:
    if dataclasses.is_dataclass(declared):
        if not isinstance(data, dict):
            raise WireError(f"expected an object for {declared.__name__}")
        hints = _hints(declared)
        unknown = set(data) - _received(declared)
        if unknown:
            raise WireError(f"{declared.__name__} has no field {sorted(unknown)[0]}")
        return declared(**{name: decode(hints[name], value) for name, value in data.items()})
    if issubclass(declared, enum.Enum):
        return declared(data)
    if declared is Path:
        return Path(_typed(str, data))
    if declared is bytes:
        try:
            return base64.b64decode(_typed(str, data), validate=True)
        except ValueError:
            raise WireError("expected base64 text") from None
    if declared is float and isinstance(data, int) and not isinstance(data, bool):
        return float(data)
    for _, (kind, parse) in _TAGS.items():
        if declared is kind:
            try:
                return parse(_typed(str, data))
            except ValueError as exc:
                raise WireError(str(exc)) from None
    return _typed(declared, data)


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    """A dataclass's field types, worked out once per class (get_type_hints compiles every annotation anew,
    and a result of a thousand rows asked for them a thousand times)."""
    return typing.get_type_hints(cls)


@functools.cache
def _sent(cls: type) -> tuple[tuple[str, Any], ...]:
    """The fields of a dataclass that are sent, each with its declared type."""
    hints = _hints(cls)
    return tuple((f.name, hints.get(f.name, Any)) for f in dataclasses.fields(cls) if not f.metadata.get("local"))


@functools.cache
def _received(cls: type) -> frozenset[str]:
    """The fields of a dataclass that may come over the wire."""
    return frozenset(f.name for f in dataclasses.fields(cls) if f.init and not f.metadata.get("local"))


def _typed(kind: type, data: Any) -> Any:
    if not isinstance(data, kind) or (kind is int and isinstance(data, bool)):
        raise WireError(f"expected {kind.__name__}, not {type(data).__name__}")
    return data


def _union(declared: Any, data: Any) -> Any:
    options = typing.get_args(declared)
    if data is None:
        if type(None) in options:
            return None
        raise WireError(f"expected {declared}, not null")
    for option in options:
        if option is type(None):
            continue
        try:
            return decode(option, data)
        except (WireError, TypeError, ValueError):
            continue
    raise WireError(f"{data!r} is not a {declared}")


def _untagged(data: Any) -> Any:
    if isinstance(data, list):
        return [_untagged(v) for v in data]
    if isinstance(data, dict):
        if len(data) == 1:
            ((tag, text),) = data.items()
            if tag in _TAGS and isinstance(text, str):
                return _TAGS[tag][1](text)
        return {k: _untagged(v) for k, v in data.items()}
    return data


def _names(declared: Any, kind: type) -> bool:
    """Whether the declared type says the value is a `kind` (so it needs no tag)."""
    if declared is kind:
        return True
    if typing.get_origin(declared) in (typing.Union, types.UnionType):
        return any(option is kind for option in typing.get_args(declared))
    return False


def _item_type(declared: Any) -> Any:
    args = typing.get_args(_strip_optional(declared))
    if typing.get_origin(_strip_optional(declared)) is tuple and args and args[-1] is not Ellipsis:
        return Any  # a fixed tuple's items differ: tag where needed
    return args[0] if args else Any


def _value_type(declared: Any) -> Any:
    args = typing.get_args(_strip_optional(declared))
    return args[1] if len(args) == 2 else Any


def _strip_optional(declared: Any) -> Any:
    if typing.get_origin(declared) in (typing.Union, types.UnionType):
        rest = [a for a in typing.get_args(declared) if a is not type(None)]
        if len(rest) == 1:
            return rest[0]
    return declared
