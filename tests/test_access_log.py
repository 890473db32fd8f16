"""The access log: one row per request that touched patient data, who asked (or which
anonymous link was used), from where, and which patients the answer showed."""

import base64
import datetime as dt

import pytest
import time_machine
from django.contrib.auth.signals import user_login_failed
from django.db import IntegrityError, InternalError, connection, transaction
from django.db.utils import DatabaseError
from django.http import HttpRequest
from django.urls import reverse
from knox.models import AuthToken
from rest_framework.test import APIClient

from clinic.models import AccessLog, AccessLogAppendOnlyError
from clinical.models import ControlledSubstanceEntry
from scheduling.reminders import tokens
from tests.clinical.conftest import ward  # noqa: F401  (the fixture)
from tests.clinical_helpers import record_session_for_completion
from tests.factories import PASSWORD, AppointmentFactory, ChairFactory, PatientFactory, PlanFactory

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"
MONDAY = dt.datetime(2026, 3, 2, 15, tzinfo=dt.UTC)


def api_client(user) -> APIClient:
    client = APIClient(REMOTE_ADDR="203.0.113.7", HTTP_USER_AGENT="clinic-sync/2.1")
    client.credentials(HTTP_AUTHORIZATION=f"Token {AuthToken.objects.create(user=user)[1]}")
    return client


@pytest.fixture
def sessions(personas):
    """Two sessions on Monday at the personas' site: patient A's and patient B's."""
    chair = ChairFactory(site=personas.site)
    return (
        AppointmentFactory(patient=personas.patient_a, chair=chair, starts_at=MONDAY),
        AppointmentFactory(patient=personas.patient_b, chair=ChairFactory(site=personas.site), starts_at=MONDAY),
    )


@pytest.mark.django_db
def test_every_request_by_a_signed_in_user_is_logged(client, personas):
    client.force_login(personas.front_desk.user)
    client.get("/?day=2026-03-02")
    entry = AccessLog.objects.get()
    assert (entry.user, entry.method, entry.path) == (personas.front_desk.user, "GET", "/?day=2026-03-02")
    assert entry.status_code in (200, 302)


@pytest.mark.django_db
def test_anonymous_requests_that_show_no_patient_and_health_checks_are_not_logged(client, personas):
    client.get("/")
    client.get("/login/")
    client.force_login(personas.nurse.user)
    client.get("/health/")
    assert not AccessLog.objects.exists()


@pytest.mark.django_db
def test_a_page_request_records_ip_address_and_user_agent(client, personas):
    client.force_login(personas.front_desk.user)
    client.get(reverse("web:patient-search"), REMOTE_ADDR="198.51.100.23", HTTP_USER_AGENT=BROWSER)
    entry = AccessLog.objects.get()
    assert (entry.ip_address, entry.user_agent) == ("198.51.100.23", BROWSER)


@pytest.mark.django_db
def test_an_overlong_user_agent_is_cut_rather_than_refused(client, personas):
    client.force_login(personas.front_desk.user)
    client.get(reverse("web:patient-search"), HTTP_USER_AGENT="x" * 5000)
    assert len(AccessLog.objects.get().user_agent) == AccessLog._meta.get_field("user_agent").max_length


# --- Which patients a page showed ---------------------------------------------------------


@pytest.mark.django_db
def test_patient_search_logs_the_patients_in_the_results(client, personas):
    other = PatientFactory(first_name="Zed", last_name="Quill", home_site=personas.site)
    client.force_login(personas.front_desk.user)
    client.get(reverse("web:patient-search"), {"q": personas.patient_a.last_name})
    shown = AccessLog.objects.get().patient_ids
    assert personas.patient_a.pk in shown
    assert other.pk not in shown


@pytest.mark.django_db
def test_the_chart_logs_its_one_patient(client, personas):
    client.force_login(personas.nurse.user)
    response = client.get(reverse("web:patient", args=[personas.patient_b.pk]))
    assert response.status_code == 200
    assert AccessLog.objects.get().patient_ids == [personas.patient_b.pk]


@pytest.mark.django_db
def test_the_day_board_page_logs_the_patients_on_it(client, personas, sessions):
    client.force_login(personas.front_desk.user)
    client.get(reverse("web:board"), {"site": personas.site.pk, "day": "2026-03-02"})
    assert sorted(AccessLog.objects.get().patient_ids) == sorted([personas.patient_a.pk, personas.patient_b.pk])


@pytest.mark.django_db
def test_an_empty_day_board_logs_no_patient(client, personas, sessions):
    client.force_login(personas.front_desk.user)
    client.get(reverse("web:board"), {"site": personas.site.pk, "day": "2026-03-03"})
    assert AccessLog.objects.get().patient_ids == []


@pytest.mark.django_db
def test_the_portal_logs_the_patient_whose_sessions_it_shows(client, personas, sessions):
    client.force_login(personas.patient_a.user)
    assert client.get("/").status_code == 200
    assert AccessLog.objects.get().patient_ids == [personas.patient_a.pk]


# --- API answers ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_api_request_records_ip_user_agent_and_token_user(personas):
    api_client(personas.front_desk.user).get("/api/v1/patients/")
    entry = AccessLog.objects.get()
    assert (entry.user, entry.ip_address, entry.user_agent) == (
        personas.front_desk.user,
        "203.0.113.7",
        "clinic-sync/2.1",
    )


@pytest.mark.django_db
def test_the_patient_list_logs_the_patients_on_the_page_it_answered(personas):
    response = api_client(personas.front_desk.user).get("/api/v1/patients/", {"limit": 1, "ordering": "id"})
    first = min(personas.patient_a.pk, personas.patient_b.pk)
    assert [row["id"] for row in response.json()["results"]] == [first]
    assert AccessLog.objects.get().patient_ids == [first]


@pytest.mark.django_db
def test_a_patient_detail_logs_that_patient(personas):
    response = api_client(personas.front_desk.user).get(f"/api/v1/patients/{personas.patient_b.pk}/")
    assert response.status_code == 200
    assert AccessLog.objects.get().patient_ids == [personas.patient_b.pk]


@pytest.mark.django_db
def test_a_patient_sees_only_themself_and_the_log_says_so(personas):
    api_client(personas.patient_a.user).get("/api/v1/patients/")
    assert AccessLog.objects.get().patient_ids == [personas.patient_a.pk]


@pytest.mark.django_db
def test_the_appointment_list_and_detail_log_their_patients(personas, sessions):
    client = api_client(personas.front_desk.user)
    client.get("/api/v1/appointments/")
    client.get(f"/api/v1/appointments/{sessions[1].pk}/")
    listed, detail = AccessLog.objects.order_by("pk")
    assert sorted(listed.patient_ids) == sorted([personas.patient_a.pk, personas.patient_b.pk])
    assert detail.patient_ids == [personas.patient_b.pk]


@pytest.mark.django_db
def test_the_plan_list_and_detail_log_their_patients(personas):
    plan_a = PlanFactory(patient=personas.patient_a, site=personas.site, prescriber=personas.prescriber)
    plan_b = PlanFactory(patient=personas.patient_b, site=personas.site, prescriber=personas.prescriber)
    client = api_client(personas.nurse.user)
    assert client.get("/api/v1/plans/").status_code == 200
    assert client.get(f"/api/v1/plans/{plan_b.pk}/").status_code == 200
    listed, detail = AccessLog.objects.order_by("pk")
    assert sorted(listed.patient_ids) == sorted([plan_a.patient_id, plan_b.patient_id])
    assert detail.patient_ids == [plan_b.patient_id]


@pytest.mark.django_db
def test_a_patient_created_through_the_api_is_logged_as_shown(personas):
    response = api_client(personas.front_desk.user).post(
        "/api/v1/patients/",
        {"first_name": "Nia", "last_name": "Okafor", "date_of_birth": "1990-01-31", "home_site": personas.site.pk},
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert AccessLog.objects.get().patient_ids == [response.json()["id"]]


@pytest.mark.django_db
def test_the_day_board_api_logs_the_patients_on_it(personas, sessions):
    response = api_client(personas.front_desk.user).get(
        f"/api/v1/sites/{personas.site.pk}/day-board/", {"date": "2026-03-02"}
    )
    assert response.status_code == 200
    assert sorted(AccessLog.objects.get().patient_ids) == sorted([personas.patient_a.pk, personas.patient_b.pk])


@pytest.mark.django_db
def test_a_refused_detail_logs_no_patient(personas):
    response = api_client(personas.patient_a.user).get(f"/api/v1/patients/{personas.patient_b.pk}/")
    assert response.status_code == 404
    entry = AccessLog.objects.get()
    assert (entry.status_code, entry.patient_ids) == (404, [])


# --- Anonymous reads by link ---------------------------------------------------------------


@pytest.mark.django_db
def test_the_calendar_feed_is_logged_with_its_patient_though_nobody_is_signed_in(client, personas, sessions):
    client.get(
        reverse("web:calendar-feed", args=[personas.patient_a.calendar_token]),
        REMOTE_ADDR="192.0.2.44",
        HTTP_USER_AGENT="Google-Calendar-Importer",
    )
    entry = AccessLog.objects.get()
    assert entry.user is None
    assert (entry.status_code, entry.patient_ids) == (200, [personas.patient_a.pk])
    assert (entry.ip_address, entry.user_agent) == ("192.0.2.44", "Google-Calendar-Importer")


@pytest.mark.django_db
def test_the_access_log_never_holds_the_calendar_feeds_secret_token(client, personas, sessions):
    token = personas.patient_a.calendar_token
    response = client.get(reverse("web:calendar-feed", args=[token]))
    assert response.status_code == 200
    entry = AccessLog.objects.get()
    assert entry.patient_ids == [personas.patient_a.pk]
    assert token not in entry.path and entry.path == "/calendar/[token].ics", (
        f"the feed's token is in the log: {entry.path}"
    )


@pytest.mark.django_db
def test_a_calendar_feed_with_a_wrong_token_is_logged_without_a_patient(client, personas):
    client.get(reverse("web:calendar-feed", args=["not-a-token"]), REMOTE_ADDR="192.0.2.45")
    entry = AccessLog.objects.get()
    assert (entry.user, entry.status_code, entry.patient_ids, entry.ip_address) == (None, 404, [], "192.0.2.45")


@pytest.mark.django_db
@pytest.mark.parametrize("purpose", [tokens.CONFIRM, tokens.CANCEL])
def test_a_reminder_link_is_logged_with_the_patient_it_resolves_to(client, personas, purpose):
    appointment = AppointmentFactory(
        patient=personas.patient_b, chair=ChairFactory(site=personas.site), starts_at=MONDAY + dt.timedelta(days=30)
    )
    token = tokens.make_token(appointment=appointment, purpose=purpose)
    with time_machine.travel(MONDAY, tick=False):
        response = client.get(reverse(f"reminders:{purpose}", args=[token]), REMOTE_ADDR="192.0.2.46")
    assert response.status_code == 200
    entry = AccessLog.objects.get()
    assert entry.user is None
    assert entry.path == f"/r/{purpose}/[token]/", f"the link's token is in the log: {entry.path}"
    assert (entry.patient_ids, entry.ip_address) == ([personas.patient_b.pk], "192.0.2.46")


@pytest.mark.django_db
def test_a_forged_reminder_link_is_logged_without_a_patient(client, personas):
    response = client.get(reverse("reminders:confirm", args=["forged"]), REMOTE_ADDR="192.0.2.47")
    entry = AccessLog.objects.get()
    assert (entry.status_code, entry.patient_ids, entry.ip_address) == (response.status_code, [], "192.0.2.47")


# --- Failed logins -------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_failed_web_login_is_logged_with_the_username_tried_and_ip(client, personas):
    response = client.post(
        reverse("login"),
        {"username": "frontdesk", "password": "wrong"},
        REMOTE_ADDR="198.51.100.99",
        HTTP_USER_AGENT=BROWSER,
    )
    assert response.status_code == 200  # the form again, with its error
    entry = AccessLog.objects.get()
    assert entry.event == AccessLog.Event.LOGIN_FAILED
    assert (entry.user, entry.username, entry.ip_address, entry.user_agent) == (
        None,
        "frontdesk",
        "198.51.100.99",
        BROWSER,
    )
    assert (entry.path, entry.status_code) == ("/login/", 200)


@pytest.mark.django_db
def test_a_failed_login_for_an_unknown_username_is_logged_too(client, db):
    client.post(reverse("login"), {"username": "no-such-person", "password": "guess"})
    assert AccessLog.objects.get(event=AccessLog.Event.LOGIN_FAILED).username == "no-such-person"


@pytest.mark.django_db
def test_control_characters_sent_with_a_failed_login_are_logged_replaced(client, db):
    """Anyone may send them: they are replaced, visibly, in every text the row takes from the
    request (a NUL, which PostgreSQL refuses in text, too: tests/test_access_log_secret_links.py)."""
    client.post(
        reverse("login"), {"username": "mallory\x1b\nadmin", "password": "guess"}, HTTP_USER_AGENT="curl\x1b\x7f"
    )
    entry = AccessLog.objects.get(event=AccessLog.Event.LOGIN_FAILED)
    assert (entry.username, entry.user_agent) == ("mallory\ufffd\ufffdadmin", "curl\ufffd\ufffd")


@pytest.mark.django_db
def test_a_successful_login_is_not_a_failed_login(client, personas):
    user = personas.front_desk.user
    user.set_password("correct horse battery staple")
    user.save()
    client.post(reverse("login"), {"username": "frontdesk", "password": "correct horse battery staple"})
    assert not AccessLog.objects.filter(event=AccessLog.Event.LOGIN_FAILED).exists()


@pytest.mark.django_db
def test_a_failed_api_token_login_is_logged_with_the_username_tried_and_ip(personas):
    # The token endpoint calls django.contrib.auth.authenticate(request=...), which fires user_login_failed.
    path = reverse("v1:auth-token")
    response = APIClient(REMOTE_ADDR="198.51.100.100", HTTP_USER_AGENT="curl/8.5").post(
        path, {"username": "nurse", "password": "wrong"}, format="json"
    )
    assert response.status_code in (400, 401)
    entry = AccessLog.objects.get()
    assert (entry.event, entry.user, entry.username, entry.status_code) == (
        AccessLog.Event.LOGIN_FAILED,
        None,
        "nurse",
        response.status_code,
    )
    assert (entry.ip_address, entry.user_agent, entry.path) == ("198.51.100.100", "curl/8.5", path)


@pytest.mark.django_db
@pytest.mark.urls("tests.audit_urls")
def test_a_failed_http_basic_login_survives_the_api_rolling_its_transaction_back(personas):
    credentials = base64.b64encode(b"prescriber:wrong").decode()
    response = APIClient(REMOTE_ADDR="198.51.100.101").post(
        "/test-login/basic/", HTTP_AUTHORIZATION=f"Basic {credentials}"
    )
    assert response.status_code in (401, 403)
    entry = AccessLog.objects.get()
    assert (entry.event, entry.username, entry.ip_address, entry.status_code) == (
        AccessLog.Event.LOGIN_FAILED,
        "prescriber",
        "198.51.100.101",
        response.status_code,
    )


@pytest.mark.django_db
def test_a_login_refused_outside_any_request_is_still_logged(db):
    # authenticate() itself needs a request under django-axes; a backend that refuses outside one
    # (a management command, a worker) still fires the signal with request=None.
    user_login_failed.send(sender=__name__, credentials={"username": "someone"}, request=None)
    entry = AccessLog.objects.get()
    assert (entry.event, entry.username, entry.ip_address, entry.status_code) == (
        AccessLog.Event.LOGIN_FAILED,
        "someone",
        None,
        None,
    )


# --- Append-only ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_orm_refuses_to_change_or_delete_access_log_rows(client, personas):
    client.force_login(personas.front_desk.user)
    client.get(reverse("web:patient-search"))
    entry = AccessLog.objects.get()
    entry.path = "/elsewhere/"
    with pytest.raises(AccessLogAppendOnlyError):
        entry.save()
    with pytest.raises(AccessLogAppendOnlyError):
        entry.delete()
    with pytest.raises(AccessLogAppendOnlyError):
        AccessLog.objects.update(path="/elsewhere/")
    with pytest.raises(AccessLogAppendOnlyError):
        AccessLog.objects.all().delete()
    assert AccessLog.objects.get().path == reverse("web:patient-search")


@pytest.mark.django_db
@pytest.mark.parametrize("statement", ["UPDATE clinic_accesslog SET path = '/x/'", "DELETE FROM clinic_accesslog"])
def test_the_database_refuses_raw_updates_and_deletes_of_the_access_log(client, personas, statement):
    client.force_login(personas.front_desk.user)
    client.get(reverse("web:patient-search"))
    with (
        pytest.raises((InternalError, IntegrityError, DatabaseError)),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(statement)
    assert AccessLog.objects.get().path == reverse("web:patient-search")


# --- The controlled-substance register ---------------------------------------------------


@pytest.mark.django_db
def test_the_controlled_substance_csv_logs_the_patients_in_it(client, ward):  # noqa: F811
    record_session_for_completion(ward.session, ward.nurse.user)
    entry = ControlledSubstanceEntry.objects.get()
    assert client.login(request=HttpRequest(), username=ward.nurse.user.username, password=PASSWORD)
    assert client.get(reverse("clinical:cs-log-csv")).status_code == 200
    assert ward.client("clinic_admin").get("/api/v1/clinical/controlled-substance-log/export/").status_code == 200
    page, api = AccessLog.objects.filter(path__contains="controlled-substance").order_by("pk")
    assert page.patient_ids == api.patient_ids == [entry.patient_id]


def test_a_refused_api_token_is_logged_as_a_failed_sign_in(db):
    client = APIClient(REMOTE_ADDR="203.0.113.9", HTTP_USER_AGENT="scanner/1.0")
    client.credentials(HTTP_AUTHORIZATION="Token " + "f" * 64)
    assert client.get("/api/v1/appointments/").status_code == 401
    entry = AccessLog.objects.get()
    assert (entry.event, entry.user, entry.username) == (AccessLog.Event.LOGIN_FAILED, None, "")
    assert (entry.path, entry.status_code, entry.ip_address) == ("/api/v1/appointments/", 401, "203.0.113.9")


@pytest.mark.parametrize(("proxies", "expected"), [(0, "10.0.0.5"), (1, "198.51.100.77"), (2, "192.0.2.1")])
def test_the_logged_address_is_the_one_the_lockout_counts(client, personas, settings, proxies, expected):
    settings.TRUSTED_PROXY_COUNT = proxies
    client.force_login(personas.front_desk.user)
    client.get(reverse("web:patient-search"), REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR="192.0.2.1, 198.51.100.77")
    assert AccessLog.objects.latest("pk").ip_address == expected


def test_an_address_that_is_not_one_is_logged_as_none(client, personas, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    client.force_login(personas.front_desk.user)
    client.get(reverse("web:patient-search"), HTTP_X_FORWARDED_FOR="not-an-address")
    assert AccessLog.objects.latest("pk").ip_address is None
