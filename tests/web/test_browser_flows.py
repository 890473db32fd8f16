"""Real-browser journeys for the waitlist, single-session booking, moves and
registration, in Debian's Chromium through Playwright (set up as in
test_browser.py). The live server runs on real time, so the data is built
around timezone.now(). Screenshots go to $SCREENSHOT_DIR."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlparse

import pytest
from django.core import mail
from django.utils import timezone
from playwright.sync_api import Browser, Page, expect

from clinic.models import Role
from measures.models import QuestionnaireResponse
from measures.selectors import DUE_BEFORE_SESSION
from patients.models import Contraindication, Patient
from scheduling.models import (
    Appointment,
    AppointmentStatus,
    PlanStatus,
    TreatmentPlan,
    WaitlistEntry,
    WaitlistOffer,
    WaitlistOfferStatus,
)
from scheduling.services import appointment_book, appointment_cancel
from scheduling.services.waitlist import waitlist_offers_sweep
from tests.factories import PatientFactory, StaffFactory, UserFactory
from tests.web.test_browser import (  # noqa: F401  (fixtures)
    PHONE,
    browser_context_args,
    browser_type_launch_args,
    first_workday_after,
    live_clinic,
    log_in,
    patient_with_plan,
    shoot,
)

pytestmark = [pytest.mark.browser, pytest.mark.clock(zone="America/New_York"), pytest.mark.django_db(transaction=True)]


def _path_of(link: str) -> str:
    return urlparse(link).path


def test_waitlisted_patient_accepts_a_freed_chair_from_the_message_and_the_next_one_is_told_it_is_taken(
    page: Page,
    browser: Browser,
    live_server,
    live_clinic,  # noqa: F811  (the imported fixture)
):
    booked = patient_with_plan(live_clinic, "alice", "Alice", "Archer", book=True)
    newcomer = patient_with_plan(live_clinic, "carol", "Carol", "Chen", book=False)
    other = PatientFactory(
        user=UserFactory(username="dave", first_name="Dave", last_name="Dunn"),
        first_name="Dave",
        last_name="Dunn",
        home_site=live_clinic.site,
    )

    # The front desk puts both on the waitlist from the patient page.
    log_in(page, live_server.url, "desk_rita")
    for patient in (newcomer.patient, other):
        page.goto(f"{live_server.url}/patients/{patient.pk}/")
        page.get_by_role("link", name="Add to waitlist").click()
        page.get_by_label("Notes").fill("Can come at short notice")
        if patient == newcomer.patient:
            shoot(page, "20-waitlist-add-form")
        page.get_by_role("button", name="Add to waitlist").click()
        expect(page.get_by_text(f"{patient.full_name} is on the waitlist")).to_be_visible()
    expect(page.get_by_test_id("waitlist-entry")).to_have_count(2)
    shoot(page, "21-waitlist-two-waiting")

    # Alice cancels her first session; both waiting patients are messaged an accept link.
    freed = Appointment.objects.filter(plan=booked).order_by("starts_at").first()
    appointment_cancel(
        appointment=freed, actor=live_clinic.desk.user, reason="Patient has flu", now=timezone.now(), rebook=False
    )
    # Cancelled in the patients' quiet hours (the late-evening and night instants), the links wait
    # for the end of them, when the sweep sends them.
    due = [o.message_due_at for o in WaitlistOffer.objects.filter(freed=freed) if o.message_due_at]
    if due:
        assert not mail.outbox
        waitlist_offers_sweep(now=max(due))
    links = {
        message.to[0]: next(w for w in message.body.split() if "/w/" in w)
        for message in mail.outbox
        if "/w/" in message.body
    }
    assert set(links) == {newcomer.patient.email, other.email}

    page.reload()
    expect(page.get_by_test_id("open-offer")).to_have_count(2)
    shoot(page, "22-waitlist-offers-after-cancel")

    # Both open their links; Carol, on her phone, presses first and takes the chair.
    phone = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    try:
        carol = phone.new_page()
        carol.goto(live_server.url + _path_of(links[newcomer.patient.email]))
        dave = phone.new_page()
        dave.goto(live_server.url + _path_of(links[other.email]))
        expect(carol.get_by_role("heading", name="An earlier session is free")).to_be_visible()
        expect(dave.get_by_role("heading", name="An earlier session is free")).to_be_visible()
        shoot(carol, "23-waitlist-accept-link-phone")
        carol.get_by_role("button", name="Yes, book this session for me").click()
        expect(carol.get_by_role("heading", name="It's yours: the session is booked")).to_be_visible()
        shoot(carol, "24-waitlist-accepted-phone")

        dave.get_by_role("button", name="Yes, book this session for me").click()
        expect(dave.get_by_role("heading", name="This session has already been taken")).to_be_visible()
        expect(dave.get_by_text("another patient accepted this session first")).to_be_visible()
        shoot(dave, "25-waitlist-already-taken-phone")
    finally:
        phone.close()

    taken = Appointment.objects.get(patient=newcomer.patient, status=AppointmentStatus.BOOKED)
    assert (taken.starts_at, taken.chair_id) == (freed.starts_at, freed.chair_id)
    assert not Appointment.objects.filter(patient=other).exists()
    assert WaitlistOffer.objects.get(entry__patient=newcomer.patient).status == WaitlistOfferStatus.ACCEPTED
    assert WaitlistEntry.objects.get(patient=other).status == "waiting"

    page.reload()
    expect(page.get_by_test_id("waitlist-entry")).to_have_count(1)
    expect(page.get_by_test_id("recent-offer").filter(has_text="Carol Chen")).to_contain_text("Accepted")
    expect(page.get_by_test_id("recent-offer").filter(has_text="Dave Dunn")).to_contain_text("Taken by another patient")
    shoot(page, "26-waitlist-after-accept")


def test_front_desk_moves_a_session_to_a_free_time_after_seeing_why_others_are_refused(
    page: Page,
    live_server,
    live_clinic,  # noqa: F811  (the imported fixture)
):
    plan = patient_with_plan(live_clinic, "alice", "Alice", "Archer", book=True)
    last = Appointment.objects.filter(plan=plan).order_by("starts_at").last()
    log_in(page, live_server.url, "desk_rita")
    page.goto(f"{live_server.url}/patients/{plan.patient_id}/")
    page.get_by_role("link", name="Move… Alice Archer's session").last.click()
    expect(page.get_by_role("heading", name="Move a session")).to_be_visible()
    page.get_by_role("button", name="Show free times").click()
    refused = page.get_by_test_id("refused-slot")
    expect(refused.first).to_contain_text("refused by the plan's rules")
    expect(refused.filter(has_text="less than 48 hours from session").first).to_be_visible()
    # The desk is told why, and offered no button for it.
    expect(refused.first.get_by_role("radio")).to_have_count(0)
    shoot(page, "30-move-free-times-and-refusals")

    target = page.get_by_test_id("free-slot").last
    chosen = target.get_by_role("radio")
    value = chosen.get_attribute("value")
    chosen.check()
    page.get_by_role("button", name="Move to this time").click()
    expect(page.get_by_text("Moved Alice Archer's session from")).to_be_visible()
    shoot(page, "31-move-done-board")
    old_start = last.starts_at
    last.refresh_from_db()
    assert last.starts_at.isoformat() == value.split("|")[0] != old_start.isoformat()
    assert last.status == AppointmentStatus.BOOKED


def test_front_desk_books_a_make_up_session_for_a_missed_one(page: Page, live_server, live_clinic):  # noqa: F811
    plan = patient_with_plan(live_clinic, "omar", "Omar", "Reyes", book=True)
    sessions = list(Appointment.objects.filter(plan=plan).order_by("starts_at"))
    appointment_cancel(
        appointment=sessions[-1], actor=live_clinic.desk.user, reason="Car broke down", now=timezone.now(), rebook=False
    )
    last_kept = sessions[-2].starts_at.astimezone(live_clinic.site.zone).date()
    log_in(page, live_server.url, "desk_rita")
    page.goto(f"{live_server.url}/patients/{plan.patient_id}/")
    page.get_by_role("link", name="Book one session").click()
    page.get_by_label("Induction or make-up session").check()
    page.get_by_label("From").fill((last_kept + timedelta(days=1)).isoformat())
    page.get_by_label("To").fill((last_kept + timedelta(days=7)).isoformat())
    page.get_by_role("button", name="Show free times").click()
    expect(page.get_by_test_id("free-slot").first).to_be_visible()
    shoot(page, "32-single-session-free-times")
    page.get_by_test_id("free-slot").first.get_by_role("radio").check()
    page.get_by_role("button", name="Book this session").click()
    expect(page.get_by_text("Booked a make-up session for Omar Reyes")).to_be_visible()
    shoot(page, "33-single-session-booked-board")
    assert Appointment.objects.filter(plan=plan, status=AppointmentStatus.BOOKED).count() == len(sessions)


def test_front_desk_registers_a_patient_and_the_prescriber_creates_a_plan_overrides_screening_and_books(
    page: Page,
    live_server,
    live_clinic,  # noqa: F811  (the imported fixture)
):
    Contraindication.objects.create(
        code="seizures", label="History of seizures", kind=Contraindication.Kind.SEIZURE_HISTORY
    )
    log_in(page, live_server.url, "desk_rita")
    page.get_by_role("link", name="Patients").click()
    page.get_by_role("link", name="Register a new patient").click()
    page.get_by_label("First name").fill("Dana")
    page.get_by_label("Last name").fill("Ostrander")
    page.get_by_label("Date of birth").fill("1979-04-02")
    page.get_by_label("Email").fill("dana@example.org")
    page.get_by_label("Reminders by").select_option("sms")
    page.get_by_role("button", name="Register patient").click()
    expect(page.get_by_text("Text-message reminders need a mobile number.")).to_be_visible()
    shoot(page, "40-register-errors")
    page.get_by_label("Mobile phone").fill("+12025550123")
    page.get_by_label("The patient agrees to receive reminders").check()
    page.get_by_label("Usual driver home").fill("Lee Ostrander")
    page.get_by_role("button", name="Register patient").click()
    expect(page.get_by_text("Dana Ostrander is registered.")).to_be_visible()
    expect(page.get_by_role("heading", name="Dana Ostrander", level=1)).to_be_visible()
    patient = Patient.objects.get(last_name="Ostrander")
    # Screening data comes from a clinician, not the desk.
    Patient.objects.filter(pk=patient.pk).update(seizure_history=True)
    page.get_by_role("button", name="Log out").click()

    log_in(page, live_server.url, "dr_hale")
    page.goto(f"{live_server.url}/patients/{patient.pk}/")
    page.get_by_role("link", name="Create a plan").click()
    expect(page.get_by_test_id("eligibility")).to_contain_text("History of seizures")
    page.get_by_label("Start from").fill(
        first_workday_after(timezone.now().astimezone(live_clinic.site.zone).date(), 3).isoformat()
    )
    shoot(page, "41-new-plan-with-screening")
    page.get_by_role("button", name="Create plan").click()
    expect(page.get_by_text("Plan created")).to_be_visible()
    expect(page.get_by_role("link", name="Book induction course")).to_have_count(0)
    page.get_by_role("button", name="Record override").click()
    expect(page.get_by_text("Give the reason for the override")).to_be_visible()
    page.get_by_label("Reason for treating despite the screening").fill("Seizure-free 12 years; neurologist agrees")
    page.get_by_role("button", name="Record override").click()
    expect(page.get_by_text("Override recorded; the course can be booked.")).to_be_visible()
    expect(page.get_by_test_id("override")).to_contain_text("Maya Hale")
    shoot(page, "42-screening-override-recorded")

    page.get_by_role("link", name="Book induction course").click()
    page.get_by_role("button", name="Propose sessions").click()
    expect(page.get_by_test_id("proposed-session")).to_have_count(6)
    page.get_by_role("button", name="Book all 6 sessions").click()
    expect(page.get_by_text("Booked 6 sessions for Dana Ostrander.")).to_be_visible()
    shoot(page, "43-new-patient-course-booked")
    plan = TreatmentPlan.objects.get(patient=patient)
    assert plan.status == PlanStatus.ACTIVE
    assert plan.eligibility_override_reason == "Seizure-free 12 years; neurologist agrees"
    assert Appointment.objects.filter(plan=plan, status=AppointmentStatus.BOOKED).count() == 6


def test_patient_on_a_phone_changes_the_time_of_a_session_and_answers_the_due_questionnaire(
    browser: Browser,
    live_server,
    live_clinic,  # noqa: F811  (the imported fixture)
):
    plan = patient_with_plan(live_clinic, "alice", "Alice", "Archer", book=True)
    sessions = list(Appointment.objects.filter(plan=plan).order_by("starts_at"))
    now = timezone.now()
    zone = live_clinic.site.zone
    # The next weekday afternoon at least two hours ahead: always inside the 72 hours before a
    # session in which its questionnaire is due (from a Thursday evening the next one is Friday,
    # from a Friday night it is Monday, 60 hours on).
    start = (now + timedelta(hours=2)).astimezone(zone).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    while start.weekday() >= 5 or not 12 <= start.hour <= 15:
        start += timedelta(hours=1)
    assert start - now <= DUE_BEFORE_SESSION, f"{start:%a %H:%M} is too far from {now:%a %H:%M} for the test's premise"
    if start.date() in {session.starts_at.astimezone(zone).date() for session in sessions}:
        # The course's own session that day is the one within three days (never two infusions a day).
        soon = None
    else:
        soon = appointment_book(
            patient=plan.patient, site=live_clinic.site, starts_at=start, actor=live_clinic.desk.user, now=now
        )
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    try:
        log_in(page, live_server.url, "alice")
        # A session within three days: its questionnaire is due, and the portal links to it.
        due = page.get_by_test_id("due-questionnaires")
        due.get_by_role("link", name="PHQ-9: how you have been feeling").click()
        expect(page.get_by_test_id("question")).to_have_count(9)
        for question in page.get_by_test_id("question").all():
            question.get_by_text("Several days").click()
        page.get_by_role("button", name="Send my answers").click()
        expect(page.get_by_text("Thank you: your answers are saved")).to_be_visible()
        expect(page.get_by_test_id("due-questionnaires")).to_have_count(0)
        # The answers belong to the next session: `soon`, or from a Friday night the course's Monday morning.
        next_session = min([*([soon] if soon else []), *sessions], key=lambda session: session.starts_at)
        assert QuestionnaireResponse.objects.get(patient=plan.patient).appointment_id == next_session.pk

        last = page.get_by_test_id("portal-session").last
        last.get_by_role("link", name="Change the time").click()
        expect(page.get_by_role("heading", name="Change the time of your session")).to_be_visible()
        slot = page.get_by_test_id("free-slot").last.get_by_role("radio")
        value = slot.get_attribute("value")
        slot.check()
        shoot(page, "50-patient-reschedule-phone", first_screen_too=True)
        page.get_by_role("button", name="Move my session to this time").click()
        expect(page.get_by_text("Your session has moved from")).to_be_visible()
        shoot(page, "51-patient-rescheduled-phone", first_screen_too=True)
    finally:
        context.close()
    sessions[-1].refresh_from_db()
    assert sessions[-1].starts_at.isoformat() == value.split("|")[0]


def test_nurse_enters_a_pcl5_from_the_chart(page: Page, live_server, live_clinic):  # noqa: F811
    plan = patient_with_plan(live_clinic, "omar", "Omar", "Reyes", book=True)
    nurse = StaffFactory(
        role=Role.NURSE,
        sites=[live_clinic.site],
        user=UserFactory(username="nurse_ana", first_name="Ana", last_name="Ruiz"),
    )
    log_in(page, live_server.url, nurse.user.username)
    page.goto(f"{live_server.url}/patients/{plan.patient_id}/")
    page.get_by_test_id("enter-questionnaire").get_by_role("link", name="PCL-5").click()
    questions = page.get_by_test_id("question")
    expect(questions).to_have_count(20)
    for question in questions.all():
        question.get_by_text("Quite a bit").click()
    shoot(page, "52-staff-pcl5-entry")
    page.get_by_role("button", name="Save answers").click()
    expect(page.get_by_text("PCL-5 saved for Omar Reyes: 60 (Probable PTSD).")).to_be_visible()
    shoot(page, "53-chart-after-pcl5")
    saved = QuestionnaireResponse.objects.get(patient=plan.patient)
    assert (saved.total_score, saved.source, saved.entered_by_id) == (60, "staff", nurse.user.pk)
