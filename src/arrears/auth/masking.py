"""Masking of personal data for display: the ends stay, the middle becomes ``*``. Pure.

People without ``customers:reveal`` see only masked values; revealing one is an audited
event. Names stay visible (collectors must address the borrower); ``mask_name`` exists for
places that reach third parties.
"""

from __future__ import annotations

import phonenumbers

STAR = "*"


def mask_middle(value: str, head: int, tail: int, *, min_hidden: int = 4) -> str:
    """``value`` with all but ``head`` leading and ``tail`` trailing characters starred.

    When that would hide fewer than ``min_hidden`` characters, at most a quarter is kept at
    each end instead, so a short value never shows more than half of itself.
    """
    n = len(value)
    if n - head - tail < min_hidden:
        # never more than asked for, never more than a quarter at each end
        head, tail = min(head, n // 4), min(tail, n // 4)
    return value[:head] + STAR * (n - head - tail) + (value[n - tail :] if tail else "")


def mask_id_number(value: str) -> str:
    """A resident ID or unified social credit code: first 6 and last 4 kept.

    ``110105********002X`` keeps the region and the check digits, hides the birth date.
    """
    return mask_middle(value, 6, 4, min_hidden=4)


def _mask_digits(digits: str) -> str:
    return mask_middle(digits, 3, 4, min_hidden=3)


def mask_phone(value: str, *, home_region: str = "CN") -> str:
    """A phone number: national number with first 3 and last 4 digits kept.

    ``+8613800138000`` → ``138****8000``; numbers of other countries keep their country
    code: ``+14155552671`` → ``+1 415***2671``.
    """
    try:
        number = phonenumbers.parse(value, home_region)
    except phonenumbers.NumberParseException:
        return mask_middle(value, 0, 4, min_hidden=4)  # not a phone number: only the tail
    national = phonenumbers.national_significant_number(number)
    masked = _mask_digits(national)
    if phonenumbers.region_code_for_number(number) == home_region:
        return masked
    return f"+{number.country_code} {masked}"


def mask_email(value: str) -> str:
    """An e-mail address: first and last character of the local part kept, domain kept."""
    local, at, domain = value.rpartition("@")
    if not at:
        return mask_middle(value, 1, 1, min_hidden=1)
    if len(local) <= 2:
        hidden = local[:1] + STAR * (len(local) - 1) if len(local) == 2 else STAR * len(local)
    else:
        hidden = local[0] + STAR * (len(local) - 2) + local[-1]
    return f"{hidden}@{domain}"


def mask_name(value: str) -> str:
    """A name for third-party eyes: ``张三`` → ``张*``, ``张三丰`` → ``张*丰``.

    Names of several words keep each word's initial: ``John Smith`` → ``J*** S****``.
    """
    words = value.split()
    if len(words) > 1:
        return " ".join(word[0] + STAR * (len(word) - 1) for word in words)
    if len(value) <= 1:
        return value
    if len(value) == 2:
        return value[0] + STAR
    return value[0] + STAR * (len(value) - 2) + value[-1]


def mask_account(value: str) -> str:
    """A bank account or card number: only the last 4 kept."""
    return mask_middle(value, 0, 4, min_hidden=4)


def mask_address(value: str) -> str:
    """An address: the leading part (province, city, district) kept, the rest starred."""
    head = min(len(value) // 2, 6)
    return value[:head] + STAR * (len(value) - head)


def mask_contact(kind: str, value: str) -> str:
    """A contact point's value masked by its kind (phone, email, address)."""
    if kind == "phone":
        return mask_phone(value)
    if kind == "email":
        return mask_email(value)
    return mask_address(value)
