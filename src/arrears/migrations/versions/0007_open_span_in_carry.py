"""the open accrual span's penalty lives in the carry, not in charges

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01

A delinquent loan's open accrual span grows every day. Its penalties were charges rows
rewritten by every daily run (four a delinquent loan, about 400,000 rows a day at a
million loans). They are now held by the loan's carry (``loan_states.carry``), with
their sum in ``loan_states.open_penalty``; readers of charges add them
(``arrears.delinquency.service.open_span_charges``). A span is written to ``charges``
once it closes (a payment, a charge, a hold) or the loan can no longer be carried.

Existing carries are cleared: the next run evaluates those loans in full, which removes
the open span's rows from ``charges`` and writes the new carries.

With accrual rows no longer rewritten daily, the charges people post get an index by
date (``ix_charges_posted_on``, partial: generated accruals left out), for the daily run's
"charged that day" instead of a scan of every charge.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("loan_states", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("open_penalty", sa.BigInteger(), server_default="0", nullable=False)
        )
    op.execute("UPDATE loan_states SET carry = NULL WHERE carry IS NOT NULL")
    with op.batch_alter_table("charges", schema=None) as batch_op:
        batch_op.create_index(
            "ix_charges_posted_on",
            ["charged_on"],
            unique=False,
            postgresql_where=sa.text("source <> 'accrual'"),
            sqlite_where=sa.text("source <> 'accrual'"),
        )


def downgrade() -> None:
    with op.batch_alter_table("charges", schema=None) as batch_op:
        batch_op.drop_index("ix_charges_posted_on")
    # without carries, every charge is in ``charges`` again once the loans are evaluated
    op.execute("UPDATE loan_states SET carry = NULL WHERE carry IS NOT NULL")
    with op.batch_alter_table("loan_states", schema=None) as batch_op:
        batch_op.drop_column("open_penalty")
