"""Masking keeps the ends of a value, stars the middle, and never shows the middle."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from arrears.auth.masking import (
    STAR,
    mask_account,
    mask_address,
    mask_contact,
    mask_email,
    mask_id_number,
    mask_middle,
    mask_name,
    mask_phone,
)

id_characters = st.sampled_from("0123456789X")
values = st.text(alphabet=st.characters(exclude_characters=STAR), min_size=0, max_size=40)


def test_a_resident_id_keeps_region_and_check_digits():
    assert mask_id_number("11010519491231002X") == "110105********002X"


def test_a_unified_social_credit_code_is_masked_the_same_way():
    assert mask_id_number("91110000600037341L") == "911100********341L"


def test_a_chinese_mobile_keeps_the_first_3_and_last_4_digits():
    assert mask_phone("+8613800138000") == "138****8000"


def test_a_foreign_number_keeps_its_country_code():
    assert mask_phone("+14155552671") == "+1 415***2671"
    assert mask_phone("+447911123456") == "+44 791***3456"


def test_an_unparseable_phone_is_still_masked():
    assert mask_phone("not a phone") == "*******hone"


def test_an_email_keeps_the_ends_of_the_local_part_and_the_domain():
    assert mask_email("zhangsan@example.com") == "z******n@example.com"
    assert mask_email("ab@example.com") == "a*@example.com"
    assert mask_email("a@example.com") == "*@example.com"


def test_names_for_third_parties_keep_the_first_character():
    assert mask_name("张三") == "张*"
    assert mask_name("张三丰") == "张*丰"
    assert mask_name("欧阳娜娜") == "欧**娜"
    assert mask_name("John Smith") == "J*** S****"


def test_accounts_and_addresses():
    assert mask_account("6222021234567890123") == "***************0123"
    assert mask_address("北京市朝阳区建国路88号") == "北京市朝阳区******"
    assert mask_contact("phone", "+8613800138000") == "138****8000"
    assert mask_contact("email", "zhangsan@example.com") == "z******n@example.com"


@given(st.text(alphabet=id_characters, min_size=15, max_size=18))
def test_an_id_number_keeps_its_length_and_hides_everything_but_6_and_4(value):
    masked = mask_id_number(value)
    assert len(masked) == len(value)
    assert masked[:6] == value[:6]
    assert masked[-4:] == value[-4:]
    assert set(masked[6:-4]) == {STAR}


@given(values, st.integers(0, 8), st.integers(0, 8), st.integers(1, 6))
def test_masking_preserves_length_and_shows_only_characters_in_place(value, head, tail, hidden):
    masked = mask_middle(value, head, tail, min_hidden=hidden)
    assert len(masked) == len(value)
    assert all(m in (v, STAR) for m, v in zip(masked, value, strict=True))


@given(values, st.integers(0, 8), st.integers(0, 8), st.integers(1, 6))
def test_the_middle_is_never_revealed(value, head, tail, hidden):
    masked = mask_middle(value, head, tail, min_hidden=hidden)
    shown = sum(1 for m in masked if m != STAR)
    starred = len(value) - shown
    # either the requested ends with enough hidden, or at most half is shown
    assert starred >= min(hidden, len(value)) or shown <= len(value) // 2
    assert shown <= head + tail
    first_star = masked.find(STAR)
    if first_star >= 0:
        last_star = masked.rfind(STAR)
        assert set(masked[first_star : last_star + 1]) == {STAR}


@given(st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True))
def test_every_chinese_mobile_shows_exactly_7_of_its_11_digits(national):
    masked = mask_phone("+86" + national)
    assert masked == national[:3] + "****" + national[-4:]


@given(st.emails())
def test_an_email_keeps_its_domain_and_hides_the_middle_of_its_local_part(address):
    masked = mask_email(address)
    local, _, domain = address.rpartition("@")
    assert masked.endswith("@" + domain)
    masked_local = masked[: -len(domain) - 1]
    assert len(masked_local) == len(local)
    if len(local) > 2:
        assert set(masked_local[1:-1]) == {STAR}
