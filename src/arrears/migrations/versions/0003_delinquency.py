"""delinquency

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.add_column(sa.Column("classification", sa.JSON(), nullable=True))
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.create_index("ix_payments_value_date", ["value_date"], unique=False)
    # charges are replaced by the run; their allocations are found by this index
    with op.batch_alter_table("allocations", schema=None) as batch_op:
        batch_op.create_index("ix_allocations_charge_id", ["charge_id"], unique=False)
    op.create_table(
        "bucket_history",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("loan_id", sa.BigInteger(), nullable=False),
        sa.Column("bucket", sa.String(length=16), nullable=False),
        sa.Column("entered_on", sa.Date(), nullable=False),
        sa.Column("left_on", sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bucket_history")),
        sa.UniqueConstraint("loan_id", "entered_on", name=op.f("uq_bucket_history_loan_id")),
    )
    with op.batch_alter_table("bucket_history", schema=None) as batch_op:
        batch_op.create_index("ix_bucket_history_open", ["loan_id", "left_on"], unique=False)

    op.create_table(
        "business_days",
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("loans", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("business_date", name=op.f("pk_business_days")),
    )
    op.create_table(
        "cures",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("loan_id", sa.BigInteger(), nullable=False),
        sa.Column("cured_on", sa.Date(), nullable=False),
        sa.Column("from_bucket", sa.String(length=16), nullable=False),
        sa.Column("past_due_days_before", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cures")),
        sa.UniqueConstraint("loan_id", "cured_on", name=op.f("uq_cures_loan_id")),
    )
    with op.batch_alter_table("cures", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_cures_cured_on"), ["cured_on"], unique=False)
        batch_op.create_index(batch_op.f("ix_cures_loan_id"), ["loan_id"], unique=False)

    op.create_table(
        "eod_runs",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("from_date", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("requested_by", sa.String(length=100), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_through", sa.Date(), nullable=True),
        sa.Column("loans_total", sa.Integer(), nullable=False),
        sa.Column("loans_done", sa.Integer(), nullable=False),
        sa.Column("loans_evaluated", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(length=64), nullable=True),
        sa.Column("stage_seconds", sa.JSON(), nullable=False),
        sa.Column("bucket_counts", sa.JSON(), nullable=False),
        sa.Column("events_written", sa.Integer(), nullable=False),
        sa.Column("error", sa.String(length=2000), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_eod_runs")),
    )
    with op.batch_alter_table("eod_runs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_eod_runs_business_date"), ["business_date"], unique=False
        )

    op.create_table(
        "loan_snapshots",
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("loan_id", sa.BigInteger(), nullable=False),
        sa.Column("past_due_days", sa.Integer(), nullable=False),
        sa.Column("delinquent_days", sa.Integer(), nullable=False),
        sa.Column("bucket", sa.String(length=16), nullable=False),
        sa.Column("overdue_principal", sa.BigInteger(), nullable=False),
        sa.Column("overdue_interest", sa.BigInteger(), nullable=False),
        sa.Column("overdue_fee", sa.BigInteger(), nullable=False),
        sa.Column("overdue_penalty", sa.BigInteger(), nullable=False),
        sa.Column("outstanding_principal", sa.BigInteger(), nullable=False),
        sa.Column("outstanding_total", sa.BigInteger(), nullable=False),
        sa.Column("five_category", sa.SmallInteger(), nullable=False),
        sa.Column("ifrs9_stage", sa.SmallInteger(), nullable=False),
        sa.Column("non_performing", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("as_of", "loan_id", name=op.f("pk_loan_snapshots")),
    )
    with op.batch_alter_table("loan_snapshots", schema=None) as batch_op:
        batch_op.create_index("ix_loan_snapshots_loan", ["loan_id", "as_of"], unique=False)

    op.create_table(
        "outbox_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("loan_id", sa.BigInteger(), nullable=False),
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_events")),
        sa.UniqueConstraint("kind", "loan_id", "business_date", name=op.f("uq_outbox_events_kind")),
    )
    with op.batch_alter_table("outbox_events", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_unpublished", ["published_at", "id"], unique=False)

    op.create_table(
        "holds",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("loan_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("start_on", sa.Date(), nullable=False),
        sa.Column("end_on", sa.Date(), nullable=True),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("suspends_penalty", sa.Boolean(), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("created_by", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["loan_id"], ["loans.id"], name=op.f("fk_holds_loan_id_loans")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_holds")),
    )
    with op.batch_alter_table("holds", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_holds_loan_id"), ["loan_id"], unique=False)

    op.create_table(
        "loan_states",
        sa.Column("loan_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("past_due_days", sa.Integer(), nullable=False),
        sa.Column("delinquent_days", sa.Integer(), nullable=False),
        sa.Column("paused_days", sa.Integer(), nullable=False),
        sa.Column("oldest_overdue_due_on", sa.Date(), nullable=True),
        sa.Column("bucket", sa.String(length=16), nullable=False),
        sa.Column("overdue_principal", sa.BigInteger(), nullable=False),
        sa.Column("overdue_interest", sa.BigInteger(), nullable=False),
        sa.Column("overdue_fee", sa.BigInteger(), nullable=False),
        sa.Column("overdue_penalty", sa.BigInteger(), nullable=False),
        sa.Column("overdue_total", sa.BigInteger(), nullable=False),
        sa.Column("overdue_by_bucket", sa.JSON(), nullable=False),
        sa.Column("outstanding_principal", sa.BigInteger(), nullable=False),
        sa.Column("outstanding_total", sa.BigInteger(), nullable=False),
        sa.Column("five_category", sa.SmallInteger(), nullable=False),
        sa.Column("ifrs9_stage", sa.SmallInteger(), nullable=False),
        sa.Column("non_performing", sa.Boolean(), nullable=False),
        sa.Column("non_performing_by_contagion", sa.Boolean(), nullable=False),
        sa.Column("delinquent_since", sa.Date(), nullable=True),
        sa.Column("last_cured_on", sa.Date(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["loan_id"], ["loans.id"], name=op.f("fk_loan_states_loan_id_loans")
        ),
        sa.PrimaryKeyConstraint("loan_id", name=op.f("pk_loan_states")),
    )
    with op.batch_alter_table("loan_states", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_loan_states_bucket"), ["bucket"], unique=False)


def downgrade() -> None:
    for table in (
        "loan_states",
        "holds",
        "outbox_events",
        "loan_snapshots",
        "eod_runs",
        "cures",
        "business_days",
        "bucket_history",
    ):
        op.drop_table(table)
    with op.batch_alter_table("allocations", schema=None) as batch_op:
        batch_op.drop_index("ix_allocations_charge_id")
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_index("ix_payments_value_date")
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.drop_column("classification")
