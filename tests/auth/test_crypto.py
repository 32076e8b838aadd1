"""Encryption at rest: round trips, key ids in the ciphertext, rotation, blind indexes."""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterator

import pytest
from sqlalchemy import Column, MetaData, String, Table, insert, select, text
from sqlalchemy.engine import Engine

from arrears.auth import crypto
from arrears.auth.crypto import DecryptionError, EncryptedString, KeyConfigError, KeyRing
from arrears.kit.db import BigId, unit_of_work

K1 = base64.b64encode(b"1" * 32).decode()
K2 = base64.b64encode(b"2" * 32).decode()
INDEX_KEY = base64.b64encode(b"i" * 32).decode()


def use_keys(monkeypatch: pytest.MonkeyPatch, data_keys: str) -> None:
    monkeypatch.setenv("ARREARS_DATA_KEYS", data_keys)
    monkeypatch.setenv("ARREARS_BLIND_INDEX_KEY", INDEX_KEY)
    crypto.get_auth_settings.cache_clear()
    crypto.get_keyring.cache_clear()


# --- the key ring -----------------------------------------------------------------------


def test_a_value_round_trips_and_its_ciphertext_names_the_key():
    ring = KeyRing.parse(f"k1:{K1}", INDEX_KEY)
    stored = ring.encrypt("11010519491231002X", "customers.id_number")
    assert stored.startswith("v1:k1:")
    assert "11010519491231002X" not in stored
    assert ring.decrypt(stored, "customers.id_number") == "11010519491231002X"


def test_encrypting_the_same_value_twice_gives_different_ciphertexts():
    ring = KeyRing.parse(f"k1:{K1}", INDEX_KEY)
    assert ring.encrypt("same") != ring.encrypt("same")


def test_a_ciphertext_moved_to_another_column_does_not_decrypt():
    ring = KeyRing.parse(f"k1:{K1}", INDEX_KEY)
    stored = ring.encrypt("11010519491231002X", "customers.id_number")
    with pytest.raises(DecryptionError, match="another column"):
        ring.decrypt(stored, "contact_points.value")


def test_a_damaged_ciphertext_does_not_decrypt():
    ring = KeyRing.parse(f"k1:{K1}", INDEX_KEY)
    stored = ring.encrypt("secret")
    damaged = stored[:-2] + ("A" if stored[-2] != "A" else "B") + stored[-1]
    with pytest.raises(DecryptionError):
        ring.decrypt(damaged)


def test_a_value_of_a_removed_key_names_the_missing_key():
    old = KeyRing.parse(f"k1:{K1}", INDEX_KEY).encrypt("secret")
    with pytest.raises(DecryptionError, match="key 'k1'"):
        KeyRing.parse(f"k2:{K2}", INDEX_KEY).decrypt(old)


def test_old_keys_after_the_active_one_still_decrypt():
    old = KeyRing.parse(f"k1:{K1}", INDEX_KEY).encrypt("secret")
    ring = KeyRing.parse(f"k2:{K2},k1:{K1}", INDEX_KEY)
    assert ring.active_id == "k2"
    assert ring.decrypt(old) == "secret"
    assert ring.encrypt("secret").startswith("v1:k2:")


@pytest.mark.parametrize(
    "data_keys",
    [
        "",
        "k1",
        f"k 1:{K1}",
        "k1:not base64!",
        f"k1:{base64.b64encode(b'short').decode()}",
        f"k1:{K1},k1:{K2}",
    ],
)
def test_unusable_key_settings_are_refused(data_keys):
    with pytest.raises(KeyConfigError):
        KeyRing.parse(data_keys, INDEX_KEY)


def test_without_keys_the_demo_uses_keys_derived_from_the_secret_and_warns(caplog):
    with caplog.at_level(logging.WARNING, logger="arrears.auth.crypto"):
        ring = crypto.get_keyring()
    assert ring.active_id == "dev"
    assert "ARREARS_DATA_KEYS is not set" in caplog.text
    assert crypto.decrypt(crypto.encrypt("secret")) == "secret"


def test_keys_come_from_the_environment(monkeypatch):
    use_keys(monkeypatch, f"k2:{K2},k1:{K1}")
    assert crypto.get_keyring().active_id == "k2"
    assert crypto.encrypt("x").startswith("v1:k2:")


# --- blind indexes ----------------------------------------------------------------------


def test_equal_values_have_equal_blind_indexes_and_different_values_do_not():
    ring = KeyRing.parse(f"k1:{K1}", INDEX_KEY)
    first = ring.blind_index("11010519491231002X")
    assert first == ring.blind_index("11010519491231002X")
    assert first != ring.blind_index("11010519491231003X")
    assert len(first) == crypto.BLIND_INDEX_LENGTH


def test_the_blind_index_ignores_surrounding_space_and_full_width_digits():
    ring = KeyRing.parse(f"k1:{K1}", INDEX_KEY)
    assert ring.blind_index(" 110105１９４９1231002X ") == ring.blind_index("11010519491231002X")


def test_the_blind_index_does_not_change_when_data_keys_rotate():
    before = KeyRing.parse(f"k1:{K1}", INDEX_KEY).blind_index("x")
    assert KeyRing.parse(f"k2:{K2},k1:{K1}", INDEX_KEY).blind_index("x") == before


def test_the_blind_index_depends_on_its_key():
    other = base64.b64encode(b"j" * 32).decode()
    assert KeyRing.parse(f"k1:{K1}", INDEX_KEY).blind_index("x") != KeyRing.parse(
        f"k1:{K1}", other
    ).blind_index("x")


# --- in the database --------------------------------------------------------------------

notes_metadata = MetaData()
notes = Table(
    "test_secret_notes",
    notes_metadata,
    Column("id", BigId, primary_key=True),
    Column("note", EncryptedString(purpose="test_secret_notes.note")),
    Column("note_index", String(64), index=True),
)


@pytest.fixture
def notes_table(engine: Engine) -> Iterator[Table]:
    notes_metadata.create_all(engine)
    try:
        yield notes
    finally:
        notes_metadata.drop_all(engine)


def raw_notes(engine: Engine) -> list[str | None]:
    with engine.connect() as connection:
        return list(
            connection.execute(text("SELECT note FROM test_secret_notes ORDER BY id")).scalars()
        )


def test_an_encrypted_column_stores_ciphertext_and_reads_plaintext(
    engine, notes_table, monkeypatch
):
    use_keys(monkeypatch, f"k1:{K1}")
    with unit_of_work(engine) as session:
        session.execute(
            insert(notes_table),
            [
                {
                    "note": "11010519491231002X",
                    "note_index": crypto.blind_index("11010519491231002X"),
                },
                {"note": None, "note_index": None},
            ],
        )
    stored = raw_notes(engine)
    assert stored[0].startswith("v1:k1:")
    assert stored[1] is None
    with unit_of_work(engine) as session:
        found = session.execute(
            select(notes_table.c.note).where(
                notes_table.c.note_index == crypto.blind_index("11010519491231002X")
            )
        ).scalar_one()
    assert found == "11010519491231002X"


def test_rotation_re_encrypts_every_value_with_the_new_key_and_keeps_them_readable(
    engine, notes_table, monkeypatch
):
    use_keys(monkeypatch, f"k1:{K1}")
    plain = [f"note {i}" for i in range(25)]
    with unit_of_work(engine) as session:
        session.execute(insert(notes_table), [{"note": p} for p in plain] + [{"note": None}])
    use_keys(monkeypatch, f"k2:{K2},k1:{K1}")
    with unit_of_work(engine) as session:
        report = crypto.rotate(db_session=session, columns=[notes_table.c.note], chunk_size=7)
    assert report.active_key == "k2"
    assert report.reencrypted == {"test_secret_notes.note": 25}
    stored = raw_notes(engine)
    assert all(value.startswith("v1:k2:") for value in stored[:25])
    assert stored[25] is None
    use_keys(monkeypatch, f"k2:{K2}")  # the old key can go once rotation is done
    with unit_of_work(engine) as session:
        read = session.execute(select(notes_table.c.note).order_by(notes_table.c.id)).scalars()
        assert list(read)[:25] == plain
        again = crypto.rotate(db_session=session, columns=[notes_table.c.note])
    assert again.total == 0


def test_rotation_finds_the_encrypted_columns_of_a_metadata(notes_table):
    assert crypto.encrypted_columns(notes_metadata) == [notes_table.c.note]


def test_values_written_with_the_development_key_rotate_to_real_keys(monkeypatch):
    demo = crypto.encrypt("written by the demo")
    assert demo.startswith("v1:dev:")
    use_keys(monkeypatch, f"k1:{K1}")
    ring = crypto.get_keyring()
    assert ring.active_id == "k1"
    assert ring.decrypt(demo) == "written by the demo"
