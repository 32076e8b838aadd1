"""The audit trail: hash chain, verification, tamper detection, ORM capture, the API."""

from __future__ import annotations

import threading
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import sessionmaker

from arrears.auth import audit, service
from arrears.auth.audit import Actor, audit_actor
from arrears.auth.models import AuditEntry
from arrears.kit.db import unit_of_work

from .conftest import add_users, make_user


def write_entries(engine, count, **kwargs):
    with unit_of_work(engine) as session:
        return [
            audit.record(db_session=session, action="test.event", entity_id=i, **kwargs)
            for i in range(count)
        ]


@contextmanager
def tampering(engine):
    """A connection allowed to change the log (PostgreSQL's trigger disabled for it alone)."""
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("SET LOCAL session_replication_role = replica"))
        yield connection


def verify(engine):
    with unit_of_work(engine) as session:
        return audit.verify(db_session=session)


def test_an_untouched_chain_verifies(engine):
    write_entries(engine, 5, actor=Actor("li.na", "collector", "10.0.0.1"))
    result = verify(engine)
    assert result.ok
    assert result.checked == 5
    assert result.first_broken_id is None


def test_an_empty_trail_verifies(engine):
    assert verify(engine).ok


def test_each_entry_chains_to_the_one_before(engine):
    write_entries(engine, 3)
    with unit_of_work(engine) as session:
        entries = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
    assert entries[0].prev_hash == audit.GENESIS_HASH
    assert entries[1].prev_hash == entries[0].hash
    assert entries[2].prev_hash == entries[1].hash
    assert verify(engine).head_hash == entries[2].hash


def test_values_of_any_type_hash_the_same_after_a_round_trip(engine):
    with unit_of_work(engine) as session:
        audit.record(
            db_session=session,
            action="customer.update",
            entity_type="customer",
            entity_id="C1",
            before={"name": "张三", "income": Decimal("1200.50"), "born": date(1990, 1, 31)},
            after={"tags": {"b", "a"}, "nested": {"x": [1, 2.5, None, True]}},
            reason="客户要求更正",
            occurred_at=datetime(2026, 1, 31, 23, 59, 59, 999999, tzinfo=UTC),
        )
    assert verify(engine).ok


def test_a_changed_entry_is_named(engine):
    ids = write_entries(engine, 5)
    with tampering(engine) as connection:
        connection.execute(
            text("UPDATE audit_log SET reason = 'nothing happened' WHERE id = :id"),
            {"id": ids[2]},
        )
    result = verify(engine)
    assert not result.ok
    assert result.first_broken_id == ids[2]
    assert result.checked == 2
    assert "changed" in result.reason


def test_a_rewritten_entry_with_a_recomputed_hash_breaks_the_next_link(engine):
    ids = write_entries(engine, 5)
    with tampering(engine) as connection:
        connection.execute(
            text("UPDATE audit_log SET hash = :h WHERE id = :id"), {"h": "f" * 64, "id": ids[2]}
        )
    result = verify(engine)
    assert result.first_broken_id == ids[2]
    with tampering(engine) as connection:
        row = connection.execute(select(AuditEntry.__table__).where(AuditEntry.id == ids[2]))
        entry = row.mappings().one()
        forged = {**entry, "actor": "someone.else"}
        connection.execute(
            text("UPDATE audit_log SET actor = 'someone.else', hash = :h WHERE id = :id"),
            {"h": audit.chain_hash(entry["prev_hash"], forged), "id": ids[2]},
        )
    assert verify(engine).first_broken_id == ids[3]


def test_a_deleted_entry_is_detected(engine):
    ids = write_entries(engine, 5)
    with tampering(engine) as connection:
        connection.execute(text("DELETE FROM audit_log WHERE id = :id"), {"id": ids[1]})
    result = verify(engine)
    assert not result.ok
    assert result.first_broken_id == ids[2]
    assert "removed" in result.reason


# the append-only trigger is PostgreSQL's: the test is made for that database only
@pytest.mark.parametrize("engine", ["postgresql"], indirect=True)
def test_postgresql_refuses_to_change_or_delete_audit_entries(engine):
    write_entries(engine, 1)
    for statement in ("UPDATE audit_log SET reason = 'x'", "DELETE FROM audit_log"):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
            connection.execute(text(statement))
    assert verify(engine).ok


def test_concurrent_writers_keep_one_chain(engine):
    factory = sessionmaker(bind=engine)
    errors: list[BaseException] = []

    def writer(name: str) -> None:
        try:
            for i in range(8):
                with factory.begin() as session:
                    audit.record(db_session=session, action="test.event", entity_id=f"{name}-{i}")
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(f"w{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    result = verify(engine)
    assert result.ok
    assert result.checked == 32


# --- who acted --------------------------------------------------------------------------


def last_entry(session):
    return session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()


def test_without_an_actor_entries_are_the_systems(db_session):
    audit.record(db_session=db_session, action="eod.run")
    assert last_entry(db_session).actor == "system"


def test_the_actor_of_a_cli_command_comes_from_its_context(db_session):
    with audit_actor("cli:ops", "admin"):
        audit.record(db_session=db_session, action="keys.rotate")
    entry = last_entry(db_session)
    assert (entry.actor, entry.actor_role) == ("cli:ops", "admin")


def test_the_actor_of_a_session_wins_over_the_context(db_session):
    audit.set_session_actor(db_session, Actor("li.na", "collector", "10.0.0.7"))
    with audit_actor("cli:ops"):
        audit.record(db_session=db_session, action="customer.reveal")
    entry = last_entry(db_session)
    assert (entry.actor, entry.actor_role, entry.ip) == ("li.na", "collector", "10.0.0.7")


# --- ORM capture ------------------------------------------------------------------------


def test_creating_a_user_is_recorded_with_the_password_hash_redacted(db_session):
    with audit_actor("cli:ops"):
        user = make_user(db_session, "li.na", team="Team A")
    entry = last_entry(db_session)
    assert entry.action == "user.create"
    assert (entry.entity_type, entry.entity_id, entry.actor) == ("user", str(user.id), "cli:ops")
    assert entry.after["username"] == "li.na"
    assert entry.after["team"] == "Team A"
    assert entry.after["password_hash"] == audit.REDACTED
    assert "created_at" not in entry.after
    assert "version" not in entry.after


def test_changing_a_user_records_the_changed_columns_before_and_after(db_session):
    user = make_user(db_session, "li.na", team="Team A")
    service.update_user(db_session=db_session, user=user, team="Team B", role="manager")
    entry = last_entry(db_session)
    assert entry.action == "user.update"
    assert entry.before == {"team": "Team A", "role": "collector"}
    assert entry.after == {"team": "Team B", "role": "manager"}


def test_counting_failed_sign_ins_records_no_user_update(db_session, clock):
    make_user(db_session, "li.na")
    with pytest.raises(service.InvalidCredentials):
        service.authenticate(
            db_session=db_session, username="li.na", password="wrong password!", now=clock()
        )
    actions = db_session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert "user.update" not in actions
    assert actions[-1] == "auth.sign_in_failed"


def test_deleting_a_user_records_what_it_was(db_session):
    user = make_user(db_session, "li.na")
    db_session.commit()
    db_session.expire_all()
    db_session.delete(user)
    db_session.flush()
    entry = last_entry(db_session)
    assert entry.action == "user.delete"
    assert entry.before["username"] == "li.na"
    assert entry.after is None


def test_orm_capture_keeps_the_chain_intact(engine):
    with unit_of_work(engine) as session:
        user = make_user(session, "li.na")
        service.update_user(db_session=session, user=user, team="Team B")
    assert verify(engine).ok


# --- the API ----------------------------------------------------------------------------


def test_auditors_list_the_trail_newest_first_with_filters(api, engine):
    add_users(engine, ("wang.fang", "auditor"), ("li.na", "collector"))
    api.token("li.na")
    headers = api.headers("wang.fang")
    everything = api.client.get("/api/v1/audit", headers=headers).json()
    assert everything["total"] >= 4
    ids = [item["id"] for item in everything["items"]]
    assert ids == sorted(ids, reverse=True)
    sign_ins = api.client.get(
        "/api/v1/audit", headers=headers, params={"action": "auth.sign_in", "actor": "li.na"}
    ).json()
    assert sign_ins["total"] == 1
    assert sign_ins["items"][0]["entity_type"] == "user"
    page = api.client.get("/api/v1/audit", headers=headers, params={"page_size": 1}).json()
    assert len(page["items"]) == 1


def test_the_trail_filters_by_time(api, engine):
    add_users(engine, ("wang.fang", "auditor"))
    now = api.clock()
    with unit_of_work(engine) as session:
        audit.record(db_session=session, action="old.event", occurred_at=now - timedelta(days=2))
        audit.record(db_session=session, action="new.event", occurred_at=now)
    params = {
        "from": (now - timedelta(days=1)).isoformat(),
        "to": (now + timedelta(hours=1)).isoformat(),
    }
    body = api.client.get("/api/v1/audit", headers=api.headers("wang.fang"), params=params).json()
    actions = {item["action"] for item in body["items"]}
    assert "new.event" in actions
    assert "old.event" not in actions


def test_auditors_verify_the_chain_through_the_api(api, engine):
    add_users(engine, ("wang.fang", "auditor"))
    body = api.client.get("/api/v1/audit/verify", headers=api.headers("wang.fang")).json()
    assert body["ok"] is True
    assert body["checked"] >= 2


def test_revealing_personal_data_is_recorded(db_session):
    service.record_reveal(
        db_session=db_session,
        actor=Actor("li.na", "collector", "10.0.0.7"),
        entity_type="customer",
        entity_id="C1",
        fields=["phone", "id_number"],
        reason="identity check on the call",
    )
    entry = last_entry(db_session)
    assert (entry.action, entry.actor, entry.entity_id) == ("customer.reveal", "li.na", "C1")
    assert entry.after == {"fields": ["id_number", "phone"]}
