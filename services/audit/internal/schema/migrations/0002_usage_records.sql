-- The usage ledger: tokens, cost and latency of every model call.

CREATE TABLE usage_records (
  tenant_id     text        NOT NULL,
  id            text        NOT NULL,
  use_case      text        NOT NULL,
  route         text        NOT NULL,
  provider      text        NOT NULL,
  model         text        NOT NULL,
  input_tokens  bigint      NOT NULL CHECK (input_tokens >= 0),
  output_tokens bigint      NOT NULL CHECK (output_tokens >= 0),
  cost_micros   bigint      NOT NULL CHECK (cost_micros >= 0),
  latency_ms    bigint      NOT NULL CHECK (latency_ms >= 0),
  occurred_at   timestamptz NOT NULL,
  recorded_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id)
);

CREATE INDEX usage_records_occurred_idx ON usage_records (tenant_id, occurred_at, id);

ALTER TABLE usage_records ENABLE ROW LEVEL SECURITY;
ALTER TABLE usage_records FORCE ROW LEVEL SECURITY;

CREATE POLICY usage_records_tenant ON usage_records
  USING (tenant_id = current_setting('keel.tenant', true))
  WITH CHECK (tenant_id = current_setting('keel.tenant', true));

REVOKE ALL ON usage_records FROM PUBLIC;
GRANT SELECT, INSERT ON usage_records TO keel_app;
