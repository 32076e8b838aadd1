"""encrypt customers' ID numbers at rest, with blind indexes to search them

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-15

``customers.id_number`` and ``customers.registration_code`` become AES-GCM ciphertexts
(``arrears.auth.crypto``, keys from ARREARS_DATA_KEYS); ``*_index`` beside each holds its
blind index for exact search. Existing rows are encrypted here, a chunk at a time.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from arrears.auth import crypto

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ENCRYPTED = ("id_number", "registration_code")
CHUNK = 1000


def _purpose(column: str) -> str:
    # must match EncryptedString(purpose=...) of the model: it is bound into the ciphertext
    return f"customers.{column}"


def _customers() -> sa.TableClause:
    return sa.table(
        "customers",
        sa.column("id", sa.BigInteger()),
        *(sa.column(name, sa.Text()) for name in ENCRYPTED),
        *(sa.column(f"{name}_index", sa.String(64)) for name in ENCRYPTED),
    )


def _retype(column: str, new_type: sa.types.TypeEngine, old_type: sa.types.TypeEngine) -> None:
    if op.get_bind().dialect.name == "sqlite":
        # SQLite changes a type by rebuilding the table, which (foreign keys on) would
        # delete the customers' contact points with it: swap in a new column instead
        op.execute(f"ALTER TABLE customers ADD COLUMN {column}_swap {new_type.compile()}")
        op.execute(f"UPDATE customers SET {column}_swap = {column}")
        op.execute(f"ALTER TABLE customers DROP COLUMN {column}")
        op.execute(f"ALTER TABLE customers RENAME COLUMN {column}_swap TO {column}")
    else:
        op.alter_column(
            "customers", column, type_=new_type, existing_type=old_type, existing_nullable=True
        )


def _rewrite(encrypting: bool) -> None:
    """Encrypt (or decrypt) every stored ID number, chunk by chunk, keyed on the id."""
    bind = op.get_bind()
    customers = _customers()
    last = 0
    while True:
        rows = bind.execute(
            sa.select(customers.c.id, *(customers.c[name] for name in ENCRYPTED))
            .where(customers.c.id > last)
            .order_by(customers.c.id)
            .limit(CHUNK)
        ).all()
        if not rows:
            return
        changes = []
        for row in rows:
            change: dict[str, object] = {"b_id": row.id}
            for name in ENCRYPTED:
                stored = getattr(row, name)
                # a value already in the other form (a re-run) is read as it is
                plain = (
                    crypto.decrypt(stored, _purpose(name))
                    if stored is not None and crypto.key_id_of(stored) is not None
                    else stored
                )
                if encrypting:
                    change[f"b_{name}"] = (
                        None if plain is None else crypto.encrypt(plain, _purpose(name))
                    )
                    change[f"b_{name}_index"] = None if plain is None else crypto.blind_index(plain)
                else:
                    change[f"b_{name}"] = plain
            changes.append(change)
        values: dict[str, sa.BindParameter[object]] = {
            name: sa.bindparam(f"b_{name}") for name in ENCRYPTED
        }
        if encrypting:
            values |= {f"{name}_index": sa.bindparam(f"b_{name}_index") for name in ENCRYPTED}
        bind.execute(
            sa.update(customers).where(customers.c.id == sa.bindparam("b_id")).values(values),
            changes,
        )
        last = rows[-1].id


def upgrade() -> None:
    # an index of ciphertexts finds nothing: searches go through the blind indexes
    op.drop_index("ix_customers_id_number", table_name="customers")
    op.drop_index("ix_customers_registration_code", table_name="customers")
    for name in ENCRYPTED:
        op.add_column("customers", sa.Column(f"{name}_index", sa.String(length=64), nullable=True))
        _retype(name, sa.Text(), sa.String(length=32))
    _rewrite(encrypting=True)
    for name in ENCRYPTED:
        op.create_index(f"ix_customers_{name}_index", "customers", [f"{name}_index"])


def downgrade() -> None:
    for name in ENCRYPTED:
        op.drop_index(f"ix_customers_{name}_index", table_name="customers")
    _rewrite(encrypting=False)
    for name in ENCRYPTED:
        if op.get_bind().dialect.name == "sqlite":
            op.execute(f"ALTER TABLE customers DROP COLUMN {name}_index")
        else:
            op.drop_column("customers", f"{name}_index")
        _retype(name, sa.String(length=32), sa.Text())
        op.create_index(f"ix_customers_{name}", "customers", [name])
