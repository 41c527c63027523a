"""review: call reviews, their trail, the QA scorecard; indexes for the console's call search

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

# the calls list's searches: a callee's calls newest first, an outcome's calls newest first
SEARCH_INDEXES = (
    ('ix_calls_account_started', 'calls', ['account_id', 'started_at']),
    ('ix_calls_outcome_started', 'calls', ['outcome', 'started_at']),
    ('ix_calls_campaign_started', 'calls', ['campaign_id', 'started_at']),
    ('ix_accounts_name', 'accounts', ['name']),
)


def upgrade() -> None:
    op.create_table(
        'call_reviews',
        sa.Column('call_id', sa.String(length=32), sa.ForeignKey('calls.id'), nullable=False),
        sa.Column('notes', sa.Text(), nullable=False),
        sa.Column('tags', sa.JSON(), nullable=False),
        sa.Column('scores', sa.JSON(), nullable=False),
        sa.Column('score', sa.Float(), nullable=True),
        sa.Column('scorecard_version', sa.Integer(), nullable=True),
        sa.Column('outcome_original', sa.String(length=32), nullable=True),
        sa.Column('outcome_corrected', sa.String(length=32), nullable=True),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('reviewed_by', sa.String(length=200), nullable=False),
        sa.Column('reviewed_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('call_id'),
    )
    op.create_index('ix_call_reviews_reviewed_at', 'call_reviews', ['reviewed_at'])
    op.create_table(
        'review_events',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('call_id', sa.String(length=32), sa.ForeignKey('calls.id'), nullable=False),
        sa.Column('field', sa.String(length=32), nullable=False),
        sa.Column('old', sa.JSON(), nullable=False),
        sa.Column('new', sa.JSON(), nullable=False),
        sa.Column('by_key', sa.String(length=32), nullable=False),
        sa.Column('by_label', sa.String(length=200), nullable=True),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_review_events_call_id', 'review_events', ['call_id'])
    op.create_table(
        'scorecards',
        sa.Column('version', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('items', sa.JSON(), nullable=False),
        sa.Column('created_by', sa.String(length=200), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('version'),
    )
    for name, table, cols in SEARCH_INDEXES:
        op.create_index(name, table, cols)
    if op.get_bind().dialect.name == 'postgresql':
        # the list's default order (newest first, calls not started last): PostgreSQL reads a plain index
        # backwards only as DESC NULLS FIRST, so without this it sorts every call for the first page
        op.execute('CREATE INDEX ix_calls_started_desc ON calls (started_at DESC NULLS LAST, id DESC)')


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('DROP INDEX IF EXISTS ix_calls_started_desc')
    for name, table, _ in SEARCH_INDEXES:
        op.drop_index(name, table_name=table)
    op.drop_table('scorecards')
    op.drop_index('ix_review_events_call_id', table_name='review_events')
    op.drop_table('review_events')
    op.drop_index('ix_call_reviews_reviewed_at', table_name='call_reviews')
    op.drop_table('call_reviews')
