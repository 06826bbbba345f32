-- Loading the extension, its settings, and a DROP EXTENSION that leaves the
-- database exactly as it was.

-- Every object a database can hold, before the extension exists.
CREATE TEMP TABLE objects_before (catalog text, oid oid);
INSERT INTO objects_before
SELECT 'pg_proc' AS catalog, oid FROM pg_proc
UNION ALL SELECT 'pg_am', oid FROM pg_am
UNION ALL SELECT 'pg_class', oid FROM pg_class
UNION ALL SELECT 'pg_type', oid FROM pg_type
UNION ALL SELECT 'pg_namespace', oid FROM pg_namespace
UNION ALL SELECT 'pg_opclass', oid FROM pg_opclass
UNION ALL SELECT 'pg_opfamily', oid FROM pg_opfamily
UNION ALL SELECT 'pg_operator', oid FROM pg_operator
UNION ALL SELECT 'pg_cast', oid FROM pg_cast
UNION ALL SELECT 'pg_event_trigger', oid FROM pg_event_trigger
UNION ALL SELECT 'pg_extension', oid FROM pg_extension;

CREATE EXTENSION plinth;
SELECT plinth_version() ~ '^\d+\.\d+\.\d+$' AS version_ok;
SELECT extname, extversion FROM pg_extension WHERE extname = 'plinth';

-- Settings live under the reserved plinth. prefix.
SHOW plinth.durable;
SHOW plinth.transaction_lifetime;
SELECT boot_val AS cluster_file_default FROM pg_settings WHERE name = 'plinth.cluster_file';
SHOW plinth.api_version;
SET plinth.no_such_setting = 1;
SET plinth.durable = off;

DROP EXTENSION plinth;

-- Nothing left behind, nothing taken away.
SELECT catalog, count(*) FROM (
  (SELECT 'pg_proc' AS catalog, oid FROM pg_proc
   UNION ALL SELECT 'pg_am', oid FROM pg_am
   UNION ALL SELECT 'pg_class', oid FROM pg_class
   UNION ALL SELECT 'pg_type', oid FROM pg_type
   UNION ALL SELECT 'pg_namespace', oid FROM pg_namespace
   UNION ALL SELECT 'pg_opclass', oid FROM pg_opclass
   UNION ALL SELECT 'pg_opfamily', oid FROM pg_opfamily
   UNION ALL SELECT 'pg_operator', oid FROM pg_operator
   UNION ALL SELECT 'pg_cast', oid FROM pg_cast
   UNION ALL SELECT 'pg_event_trigger', oid FROM pg_event_trigger
   UNION ALL SELECT 'pg_extension', oid FROM pg_extension)
  EXCEPT ALL SELECT * FROM objects_before
) AS added GROUP BY catalog;
SELECT catalog, count(*) FROM (
  SELECT * FROM objects_before
  EXCEPT ALL
  (SELECT 'pg_proc' AS catalog, oid FROM pg_proc
   UNION ALL SELECT 'pg_am', oid FROM pg_am
   UNION ALL SELECT 'pg_class', oid FROM pg_class
   UNION ALL SELECT 'pg_type', oid FROM pg_type
   UNION ALL SELECT 'pg_namespace', oid FROM pg_namespace
   UNION ALL SELECT 'pg_opclass', oid FROM pg_opclass
   UNION ALL SELECT 'pg_opfamily', oid FROM pg_opfamily
   UNION ALL SELECT 'pg_operator', oid FROM pg_operator
   UNION ALL SELECT 'pg_cast', oid FROM pg_cast
   UNION ALL SELECT 'pg_event_trigger', oid FROM pg_event_trigger
   UNION ALL SELECT 'pg_extension', oid FROM pg_extension)
) AS removed GROUP BY catalog;

-- And it can be created again.
CREATE EXTENSION plinth;
DROP EXTENSION plinth;
