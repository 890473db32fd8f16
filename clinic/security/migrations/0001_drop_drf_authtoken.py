"""API tokens moved from DRF's authtoken (clear text, never expiring) to django-rest-knox. The old
tokens are not carried over (knox stores only hashes of tokens it issued): holders request a new
token. The old app is gone from INSTALLED_APPS, so its table and migration records are removed
here; on a fresh database there is nothing to remove."""

from django.db import migrations

DROP = [
    "DROP TABLE IF EXISTS authtoken_token",
    "DELETE FROM django_migrations WHERE app = 'authtoken'",
]


class Migration(migrations.Migration):
    dependencies = [("knox", "0009_extend_authtoken_field")]

    operations = [migrations.RunSQL(sql=DROP, reverse_sql=migrations.RunSQL.noop)]
