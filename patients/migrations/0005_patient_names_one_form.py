"""Names registered before registration stored one Unicode form (NFC) are brought to it, so that the
duplicate check and searches find them whichever form was typed. Each change leaves a history row,
as a change through the services would."""

import unicodedata

from django.db import migrations
from django.utils import timezone

REASON = "Name stored in one Unicode form (NFC)"
HISTORY_FIELDS = {"history_id", "history_date", "history_change_reason", "history_type", "history_user_id"}


def names_to_one_form(apps, schema_editor):
    Patient = apps.get_model("patients", "Patient")
    HistoricalPatient = apps.get_model("patients", "HistoricalPatient")
    changed = []
    for patient in Patient.objects.only("pk", "first_name", "last_name").iterator(chunk_size=2000):
        first, last = (unicodedata.normalize("NFC", name).strip() for name in (patient.first_name, patient.last_name))
        if (first, last) != (patient.first_name, patient.last_name):
            patient.first_name, patient.last_name = first, last
            changed.append(patient)
    Patient.objects.bulk_update(changed, ["first_name", "last_name"], batch_size=500)
    now = timezone.now()
    copied = [f.attname for f in HistoricalPatient._meta.fields if f.attname not in HISTORY_FIELDS]
    for start in range(0, len(changed), 500):
        rows = Patient.objects.filter(pk__in=[p.pk for p in changed[start : start + 500]])
        HistoricalPatient.objects.bulk_create(
            HistoricalPatient(
                **{name: getattr(row, name) for name in copied},
                history_date=now,
                history_type="~",
                history_change_reason=REASON,
            )
            for row in rows
        )


class Migration(migrations.Migration):
    dependencies = [("patients", "0004_evaluation_readings_validated")]

    operations = [migrations.RunPython(names_to_one_form, migrations.RunPython.noop)]
