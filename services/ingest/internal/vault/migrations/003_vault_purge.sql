-- keel_vault_purger may see and delete expired rows of every tenant, and
-- nothing else: the retention sweep runs as it, so that forgetting expired
-- originals needs no role that can read live ones across tenants. Entries go
-- with their reference through the foreign key's cascade.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'keel_vault_purger') THEN
    CREATE ROLE keel_vault_purger NOLOGIN NOSUPERUSER NOBYPASSRLS;
  END IF;
END
$$;
GRANT keel_vault_purger TO CURRENT_USER;

GRANT SELECT, DELETE ON vault_refs TO keel_vault_purger;
GRANT SELECT, DELETE ON vault_entries TO keel_vault_purger;

CREATE POLICY vault_refs_purge_expired ON vault_refs
  FOR ALL TO keel_vault_purger
  USING (expires_at <= now());
CREATE POLICY vault_entries_purge_expired ON vault_entries
  FOR ALL TO keel_vault_purger
  USING (expires_at <= now());
