"""Every page against every persona with Django's test client: who gets in,
who is sent to log in, who gets 403 or 404, and what the forms say when the
input or the rules say no."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from icalendar import Calendar

from clinic.models import Channel
from scheduling.models import Appointment, AppointmentStatus, PlanStatus
from tests.factories import PatientFactory, ProtocolFactory, UserFactory
from tests.web.conftest import NOW, Web, login

pytestmark = pytest.mark.django_db


def staff_urls(web: Web) -> dict[str, str]:
    return {
        "board": reverse("web:board") + "?day=2026-03-02",
        "week": reverse("web:week") + "?day=2026-03-02",
        "search": reverse("web:patient-search") + "?q=Archer",
        "patient": reverse("web:patient", args=[web.patient_a.pk]),
        "book": reverse("web:book-course", args=[web.plan_a.pk]),
    }


def portal_urls(web: Web) -> dict[str, str]:
    return {"ics": reverse("web:portal-ics", args=[web.sessions_a[0].pk])}


def users(web: Web) -> dict[str, object]:
    return {
        "desk": web.desk.user,
        "nurse": web.nurse.user,
        "prescriber": web.prescriber.user,
        "admin": web.admin.user,
        "patient_a": web.patient_a.user,
        "patient_b": web.patient_b.user,
    }


# Which persona may open which page (200); every other authenticated persona gets 403.
ALLOWED = {
    "board": {"desk", "nurse", "prescriber", "admin"},
    "week": {"desk", "nurse", "prescriber", "admin"},
    "search": {"desk", "nurse", "prescriber"},  # patient data: not the clinic administrator's
    "patient": {"desk", "nurse", "prescriber"},
    "book": {"desk", "nurse", "prescriber"},
    "ics": {"patient_a"},
}


def test_anonymous_visitors_are_sent_to_log_in_from_every_page(client, web):
    pages = {**staff_urls(web), **portal_urls(web), "home": reverse("home")}
    for name, url in pages.items():
        response = client.get(url)
        assert response.status_code == 302, name
        assert response["Location"].startswith(reverse("login") + "?next="), name
    for url in [
        reverse("web:appointment-action", args=[web.sessions_a[0].pk, "check-in"]),
        reverse("web:plan-adjust", args=[web.plan_a.pk]),
        reverse("web:portal-action", args=[web.sessions_a[0].pk, "confirm"]),
        reverse("web:portal-preferences"),
    ]:
        response = client.post(url)
        assert response.status_code == 302 and "/login/" in response["Location"], url
    assert Appointment.objects.filter(status=AppointmentStatus.BOOKED).count() == 12


@pytest.mark.parametrize("persona", ["desk", "nurse", "prescriber", "admin", "patient_a", "patient_b"])
def test_each_persona_opens_only_the_pages_of_its_role(client, web, persona):
    login(client, users(web)[persona])
    for name, url in {**staff_urls(web), **portal_urls(web)}.items():
        response = client.get(url)
        if persona in ALLOWED[name]:
            assert response.status_code == 200, (persona, name)
        elif persona == "patient_b" and name == "ics":
            assert response.status_code == 404, (persona, name)  # someone else's session: not found
        else:
            assert response.status_code == 403, (persona, name)


def test_staff_land_on_the_day_board_and_patients_on_their_portal(client, web):
    login(client, web.desk.user)
    response = client.get("/")
    assert response.status_code == 200
    assert "web/board.html" in [t.name for t in response.templates]
    client.logout()
    login(client, web.patient_a.user)
    response = client.get("/")
    assert "portal/home.html" in [t.name for t in response.templates]
    assert b"Alice" in response.content and b"Baker" not in response.content


def test_user_without_a_role_gets_403_at_home(client, web):
    login(client, UserFactory(username="nobody"))
    assert client.get("/").status_code == 403


def test_login_page_shows_an_error_for_a_wrong_password_and_logout_returns_to_it(client, web):
    response = client.post(reverse("login"), {"username": "desk", "password": "wrong"})
    assert response.status_code == 200
    assert b"Please enter a correct username and password" in response.content
    login(client, web.desk.user)
    response = client.post(reverse("logout"))
    assert response.status_code == 302 and response["Location"] == reverse("login")


def test_patient_a_gets_404_on_every_url_of_patient_bs_appointment(client, web):
    theirs = web.sessions_b[0]
    login(client, web.patient_a.user)
    assert client.get(reverse("web:portal-ics", args=[theirs.pk])).status_code == 404
    for action in ("confirm", "cancel"):
        assert client.post(reverse("web:portal-action", args=[theirs.pk, action])).status_code == 404
    assert client.get(reverse("web:portal-ics", args=[999999])).status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == AppointmentStatus.BOOKED


def test_patient_confirms_own_session_and_downloads_it_as_ics(client, web):
    mine = web.sessions_a[0]
    login(client, web.patient_a.user)
    response = client.post(reverse("web:portal-action", args=[mine.pk, "confirm"]), follow=True)
    assert b"your session is confirmed" in response.content
    mine.refresh_from_db()
    assert mine.status == AppointmentStatus.CONFIRMED
    response = client.get(reverse("web:portal-ics", args=[mine.pk]))
    assert response["Content-Type"].startswith("text/calendar")
    assert "attachment" in response["Content-Disposition"]
    (event,) = Calendar.from_ical(response.content).walk("VEVENT")
    assert event.decoded("dtstart") == mine.starts_at
    assert "12 Main Street" in str(event["location"])


def test_patient_cannot_change_a_session_inside_the_notice_window(client, web, frozen, time_machine):
    first = web.sessions_a[0]
    time_machine.move_to(first.starts_at - dt.timedelta(hours=3), tick=False)
    login(client, web.patient_a.user)
    response = client.post(reverse("web:portal-action", args=[first.pk, "cancel"]), follow=True)
    assert b"can no longer be changed online" in response.content
    first.refresh_from_db()
    assert first.status == AppointmentStatus.BOOKED


def test_patient_confirms_inside_the_notice_window_as_the_reminder_link_lets_them(client, web, frozen, time_machine):
    """Confirming frees nothing: the portal keeps it open until the session, as the 24 h and 2 h
    reminders' confirm links do; only cancelling and moving close at the notice period."""
    first = web.sessions_a[0]
    time_machine.move_to(first.starts_at - dt.timedelta(hours=3), tick=False)
    login(client, web.patient_a.user)
    home = client.get(reverse("home"))
    card = next(a for a in home.context["upcoming"] if a.pk == first.pk)
    assert card.can_confirm and not card.can_change
    response = client.post(reverse("web:portal-action", args=[first.pk, "confirm"]), follow=True)
    assert b"your session is confirmed" in response.content
    first.refresh_from_db()
    assert first.status == AppointmentStatus.CONFIRMED


def test_patient_cancels_own_session_before_the_notice_window(client, web):
    mine = web.sessions_a[-1]
    login(client, web.patient_a.user)
    client.post(reverse("web:portal-action", args=[mine.pk, "cancel"]))
    mine.refresh_from_db()
    assert mine.status == AppointmentStatus.CANCELLED
    assert mine.cancellation_reason == "Cancelled by the patient in the portal"


def test_calendar_feed_lists_the_patients_sessions_and_unknown_tokens_get_404(client, web):
    response = client.get(reverse("web:calendar-feed", args=[web.patient_a.calendar_token]))
    assert response.status_code == 200
    events = Calendar.from_ical(response.content).walk("VEVENT")
    assert sorted(e.decoded("dtstart") for e in events) == sorted(a.starts_at for a in web.sessions_a)
    assert client.get(reverse("web:calendar-feed", args=["not-a-token"])).status_code == 404


def test_reminder_preferences_are_saved_and_a_channel_without_contact_is_refused(client, web):
    login(client, web.patient_a.user)
    client.post(reverse("web:portal-preferences"), {"preferred_channel": Channel.SMS})
    web.patient_a.refresh_from_db()
    assert web.patient_a.preferred_channel == Channel.SMS
    assert web.patient_a.reminder_consent is False
    assert web.patient_a.reminder_consent_changed_at == NOW
    web.patient_a.mobile_phone = ""
    web.patient_a.save(update_fields=["mobile_phone"])
    response = client.post(
        reverse("web:portal-preferences"), {"preferred_channel": Channel.SMS, "reminder_consent": "on"}
    )
    assert response.status_code == 400
    assert b"We have no mobile number for you" in response.content


def test_front_desk_books_a_course_in_two_posts_propose_then_book(client, web):
    patient = PatientFactory(home_site=web.clinic.site, last_name="Newcomer")
    plan = web.clinic.plan(patient=patient, protocol=ProtocolFactory())
    login(client, web.desk.user)
    url = reverse("web:book-course", args=[plan.pk])
    response = client.post(url, {"start_date": "2026-03-09"})
    assert response.status_code == 200
    rows = response.context["proposal"]
    assert len(rows) == 6
    response = client.post(url, {"start_date": "2026-03-09", "proposal": response.context["token"]})
    assert response.status_code == 302
    assert Appointment.objects.filter(plan=plan, status=AppointmentStatus.BOOKED).count() == 6
    plan.refresh_from_db()
    assert plan.status == PlanStatus.ACTIVE


def test_booking_form_errors_are_shown_in_plain_words(client, web):
    patient = PatientFactory(home_site=web.clinic.site)
    plan = web.clinic.plan(patient=patient)
    login(client, web.desk.user)
    url = reverse("web:book-course", args=[plan.pk])
    response = client.post(url, {"start_date": ""})
    assert response.status_code == 400
    assert b"This field is required" in response.content
    response = client.post(url, {"start_date": "2026-01-05"})
    assert response.status_code == 409
    assert b"The course cannot start in the past." in response.content
    response = client.post(url, {"start_date": "2026-03-09", "proposal": "tampered"})
    assert response.status_code == 400
    assert Appointment.objects.filter(plan=plan).count() == 0


def test_a_course_that_no_longer_fits_is_refused_with_the_reason(client, web):
    """Two clerks propose the same chairs; the second to press Book is told why, and nothing is booked."""
    login(client, web.desk.user)
    plans = [
        web.clinic.plan(patient=PatientFactory(home_site=web.clinic.site), protocol=ProtocolFactory()) for _ in range(4)
    ]
    tokens = []
    for plan in plans:
        response = client.post(reverse("web:book-course", args=[plan.pk]), {"start_date": "2026-03-09"})
        tokens.append(response.context["token"])
    outcomes = [
        client.post(reverse("web:book-course", args=[plan.pk]), {"start_date": "2026-03-09", "proposal": token})
        for plan, token in zip(plans, tokens, strict=True)
    ]
    refused = [r for r in outcomes if r.status_code == 409]
    assert refused, "three chairs and one nurse cannot take four identical courses"
    assert b'role="alert"' in refused[0].content


def test_ineligible_patient_booking_is_refused_and_only_clinicians_see_why(client, web):
    """The desk is told a prescriber's screening decision is needed; the reasons are health data,
    on the chart for clinicians."""
    from patients.models import Contraindication, PatientFlag

    rule = Contraindication.objects.create(code="psychosis", label="Active psychosis", kind=Contraindication.Kind.FLAG)
    patient = PatientFactory(home_site=web.clinic.site)
    PatientFlag.objects.create(patient=patient, contraindication=rule, recorded_by=web.prescriber.user)
    plan = web.clinic.plan(patient=patient)
    login(client, web.desk.user)
    # Said before any time is offered (it used to propose a whole course and refuse it at the last click).
    page = client.get(reverse("web:book-course", args=[plan.pk]))
    assert page.status_code == 200 and b"needs a prescriber&#x27;s decision" in page.content
    response = client.post(reverse("web:book-course", args=[plan.pk]), {"start_date": "2026-03-09"})
    assert response.status_code == 409 and "token" not in response.context
    assert b"needs a prescriber&#x27;s decision" in response.content and b"Active psychosis" not in response.content
    assert b'data-testid="screening-link"' not in response.content  # the screening page is the clinicians'
    search = {"kind": "make-up", "first_day": "2026-03-09", "last_day": "2026-03-13"}
    single = client.get(reverse("web:book-session", args=[patient.pk]), search)
    assert b"needs a prescriber&#x27;s decision" in single.content and b'data-testid="free-slot"' not in single.content
    client.logout()
    login(client, web.prescriber.user)
    chart = client.get(reverse("web:patient", args=[patient.pk]))
    assert b"Not to be booked without a prescriber" in chart.content and b"Active psychosis" in chart.content
    for page in (
        client.get(reverse("web:book-course", args=[plan.pk])),
        client.get(reverse("web:book-session", args=[patient.pk]), search),
    ):
        assert b"Active psychosis" in page.content and b'data-testid="free-slot"' not in page.content
        assert reverse("web:plan-screening", args=[plan.pk]).encode() in page.content
    # With the prescriber's override on file, times are offered again.
    client.post(
        reverse("web:plan-screening", args=[plan.pk]),
        {"reason": "Psychosis resolved; reviewed by psychiatry", "version": plan.version},
    )
    page = client.get(reverse("web:book-session", args=[patient.pk]), search)
    assert b"Active psychosis" not in page.content and b'data-testid="free-slot"' in page.content


def test_front_desk_checks_in_marks_no_show_and_cancels_with_a_reason(client, web, time_machine):
    first, second = web.sessions_a[0], web.sessions_b[0]
    time_machine.move_to(first.starts_at + dt.timedelta(minutes=20), tick=False)
    login(client, web.desk.user)
    board = reverse("web:board") + "?day=" + first.starts_at.date().isoformat()
    response = client.get(board)
    assert response.context["late"], "both first sessions started 20 minutes ago"
    client.post(reverse("web:appointment-action", args=[first.pk, "check-in"]), {"next": board})
    client.post(reverse("web:appointment-action", args=[second.pk, "no-show"]), {"next": board})
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == AppointmentStatus.CHECKED_IN
    assert second.status == AppointmentStatus.NO_SHOW
    later = web.sessions_a[2]
    response = client.post(reverse("web:appointment-action", args=[later.pk, "cancel"]), {"reason": " "}, follow=True)
    assert b"Give a reason for the cancellation." in response.content
    later.refresh_from_db()
    assert later.status == AppointmentStatus.BOOKED
    client.post(reverse("web:appointment-action", args=[later.pk, "cancel"]), {"reason": "Patient has the flu"})
    later.refresh_from_db()
    assert later.status == AppointmentStatus.CANCELLED and later.cancellation_reason == "Patient has the flu"


def test_no_show_before_the_start_is_refused_in_words(client, web):
    login(client, web.desk.user)
    response = client.post(reverse("web:appointment-action", args=[web.sessions_a[0].pk, "no-show"]), follow=True)
    assert b"only after its start time" in response.content


def test_actions_redirect_only_to_this_site(client, web):
    login(client, web.desk.user)
    response = client.post(
        reverse("web:appointment-action", args=[web.sessions_a[0].pk, "confirm"]), {"next": "https://evil.example/"}
    )
    assert response.status_code == 302 and not response["Location"].startswith("https://evil")


def test_clinician_pauses_with_a_reason_and_the_history_shows_who_and_why(client, web):
    web.plan_a.refresh_from_db()  # booking the course bumped the version
    login(client, web.prescriber.user)
    url = reverse("web:plan-adjust", args=[web.plan_a.pk])
    response = client.post(url, {"action": "pause", "reason": "", "version": web.plan_a.version})
    assert response.status_code == 400
    assert b"Give a reason for this change" in response.content
    client.post(url, {"action": "pause", "reason": "Flu", "version": web.plan_a.version})
    web.plan_a.refresh_from_db()
    assert web.plan_a.status == PlanStatus.PAUSED
    chart = client.get(reverse("web:patient", args=[web.patient_a.pk]))
    newest = chart.context["history"][0]
    assert newest.history_user == web.prescriber.user
    assert newest.history_change_reason.endswith(": Flu")


def test_a_stale_plan_form_is_refused_with_the_reason(client, web):
    login(client, web.prescriber.user)
    url = reverse("web:plan-adjust", args=[web.plan_a.pk])
    response = client.post(
        url, {"action": "interval", "interval_days": 30, "reason": "Relief lasts longer", "version": 99}
    )
    assert response.status_code == 409
    assert b"changed by someone else" in response.content


def test_interval_outside_the_protocol_is_refused_in_words(client, web):
    web.plan_a.refresh_from_db()
    login(client, web.prescriber.user)
    url = reverse("web:plan-adjust", args=[web.plan_a.pk])
    response = client.post(
        url, {"action": "interval", "interval_days": 90, "reason": "Try longer", "version": web.plan_a.version}
    )
    assert response.status_code == 400  # a refused input, as the API answers it
    assert b"must be between 14 and 42 days" in response.content


def test_front_desk_may_not_adjust_plans(client, web):
    login(client, web.desk.user)
    response = client.post(
        reverse("web:plan-adjust", args=[web.plan_a.pk]), {"action": "pause", "reason": "x", "version": 1}
    )
    assert response.status_code == 403
    chart = client.get(reverse("web:patient", args=[web.patient_a.pk]))
    assert b"Screening" not in chart.content and b"Plan history" not in chart.content


def test_patient_search_finds_by_part_of_the_name(client, web):
    login(client, web.desk.user)
    response = client.get(reverse("web:patient-search"), {"q": "arch"})
    assert [p.pk for p in response.context["results"]] == [web.patient_a.pk]
    response = client.get(reverse("web:patient-search"), {"q": "zzz"})
    assert b"No patient matches" in response.content


def test_staff_cannot_open_another_sites_board(client, web):
    from tests.factories import SiteFactory

    other = SiteFactory(name="Elsewhere")
    login(client, web.desk.user)
    assert client.get(reverse("web:board"), {"site": other.pk}).status_code == 404
