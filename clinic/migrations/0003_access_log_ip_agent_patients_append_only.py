"""The access log records where a request came from (IP, user agent), which patients the
answer showed, and failed logins; and PostgreSQL refuses UPDATE and DELETE on it, as it
does on the controlled-substance log. TRUNCATE is refused by the app role's rights instead
(deploy/postgres/), since the test runner empties tables with it."""

from django.db import migrations, models

TRIGGER = """
CREATE OR REPLACE FUNCTION clinic_access_log_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'The access log is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER clinic_access_log_append_only
    BEFORE UPDATE OR DELETE ON clinic_accesslog
    FOR EACH ROW EXECUTE FUNCTION clinic_access_log_append_only();
"""
DROP_TRIGGER = """
DROP TRIGGER IF EXISTS clinic_access_log_append_only ON clinic_accesslog;
DROP FUNCTION IF EXISTS clinic_access_log_append_only();
"""


def add_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(TRIGGER, params=None)


def drop_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_TRIGGER, params=None)


class Migration(migrations.Migration):

    dependencies = [
        ('clinic', '0002_reminder_policy_neutral_wording'),
    ]

    operations = [
        migrations.AddField(
            model_name='accesslog',
            name='event',
            field=models.CharField(choices=[('request', 'Request'), ('login_failed', 'Failed login')], default='request', max_length=20),
        ),
        migrations.AddField(
            model_name='accesslog',
            name='ip_address',
            field=models.GenericIPAddressField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='accesslog',
            name='patient_ids',
            field=models.JSONField(blank=True, default=list, help_text='The patients the answer showed.'),
        ),
        migrations.AddField(
            model_name='accesslog',
            name='user_agent',
            field=models.CharField(blank=True, max_length=300),
        ),
        migrations.AddField(
            model_name='accesslog',
            name='username',
            field=models.CharField(blank=True, help_text='The username tried, for a failed login.', max_length=150),
        ),
        migrations.AlterField(
            model_name='accesslog',
            name='status_code',
            field=models.PositiveSmallIntegerField(blank=True, null=True),
        ),
        migrations.RunPython(add_trigger, drop_trigger),
    ]
