"""Decimal strings at the edge, integer units inside.

Prices are counted in ticks and quantities in lots; the engine never sees a float or a
Decimal. This module is the only place that converts, and it refuses instead of rounding:
a value off the tick or lot, zero, negative, non-finite, malformed or absurdly large is an
:class:`InvalidInput` naming the field. JSON numbers are read through their decimal text
(``Decimal(str(n))`` for ints; floats are refused because their text is already rounded).
"""

import re
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation, localcontext
from typing import Final

from .errors import InvalidInput

#: Largest count of ticks or lots any amount may have. Far beyond any real market, small
#: enough that every product of price and quantity stays an exact 64-bit-sized integer.
MAX_UNITS: Final = 10**15
#: Longest decimal text accepted for one amount.
MAX_TEXT: Final = 40
#: Decimal places an average price has beyond its step's, when the quotient does not end.
AVG_EXTRA_PLACES: Final = 8
#: What a decimal amount may look like: ASCII digits, one optional point, optional exponent.
_PLAIN = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")


def parse_decimal(value: object, field: str) -> Decimal:
    """Read a positive, finite decimal from a string (or a JSON integer)."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise InvalidInput(field, f"expected a decimal string, got {type(value).__name__}")
    # (an int too long for the text limit is refused before str(), which caps its digits)
    too_long = isinstance(value, int) and value.bit_length() > 4 * MAX_TEXT
    text = "" if too_long else value.strip() if isinstance(value, str) else str(value)
    if not text or len(text) > MAX_TEXT:
        raise InvalidInput(field, f"expected a decimal string of 1 to {MAX_TEXT} characters")
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise InvalidInput(field, f"not a decimal number: {text!r}") from None
    if not number.is_finite():
        raise InvalidInput(field, "must be a finite number")
    if not _PLAIN.fullmatch(text):  # Decimal also takes "1_000" and non-ASCII digits
        raise InvalidInput(field, f"not a decimal number: {text!r}")
    if number <= 0:
        raise InvalidInput(field, "must be greater than zero")
    if not -30 <= number.adjusted() <= 21:
        raise InvalidInput(field, "out of range")
    return number


def to_units(value: object, step: Decimal, field: str) -> int:
    """Convert a decimal amount to a whole number of ``step`` (tick or lot), or refuse."""
    number = parse_decimal(value, field)
    with localcontext() as ctx:
        ctx.prec = 60
        units = number / step
        if units != units.to_integral_value():
            raise InvalidInput(field, f"{number} is not a multiple of {step}")
    count = int(units)
    if count > MAX_UNITS:
        raise InvalidInput(field, "too large")
    return count


def from_units(units: int, step: Decimal) -> str:
    """Render a count of ticks or lots as a plain decimal string (no exponent)."""
    with localcontext() as ctx:
        ctx.prec = 60
        value = (units * step).normalize()
    return format(value, "f") if value else "0"


def average_text(total: int, count: int, step: Decimal) -> str:
    """``total / count`` units of ``step`` (``count`` > 0) as a plain decimal string: an
    average fill price, whose notional is ticks * lots. Exact when the quotient ends, else
    rounded half-even to the step's places plus :data:`AVG_EXTRA_PLACES`."""
    places = max(0, -int(step.as_tuple().exponent)) + AVG_EXTRA_PLACES
    with localcontext() as ctx:
        ctx.prec = 80  # every digit of total * step and the places after the point
        value = (Decimal(total) * step / count).quantize(
            Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN
        )
        return format(value.normalize(), "f")
