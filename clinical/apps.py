from django.apps import AppConfig


def start_gate(sender, *, appointment, now, **kwargs) -> None:
    from clinical.services import require_start_allowed

    require_start_allowed(appointment=appointment, now=now)


def complete_gate(sender, *, appointment, now, **kwargs) -> None:
    from clinical.services import require_complete_allowed

    require_complete_allowed(appointment=appointment, now=now)


def release_gate(sender, *, appointment, now, **kwargs) -> None:
    from clinical.services import require_release_allowed

    require_release_allowed(appointment=appointment)


class ClinicalConfig(AppConfig):
    name = "clinical"
    verbose_name = "Clinical session record"

    def ready(self) -> None:
        """The session record gates scheduling's start, complete, and the cancel or undone check-in of
        a checked-in session (scheduling announces, see scheduling/signals.py)."""
        from scheduling.signals import appointment_completing, appointment_releasing, appointment_starting

        appointment_starting.connect(start_gate, dispatch_uid="clinical.start_gate")
        appointment_completing.connect(complete_gate, dispatch_uid="clinical.complete_gate")
        appointment_releasing.connect(release_gate, dispatch_uid="clinical.release_gate")
