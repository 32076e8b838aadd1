"""The password policy and Argon2id hashing."""

from __future__ import annotations

import pytest

from arrears.auth import passwords
from arrears.kit.errors import ValidationFailed


def test_a_long_uncommon_password_is_accepted():
    assert passwords.policy_problems("Quiet-Harbour-Lantern-42", "li.na") == []


def test_a_password_shorter_than_12_characters_is_refused():
    assert "must be at least 12 characters long" in passwords.policy_problems("Sh0rt-pass", "x")


def test_a_password_containing_the_user_name_is_refused_whatever_the_case():
    problems = passwords.policy_problems("My-name-is-ZHANG.WEI-2026", "zhang.wei")
    assert "must not contain the user name" in problems


@pytest.mark.parametrize(
    "password", ["password1234", "QWERTY123456", "iloveyou2024!", "woaini1314520", "1q2w3e4r5t6y"]
)
def test_common_passwords_and_common_ones_with_digits_added_are_refused(password):
    assert "is one of the most common passwords" in passwords.policy_problems(password, "x")


def test_a_password_of_one_repeated_character_is_refused():
    assert passwords.policy_problems("aaaaaaaaaaaaaaaa", "x")


def test_the_common_password_list_ships_with_the_package():
    common = passwords.common_passwords()
    assert len(common) >= 200
    assert "password" in common


def test_check_password_policy_raises_weak_password_with_every_problem():
    with pytest.raises(ValidationFailed) as caught:
        passwords.check_password_policy("li.na123", "li.na")
    assert caught.value.code == "weak_password"
    assert len(caught.value.details["problems"]) == 2


def test_a_hash_verifies_its_password_only():
    stored = passwords.hash_password("Quiet-Harbour-Lantern-42")
    assert stored.startswith("$argon2id$")
    assert passwords.verify_password("Quiet-Harbour-Lantern-42", stored)[0]
    assert not passwords.verify_password("Quiet-Harbour-Lantern-43", stored)[0]


def test_a_damaged_stored_hash_is_a_wrong_password_not_a_crash():
    assert passwords.verify_password("anything at all", "not-a-hash") == (False, None)


def test_generated_passwords_meet_the_policy_and_differ():
    generated = {passwords.generate_password("li.na") for _ in range(20)}
    assert len(generated) == 20
    assert all(passwords.policy_problems(p, "li.na") == [] for p in generated)
