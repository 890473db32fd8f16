from django.apps import AppConfig
from django.db.models import Exists, OuterRef, Q


def appointment_site_rule(ids) -> Q:
    """A patient belongs to a site where they have an appointment (by chair)."""
    from scheduling.models import Appointment

    return Q(Exists(Appointment.objects.filter(patient=OuterRef("pk"), chair__site__in=ids)))


def plan_site_rule(ids) -> Q:
    """A patient belongs to a site where they have a treatment plan."""
    from scheduling.models import TreatmentPlan

    return Q(Exists(TreatmentPlan.objects.filter(patient=OuterRef("pk"), site__in=ids)))


class SchedulingConfig(AppConfig):
    name = "scheduling"

    def ready(self) -> None:
        from clinic.permissions import register_patient_site_rule

        register_patient_site_rule(appointment_site_rule)
        register_patient_site_rule(plan_site_rule)
        from scheduling import receivers  # noqa: F401  (connects the domain-event receivers)
