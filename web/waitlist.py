"""Waitlist pages: the front desk's list of waiting patients and offers, adding
a patient, taking one off, accepting an offer on a patient's behalf (they
called), and the patient's signed accept link (no login: the token is the
authority; the GET shows, the POST acts)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib import messages
from django.db.models import Prefetch
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from clinic.audit import log_anonymous_access, patients_shown
from clinic.errors import DomainError
from clinic.form_fields import ClinicalDateField, RefusesControlCharacters
from clinic.models import Site, StaffMember
from clinic.permissions import scope_to_staff
from patients.models import Patient
from scheduling.engine.wallclock import local_day
from scheduling.models import (
    UPCOMING_STATUSES,
    Appointment,
    AppointmentStatus,
    WaitlistEntry,
    WaitlistOffer,
    WaitlistOfferStatus,
    WaitlistStatus,
)
from scheduling.services.waitlist import (
    InvalidOfferLink,
    OfferNeedsTheClinic,
    OfferTaken,
    offer_from_token,
    offer_still_free,
    offers_still_free,
    waitlist_add,
    waitlist_offer_accept,
    waitlist_remove,
)
from web.access import DESK_ROLES, staff_required
from web.common import acting_for_the_link, flash_error
from web.scope import staff_sites

RECENT_OFFER_DAYS = 14


def _pick_site(request: HttpRequest, sites: list[Site]) -> Site:
    wanted = request.GET.get("site") or request.POST.get("site")
    if not sites:
        raise Http404("You are not assigned to any site.")
    if wanted:
        for site in sites:
            if str(site.pk) == wanted:
                return site
        raise Http404("No such site for you.")
    return sites[0]


@require_GET
@staff_required(DESK_ROLES)
def waitlist(request: HttpRequest) -> HttpResponse:
    """Waiting patients with their open offers, and the recent offers' outcomes. Fixed queries."""
    staff: StaffMember = request.staff  # type: ignore[attr-defined]
    now = timezone.now()
    sites = list(staff_sites(staff))
    site = _pick_site(request, sites)
    open_offers = Prefetch(
        "offers",
        # Not an offer whose chair has been booked since (from the desk, say): accepting it can only fail.
        queryset=offers_still_free(
            WaitlistOffer.objects.filter(status=WaitlistOfferStatus.OPEN, starts_at__gt=now)
        ).select_related("chair"),
        to_attr="open_offers",
    )
    entries = list(
        WaitlistEntry.objects.filter(site=site, status=WaitlistStatus.WAITING)
        .select_related("patient", "plan__protocol", "protocol", "replaces", "created_by")
        .prefetch_related(open_offers)
        .order_by("created_at", "pk")
    )
    recent = list(
        WaitlistOffer.objects.filter(site=site, created_at__gte=now - dt.timedelta(days=RECENT_OFFER_DAYS))
        .select_related("entry__patient", "chair", "accepted_by")
        .order_by("-created_at", "-pk")[:100]
    )
    patients_shown(request, [e.patient_id for e in entries] + [o.entry.patient_id for o in recent])
    context: dict[str, Any] = {
        "nav": "waitlist",
        "site": site,
        "sites": sites,
        "entries": entries,
        "recent": recent,
        "remove_form": RemoveForm(),
        "now": now,
    }
    with timezone.override(site.zone):
        return render(request, "web/waitlist/list.html", context)


class WaitlistAddForm(RefusesControlCharacters, forms.Form):
    site = forms.ModelChoiceField(queryset=Site.objects.none(), empty_label=None)
    earliest_date = ClinicalDateField(label="Earliest day", widget=forms.DateInput(attrs={"type": "date"}))
    latest_date = ClinicalDateField(
        label="Latest day",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Leave empty if any day after the earliest suits.",
    )
    replaces = forms.ModelChoiceField(
        label="Bring forward this session",
        queryset=Appointment.objects.none(),
        required=False,
        empty_label="No: book an extra session",
    )
    notify_patient = forms.BooleanField(
        label="Message the patient an accept link when a chair frees up", required=False, initial=True
    )
    notes = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False, max_length=1000)

    def __init__(self, *args: Any, sites: list[Site], sessions: list[Appointment], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["site"].queryset = Site.objects.filter(pk__in=[s.pk for s in sites])
        self.fields["replaces"].queryset = Appointment.objects.filter(pk__in=[a.pk for a in sessions])
        self.fields["replaces"].label_from_instance = lambda a: (
            f"{a.starts_at.astimezone(a.site.zone):%a %-d %b %Y %H:%M} at {a.site.name}"
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        earliest, latest = data.get("earliest_date"), data.get("latest_date")
        if earliest and latest and latest < earliest:
            self.add_error("latest_date", "The latest day must be on or after the earliest day.")
        return data


class RemoveForm(RefusesControlCharacters, forms.Form):
    reason = forms.CharField(label="Reason", max_length=500, error_messages={"required": "Give a reason."})


def _patient_for_staff(staff: StaffMember, patient_id: str | int | None) -> Patient:
    try:
        patient_pk = int(patient_id or "")
    except ValueError:
        raise Http404("No such patient.") from None
    return get_object_or_404(scope_to_staff(Patient.objects.select_related("home_site"), staff), pk=patient_pk)


@staff_required(DESK_ROLES)
@require_http_methods(["GET", "POST"])
def waitlist_add_page(request: HttpRequest, patient_id: int) -> HttpResponse:
    staff: StaffMember = request.staff  # type: ignore[attr-defined]
    now = timezone.now()
    patient = _patient_for_staff(staff, patient_id)
    patients_shown(request, [patient.pk])
    sites = list(staff_sites(staff))
    sessions = list(
        Appointment.objects.filter(
            patient=patient, status__in=UPCOMING_STATUSES, starts_at__gt=now, site__in=[s.pk for s in sites]
        )
        .select_related("site")
        .order_by("starts_at")[:20]
    )
    initial = {
        "site": patient.home_site_id,
        "earliest_date": local_day(now, patient.home_site.zone) + dt.timedelta(days=1),
        "notify_patient": True,
    }
    form = WaitlistAddForm(request.POST or None, sites=sites, sessions=sessions, initial=initial)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                entry = waitlist_add(
                    patient=patient,
                    site=data["site"],
                    earliest_date=data["earliest_date"],
                    latest_date=data["latest_date"],
                    replaces=data["replaces"],
                    notify_patient=data["notify_patient"],
                    notes=data["notes"],
                    actor=request.user,
                    now=now,
                )
            except DomainError as exc:
                field = exc.details.get("field")
                form.add_error(field if field in form.fields else None, exc.message)
                status = 409
            else:
                messages.success(request, f"{patient.full_name} is on the waitlist at {entry.site.name}.")
                return redirect(f"{reverse('web:waitlist')}?site={entry.site_id}")
        else:
            status = 400
    context = {"nav": "waitlist", "patient": patient, "form": form}
    return render(request, "web/waitlist/add.html", context, status=status)


@require_POST
@staff_required(DESK_ROLES)
def waitlist_remove_action(request: HttpRequest, entry_id: int) -> HttpResponse:
    staff: StaffMember = request.staff  # type: ignore[attr-defined]
    entry = get_object_or_404(WaitlistEntry.objects.select_related("patient"), pk=entry_id, site__in=staff_sites(staff))
    patients_shown(request, [entry.patient_id])
    back = f"{reverse('web:waitlist')}?site={entry.site_id}"
    form = RemoveForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Give a reason for taking the patient off the waitlist.")
        return redirect(back)
    try:
        waitlist_remove(entry=entry, actor=request.user, reason=form.cleaned_data["reason"])
    except DomainError as exc:
        flash_error(request, exc)
    else:
        messages.success(request, f"{entry.patient.full_name} is off the waitlist.")
    return redirect(back)


@require_POST
@staff_required(DESK_ROLES)
def waitlist_accept_for_patient(request: HttpRequest, offer_id: int) -> HttpResponse:
    """The patient phoned to say yes: the desk accepts on their behalf, first come first served as online."""
    staff: StaffMember = request.staff  # type: ignore[attr-defined]
    offer = get_object_or_404(
        WaitlistOffer.objects.select_related("entry__patient", "site"), pk=offer_id, site__in=staff_sites(staff)
    )
    back = f"{reverse('web:waitlist')}?site={offer.site_id}"
    patients_shown(request, [offer.entry.patient_id])
    try:
        booked = waitlist_offer_accept(offer=offer, actor=request.user, now=timezone.now())
    except DomainError as exc:
        flash_error(request, exc)
        return redirect(back)
    when = booked.starts_at.astimezone(offer.site.zone)
    messages.success(request, f"Booked {offer.entry.patient.full_name} on {when:%a %-d %b %H:%M} from the waitlist.")
    return redirect(back)


def _link_page(
    request: HttpRequest,
    template: str,
    offer: WaitlistOffer | None,
    status: int = 200,
    *,
    session: Appointment | None = None,
    **extra: Any,
) -> HttpResponse:
    """The link's page, showing the offered chair's time, or `session`'s (the one booked from the
    offer) as it is now, on the patient's clock."""
    context: dict[str, Any] = dict(extra)
    zone = timezone.get_current_timezone()
    if offer is not None:
        patients_shown(request, [offer.entry.patient_id])
        zone = offer.entry.patient.zone
        site = session.site if session is not None else offer.site
        context.update(
            offer=offer,
            local_start=(session or offer).starts_at.astimezone(zone),
            time_zone=zone.key,
            site_name=site.name,
            site_phone=site.phone,
            site_address=site.address,
        )
    with timezone.override(zone):
        return render(request, f"web/waitlist/{template}", context, status=status)


@log_anonymous_access
@never_cache
@require_http_methods(["GET", "POST"])
def accept_link(request: HttpRequest, token: str) -> HttpResponse:
    """The patient's accept link: GET shows the freed session (link scanners follow links), POST books it."""
    now = timezone.now()
    try:
        offer = offer_from_token(token=token)
    except InvalidOfferLink as exc:
        return _link_page(request, "link_invalid.html", None, status=410, reason=str(exc))
    if offer.status == WaitlistOfferStatus.ACCEPTED:
        return _accepted_page(request, offer, now=now, already=True)
    if offer.status == WaitlistOfferStatus.TAKEN:
        return _link_page(
            request,
            "taken.html",
            offer,
            status=409,
            reason="Sorry, another patient accepted this session first. You stay on the waitlist.",
        )
    if offer.status != WaitlistOfferStatus.OPEN or offer.starts_at <= now:
        return _link_page(request, "link_invalid.html", offer, status=410, reason="This offer is no longer open.")
    if not offer_still_free(offer):
        return _link_page(
            request,
            "taken.html",
            offer,
            status=409,
            reason=(
                "Sorry, this session is no longer free: it has been booked, or the clinic has closed it, "
                "in the meantime. You stay on the waitlist."
            ),
        )
    if request.method == "GET":
        return _link_page(request, "accept.html", offer)
    try:
        # The link is the patient's authority, not a login on this browser (staff or another patient).
        with acting_for_the_link():
            waitlist_offer_accept(offer=offer, actor=None, now=now)
    except OfferTaken as exc:
        return _link_page(request, "taken.html", offer, status=409, reason=exc.message)
    except OfferNeedsTheClinic as exc:
        # Not "taken", and no screening reasons: the link is no login (they stay with the clinic).
        return _link_page(request, "needs_clinic.html", offer, status=409, reason=exc.message)
    except DomainError as exc:
        return _link_page(request, "link_invalid.html", offer, status=409, reason=exc.message)
    offer = offer_from_token(token=token)
    return _accepted_page(request, offer, now=now)


def _accepted_page(
    request: HttpRequest, offer: WaitlistOffer, *, now: dt.datetime, already: bool = False
) -> HttpResponse:
    """The session booked from the offer as it is now, not the offer's time: the clinic may have
    moved or cancelled it since, and the patient opens the link again to check when to come."""
    booked = offer.booked
    if booked is not None and booked.status in UPCOMING_STATUSES and booked.starts_at > now:
        return _link_page(request, "accepted.html", offer, session=booked, already=already)
    cancelled = booked is None or booked.status == AppointmentStatus.CANCELLED
    return _link_page(
        request,
        "booked_gone.html",
        offer,
        session=booked,
        status=410,
        cancelled=cancelled,
        reason=(
            "The session booked from this offer has been cancelled."
            if cancelled
            else "The session booked from this offer is no longer ahead."
        ),
    )
