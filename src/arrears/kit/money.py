"""Money: ``Decimal`` in code, integer minor units in the database, explicit rounding."""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_UP, ROUND_UP, Decimal, InvalidOperation
from enum import StrEnum

from arrears.kit.errors import ValidationFailed

# ISO 4217 active codes whose minor unit is not 2 digits.
_EXPONENT_EXCEPTIONS = {
    **dict.fromkeys(
        "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF".split(), 0
    ),
    **dict.fromkeys("BHD IQD JOD KWD LYD OMR TND".split(), 3),
    **dict.fromkeys("CLF UYW".split(), 4),
}
# ISO 4217 active codes with two-digit minor units.
_TWO_DIGIT = set(
    """AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV BRL BSD BTN BWP
    BYN BZD CAD CDF CHE CHF CHW CNY COP COU CRC CUC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD
    FKP GBP GEL GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT
    LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO
    NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS
    SRD SSP STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD USN UYU UZS VED VES WST XCD
    YER ZAR ZMW ZWL""".split()
)


class Rounding(StrEnum):
    """How amounts are rounded to the rounding unit."""

    HALF_UP = "half_up"
    UP = "up"
    DOWN = "down"

    @property
    def decimal_mode(self) -> str:
        return {"half_up": ROUND_HALF_UP, "up": ROUND_UP, "down": ROUND_DOWN}[self.value]


def is_currency(code: str) -> bool:
    """Whether ``code`` is an active ISO 4217 currency code."""
    return code in _TWO_DIGIT or code in _EXPONENT_EXCEPTIONS


def check_currency(code: str) -> str:
    """Return the upper-cased code, or raise if it is not ISO 4217."""
    upper = (code or "").strip().upper()
    if not is_currency(upper):
        raise ValidationFailed(
            f"'{code}' is not an ISO 4217 currency code (for example CNY, USD, HKD).",
            code="invalid_currency",
        )
    return upper


def exponent(currency: str) -> int:
    """Number of minor-unit digits of ``currency`` (2 for CNY, 0 for JPY)."""
    code = check_currency(currency)
    return _EXPONENT_EXCEPTIONS.get(code, 2)


def minor_factor(currency: str) -> int:
    """How many minor units make one major unit."""
    return 10 ** exponent(currency)


def parse_amount(text: object, *, field: str = "amount") -> Decimal:
    """Parse a money amount written by a person or a file ("1,234.56", "1234", 12.5)."""
    if isinstance(text, Decimal):
        value = text
    elif isinstance(text, int) and not isinstance(text, bool):
        value = Decimal(text)
    elif isinstance(text, float):
        # Spreadsheets hand us floats; their shortest repr is what the user typed.
        value = Decimal(repr(text))
    elif isinstance(text, str):
        cleaned = text.strip().replace(",", "").replace("¥", "").replace("￥", "")
        if not cleaned:
            raise ValidationFailed(f"{field} is empty.", code="invalid_amount")
        try:
            value = Decimal(cleaned)
        except InvalidOperation:
            raise ValidationFailed(
                f"{field} '{text}' is not a number.", code="invalid_amount"
            ) from None
    else:
        raise ValidationFailed(f"{field} '{text}' is not a number.", code="invalid_amount")
    if not value.is_finite():
        raise ValidationFailed(f"{field} '{text}' is not a number.", code="invalid_amount")
    return value


def to_minor(amount: Decimal, currency: str, *, field: str = "amount") -> int:
    """Exact conversion to minor units; refuses amounts finer than the currency allows."""
    factor = minor_factor(currency)
    scaled = amount * factor
    if scaled != scaled.to_integral_value():
        raise ValidationFailed(
            f"{field} {amount} has more decimals than {currency} allows ({exponent(currency)}).",
            code="too_many_decimals",
        )
    return int(scaled)


def from_minor(minor: int, currency: str) -> Decimal:
    """Decimal amount of ``minor`` minor units, with the currency's number of decimals."""
    exp = exponent(currency)
    return Decimal(minor).scaleb(-exp).quantize(Decimal(1).scaleb(-exp))


def format_minor(minor: int, currency: str) -> str:
    """Decimal string of a minor-unit amount ("3343.58")."""
    return str(from_minor(minor, currency))


def round_ratio(numerator: int, denominator: int, unit: int, mode: Rounding) -> int:
    """Round the exact rational ``numerator/denominator`` (minor units) to a multiple of ``unit``.

    Integer arithmetic only, so no precision is ever lost before the one explicit rounding.
    """
    if denominator <= 0 or unit <= 0:
        raise ValueError("denominator and unit must be positive")
    sign = -1 if numerator < 0 else 1
    den = denominator * unit
    quotient, remainder = divmod(abs(numerator), den)
    if remainder and (mode is Rounding.UP or (mode is Rounding.HALF_UP and 2 * remainder >= den)):
        quotient += 1
    return sign * quotient * unit
