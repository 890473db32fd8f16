"""Give every existing site the default reminder policy it would now get on creation."""

from django.db import migrations


def create_missing_policies(apps, schema_editor):
    Site = apps.get_model("clinic", "Site")
    ReminderPolicy = apps.get_model("clinic", "ReminderPolicy")
    missing = Site.objects.filter(reminder_policy__isnull=True)
    # Field defaults (offsets, quiet hours, templates) come from the historical model.
    ReminderPolicy.objects.bulk_create(ReminderPolicy(site=site) for site in missing)


class Migration(migrations.Migration):
    dependencies = [("clinic", "0003_access_log_ip_agent_patients_append_only")]

    operations = [migrations.RunPython(create_missing_policies, migrations.RunPython.noop)]
