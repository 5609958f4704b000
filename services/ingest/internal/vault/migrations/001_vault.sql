-- vault_refs records each redacted document whose originals are kept, so
-- that a document without any entity still restores, and so that erasing one
-- row removes every original of the document.
CREATE TABLE vault_refs (
  tenant_id  text        NOT NULL,
  vault_ref  text        NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, vault_ref)
);

-- vault_entries holds one encrypted original per placeholder. ciphertext is
-- AES-256-GCM under a per-tenant key, with vault_ref and placeholder as
-- additional data, so a row copied to another reference does not decrypt.
CREATE TABLE vault_entries (
  tenant_id   text        NOT NULL,
  vault_ref   text        NOT NULL,
  placeholder text        NOT NULL,
  ciphertext  bytea       NOT NULL,
  nonce       bytea       NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  expires_at  timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, vault_ref, placeholder),
  FOREIGN KEY (tenant_id, vault_ref) REFERENCES vault_refs (tenant_id, vault_ref) ON DELETE CASCADE
);

CREATE INDEX vault_refs_expires_at_idx ON vault_refs (expires_at);

ALTER TABLE vault_refs ENABLE ROW LEVEL SECURITY;
ALTER TABLE vault_refs FORCE ROW LEVEL SECURITY;
CREATE POLICY vault_refs_tenant ON vault_refs
  USING (tenant_id = current_setting('keel.tenant', true))
  WITH CHECK (tenant_id = current_setting('keel.tenant', true));

ALTER TABLE vault_entries ENABLE ROW LEVEL SECURITY;
ALTER TABLE vault_entries FORCE ROW LEVEL SECURITY;
CREATE POLICY vault_entries_tenant ON vault_entries
  USING (tenant_id = current_setting('keel.tenant', true))
  WITH CHECK (tenant_id = current_setting('keel.tenant', true));

GRANT SELECT, INSERT, UPDATE, DELETE ON vault_refs TO keel_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON vault_entries TO keel_app;
