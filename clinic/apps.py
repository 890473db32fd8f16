from django.apps import AppConfig


class ClinicConfig(AppConfig):
    name = "clinic"
    verbose_name = "Clinic set-up"

    def ready(self) -> None:
        from clinic import (
            audit,  # noqa: F401  (connects the failed-login receiver)
            checks,  # noqa: F401  (registers the system checks)
            signals,  # noqa: F401  (connects the receivers)
        )
