-- fingerprint identifies the content of the document a reference was made
-- for (a keyed hash, so it reveals nothing). A second, different document
-- under the same reference is refused instead of overwriting the originals
-- of the first.
ALTER TABLE vault_refs ADD COLUMN fingerprint text NOT NULL DEFAULT '';
