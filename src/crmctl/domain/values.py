"""Field types and their values: one place that says what a value of each type is."""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, TypeAlias

TYPES = ("text", "number", "money", "date", "datetime", "bool", "list", "email", "phone", "person", "ref")
TEXTUAL = frozenset({"text", "email", "phone"})
ORDERED = frozenset({"number", "money", "date", "datetime"})
NUMERIC = frozenset({"number", "money"})

TEXT_LENGTH = 10_000  # characters of a text, e-mail or phone value unless the field says `max_length`
MONEY_DECIMALS = 2
MONEY_LIMIT = Decimal(10) ** 16  # DECIMAL(18, 2)
NUMBER_LIMIT = Decimal(10) ** 15  # a DOUBLE holds every whole number below it exactly
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^\+?[0-9][0-9 ()\-]{3,30}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TRUE = {"true", "yes", "y", "1", "on"}
_FALSE = {"false", "no", "n", "0", "off"}


@dataclass(frozen=True)
class FieldSpec:
    """The type-relevant part of a form field or a template parameter."""

    id: str
    type: str
    label: str = ""
    required: bool = False
    default: Any = None
    mask: str | None = None
    options: tuple[str, ...] = ()
    option_labels: dict[str, str] = field(default_factory=dict)
    currency: str | None = None
    min: float | None = None
    max: float | None = None
    form: str | None = None
    max_length: int | None = None
    contact_date: bool = False  # a form's date field: the day to contact about the record (agenda shows it)
    locale: str = "en"  # how people write numbers: "ru" takes 1 000,50 (the workspace's `locale`)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FieldSpec:
        options: list[str] = []
        labels: dict[str, str] = {}
        for opt in data.get("options", ()):
            value = opt["value"] if isinstance(opt, dict) else opt
            options.append(value)
            if isinstance(opt, dict) and opt.get("label"):
                labels[value] = opt["label"]
        return cls(
            id=data["id"],
            type=data["type"],
            label=data.get("label", ""),
            required=bool(data.get("required", False)),
            default=data.get("default"),
            mask=data.get("mask"),
            options=tuple(options),
            option_labels=labels,
            currency=data.get("currency"),
            min=data.get("min"),
            max=data.get("max"),
            form=data.get("form"),
            max_length=data.get("max_length"),
            contact_date=bool(data.get("contact_date", False)),
        )

    @property
    def name(self) -> str:
        return self.label or self.id

    @property
    def length_limit(self) -> int:
        """The most characters a textual value of this field may have."""
        return self.max_length or TEXT_LENGTH


People: TypeAlias = frozenset[str] | set[str] | None  # the person ids a person field may name; None: any


def convert(spec: FieldSpec, value: Any, *, people: People = None) -> Any:
    """The value as the field's type holds it, or ValueError saying why it does not fit.

    Strings from a command line are accepted for every type. `people`, when given, is the set of
    person ids a person field may name. Refs are returned as keys; their existence is the store's concern.
    """
    converter = _CONVERTERS.get(spec.type)
    if converter is None:
        raise ValueError(f"unknown field type '{spec.type}'")
    return converter(spec, value, people)


def _textual(spec: FieldSpec, value: Any, people: People) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a text, got {_show(value)}")
    if len(value) > spec.length_limit:
        raise ValueError(f"a text of {len(value):,} characters is longer than the {spec.length_limit:,} allowed")
    if spec.type == "email" and not _EMAIL.match(value):
        raise ValueError(f"{_show(value)} is not an e-mail address")
    if spec.type == "phone" and not _PHONE.match(value):
        raise ValueError(f"{_show(value)} is not a phone number")
    if spec.mask and not re.fullmatch(spec.mask, value):
        raise ValueError(f"{_show(value)} does not match the mask {spec.mask}")
    return value


def _numeric(spec: FieldSpec, value: Any, people: People) -> Decimal | int | float:
    number = _number(value, exact=spec.type == "money", locale=spec.locale)
    given = value.strip() if isinstance(value, str) else value
    if spec.min is not None and number < spec.min:
        raise ValueError(f"{given} is less than the minimum {_num(spec.min)}")
    if spec.max is not None and number > spec.max:
        raise ValueError(f"{given} is more than the maximum {_num(spec.max)}")
    return number


def _bool(spec: FieldSpec, value: Any, people: People) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ValueError(f"expected true or false, got {_show(value)}")


def _option(spec: FieldSpec, value: Any, people: People) -> str:
    if not isinstance(value, str) or value not in spec.options:
        raise ValueError(f"{_show(value)} is not one of the options: {', '.join(spec.options)}")
    return value


def _person(spec: FieldSpec, value: Any, people: People) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"expected a person id, got {_show(value)}")
    if people is not None and value not in people:
        raise ValueError(f"no person '{value}' in the team")
    return value


def _ref(spec: FieldSpec, value: Any, people: People) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"expected a record key such as CL-1, got {_show(value)}")
    return value


_CONVERTERS: dict[str, Callable[[FieldSpec, Any, People], Any]] = {
    "text": _textual,
    "email": _textual,
    "phone": _textual,
    "number": _numeric,
    "money": _numeric,
    "date": lambda spec, value, people: parse_date(value),
    "datetime": lambda spec, value, people: parse_datetime(value),
    "bool": _bool,
    "list": _option,
    "person": _person,
    "ref": _ref,
}


def parse_date(value: Any) -> dt.date:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if isinstance(value, str) and _DATE.match(value.strip()):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValueError(f"{_show(value)} is not a date (YYYY-MM-DD)")


def parse_datetime(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, str) and len(value.strip()) >= 10:
        try:
            return dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            pass
    raise ValueError(f"{_show(value)} is not a date and time (YYYY-MM-DDTHH:MM, optionally with an offset)")


LOCALES = ("en", "ru")
_GROUPING = str.maketrans("", "", " \u00a0\u202f\u2009_")  # spaces (no-break and thin too) and _ between digits
_AMBIGUOUS = re.compile(r"^[-+]?[1-9]\d{0,2}[.,]\d{3}$")  # 1,000 or 1.000: a thousand, or one?


def number_text(text: str, locale: str = "en") -> str:
    """A number as a person of the locale writes it, as Python reads it: digit groups joined, and in "ru" the
    decimal comma a point. A comma or point there followed by three digits (1,000) could be either: refused."""
    plain = text.strip().translate(_GROUPING)
    if locale != "ru":
        return plain
    if plain.count(",") + plain.count(".") > 1:
        raise ValueError(f"{_show(text)}: write digit groups with spaces and the decimal part after a comma (1 000,50)")
    if _AMBIGUOUS.match(plain):
        whole, part = re.split(r"[.,]", plain)
        raise ValueError(
            f"{_show(text)} is ambiguous: the decimal mark is a comma here, so write {whole}{part} "
            f"(or {whole} {part}) for thousands, or {whole},{part.rstrip('0') or '0'} for the fraction"
        )
    return plain.replace(",", ".")


def _number(value: Any, *, exact: bool, locale: str = "en") -> Decimal | int | float:
    if isinstance(value, bool):
        raise ValueError(f"expected a number, got {_show(value)}")
    try:
        if isinstance(value, (int, float)):
            if isinstance(value, float) and not math.isfinite(value):
                raise InvalidOperation
            number = Decimal(str(value))
        elif isinstance(value, (str, Decimal)):
            text = number_text(str(value), locale)
            if not text.isascii():  # Decimal() reads other scripts' digits; imports and SQL do not
                raise InvalidOperation
            number = Decimal(text)
        else:
            raise InvalidOperation
    except InvalidOperation:
        raise ValueError(f"expected a number, got {_show(value)}") from None
    if not number.is_finite():
        raise ValueError(f"expected a number, got {_show(value)}")
    if exact:
        exponent = number.as_tuple().exponent  # an int: the number is finite
        if isinstance(exponent, int) and exponent < -MONEY_DECIMALS:
            raise ValueError(f"{value} has more than {MONEY_DECIMALS} decimal places")
        if abs(number) >= MONEY_LIMIT:
            raise ValueError(f"{value} is too large for a money field")
        return number.quantize(Decimal(1).scaleb(-MONEY_DECIMALS))
    if abs(number) >= NUMBER_LIMIT:
        raise ValueError(f"{value} is too large for a number field (the limit is 10^15)")
    return int(number) if number == number.to_integral_value() else float(number)


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def short(text: str, limit: int = 60) -> str:
    """A text as a message quotes it: on one line, at most `limit` characters."""
    text = text.replace("\n", "\\n")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _show(value: Any) -> str:
    if isinstance(value, str):
        return f"'{short(value)}'"
    if isinstance(value, bool):
        return str(value).lower()
    if value is None:
        return "nothing"
    return str(value)
