-- The audit log: one hash chain per tenant. Rows are only ever inserted.

CREATE TABLE audit_records (
  tenant_id   text        NOT NULL,
  seq         bigint      NOT NULL CHECK (seq > 0),
  id          text        NOT NULL,
  actor       text        NOT NULL,
  action      text        NOT NULL,
  subject     text        NOT NULL,
  occurred_at timestamptz NOT NULL,
  attributes  jsonb       NOT NULL DEFAULT '{}'::jsonb,
  prev_hash   text        NOT NULL,
  hash        text        NOT NULL,
  recorded_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, seq),
  UNIQUE (tenant_id, id)
);

CREATE INDEX audit_records_subject_idx ON audit_records (tenant_id, subject, seq);

ALTER TABLE audit_records ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_records FORCE ROW LEVEL SECURITY;

CREATE POLICY audit_records_tenant ON audit_records
  USING (tenant_id = current_setting('keel.tenant', true))
  WITH CHECK (tenant_id = current_setting('keel.tenant', true));

REVOKE ALL ON audit_records FROM PUBLIC;
GRANT SELECT, INSERT ON audit_records TO keel_app;

-- The grants above already keep keel_app from changing rows; the trigger
-- keeps every other role, table owner included, from doing so by accident.
-- Only a superuser that switches triggers off (session_replication_role =
-- replica) can get past it, and Verify then reports the damage.
-- TODO: erasure (GDPR) needs a controlled path that redacts attributes and
-- re-anchors the chain; until it exists nothing may change a stored record.
CREATE FUNCTION audit_records_reject_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_records is append-only: % is not allowed', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER audit_records_append_only
  BEFORE UPDATE OR DELETE ON audit_records
  FOR EACH ROW EXECUTE FUNCTION audit_records_reject_change();

CREATE TRIGGER audit_records_no_truncate
  BEFORE TRUNCATE ON audit_records
  FOR EACH STATEMENT EXECUTE FUNCTION audit_records_reject_change();

-- The head of each tenant's chain. Appenders lock the tenant's row
-- (SELECT ... FOR UPDATE) so that appends to one chain run one at a time.
CREATE TABLE audit_heads (
  tenant_id text   PRIMARY KEY,
  seq       bigint NOT NULL CHECK (seq >= 0),
  hash      text   NOT NULL
);

ALTER TABLE audit_heads ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_heads FORCE ROW LEVEL SECURITY;

CREATE POLICY audit_heads_tenant ON audit_heads
  USING (tenant_id = current_setting('keel.tenant', true))
  WITH CHECK (tenant_id = current_setting('keel.tenant', true));

REVOKE ALL ON audit_heads FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE ON audit_heads TO keel_app;
