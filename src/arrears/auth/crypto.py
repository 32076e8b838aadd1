"""Encryption of personal data at rest (AES-256-GCM) and blind indexes to search it.

Keys come from ``ARREARS_DATA_KEYS``: ``keyid:base64key,keyid:base64key``, the first one
active. A ciphertext names the key it was made with (``v1:<keyid>:<base64>``), so rows
written before a rotation still decrypt while ``rotate`` re-encrypts them with the
active key. Without keys (development) one is derived from ``ARREARS_SECRET_KEY`` and a
warning is logged.

An encrypted column cannot be compared in SQL (every encryption differs); next to it
lives a *blind index*, ``blind_index(value)``, a keyed HMAC-SHA256 that equals for equal
values and is searched exactly::

    id_number: Mapped[str | None] = mapped_column(EncryptedString(purpose="customers.id_number"))
    id_number_index: Mapped[str | None] = mapped_column(String(BLIND_INDEX_LENGTH), index=True)
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import os
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import Column, MetaData, Text, bindparam, func, select, type_coerce, update
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeDecorator

from arrears.auth.settings import get_auth_settings
from arrears.kit.settings import get_settings

log = logging.getLogger(__name__)

FORMAT = "v1"
BLIND_INDEX_LENGTH = 64
_KEY_ID = re.compile(r"^[A-Za-z0-9-]{1,32}$")
_NONCE_BYTES = 12


class KeyConfigError(ValueError):
    """The key configuration is unusable."""


class DecryptionError(ValueError):
    """A stored value cannot be decrypted (unknown key, damaged or moved ciphertext)."""


def _derive(secret: str, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(
        secret.encode("utf-8")
    )


def _decode_key(text: str, what: str) -> bytes:
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise KeyConfigError(f"{what} is not valid base64") from None
    if len(key) not in (16, 24, 32):
        raise KeyConfigError(f"{what} must be 16, 24 or 32 bytes (32 recommended), not {len(key)}")
    return key


@dataclass(frozen=True, slots=True)
class KeyRing:
    """The data keys: the active one encrypts, all of them decrypt."""

    active_id: str
    keys: dict[str, bytes]
    index_key: bytes

    @classmethod
    def parse(cls, data_keys: str, index_key: str = "", *, secret: str = "") -> KeyRing:
        """Keys from the ``keyid:base64key,...`` form; the first is active."""
        keys: dict[str, bytes] = {}
        for part in (p.strip() for p in data_keys.split(",")):
            if not part:
                continue
            key_id, sep, encoded = part.partition(":")
            if not sep or not _KEY_ID.match(key_id):
                raise KeyConfigError(
                    "ARREARS_DATA_KEYS must be keyid:base64key pairs separated by commas; "
                    "a key id is 1-32 letters, digits or dashes"
                )
            if key_id in keys:
                raise KeyConfigError(f"key id '{key_id}' appears twice in ARREARS_DATA_KEYS")
            keys[key_id] = _decode_key(encoded, f"key '{key_id}'")
        if not keys:
            raise KeyConfigError("ARREARS_DATA_KEYS holds no key")
        if index_key:
            blind = _decode_key(index_key, "ARREARS_BLIND_INDEX_KEY")
        elif secret:
            blind = _derive(secret, b"arrears blind index")
        else:
            raise KeyConfigError("a blind-index key or a secret to derive it from is needed")
        return cls(active_id=next(iter(keys)), keys=keys, index_key=blind)

    @classmethod
    def development(cls, secret: str) -> KeyRing:
        """A key ring derived from the secret key, for a demo that needs no setup."""
        return cls(
            active_id="dev",
            keys={"dev": _derive(secret, b"arrears data key dev")},
            index_key=_derive(secret, b"arrears blind index"),
        )

    def encrypt(self, plaintext: str, purpose: str = "") -> str:
        """``v1:<active key id>:<base64(nonce ‖ ciphertext ‖ tag)>``."""
        nonce = os.urandom(_NONCE_BYTES)
        sealed = AESGCM(self.keys[self.active_id]).encrypt(
            nonce, plaintext.encode("utf-8"), self._aad(self.active_id, purpose)
        )
        encoded = base64.urlsafe_b64encode(nonce + sealed).decode("ascii").rstrip("=")
        return f"{FORMAT}:{self.active_id}:{encoded}"

    def decrypt(self, stored: str, purpose: str = "") -> str:
        """The plaintext of a value made by ``encrypt`` with any key of the ring."""
        key_id = key_id_of(stored)
        if key_id is None:
            raise DecryptionError("the value is not an arrears ciphertext")
        key = self.keys.get(key_id)
        if key is None:
            raise DecryptionError(
                f"the value was encrypted with key '{key_id}', which is not in "
                "ARREARS_DATA_KEYS; add it back (after the active key) to read old rows"
            )
        encoded = stored.split(":", 2)[2]
        try:
            raw = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
            plain = AESGCM(key).decrypt(
                raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], self._aad(key_id, purpose)
            )
        except (InvalidTag, binascii.Error, ValueError):
            raise DecryptionError(
                "the value cannot be decrypted: it is damaged or was copied from another column"
            ) from None
        return plain.decode("utf-8")

    def blind_index(self, value: str) -> str:
        """The keyed hash of ``value`` (NFKC-normalised, trimmed) as 64 hex characters."""
        normalised = unicodedata.normalize("NFKC", value).strip()
        return hmac.new(self.index_key, normalised.encode("utf-8"), hashlib.sha256).hexdigest()

    @staticmethod
    def _aad(key_id: str, purpose: str) -> bytes:
        # binds a ciphertext to its column: pasted into another column it will not decrypt
        return f"{FORMAT}:{key_id}:{purpose}".encode()


def key_id_of(stored: str) -> str | None:
    """The key id a stored ciphertext names, or None when it is not a ciphertext."""
    parts = stored.split(":", 2)
    if len(parts) != 3 or parts[0] != FORMAT or not _KEY_ID.match(parts[1]):
        return None
    return parts[1]


@lru_cache(maxsize=1)
def get_keyring() -> KeyRing:
    """The process-wide key ring from the settings (``get_keyring.cache_clear()`` re-reads)."""
    settings = get_auth_settings()
    secret = get_settings().secret_key.get_secret_value()
    data_keys = settings.data_keys.get_secret_value()
    if not data_keys.strip():
        log.warning(
            "crypto.development_keys: ARREARS_DATA_KEYS is not set; personal data is "
            "encrypted with a key derived from ARREARS_SECRET_KEY. Set real keys in production."
        )
        ring = KeyRing.development(secret)
        index_key = settings.blind_index_key.get_secret_value()
        if index_key:
            ring = KeyRing(ring.active_id, ring.keys, _decode_key(index_key, "blind index key"))
        return ring
    ring = KeyRing.parse(data_keys, settings.blind_index_key.get_secret_value(), secret=secret)
    # rows a demo wrote with the derived key stay readable, so `keys rotate` can move them
    development = KeyRing.development(secret)
    keys = {**ring.keys}
    keys.setdefault(development.active_id, development.keys[development.active_id])
    return KeyRing(ring.active_id, keys, ring.index_key)


def encrypt(plaintext: str, purpose: str = "") -> str:
    """``plaintext`` encrypted with the active key."""
    return get_keyring().encrypt(plaintext, purpose)


def decrypt(stored: str, purpose: str = "") -> str:
    """The plaintext of a stored ciphertext."""
    return get_keyring().decrypt(stored, purpose)


def blind_index(value: str) -> str:
    """The blind index of ``value``: equal values, equal index; nothing else to learn."""
    return get_keyring().blind_index(value)


def new_key() -> str:
    """A fresh random 256-bit key, base64, for ``ARREARS_DATA_KEYS``."""
    return base64.b64encode(os.urandom(32)).decode("ascii")


class EncryptedString(TypeDecorator[str]):
    """A string column stored encrypted; reads and writes see the plaintext.

    ``purpose`` (by convention ``table.column``) is bound into the ciphertext, so a value
    copied into another column does not decrypt there.
    """

    impl = Text
    cache_ok = True

    def __init__(self, purpose: str = "") -> None:
        super().__init__()
        self.purpose = purpose

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return encrypt(value, self.purpose)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return decrypt(value, self.purpose)


# --- rotation ---------------------------------------------------------------------------

_EXTRA_COLUMNS: list[Column[str]] = []


def register_encrypted_column(column: Column[str]) -> None:
    """Also rotate ``column`` (one not declared with ``EncryptedString`` in the models)."""
    _EXTRA_COLUMNS.append(column)


def encrypted_columns(metadata: MetaData | None = None) -> list[Column[str]]:
    """Every ``EncryptedString`` column of the models, plus the registered ones."""
    if metadata is None:
        from arrears.models import metadata as models_metadata

        metadata = models_metadata
    found: list[Column[str]] = [
        column
        for table in metadata.sorted_tables
        for column in table.columns
        if isinstance(column.type, EncryptedString)
    ]
    return found + [c for c in _EXTRA_COLUMNS if c not in found]


@dataclass(frozen=True, slots=True)
class RotationReport:
    """How many values of each column were re-encrypted with which key."""

    active_key: str
    reencrypted: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.reencrypted.values())


def _purpose(column: Column[str]) -> str:
    return column.type.purpose if isinstance(column.type, EncryptedString) else ""


def rotate(
    *,
    db_session: Session,
    columns: Sequence[Column[str]] | None = None,
    chunk_size: int = 1000,
    keyring: KeyRing | None = None,
) -> RotationReport:
    """Re-encrypt with the active key every value made with another key, chunk by chunk."""
    ring = keyring or get_keyring()
    prefix = f"{FORMAT}:{ring.active_id}:"
    counts: dict[str, int] = {}
    for column in columns if columns is not None else encrypted_columns():
        counts[f"{column.table.name}.{column.name}"] = _rotate_column(
            db_session, column, ring, prefix, chunk_size
        )
    return RotationReport(ring.active_id, counts)


def _rotate_column(
    db_session: Session, column: Column[str], ring: KeyRing, prefix: str, chunk_size: int
) -> int:
    table = column.table
    (pk,) = table.primary_key.columns
    stored = type_coerce(column, Text)  # the text as stored, not decrypted
    purpose = _purpose(column)
    done = 0
    last: object = None
    while True:
        query = (
            select(pk, stored)
            .where(stored.is_not(None), func.substr(stored, 1, len(prefix)) != prefix)
            .order_by(pk)
            .limit(chunk_size)
        )
        if last is not None:
            query = query.where(pk > last)
        rows = db_session.execute(query).all()
        if not rows:
            return done
        updates = [
            {"row_id": row_id, "new_value": ring.encrypt(ring.decrypt(value, purpose), purpose)}
            for row_id, value in rows
        ]
        db_session.execute(
            update(table)
            .where(pk == bindparam("row_id"))
            .values({column.name: bindparam("new_value", type_=Text)}),
            updates,
        )
        done += len(updates)
        last = rows[-1][0]
