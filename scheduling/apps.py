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

        _require_sms_backend()
        # Registered in every process, not only the worker: services queue some tasks by name, which
        # resolves to the task (and runs inline under CELERY_TASK_ALWAYS_EAGER).
        from scheduling import tasks  # noqa: F401


def _require_sms_backend() -> None:
    """SMS_BACKEND is imported only when the first text goes out; a mistyped path would make every
    text reminder fail then. Checked at start-up instead, naming the variable."""
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured
    from django.utils.module_loading import import_string

    try:
        import_string(settings.SMS_BACKEND)
    except ImportError as exc:
        raise ImproperlyConfigured(f"SMS_BACKEND={settings.SMS_BACKEND!r} cannot be imported: {exc}") from None
