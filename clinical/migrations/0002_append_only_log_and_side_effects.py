"""The controlled-substance log refuses UPDATE and DELETE in the database itself, so no
code path (a raw query, a bulk update, a shell) can rewrite the register. TRUNCATE is left
alone: it is not a row change and the test runner empties tables with it.

Also seeds the clinic's side-effect list with the common ones; the clinic edits it in the admin."""

from django.db import migrations

TRIGGER = """
CREATE OR REPLACE FUNCTION clinical_cs_log_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'The controlled-substance log is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER clinical_cs_log_append_only
    BEFORE UPDATE OR DELETE ON clinical_controlledsubstanceentry
    FOR EACH ROW EXECUTE FUNCTION clinical_cs_log_append_only();
"""
DROP_TRIGGER = """
DROP TRIGGER IF EXISTS clinical_cs_log_append_only ON clinical_controlledsubstanceentry;
DROP FUNCTION IF EXISTS clinical_cs_log_append_only();
"""

SIDE_EFFECTS = [
    ("dissociation", "Dissociation"),
    ("dizziness", "Dizziness"),
    ("nausea", "Nausea"),
    ("blurred-vision", "Blurred vision"),
    ("raised-blood-pressure", "Raised blood pressure"),
    ("raised-heart-rate", "Raised heart rate"),
]


def add_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(TRIGGER, params=None)


def drop_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_TRIGGER, params=None)


def seed_side_effects(apps, schema_editor):
    SideEffect = apps.get_model("clinical", "SideEffect")
    for position, (code, label) in enumerate(SIDE_EFFECTS):
        SideEffect.objects.get_or_create(code=code, defaults={"label": label, "position": position})


class Migration(migrations.Migration):
    dependencies = [("clinical", "0001_initial")]

    operations = [
        migrations.RunPython(add_trigger, drop_trigger),
        migrations.RunPython(seed_side_effects, migrations.RunPython.noop),
    ]
