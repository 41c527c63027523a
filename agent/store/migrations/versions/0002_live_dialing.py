"""live dialing: campaign network, attempt network results, call owner, workers, rate slots

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('campaigns') as b:
        b.add_column(sa.Column('network', sa.String(length=16), nullable=True))
    with op.batch_alter_table('attempts') as b:
        b.add_column(sa.Column('network', sa.String(length=16), nullable=True))
        b.add_column(sa.Column('detail', sa.String(length=200), nullable=True))
        b.add_column(sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table('calls') as b:
        b.add_column(sa.Column('worker_id', sa.String(length=96), nullable=True))
        b.create_index('ix_calls_worker_id', ['worker_id'])
    op.create_table(
        'workers',
        sa.Column('id', sa.String(length=96), nullable=False),
        sa.Column('host', sa.String(length=64), nullable=False),
        sa.Column('pid', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('stopped_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('calls_live', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_workers_heartbeat_at', 'workers', ['heartbeat_at'])
    op.create_table(
        'rate_slots',
        sa.Column('key', sa.String(length=64), nullable=False),
        sa.Column('next_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('key'),
    )


def downgrade() -> None:
    op.drop_table('rate_slots')
    op.drop_index('ix_workers_heartbeat_at', table_name='workers')
    op.drop_table('workers')
    with op.batch_alter_table('calls') as b:
        b.drop_index('ix_calls_worker_id')
        b.drop_column('worker_id')
    with op.batch_alter_table('attempts') as b:
        b.drop_column('finished_at')
        b.drop_column('detail')
        b.drop_column('network')
    with op.batch_alter_table('campaigns') as b:
        b.drop_column('network')
