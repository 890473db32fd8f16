from django.apps import AppConfig
from django.db.models import Q


def home_site_rule(ids) -> Q:
    """A patient belongs to their home site (see clinic.permissions.scope_to_staff)."""
    return Q(home_site__in=ids)


class PatientsConfig(AppConfig):
    name = "patients"

    def ready(self) -> None:
        from clinic.permissions import register_patient_site_rule
        from patients import notices  # noqa: F401  (connects the email-change notice)

        register_patient_site_rule(home_site_rule)
