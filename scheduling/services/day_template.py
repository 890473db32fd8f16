"""Day templates: a clinic administrator asks for one (`day_template_request`, which queues the
Celery task after commit); the task computes it (`day_template_regenerate`: load the inputs,
solve with CP-SAT outside any transaction, keep the result). A run that fails or times out
is kept as a failed row and changes nothing: the previous template (or none) stays in use,
and placement without a template is the heuristic's."""

from __future__ import annotations

import datetime as dt
import logging

from celery import current_app
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from clinic.models import Site
from scheduling.engine.day_template import DayTemplateOutcome, solve_day_template
from scheduling.models import DayTemplate, DayTemplateState
from scheduling.selectors import DayTemplateInputs, day_template_inputs
from scheduling.services.core import acting_user

logger = logging.getLogger(__name__)

# A queued run not finished after this long is taken as lost (a worker died): a new request may start.
STALE_REQUEST = dt.timedelta(minutes=5)


# What a run that stopped outside the solver (its task raised, or its worker died) says.
RUN_STOPPED = "The computation stopped with an error; the previous template stays in use. Ask for it again."


# What a run whose task ran out of time says.
OUT_OF_TIME = "The solver ran out of time; the previous template stays in use."


# The Celery task that computes a queued template (scheduling/tasks.py registers it under this name).
REGENERATE_TASK = "scheduling.tasks.regenerate_day_template"


# What a run the task queue would not take says; the administrator asks again.
NOT_QUEUED = "The computation could not be queued (the task queue is not answering); try again in a minute."


def _queue(attempt: DayTemplate, now: dt.datetime) -> None:
    """Hand the queued row to a worker. A broker that is down must not leave the row queued with
    no task behind it (each click would be answered with it until it is stale): it is marked
    failed with the reason, in memory too, so the request that asked says so."""
    try:
        # By name: the task module imports this one, and services never import their tasks (no cycle).
        # Through a signature, not send_task: it honours CELERY_TASK_ALWAYS_EAGER (no worker) as well.
        current_app.signature(REGENERATE_TASK, args=[attempt.pk]).apply_async()
    except Exception:  # kombu's OperationalError and friends: the broker is down
        logger.exception("Day template run %s not queued", attempt.pk)
        failed = DayTemplate.objects.filter(pk=attempt.pk, state=DayTemplateState.PENDING).update(
            state=DayTemplateState.FAILED, computed_at=now, error=NOT_QUEUED
        )
        if failed:
            attempt.state, attempt.computed_at, attempt.error = DayTemplateState.FAILED, now, NOT_QUEUED


def day_template_request(*, site: Site, actor: AbstractBaseUser, now: dt.datetime) -> DayTemplate:
    """Queue a computation of `site`'s template; a request already queued and not stale is returned
    instead of a second one, so a double click solves once. A queued row older than
    `STALE_REQUEST` is taken as lost and marked failed. When the task queue cannot take it
    the row comes back FAILED with `NOT_QUEUED` (once the request's transaction has committed),
    and the next request queues afresh."""
    with transaction.atomic():
        # One request at a time per site; NO KEY: bookings' foreign-key checks on the site row go on.
        Site.objects.select_for_update(no_key=True).filter(pk=site.pk).first()
        # A run whose worker died never finishes its row: it would be listed as pending for ever.
        DayTemplate.objects.filter(
            site=site, state=DayTemplateState.PENDING, requested_at__lte=now - STALE_REQUEST
        ).update(state=DayTemplateState.FAILED, computed_at=now, error=RUN_STOPPED)
        waiting = (
            DayTemplate.objects.filter(site=site, state=DayTemplateState.PENDING, requested_at__gt=now - STALE_REQUEST)
            .order_by("-requested_at")
            .first()
        )
        if waiting is not None:
            return waiting
        attempt = DayTemplate.objects.create(
            site=site, state=DayTemplateState.PENDING, requested_at=now, computed_by=acting_user(actor)
        )
        # A lambda, not a partial: a robust hook that raises is logged by its __qualname__.
        transaction.on_commit(lambda: _queue(attempt, now), robust=True)
    return attempt


def _inputs_record(inputs: DayTemplateInputs) -> dict[str, object]:
    return {
        "opening": [inputs.opening[0].isoformat("minutes"), inputs.opening[1].isoformat("minutes")]
        if inputs.opening
        else None,
        "chairs": len(inputs.chairs),
        "nurse_shifts": [[s.starts.isoformat("minutes"), s.ends.isoformat("minutes")] for s in inputs.nurse_shifts],
        "protocols": [
            {
                "id": p.id,
                "chair_minutes": p.chair_minutes,
                "setup_minutes": p.setup_minutes,
                "check_offsets": list(p.check_offsets),
                "check_minutes": p.check_minutes,
                "discharge_minutes": p.discharge_minutes,
                "weight": p.weight,
            }
            for p in inputs.protocols
        ],
        "setups_per_nurse": inputs.setups_per_nurse,
        "bookings_counted": inputs.bookings_counted,
    }


def day_template_regenerate(
    *,
    site: Site,
    actor: AbstractBaseUser | None,
    now: dt.datetime,
    attempt: DayTemplate | None = None,
    time_limit_seconds: float | None = None,
) -> DayTemplate:
    """Compute `site`'s template now and keep the outcome in `attempt` (a queued row) or a new row.
    The solver stops at `time_limit_seconds`, by default settings.DAY_TEMPLATE_TIME_LIMIT_SECONDS
    (read now: the Celery task's own limit is derived from it).
    Returns the row: DONE with the starts, or FAILED with the reason (the template in use is unchanged)."""
    if time_limit_seconds is None:
        time_limit_seconds = settings.DAY_TEMPLATE_TIME_LIMIT_SECONDS
    if attempt is None:
        attempt = DayTemplate.objects.create(
            site=site, state=DayTemplateState.PENDING, requested_at=now, computed_by=acting_user(actor)
        )
    inputs = day_template_inputs(site=site, now=now)
    record = _inputs_record(inputs)
    outcome: DayTemplateOutcome | None = None
    if inputs.opening is None:
        error = "The site has no opening hours."
    else:
        try:
            outcome = solve_day_template(
                chairs=inputs.chairs,
                opening=inputs.opening,
                nurse_shifts=inputs.nurse_shifts,
                protocols=inputs.protocols,
                setups_per_nurse=inputs.setups_per_nurse,
                max_patients_per_nurse=inputs.max_patients_per_nurse,
                step_minutes=inputs.step_minutes,
                time_limit_seconds=time_limit_seconds,
            )
        except SoftTimeLimitExceeded:
            # The task's time limit, raised inside the solver: not a crash (`except Exception` below
            # would take it for one). The run is kept with what it was solving.
            logger.warning("Day template solve for site %s ran out of time", site.pk)
            error = OUT_OF_TIME
        except Exception:  # a solver crash must not leave the request queued for ever
            logger.exception("Day template solve failed for site %s", site.pk)
            error = "The solver stopped with an error; the previous template stays in use."
        else:
            error = "" if outcome.template is not None else _no_day_found(outcome.status)
    return _finish(attempt=attempt, now=now, outcome=outcome, inputs=record, error=error)


def _no_day_found(status: str) -> str:
    if status == "UNKNOWN":
        return (
            "No day found within the solver's time limit: the search was cut short, not proven empty. "
            "The previous template stays in use; regenerating may find one."
        )
    return (
        f"No day found ({status}): check the chairs, opening hours, nurse shifts and protocols. "
        "The previous template stays in use."
    )


def day_template_fail(*, attempt: DayTemplate, now: dt.datetime, error: str) -> DayTemplate:
    """Mark a queued run failed (the task ran out of time or raised); a finished run is left as it is."""
    return _finish(attempt=attempt, now=now, outcome=None, inputs=attempt.inputs, error=error)


def _shift_of(index: int | None, inputs: dict[str, object]) -> dict[str, object]:
    """The nurse a start of a template solved per nurse belongs to, as placement finds her on a
    day: her shift's local start and end, and which of the nurses on that same shift she is (by
    id). Empty for a start without one."""
    shifts = inputs.get("nurse_shifts")
    if index is None or not isinstance(shifts, list) or index >= len(shifts):
        return {}
    ordered = sorted(tuple(shift) for shift in shifts)  # the order the solver numbered them in
    return {"shift": list(ordered[index]), "shift_rank": ordered[:index].count(ordered[index])}


def _finish(
    *,
    attempt: DayTemplate,
    now: dt.datetime,
    outcome: DayTemplateOutcome | None,
    inputs: dict[str, object],
    error: str,
) -> DayTemplate:
    fields: dict[str, object] = {"computed_at": now, "inputs": inputs, "error": error}
    if outcome is not None:
        fields.update(solver_status=outcome.status, solve_seconds=round(outcome.solve_seconds, 3))
    if outcome is not None and outcome.template is not None:
        template = outcome.template
        fields.update(
            state=DayTemplateState.DONE,
            sessions_per_day=template.sessions_per_day,
            starts=[
                {"chair_id": chair_id, "start": start.isoformat("minutes"), "protocol_id": protocol_id}
                | ({"lane": template.lanes[chair_id]} if chair_id in template.lanes else {})
                | _shift_of(template.shifts.get((chair_id, start)), inputs)
                for chair_id in sorted(template.starts)
                for start, protocol_id in template.starts[chair_id]
            ],
        )
    else:
        fields["state"] = DayTemplateState.FAILED
    with transaction.atomic():
        # Only a queued row is finished, once: a retried or duplicate task run changes nothing.
        taken = DayTemplate.objects.filter(pk=attempt.pk, state=DayTemplateState.PENDING).update(**fields)
    attempt.refresh_from_db()
    if not taken:
        logger.info("Day template run %s was already finished", attempt.pk)
    return attempt
