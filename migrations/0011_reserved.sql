-- Placeholder: 0011 belongs to the federation transport branch (fed-transport). Migrations are
-- numbered without gaps (src/storage/migrate.ts), so this branch needs a file here for its 0012 and
-- 0013 to load. Delete this file when fed-transport's 0011 is merged (a database made from this
-- branch alone, with this placeholder applied, is then refused as "written by a newer Hearth").
SELECT 1;
