"""Customers' ID numbers at rest: ciphertext in the table, a blind index to find them, the
same through the API, the bulk import and the key rotation, and the migration that
encrypted the rows already there."""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import select, text
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from arrears.auth import crypto
from arrears.auth.settings import get_auth_settings
from arrears.cli import app as cli_app
from arrears.customers.models import Customer
from arrears.kit import db as kit_db
from arrears.kit.db import unit_of_work
from arrears.kit.migrate import alembic_config, upgrade
from tests.factories import make_customer
from tests.loans.test_imports import import_examples

RESIDENT_ID = "11010519491231002X"
USCC = "91110000600037341L"
K1 = base64.b64encode(b"1" * 32).decode()
K2 = base64.b64encode(b"2" * 32).decode()


def use_keys(monkeypatch: pytest.MonkeyPatch, data_keys: str) -> None:
    monkeypatch.setenv("ARREARS_DATA_KEYS", data_keys)
    get_auth_settings.cache_clear()
    crypto.get_keyring.cache_clear()


def stored(engine: Engine) -> dict[str, tuple[str | None, str | None, str | None, str | None]]:
    """What the customers table holds, as the database sees it (no decryption)."""
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT customer_ref, id_number, id_number_index, registration_code, "
                "registration_code_index FROM customers ORDER BY id"
            )
        )
        return {row[0]: tuple(row[1:]) for row in rows}  # type: ignore[misc]


def test_an_id_number_is_stored_encrypted_with_its_blind_index(engine, db_session):
    make_customer(db_session, "C1", id_number=RESIDENT_ID)
    make_customer(db_session, "B1", type="business", name="某某有限公司", id_number=USCC)
    db_session.commit()
    rows = stored(engine)
    id_number, index, code, code_index = rows["C1"]
    assert id_number is not None and id_number.startswith("v1:") and RESIDENT_ID not in id_number
    assert index == crypto.blind_index(RESIDENT_ID) and code is None and code_index is None
    assert rows["B1"][0] is None and rows["B1"][1] is None
    assert rows["B1"][2].startswith("v1:") and rows["B1"][3] == crypto.blind_index(USCC)
    with unit_of_work(engine) as session:
        customer = session.scalars(select(Customer).where(Customer.customer_ref == "C1")).one()
        assert customer.id_number == RESIDENT_ID


def test_changing_an_id_number_changes_its_index(engine, auth_client):
    body = {"customer_ref": "C1", "name": "张三", "id_number": RESIDENT_ID}
    assert auth_client.post("/api/v1/customers", json=body).status_code == 201
    other = "110105198001010016"
    patch = {"version": 1, "id_number": other}
    assert auth_client.patch("/api/v1/customers/C1", json=patch).status_code == 200
    assert stored(engine)["C1"][1] == crypto.blind_index(other)
    found = auth_client.get(f"/api/v1/customers?id_number={other}").json()["items"]
    assert [c["customer_ref"] for c in found] == ["C1"]
    assert auth_client.get(f"/api/v1/customers?id_number={RESIDENT_ID}").json()["total"] == 0


def test_imported_customers_are_stored_encrypted_and_found_by_id_number(engine, auth_client):
    with unit_of_work() as session:
        import_examples(session, "customers")
    rows = stored(engine)
    assert len(rows) == 4
    for id_number, index, code, code_index in rows.values():
        column = "id_number" if id_number is not None else "registration_code"
        value, value_index = (id_number, index) if id_number is not None else (code, code_index)
        assert value is not None and value.startswith("v1:")
        assert value_index == crypto.blind_index(crypto.decrypt(value, f"customers.{column}"))
    found = auth_client.get(f"/api/v1/customers?id_number={USCC}").json()["items"]
    assert [c["customer_ref"] for c in found] == ["C-0003"]
    with unit_of_work() as session:
        again = import_examples(session, "customers")["customers"]
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 4)


def test_keys_rotate_re_encrypts_the_customers_id_numbers_and_search_still_works(
    engine, auth_client, monkeypatch
):
    use_keys(monkeypatch, f"k1:{K1}")
    with unit_of_work() as session:
        import_examples(session, "customers")
    assert all(
        (row[0] or row[2]).startswith("v1:k1:")  # type: ignore[union-attr]
        for row in stored(engine).values()
    )
    use_keys(monkeypatch, f"k2:{K2},k1:{K1}")
    result = CliRunner().invoke(cli_app, ["keys", "rotate"])
    assert result.exit_code == 0, result.output
    assert "customers.id_number: 3 values re-encrypted" in result.output
    assert "customers.registration_code: 1 values re-encrypted" in result.output
    use_keys(monkeypatch, f"k2:{K2}")  # the old key is gone: everything must read with k2
    rows = stored(engine)
    assert all((row[0] or row[2]).startswith("v1:k2:") for row in rows.values())  # type: ignore[union-attr]
    found = auth_client.get(f"/api/v1/customers?id_number={RESIDENT_ID}").json()["items"]
    assert [c["customer_ref"] for c in found] == ["C-0001"]
    revealed = auth_client.post("/api/v1/customers/C-0001/reveal", json={"reason": "check"})
    assert revealed.json()["id_number"] == RESIDENT_ID


# --- the migration ----------------------------------------------------------------------


@pytest.fixture
def at_0003(engine: Engine, tmp_path: Path) -> Iterator[Engine]:
    """An empty database at revision 0003 (of the same kind as ``engine``)."""
    if engine.dialect.name == "sqlite":
        scratch = kit_db.make_engine(f"sqlite:///{tmp_path / 'old.db'}")
        upgrade(scratch, "0003")
        yield scratch
        scratch.dispose()
        return
    schema = f"migration_{os.getpid()}"
    with engine.begin() as connection:
        connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    scratch = kit_db.make_engine(
        engine.url.render_as_string(hide_password=False),
        connect_args={"options": f"-csearch_path={schema}"},
    )
    try:
        upgrade(scratch, "0003")
        yield scratch
    finally:
        scratch.dispose()
        with engine.begin() as connection:
            connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))


def test_the_migration_encrypts_the_rows_already_there_and_keeps_their_contacts(at_0003):
    with at_0003.begin() as connection:
        for n in range(1, 2502):  # more than two chunks
            business = n % 5 == 0
            connection.execute(
                text(
                    "INSERT INTO customers (id, customer_ref, type, name, id_number, "
                    "registration_code, time_zone, language, created_at, updated_at, version) "
                    "VALUES (:id, :ref, :type, 'x', :id_number, :code, 'Asia/Shanghai', "
                    "'zh-CN', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 1)"
                ),
                {
                    "id": n,
                    "ref": f"C{n}",
                    "type": "business" if business else "individual",
                    "id_number": None if business else RESIDENT_ID,
                    "code": USCC if business else None,
                },
            )
        connection.execute(
            text(
                "INSERT INTO contact_points (customer_id, kind, value, relation, status, "
                "is_primary, created_at, updated_at, version) VALUES (1, 'phone', "
                "'+8613800138000', 'self', 'valid', true, CURRENT_TIMESTAMP, "
                "CURRENT_TIMESTAMP, 1)"
            )
        )
    upgrade(at_0003)
    rows = stored(at_0003)
    assert len(rows) == 2501
    assert all(RESIDENT_ID not in str(row) and USCC not in str(row) for row in rows.values())
    assert rows["C1"][1] == crypto.blind_index(RESIDENT_ID)
    assert crypto.decrypt(rows["C2500"][2], "customers.registration_code") == USCC  # type: ignore[arg-type]
    with at_0003.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM contact_points")).scalar() == 1

    config = alembic_config(at_0003)
    with at_0003.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0003")
    with at_0003.connect() as connection:
        plain = connection.execute(
            text("SELECT id_number, registration_code FROM customers WHERE id IN (1, 5)")
        ).all()
        assert [tuple(row) for row in plain] == [(RESIDENT_ID, None), (None, USCC)]
        assert connection.execute(text("SELECT count(*) FROM contact_points")).scalar() == 1
