from django.apps import AppConfig


class ClinicConfig(AppConfig):
    name = "clinic"
    verbose_name = "Clinic set-up"

    def ready(self) -> None:
        from clinic import signals  # noqa: F401  (connects the receivers)
