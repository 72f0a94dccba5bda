"""Public transparency: indexes for the public decertification list and its statistics.

The public list (registry/transparency/repository.py) is every board action of this state:
final orders (with their grounds and public text) and the certification status moves only a
board makes (revoke, suspend, surrender, deny) that no final order of the registry accounts for
(actions loaded from a state's earlier records). At national scale those moves are ~10,000
among ~3,000,000 status events: a partial index finds them without reading the rest.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
    CREATE INDEX certification_status_events_board
      ON certification_status_events (effective_on, certification_id)
      WHERE action IN ('revoke', 'suspend', 'surrender', 'deny')
    """)
    op.execute("CREATE INDEX final_orders_effective ON final_orders (effective_on, case_id)")


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS final_orders_effective")
    op.execute("DROP INDEX IF EXISTS certification_status_events_board")
