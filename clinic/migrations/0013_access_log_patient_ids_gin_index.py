"""The access log's look-up by patient (clinic.audit.access_log_naming_patient: jsonb containment,
`patient_ids @> '[12]'`) is served by a GIN index on PostgreSQL, instead of reading every row of
a table that gains one per request. jsonb_path_ops: smaller than the default operator class, and
containment is the only look-up asked of it.

PostgreSQL only, as the append-only trigger (0003): SQLite (the embedded default) has no GIN
index and its look-up goes through json_each. Not declared on the model, so it is not in
Django's migration state either, and `makemigrations` never tries to create it on SQLite.

Built CONCURRENTLY, so a live clinic's requests (each writes a log row) are not held up while it
is built; that cannot run in a transaction, hence atomic = False. A build that was interrupted
leaves an invalid index: it is dropped and built again."""

from django.db import migrations

INDEX = "clinic_accesslog_patient_ids_gin"


def add_index(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "WHERE c.relname = %s AND pg_table_is_visible(c.oid)",
            [INDEX],
        )
        row = cursor.fetchone()
        if row is not None and row[0]:
            return
        if row is not None:
            cursor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {INDEX}")
        cursor.execute(f"CREATE INDEX CONCURRENTLY {INDEX} ON clinic_accesslog USING gin (patient_ids jsonb_path_ops)")


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {INDEX}", params=None)


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("clinic", "0012_closure_chair"),
    ]

    operations = [
        migrations.RunPython(add_index, drop_index, elidable=False),
    ]
