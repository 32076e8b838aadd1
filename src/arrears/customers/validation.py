"""Checks and normalisation of personal identifiers. Pure: no database, no clock."""

from __future__ import annotations

import re
from datetime import date
from functools import lru_cache

import phonenumbers
from stdnum.cn import ric, uscc
from stdnum.exceptions import InvalidChecksum, InvalidComponent, InvalidFormat, InvalidLength
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.util import isdigits

from arrears.kit.errors import ValidationFailed

_CN_MOBILE = re.compile(r"^(?:\+?86[\s-]?)?(1[3-9]\d)[\s-]?(\d{4})[\s-]?(\d{4})$")
_RIC_SHAPE = re.compile(r"^[0-9]{17}[0-9X]$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def normalise_phone(text: str, region: str = "CN") -> str:
    """A phone number in E.164 (``+8613800138000``); raises if it is not a valid number."""
    raw = (text or "").strip()
    if not raw:
        raise ValidationFailed("phone number is empty", code="invalid_phone")
    if region == "CN":
        # fast path for mainland mobiles, by far the most common case
        match = _CN_MOBILE.match(raw)
        if match:
            return "+86" + "".join(match.groups())
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        raise ValidationFailed(f"'{text}' is not a phone number", code="invalid_phone") from None
    if not phonenumbers.is_valid_number(number):
        raise ValidationFailed(f"'{text}' is not a valid phone number", code="invalid_phone")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@lru_cache(maxsize=1 << 16)
def _known_birth_place(region_and_year: str) -> None:
    # the region lookup is by far the slowest check; its answer depends on these 10 digits
    try:
        ric.get_birth_place(region_and_year + "01010000")
    except KeyError:
        # stdnum fails this way on a prefix that names a province or city but no county
        raise InvalidComponent() from None


def normalise_resident_id(text: str) -> str:
    """An 18-digit resident ID with upper-case X; raises unless region, date and checksum hold."""
    try:
        # the checks of ``ric.validate``, with the region lookup cached
        number = (text or "").strip().upper()
        if not _RIC_SHAPE.match(number):
            number = ric.compact(text)
            if len(number) != 18:
                raise InvalidLength()
            if not isdigits(number[:-1]):
                raise InvalidFormat()
        if number[-1] != ric.calc_check_digit(number):
            raise InvalidChecksum()
        try:
            date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
        except ValueError:
            raise InvalidComponent() from None
        _known_birth_place(number[:10])
        return number
    except StdnumError as exc:
        raise ValidationFailed(
            f"'{text}' is not a valid resident ID number ({exc})", code="invalid_id_number"
        ) from None


def normalise_uscc(text: str) -> str:
    """An 18-character unified social credit code; raises unless its checksum holds."""
    try:
        return str(uscc.validate(text))
    except StdnumError as exc:
        raise ValidationFailed(
            f"'{text}' is not a valid unified social credit code ({exc})",
            code="invalid_registration_code",
        ) from None


def normalise_email(text: str) -> str:
    """An e-mail address, trimmed and lower-cased; raises if it has no user@domain shape."""
    value = (text or "").strip().lower()
    if not _EMAIL.match(value):
        raise ValidationFailed(f"'{text}' is not an e-mail address", code="invalid_email")
    return value
