from django.apps import AppConfig


class ClinicConfig(AppConfig):
    name = "clinic"
    verbose_name = "Clinic set-up"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created

        from clinic.db import unicode_like_on_sqlite

        connection_created.connect(unicode_like_on_sqlite, dispatch_uid="clinic.unicode_like_on_sqlite")
        from clinic import (
            audit,  # noqa: F401  (connects the failed-login receiver)
            checks,  # noqa: F401  (registers the system checks)
            signals,  # noqa: F401  (connects the receivers)
        )
