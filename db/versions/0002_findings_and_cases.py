"""Misconduct findings, convictions, the referral queue, decertification cases, the board.

Rules the database enforces itself:
- findings, convictions, cases and board members are versioned (an amendment is a new
  version; history stays); votes, case moves, hearings' notices and actions are facts
  (append-only);
- a retried department report carries the same idempotency key and cannot create a second row;
- one vote per member per case; one final order per case; one open referral per officer and
  ground.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from alembic import op

from registry.migrations import append_only, execute_script, keep_versions, sql_in, stamp

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

CATEGORIES = ("force", "dishonesty", "sexual_misconduct", "bias", "criminal_conduct",
              "abuse_of_power", "failure_to_intervene", "other")
DISPOSITIONS = ("sustained", "not_sustained", "exonerated", "unfounded", "policy_failure",
                "pending")
DISCIPLINES = ("termination", "suspension", "demotion", "reprimand", "retraining", "none")
OFFENSE_LEVELS = ("felony", "misdemeanor")
REFERRAL_STATUSES = ("open", "case_opened", "dismissed")
CASE_STATUSES = ("open", "under_review", "hearing_scheduled", "voted", "final_order",
                 "appealed", "closed")
SEATS = ("law_enforcement", "civilian", "other")
VOTES = ("yes", "no", "abstain", "recused")
OUTCOMES = ("revocation", "suspension", "surrender", "denial", "no_action")
APPEAL_STATUSES = ("pending", "upheld", "overturned")
ACTION_KINDS = ("final_order", "appeal_upheld", "appeal_overturned", "reinstatement")

VERSIONED = ("findings", "convictions", "cases", "board_members", "appeals")


def upgrade() -> None:
    execute_script(f"""
    CREATE TABLE findings (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      officer_id uuid NOT NULL REFERENCES officers(id),
      agency_id uuid NOT NULL REFERENCES agencies(id),
      incident_on date NOT NULL,
      reported_on date NOT NULL,
      category text NOT NULL CHECK (category IN {sql_in(CATEGORIES)}),
      recommended_disposition text NOT NULL
        CHECK (recommended_disposition IN {sql_in(DISPOSITIONS)}),
      final_disposition text NOT NULL CHECK (final_disposition IN {sql_in(DISPOSITIONS)}),
      discipline text CHECK (discipline IN {sql_in(DISCIPLINES)}),
      suspension_days integer CHECK (suspension_days BETWEEN 1 AND 3650),
      completed_after_separation boolean NOT NULL DEFAULT false,
      public_releasable boolean NOT NULL DEFAULT false,
      summary text CHECK (length(summary) <= 10000),
      idempotency_key text CHECK (length(idempotency_key) BETWEEN 1 AND 200),
      version integer NOT NULL DEFAULT 1,
      recorded_at timestamptz NOT NULL DEFAULT now(),
      recorded_by text NOT NULL,
      change_reason text,
      CHECK (reported_on >= incident_on),
      CHECK ((discipline = 'suspension') = (suspension_days IS NOT NULL))
    );
    CREATE UNIQUE INDEX findings_idempotency ON findings (agency_id, idempotency_key)
      WHERE idempotency_key IS NOT NULL;
    CREATE INDEX findings_officer ON findings (officer_id, incident_on);
    CREATE INDEX findings_agency ON findings (agency_id, reported_on);

    CREATE TABLE convictions (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      officer_id uuid NOT NULL REFERENCES officers(id),
      reported_by_agency_id uuid REFERENCES agencies(id),
      offense text NOT NULL CHECK (length(btrim(offense)) BETWEEN 1 AND 500),
      level text NOT NULL CHECK (level IN {sql_in(OFFENSE_LEVELS)}),
      domestic_violence boolean NOT NULL DEFAULT false,
      convicted_on date NOT NULL,
      court text CHECK (length(court) <= 300),
      idempotency_key text CHECK (length(idempotency_key) BETWEEN 1 AND 200),
      version integer NOT NULL DEFAULT 1,
      recorded_at timestamptz NOT NULL DEFAULT now(),
      recorded_by text NOT NULL,
      change_reason text
    );
    CREATE UNIQUE INDEX convictions_idempotency
      ON convictions (coalesce(reported_by_agency_id, '00000000-0000-0000-0000-000000000000'),
                      idempotency_key)
      WHERE idempotency_key IS NOT NULL;
    CREATE INDEX convictions_officer ON convictions (officer_id, convicted_on);

    -- The queue: an officer who meets a statutory ground, with the reports that show it.
    -- ``evidence`` is [{{"kind": "finding"|"stint"|"conviction", "id": ...}}, ...].
    CREATE TABLE referrals (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      officer_id uuid NOT NULL REFERENCES officers(id),
      ground text NOT NULL CHECK (length(ground) BETWEEN 1 AND 100),
      evidence jsonb NOT NULL,
      status text NOT NULL DEFAULT 'open' CHECK (status IN {sql_in(REFERRAL_STATUSES)}),
      detected_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      case_id uuid,
      dismissed_reason text CHECK (length(dismissed_reason) <= 2000),
      decided_by text,
      decided_at timestamptz,
      CHECK ((status = 'dismissed') = (dismissed_reason IS NOT NULL)),
      CHECK ((status = 'case_opened') = (case_id IS NOT NULL))
    );
    CREATE UNIQUE INDEX referrals_one_open ON referrals (officer_id, ground)
      WHERE status = 'open';
    CREATE INDEX referrals_queue ON referrals (status, detected_at, id);
    CREATE INDEX referrals_officer ON referrals (officer_id);

    CREATE TABLE board_members (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      name text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 200),
      seat text NOT NULL CHECK (seat IN {sql_in(SEATS)}),
      term_start date NOT NULL,
      term_end date,
      api_key_id uuid UNIQUE REFERENCES api_keys(id),
      version integer NOT NULL DEFAULT 1,
      recorded_at timestamptz NOT NULL DEFAULT now(),
      recorded_by text NOT NULL,
      change_reason text,
      CHECK (term_end IS NULL OR term_end > term_start)
    );

    CREATE SEQUENCE case_number_seq;
    CREATE TABLE cases (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      number text NOT NULL UNIQUE,
      officer_id uuid NOT NULL REFERENCES officers(id),
      status text NOT NULL DEFAULT 'open' CHECK (status IN {sql_in(CASE_STATUSES)}),
      grounds text[] NOT NULL DEFAULT '{{}}',
      evidence jsonb NOT NULL DEFAULT '[]',
      summary text CHECK (length(summary) <= 10000),
      -- The motion the board votes on.
      proposed_outcome text CHECK (proposed_outcome IN {sql_in(OUTCOMES)}),
      proposed_until date,
      opened_at timestamptz NOT NULL DEFAULT now(),
      opened_by text NOT NULL,
      version integer NOT NULL DEFAULT 1,
      recorded_at timestamptz NOT NULL DEFAULT now(),
      recorded_by text NOT NULL,
      change_reason text
    );
    CREATE INDEX cases_officer ON cases (officer_id);
    CREATE INDEX cases_status ON cases (status, opened_at, id);
    ALTER TABLE referrals ADD CONSTRAINT referrals_case FOREIGN KEY (case_id) REFERENCES cases(id);

    CREATE TABLE case_status_events (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      case_id uuid NOT NULL REFERENCES cases(id),
      from_status text CHECK (from_status IN {sql_in(CASE_STATUSES)}),
      to_status text NOT NULL CHECK (to_status IN {sql_in(CASE_STATUSES)}),
      reason text CHECK (length(reason) <= 2000),
      recorded_at timestamptz NOT NULL DEFAULT now(),
      recorded_by text NOT NULL
    );
    CREATE INDEX case_status_events_case ON case_status_events (case_id, recorded_at);

    CREATE TABLE hearings (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      case_id uuid NOT NULL REFERENCES cases(id),
      scheduled_for timestamptz NOT NULL,
      notice_sent_on date NOT NULL,
      location text CHECK (length(location) <= 300),
      recorded_at timestamptz NOT NULL DEFAULT now(),
      recorded_by text NOT NULL
    );
    CREATE INDEX hearings_case ON hearings (case_id, scheduled_for);

    CREATE TABLE votes (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      case_id uuid NOT NULL REFERENCES cases(id),
      member_id uuid NOT NULL REFERENCES board_members(id),
      vote text NOT NULL CHECK (vote IN {sql_in(VOTES)}),
      cast_on date NOT NULL,
      recorded_at timestamptz NOT NULL DEFAULT now(),
      recorded_by text NOT NULL,
      UNIQUE (case_id, member_id)
    );

    CREATE TABLE final_orders (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      case_id uuid NOT NULL UNIQUE REFERENCES cases(id),
      outcome text NOT NULL CHECK (outcome IN {sql_in(OUTCOMES)}),
      effective_on date NOT NULL,
      suspended_until date,
      public_text text NOT NULL CHECK (length(btrim(public_text)) BETWEEN 1 AND 20000),
      tally jsonb NOT NULL,
      recorded_at timestamptz NOT NULL DEFAULT now(),
      recorded_by text NOT NULL,
      CHECK ((outcome = 'suspension') = (suspended_until IS NOT NULL)),
      CHECK (suspended_until IS NULL OR suspended_until > effective_on)
    );

    CREATE TABLE appeals (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      case_id uuid NOT NULL REFERENCES cases(id),
      filed_on date NOT NULL,
      court text CHECK (length(court) <= 300),
      status text NOT NULL DEFAULT 'pending' CHECK (status IN {sql_in(APPEAL_STATUSES)}),
      decided_on date,
      decision_note text CHECK (length(decision_note) <= 10000),
      version integer NOT NULL DEFAULT 1,
      recorded_at timestamptz NOT NULL DEFAULT now(),
      recorded_by text NOT NULL,
      change_reason text,
      CHECK ((status = 'pending') = (decided_on IS NULL)),
      CHECK (decided_on IS NULL OR decided_on >= filed_on)
    );
    CREATE UNIQUE INDEX appeals_one_pending ON appeals (case_id) WHERE status = 'pending';

    -- What the NDI export sends: every final order, appeal outcome and reinstatement.
    CREATE TABLE decertification_actions (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      officer_id uuid NOT NULL REFERENCES officers(id),
      case_id uuid REFERENCES cases(id),
      certification_id uuid REFERENCES certifications(id),
      kind text NOT NULL CHECK (kind IN {sql_in(ACTION_KINDS)}),
      outcome text CHECK (outcome IN {sql_in(OUTCOMES)}),
      effective_on date NOT NULL,
      until_on date,
      grounds text[] NOT NULL DEFAULT '{{}}',
      recorded_at timestamptz NOT NULL DEFAULT now(),
      recorded_by text NOT NULL
    );
    CREATE INDEX decertification_actions_officer ON decertification_actions (officer_id);
    CREATE INDEX decertification_actions_recorded ON decertification_actions (recorded_at, id);
    """)
    for table in VERSIONED:
        keep_versions(table)
    for table in (*VERSIONED, "case_status_events", "hearings", "votes",
                  "final_orders", "decertification_actions"):
        stamp(table)
    for table in ("case_status_events", "votes", "final_orders", "decertification_actions"):
        append_only(table)


def downgrade() -> None:
    for table in ("decertification_actions", "appeals_history", "appeals", "final_orders",
                  "votes", "hearings", "case_status_events", "referrals", "cases_history",
                  "cases", "board_members_history", "board_members", "convictions_history",
                  "convictions", "findings_history", "findings"):
        op.execute(f"DROP TABLE IF EXISTS {table} CASCADE")
    op.execute("DROP SEQUENCE IF EXISTS case_number_seq")
