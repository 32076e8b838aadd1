"""carry: what the daily run needs to advance a delinquent loan without re-deriving it

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01

``loan_states.carry`` holds, for a delinquent loan to which nothing is pending, what is
owed on each installment already accruing and its open accrual span
(``arrears.delinquency.accrual.Carry``). NULL means "evaluate in full".
``eod_runs.loans_advanced`` counts the loans a run moved on that way.

On PostgreSQL the tables the daily run rewrites in place keep room on each page
(``fillfactor``), so that an update whose indexed columns do not change stays on its page
(a HOT update) instead of writing every index again.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# table: percent of each page filled by inserts
FILLFACTOR = {"charges": 85, "loan_states": 85, "installments": 90}


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table, percent in FILLFACTOR.items():
            op.execute(f"ALTER TABLE {table} SET (fillfactor = {percent})")
    with op.batch_alter_table("loan_states", schema=None) as batch_op:
        batch_op.add_column(sa.Column("carry", sa.JSON(), nullable=True))
    with op.batch_alter_table("eod_runs", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("loans_advanced", sa.Integer(), server_default="0", nullable=False)
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in FILLFACTOR:
            op.execute(f"ALTER TABLE {table} RESET (fillfactor)")
    with op.batch_alter_table("eod_runs", schema=None) as batch_op:
        batch_op.drop_column("loans_advanced")
    with op.batch_alter_table("loan_states", schema=None) as batch_op:
        batch_op.drop_column("carry")
