"""lifecycle: CRM events, promises to pay, call audits and findings

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'crm_events',
        sa.Column('id', sa.String(length=128), nullable=False),
        sa.Column('type', sa.String(length=32), nullable=False),
        sa.Column('account_id', sa.String(length=32), sa.ForeignKey('accounts.id'), nullable=False),
        sa.Column('account_external_id', sa.String(length=128), nullable=False),
        sa.Column('amount', sa.Float(), nullable=True),
        sa.Column('currency', sa.String(length=8), nullable=True),
        sa.Column('due_date', sa.Date(), nullable=True),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('fingerprint', sa.String(length=64), nullable=False),
        sa.Column('effect', sa.JSON(), nullable=False),
        sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_crm_events_account_id', 'crm_events', ['account_id'])
    op.create_index('ix_crm_events_account_type_at', 'crm_events', ['account_id', 'type', 'at'])
    op.create_table(
        'promises',
        sa.Column('id', sa.String(length=32), nullable=False),
        sa.Column('account_id', sa.String(length=32), sa.ForeignKey('accounts.id'), nullable=False),
        sa.Column('call_id', sa.String(length=32), sa.ForeignKey('calls.id'), nullable=True),
        sa.Column('amount', sa.Float(), nullable=False),
        sa.Column('currency', sa.String(length=8), nullable=False),
        sa.Column('due_date', sa.Date(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('paid_amount', sa.Float(), nullable=False),
        sa.Column('promised_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('reason', sa.String(length=200), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('call_id'),
    )
    op.create_index('ix_promises_account_id', 'promises', ['account_id'])
    op.create_index('ix_promises_status', 'promises', ['status'])
    op.create_table(
        'call_audits',
        sa.Column('call_id', sa.String(length=32), sa.ForeignKey('calls.id'), nullable=False),
        sa.Column('audited_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('findings', sa.Integer(), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('call_id'),
    )
    op.create_index('ix_call_audits_audited_at', 'call_audits', ['audited_at'])
    op.create_table(
        'audit_findings',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('call_id', sa.String(length=32), sa.ForeignKey('calls.id'), nullable=False),
        sa.Column('rule', sa.String(length=64), nullable=False),
        sa.Column('turn_seq', sa.Integer(), nullable=True),
        sa.Column('severity', sa.String(length=8), nullable=False),
        sa.Column('detail', sa.Text(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('call_id', 'rule', 'turn_seq'),
    )
    op.create_index('ix_audit_findings_call_id', 'audit_findings', ['call_id'])
    op.create_index('ix_audit_findings_rule', 'audit_findings', ['rule'])
    op.create_index('ix_audit_findings_created_at', 'audit_findings', ['created_at'])


def downgrade() -> None:
    for table, indexes in (
        ('audit_findings', ('ix_audit_findings_created_at', 'ix_audit_findings_rule', 'ix_audit_findings_call_id')),
        ('call_audits', ('ix_call_audits_audited_at',)),
        ('promises', ('ix_promises_status', 'ix_promises_account_id')),
        ('crm_events', ('ix_crm_events_account_type_at', 'ix_crm_events_account_id')),
    ):
        for ix in indexes:
            op.drop_index(ix, table_name=table)
        op.drop_table(table)
