"""Checks and normalisation of personal identifiers. Pure: no database, no clock."""

from __future__ import annotations

import re

import phonenumbers
from stdnum.cn import ric, uscc
from stdnum.exceptions import ValidationError as StdnumError

from arrears.kit.errors import ValidationFailed

_CN_MOBILE = re.compile(r"^(?:\+?86[\s-]?)?(1[3-9]\d)[\s-]?(\d{4})[\s-]?(\d{4})$")
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


def normalise_resident_id(text: str) -> str:
    """An 18-digit resident ID with upper-case X; raises unless region, date and checksum hold."""
    try:
        return str(ric.validate(text))
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
