"""fewer indexes on what the daily run writes most: loan_snapshots and bucket_history

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01

``loan_snapshots`` takes a row per active loan per business date. Its primary key
``(as_of, loan_id)`` grows at its end (a new date); its second index, ``(loan_id, as_of)``,
took a new entry on every one of its leaf pages each day and cost the run about 40 % of
its snapshot stage. A loan's history is read through the key instead: one probe per
snapshot date (``arrears.analytics.service.loan_history``).

``bucket_history``'s ``(loan_id, left_on)`` repeated the lookups the unique
``(loan_id, entered_on)`` already answers (a loan has a few stays), and made every stay
closed and every stay opened write one index more.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("loan_snapshots", schema=None) as batch_op:
        batch_op.drop_index("ix_loan_snapshots_loan")
    with op.batch_alter_table("bucket_history", schema=None) as batch_op:
        batch_op.drop_index("ix_bucket_history_open")


def downgrade() -> None:
    with op.batch_alter_table("bucket_history", schema=None) as batch_op:
        batch_op.create_index("ix_bucket_history_open", ["loan_id", "left_on"], unique=False)
    with op.batch_alter_table("loan_snapshots", schema=None) as batch_op:
        batch_op.create_index("ix_loan_snapshots_loan", ["loan_id", "as_of"], unique=False)
