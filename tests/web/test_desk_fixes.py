"""Front-desk pages: check-in only on the day and its undo, cancel without silent rebooking,
local times everywhere, phone search, closures on the board and week."""

from __future__ import annotations

import datetime as dt
from collections import Counter

from django.urls import reverse

from scheduling.models import AppointmentStatus
from tests.web.conftest import login


def test_the_board_offers_check_in_only_on_the_sessions_day_and_the_service_refuses_it_earlier(client, web):
    first = web.sessions_a[0]
    login(client, web.desk.user)
    board = reverse("web:board") + "?day=" + first.starts_at.astimezone(web.clinic.site.zone).date().isoformat()
    response = client.get(board)
    assert b"check-in/" not in response.content, "three days ahead: no check-in button"
    response = client.post(reverse("web:appointment-action", args=[first.pk, "check-in"]), {"next": board}, follow=True)
    assert b"Check-in for this session opens" in response.content
    first.refresh_from_db()
    assert first.status == AppointmentStatus.BOOKED


def test_the_front_desk_undoes_a_mistaken_check_in_from_the_board_with_a_reason(client, web, time_machine):
    first = web.sessions_a[0]
    time_machine.move_to(first.starts_at - dt.timedelta(minutes=10), tick=False)
    login(client, web.desk.user)
    board = reverse("web:board") + "?day=" + first.starts_at.astimezone(web.clinic.site.zone).date().isoformat()
    assert reverse("web:appointment-action", args=[first.pk, "check-in"]).encode() in client.get(board).content
    client.post(reverse("web:appointment-action", args=[first.pk, "check-in"]), {"next": board})
    response = client.get(board)
    undo_url = reverse("web:appointment-action", args=[first.pk, "undo-check-in"])
    assert undo_url.encode() in response.content
    response = client.post(undo_url, {"next": board, "reason": ""}, follow=True)
    assert b"Give a reason for undoing the check-in" in response.content
    client.post(undo_url, {"next": board, "reason": "Wrong patient"})
    first.refresh_from_db()
    assert first.status == AppointmentStatus.BOOKED and first.checked_in_at is None
    assert first.history.first().history_change_reason == "Check-in undone: Wrong patient"
    assert first.history.first().history_user == web.desk.user


def _course_rows(plan):
    return sorted((a.pk, a.starts_at, a.chair_id, a.status) for a in plan.appointments.exclude(status="cancelled"))


def test_the_desk_cancel_only_books_nothing_and_says_what_the_course_is_missing(client, web):
    third = web.sessions_a[2]
    login(client, web.desk.user)
    others = [row for row in _course_rows(web.plan_a) if row[0] != third.pk]
    response = client.post(
        reverse("web:appointment-action", args=[third.pk, "cancel"]),
        {"reason": "Flu", "mode": "cancel-only"},
        follow=True,
    )
    assert b"Induction now short by 1 session" in response.content
    assert _course_rows(web.plan_a) == others


def test_the_desk_cancel_and_rebook_shows_the_replacement_first_and_books_it_only_when_asked(client, web):
    third = web.sessions_a[2]
    login(client, web.desk.user)
    others = [row for row in _course_rows(web.plan_a) if row[0] != third.pk]
    url = reverse("web:appointment-action", args=[third.pk, "cancel"])
    page = client.post(url, {"reason": "Flu", "mode": "propose-rebook"})
    assert page.status_code == 200 and page.context["replacement"]
    third.refresh_from_db()
    assert third.status == AppointmentStatus.BOOKED, "showing the replacement writes nothing"
    assert b"Cancel and book the replacement" in page.content
    client.post(url, {"reason": "Flu", "mode": "rebook"})
    third.refresh_from_db()
    assert third.status == AppointmentStatus.CANCELLED
    rows = _course_rows(web.plan_a)
    assert len(rows) == 6 and set(others) < set(rows)
    added = [row for row in rows if row not in others]
    assert [row[1] for row in added] == page.context["replacement"]


def test_the_portal_cancel_never_rebooks(client, web):
    third = web.sessions_a[2]
    login(client, web.patient_a.user)
    others = [row for row in _course_rows(web.plan_a) if row[0] != third.pk]
    client.post(reverse("web:portal-action", args=[third.pk, "cancel"]))
    third.refresh_from_db()
    assert third.status == AppointmentStatus.CANCELLED
    assert _course_rows(web.plan_a) == others


def _search(client, q):
    return [p.pk for p in client.get(reverse("web:patient-search"), {"q": q}).context["results"]]


def test_patient_search_finds_a_phone_number_however_it_is_typed(client, web):
    web.patient_a.mobile_phone = "+13035550109"
    web.patient_a.save(update_fields=["mobile_phone"])
    login(client, web.desk.user)
    for typed in ["303-555-0109", "(303) 555-0109", "+1 303 555 0109", "3035550109", "+13035550109", "303.555.0109"]:
        assert _search(client, typed) == [web.patient_a.pk], typed
    # A partial run of digits works too, however it is punctuated.
    assert _search(client, "555-0109") == [web.patient_a.pk]
    assert _search(client, "(303) 555") == [web.patient_a.pk]
    assert _search(client, "303-555-0199") == []
    # Names still work.
    assert _search(client, "Archer") == [web.patient_a.pk]


def test_patient_search_shows_the_next_session_in_the_sites_zone(client, web):
    login(client, web.desk.user)
    first = web.sessions_a[0]
    local = first.starts_at.astimezone(web.clinic.site.zone)
    assert local.utcoffset() != dt.timedelta(0)
    response = client.get(reverse("web:patient-search"), {"q": "Archer"})
    assert f"{local:%a} {local.day} {local:%b}, {local:%H:%M} EST".encode() in response.content
    assert f"{first.starts_at:%H:%M}".encode() not in response.content


def test_the_board_and_week_show_site_and_all_site_closures_in_the_sites_zone(client, web):
    from clinic.models import Closure
    from tests.factories import SiteFactory

    zone = web.clinic.site.zone
    day = dt.date(2026, 3, 4)
    Closure.objects.create(
        site=web.clinic.site,
        reason="Fire drill",
        starts_at=dt.datetime.combine(day, dt.time(13), tzinfo=zone),
        ends_at=dt.datetime.combine(day, dt.time(14, 30), tzinfo=zone),
    )
    Closure.objects.create(
        site=None,
        reason="Network outage",
        starts_at=dt.datetime.combine(day, dt.time(8), tzinfo=zone),
        ends_at=dt.datetime.combine(day, dt.time(9), tzinfo=zone),
    )
    Closure.objects.create(
        site=SiteFactory(),
        reason="Other site only",
        starts_at=dt.datetime.combine(day, dt.time(8), tzinfo=zone),
        ends_at=dt.datetime.combine(day, dt.time(9), tzinfo=zone),
    )
    login(client, web.desk.user)
    board = client.get(reverse("web:board"), {"day": day.isoformat(), "site": web.clinic.site.pk}).content.decode()
    assert "Wed 4 Mar 13:00 – Wed 4 Mar 14:30: Fire drill" in board
    assert "Wed 4 Mar 08:00 – Wed 4 Mar 09:00: Network outage" in board and "(all sites)" in board
    assert "Other site only" not in board
    assert "Fire drill" not in client.get(reverse("web:board"), {"day": "2026-03-05"}).content.decode()
    week = client.get(reverse("web:week"), {"day": day.isoformat(), "site": web.clinic.site.pk})
    assert [(d, [c.reason for c in closures]) for d, _s, closures, _statuses in week.context["days"] if closures] == [
        (day, ["Network outage", "Fire drill"])
    ]
    assert "Wed 4 Mar 13:00 – Wed 4 Mar 14:30: Fire drill" in week.content.decode()


def test_patient_search_finds_a_name_typed_in_either_unicode_form(client, web):
    import unicodedata

    web.patient_a.last_name = "Núñez"
    web.patient_a.save(update_fields=["last_name"])
    login(client, web.desk.user)
    assert _search(client, "Núñez") == [web.patient_a.pk]
    assert _search(client, unicodedata.normalize("NFD", "Núñez")) == [web.patient_a.pk]


def test_the_boards_count_of_sessions_reads_in_the_singular_for_one(client, web):
    zone = web.clinic.site.zone
    first = web.sessions_a[0]
    day = first.starts_at.astimezone(zone).date()
    booked = web.clinic.site.appointments.exclude(status=AppointmentStatus.CANCELLED)
    by_day = Counter(a.starts_at.astimezone(zone).date() for a in booked)
    busy = next(other for other, count in sorted(by_day.items()) if count > 1 and other != day)
    # The day's other sessions called off: one session is left on it.
    booked.filter(pk__in=[a.pk for a in booked if a.starts_at.astimezone(zone).date() == day and a != first]).update(
        status=AppointmentStatus.CANCELLED, cancelled_at=first.starts_at - dt.timedelta(days=1)
    )
    login(client, web.desk.user)

    def tiles(on: dt.date) -> str:
        return client.get(reverse("web:board"), {"day": on.isoformat(), "site": web.clinic.site.pk}).content.decode()

    assert '<span class="stat__value">1</span><span class="stat__label">session</span>' in tiles(day)
    assert f'<span class="stat__value">{by_day[busy]}</span><span class="stat__label">sessions</span>' in tiles(busy)


def test_the_board_says_the_site_does_not_open_on_a_weekday_without_hours(client, web):
    from clinic.models import OpeningHours

    site = web.clinic.site
    open_weekdays = set(OpeningHours.objects.filter(site=site).values_list("weekday", flat=True))
    monday = dt.date(2026, 3, 2)
    closed = next(monday + dt.timedelta(days=n) for n in range(7) if n not in open_weekdays)
    opened = next(monday + dt.timedelta(days=n) for n in range(7) if n in open_weekdays)
    login(client, web.desk.user)

    def board(day: dt.date) -> str:
        return client.get(reverse("web:board"), {"day": day.isoformat(), "site": site.pk}).content.decode()

    page = board(closed)
    assert 'data-testid="not-open"' in page
    assert (
        f"does not open on {closed:%A}s (no opening hours): nothing can be booked on {closed:%a} {closed.day}" in page
    )
    assert 'data-testid="not-open"' not in board(opened)
