from django.apps import AppConfig


class SecurityConfig(AppConfig):
    name = "clinic.security"
    label = "clinic_security"
    verbose_name = "Sign-in security"

    def ready(self) -> None:
        from clinic.security import receivers  # noqa: F401  (connects the signal receivers)
