-- Privileges of the application's database role (web, worker, beat).
--
-- Applied by `python manage.py db_grant_app_role <role>`, connected as the role that owns the
-- tables (the one that runs migrations), after every `migrate`. Every statement is idempotent.
-- The command fills in the placeholders: {app_role} (a quoted role name), {append_only_tables}
-- and {append_only_sequences} (the access log and the controlled-substance log, and the
-- sequences behind their ids).
--
-- The app role owns nothing, so it cannot ALTER, DROP or disable a trigger on any table.

GRANT USAGE ON SCHEMA public TO {app_role};

-- Ordinary tables: read and write rows. Nothing here needs TRUNCATE, TRIGGER or REFERENCES.
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {app_role};
REVOKE TRUNCATE, TRIGGER, REFERENCES ON ALL TABLES IN SCHEMA public FROM {app_role};
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {app_role};

-- Tables and sequences a later migration creates are usable at once, before this runs again
-- (it must still run, to keep a new append-only table append-only).
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {app_role};
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO {app_role};

-- The append-only logs: the app adds rows and reads them; it can never change, delete or
-- truncate them, whatever code runs in it.
REVOKE ALL ON TABLE {append_only_tables} FROM {app_role};
GRANT SELECT, INSERT ON TABLE {append_only_tables} TO {app_role};
REVOKE ALL ON SEQUENCE {append_only_sequences} FROM {app_role};
GRANT USAGE ON SEQUENCE {append_only_sequences} TO {app_role};
