-- distribution.sql — every table that holds a practice's data can be
-- distributed by practice (docs/scaling.md): practice_id is part of its
-- primary key, of every unique constraint or unique index, and of every
-- foreign key on both sides (or the foreign key points at practices
-- itself). Checked on the catalog, so a table or constraint added later
-- is checked too. agent_tokens is the one exception, by design: a token is
-- looked up by its hash before any practice is known, so its hash is
-- unique across practices; it is small and read-mostly, a reference
-- table once distributed. Rolled back at the end.
BEGIN;
SELECT * FROM no_plan();

-- The tables of the schema with a practice_id column, but the reference
-- tables.
CREATE TEMP TABLE dist AS
SELECT c.oid AS tbl, c.relname::text AS name, a.attnum AS pcol
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'practice_id' AND NOT a.attisdropped
 WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND c.relname <> 'agent_tokens';

SELECT ok((SELECT count(*) FROM dist) >= 9, 'the practice tables are found (' ||
          (SELECT string_agg(name, ', ' ORDER BY name) FROM dist) || ')');
SELECT is((SELECT string_agg(c.relname, ', ' ORDER BY c.relname)
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
              AND c.relname NOT IN (SELECT name FROM dist)),
          'agent_tokens, practices, schema_migrations',
          'the tables left out: the reference tables and the migrations'' own');

-- Per table: a primary key, and practice_id in it.
SELECT is((SELECT string_agg(i.indexrelid::regclass::text, ', ')
             FROM pg_index i
            WHERE i.indrelid = d.tbl AND i.indisprimary
              AND NOT d.pcol = ANY (i.indkey::smallint[])),
          NULL, d.name || ': its primary key holds practice_id')
  FROM dist d ORDER BY d.name;
SELECT ok(EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = d.tbl AND i.indisprimary),
          d.name || ': has a primary key')
  FROM dist d ORDER BY d.name;

-- Unique constraints and unique indexes (partial ones too).
SELECT is((SELECT string_agg(i.indexrelid::regclass::text, ', ' ORDER BY i.indexrelid::regclass::text)
             FROM pg_index i
            WHERE i.indrelid = d.tbl AND i.indisunique
              AND NOT d.pcol = ANY (i.indkey::smallint[])),
          NULL, d.name || ': every unique constraint and index holds practice_id')
  FROM dist d ORDER BY d.name;

-- Foreign keys, both ways: from the table, practice_id among its columns
-- and paired with the referenced table's practice_id (or practices.id);
-- to the table, the same from the other side.
SELECT is((SELECT string_agg(f.conname, ', ' ORDER BY f.conname)
             FROM pg_constraint f
             JOIN pg_class r ON r.oid = f.confrelid
            WHERE f.contype = 'f' AND (f.conrelid = d.tbl OR f.confrelid = d.tbl)
              AND NOT EXISTS (
                  SELECT 1
                    FROM unnest(f.conkey, f.confkey) AS k(col, refcol)
                    JOIN pg_attribute a ON a.attrelid = f.conrelid AND a.attnum = k.col
                    JOIN pg_attribute b ON b.attrelid = f.confrelid AND b.attnum = k.refcol
                   WHERE a.attname = 'practice_id'
                     AND (b.attname = 'practice_id'
                          OR (r.relname = 'practices' AND b.attname = 'id')))),
          NULL, d.name || ': every foreign key from or to it pairs practice_id with practice_id')
  FROM dist d ORDER BY d.name;

SELECT * FROM finish();
ROLLBACK;
