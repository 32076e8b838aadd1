"""Sign-in: lockout after repeated failures, its release, rate limits, disabled users."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from arrears.auth import service
from arrears.auth.errors import (
    AccountDisabled,
    AccountLocked,
    InvalidCredentials,
    TooManyAttempts,
)
from arrears.auth.models import AuditEntry
from arrears.auth.service import SignInGuard, SlidingWindow

from .conftest import PASSWORD, make_user


def sign_in(db_session, clock, password, *, username="li.na", ip="10.0.0.1", guard=None):
    return service.authenticate(
        db_session=db_session,
        username=username,
        password=password,
        ip=ip,
        now=clock(),
        guard=guard or SignInGuard(per_minute=1000),
    )


def fail_times(db_session, clock, times, guard=None):
    for _ in range(times):
        with pytest.raises((InvalidCredentials, AccountLocked)):
            sign_in(db_session, clock, "wrong password entirely", guard=guard)


def test_the_right_password_signs_in_and_is_audited(db_session, clock):
    make_user(db_session, "li.na")
    user = sign_in(db_session, clock, PASSWORD)
    assert user.username == "li.na"
    entry = db_session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
    assert (entry.action, entry.actor, entry.ip) == ("auth.sign_in", "li.na", "10.0.0.1")


def test_user_names_are_case_insensitive(db_session, clock):
    make_user(db_session, "li.na")
    assert sign_in(db_session, clock, PASSWORD, username="  Li.Na ").username == "li.na"


def test_a_wrong_password_is_refused_and_counted(db_session, clock):
    user = make_user(db_session, "li.na")
    with pytest.raises(InvalidCredentials):
        sign_in(db_session, clock, "not the password at all")
    assert user.failed_attempts == 1


def test_an_unknown_user_gets_the_same_answer_as_a_wrong_password(db_session, clock):
    with pytest.raises(InvalidCredentials) as caught:
        sign_in(db_session, clock, PASSWORD, username="nobody")
    assert caught.value.message == "The user name or password is not correct."
    entry = db_session.scalars(select(AuditEntry)).one()
    assert (entry.action, entry.actor, entry.after) == (
        "auth.sign_in_failed",
        "anonymous",
        {"username": "nobody"},
    )


def test_five_failures_in_a_row_lock_the_account_even_for_the_right_password(db_session, clock):
    user = make_user(db_session, "li.na")
    fail_times(db_session, clock, 4)
    with pytest.raises(AccountLocked) as caught:
        sign_in(db_session, clock, "wrong again, fifth time")
    assert caught.value.details["retry_after"] == 15 * 60
    assert user.locked_until == clock() + timedelta(minutes=15)
    clock.advance(minutes=14, seconds=59)
    with pytest.raises(AccountLocked):
        sign_in(db_session, clock, PASSWORD)


def test_the_lock_is_released_after_15_minutes(db_session, clock):
    make_user(db_session, "li.na")
    fail_times(db_session, clock, 5)
    clock.advance(minutes=15)
    assert sign_in(db_session, clock, PASSWORD).username == "li.na"


def test_after_the_lock_ends_the_count_starts_again(db_session, clock):
    user = make_user(db_session, "li.na")
    fail_times(db_session, clock, 5)
    clock.advance(minutes=15)
    fail_times(db_session, clock, 4)
    assert user.locked_until <= clock()
    assert user.failed_attempts == 4


def test_a_successful_sign_in_resets_the_count(db_session, clock):
    user = make_user(db_session, "li.na")
    fail_times(db_session, clock, 4)
    sign_in(db_session, clock, PASSWORD)
    assert user.failed_attempts == 0
    fail_times(db_session, clock, 4)
    assert sign_in(db_session, clock, PASSWORD) is user


def test_the_lockout_is_audited(db_session, clock):
    make_user(db_session, "li.na")
    fail_times(db_session, clock, 5)
    actions = db_session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert actions.count("auth.sign_in_failed") == 5
    assert actions[-1] == "auth.locked"


def test_a_disabled_user_cannot_sign_in(db_session, clock):
    make_user(db_session, "li.na")
    service.disable_user(db_session=db_session, username="li.na")
    with pytest.raises(AccountDisabled):
        sign_in(db_session, clock, PASSWORD)


def test_an_administrator_can_lift_a_lock(db_session, clock):
    make_user(db_session, "li.na")
    fail_times(db_session, clock, 5)
    service.unlock_user(db_session=db_session, username="li.na")
    assert sign_in(db_session, clock, PASSWORD).username == "li.na"


# --- rate limits ------------------------------------------------------------------------


def test_a_sliding_window_allows_the_limit_then_says_how_long_to_wait():
    window = SlidingWindow(3, 60.0)
    assert [window.hit("k", t) for t in (0.0, 10.0, 20.0)] == [None, None, None]
    assert window.hit("k", 30.0) == pytest.approx(30.0)
    assert window.hit("other", 30.0) is None
    assert window.hit("k", 60.0) is None  # the first hit has left the window


def test_refused_hits_do_not_extend_the_wait():
    window = SlidingWindow(1, 60.0)
    window.hit("k", 0.0)
    for moment in (1.0, 2.0, 59.0):
        assert window.hit("k", moment) is not None
    assert window.hit("k", 60.0) is None


def test_more_than_10_attempts_a_minute_on_one_account_are_refused(db_session, clock):
    make_user(db_session, "li.na")
    guard = SignInGuard(per_minute=10)
    for attempt in range(10):
        clock.advance(seconds=1)
        ip = f"10.0.0.{attempt}"  # from many addresses: the account limit still holds
        if attempt % 4 == 3:
            sign_in(db_session, clock, PASSWORD, ip=ip, guard=guard)
        else:
            with pytest.raises(InvalidCredentials):
                sign_in(db_session, clock, "not the password!", ip=ip, guard=guard)
    with pytest.raises(TooManyAttempts) as caught:
        sign_in(db_session, clock, PASSWORD, ip="10.9.9.9", guard=guard)
    assert caught.value.code == "too_many_attempts"
    assert caught.value.headers["Retry-After"] == str(caught.value.details["retry_after"])
    assert 0 < caught.value.details["retry_after"] <= 60
    clock.advance(seconds=60)
    assert sign_in(db_session, clock, PASSWORD, ip="10.9.9.9", guard=guard)


def test_more_than_10_attempts_a_minute_from_one_address_are_refused(db_session, clock):
    guard = SignInGuard(per_minute=10)
    for attempt in range(10):
        with pytest.raises(InvalidCredentials):
            sign_in(db_session, clock, PASSWORD, username=f"user{attempt}", guard=guard)
    with pytest.raises(TooManyAttempts) as caught:
        sign_in(db_session, clock, PASSWORD, username="someone.else", guard=guard)
    assert "from your address" in caught.value.message


def test_a_password_typed_into_the_user_name_field_is_not_kept(db_session, clock):
    with pytest.raises(InvalidCredentials):
        sign_in(db_session, clock, "whatever", username="My Secret P@ssword!")
    entry = db_session.scalars(select(AuditEntry)).one()
    assert entry.after == {"username": "[not a user name]"}
