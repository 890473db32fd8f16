"""Names registered before registration stored one Unicode form (NFC) are brought to it, so that the
duplicate check and searches find them whichever form was typed."""

import unicodedata

from django.db import migrations


def names_to_one_form(apps, schema_editor):
    Patient = apps.get_model("patients", "Patient")
    changed = []
    for patient in Patient.objects.only("pk", "first_name", "last_name").iterator(chunk_size=2000):
        first, last = (unicodedata.normalize("NFC", name).strip() for name in (patient.first_name, patient.last_name))
        if (first, last) != (patient.first_name, patient.last_name):
            patient.first_name, patient.last_name = first, last
            changed.append(patient)
    Patient.objects.bulk_update(changed, ["first_name", "last_name"], batch_size=500)


class Migration(migrations.Migration):
    dependencies = [("patients", "0004_evaluation_readings_validated")]

    operations = [migrations.RunPython(names_to_one_form, migrations.RunPython.noop)]
