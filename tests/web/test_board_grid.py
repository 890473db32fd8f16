"""The day board as a chair-by-time grid: blocks where the clock says, free gaps that lead to a
prefilled booking, closures and shifts as bands, nurse load per hour, the htmx refresh, the
printed day sheet, and a fixed number of queries whatever the number of sessions."""

from __future__ import annotations

import datetime as dt
import re
from html.parser import HTMLParser
from types import SimpleNamespace
from urllib.parse import parse_qs, urlparse
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from scheduling.engine import Availability, ChairState, NurseState, SiteSnapshot, Span
from scheduling.models import AppointmentStatus
from tests.factories import AppointmentFactory, ChairFactory, PatientFactory, SiteFactory
from tests.web.conftest import START, login
from web.board_grid import build_grid

NEW_YORK = ZoneInfo("America/New_York")
OPEN = (dt.time(8), dt.time(18))


def _local(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=NEW_YORK)


def _session(chair_id: int, day: dt.date, start: tuple[int, int], end: tuple[int, int], *, blocking: bool = True):
    return SimpleNamespace(
        chair_id=chair_id, starts_at=_local(day, *start), ends_at=_local(day, *end), blocking=blocking
    )


def _free_starts(day, sessions, closures, now, gap_minutes, chairs, opening):
    """The engine's free-slot search over the same day, as the board page asks it: one nurse on
    shift all day, so only sessions, closures, opening hours and `now` decide."""

    def span(obj) -> Span:
        return Span(obj.starts_at.astimezone(dt.UTC), obj.ends_at.astimezone(dt.UTC))

    snapshot = SiteSnapshot(
        id=1,
        name="Test",
        zone=NEW_YORK,
        opening={weekday: opening for weekday in range(7)} if opening else {},
        closures=tuple((span(c), "closed") for c in closures),
        chairs=tuple(
            ChairState(
                id=i + 1,
                name=f"Chair {i + 1}",
                routes=frozenset({"iv"}),
                busy=tuple(sorted(span(s) for s in sessions if s.chair_id == i + 1 and s.blocking)),
            )
            for i in range(chairs)
        ),
        nurses=(NurseState(id=1, name="N", shifts=(Span(_local(day, 0), _local(day + dt.timedelta(days=1), 0)),)),),
        max_patients_per_nurse=99,
        step_minutes=15,
    )
    starts: dict[int, list[dt.datetime]] = {}
    for slot in Availability(snapshot).free_slots(day, dt.timedelta(minutes=gap_minutes), None, not_before=now):
        starts.setdefault(slot.chair_id, []).append(slot.start)
    return starts


def _grid(day: dt.date, sessions=(), closures=(), shifts=(), now=None, gap_minutes=90, chairs=1, **kwargs):
    now = now or _local(day - dt.timedelta(days=1), 12)
    opening = kwargs.pop("opening", OPEN)
    return build_grid(
        day=day,
        zone=NEW_YORK,
        opening=opening,
        chairs=[SimpleNamespace(pk=i + 1, active=True) for i in range(chairs)],
        sessions=list(sessions),
        closures=list(closures),
        shifts=list(shifts),
        now=now,
        free_starts=_free_starts(day, sessions, closures, now, gap_minutes, chairs, opening),
        gap_minutes={i + 1: gap_minutes for i in range(chairs)},
        step_minutes=15,
        max_patients_per_nurse=kwargs.pop("ratio", 3),
        preferred_starts=kwargs.pop("preferred", None),
    )


def _items(grid, kind: str, lane: int = 0):
    return [item for item in grid.lanes[lane].items if item.kind == kind]


def test_a_session_on_a_clock_change_day_sits_at_its_wall_clock_time_like_any_other_day():
    spring_forward, fall_back, plain_day = dt.date(2026, 3, 8), dt.date(2026, 11, 1), dt.date(2026, 3, 4)
    for day in (spring_forward, fall_back, plain_day):
        grid = _grid(day, [_session(1, day, (10, 0), (12, 0))])
        [block] = _items(grid, "session")
        # 08:00 is column 1; 10:00 is 24 five-minute columns later; two hours are 24 columns wide.
        assert (block.column, block.width) == (25, 24), day
        assert grid.axis.hours()[0]["label"] == "08:00" and grid.axis.columns == 120


def test_a_session_booked_outside_opening_hours_widens_the_axis_instead_of_vanishing():
    day = dt.date(2026, 3, 4)
    grid = _grid(day, [_session(1, day, (18, 30), (20, 0))])
    assert grid.axis.end == 20 * 60
    [block] = _items(grid, "session")
    assert block.column + block.width - 1 == grid.axis.columns


def test_free_gaps_leave_out_sessions_closures_and_stretches_too_short_for_a_session():
    day = dt.date(2026, 3, 4)
    closure = SimpleNamespace(starts_at=_local(day, 13), ends_at=_local(day, 14, 30))
    grid = _grid(day, [_session(1, day, (10, 0), (12, 0))], closures=[closure])
    starts = [item.starts_at for item in _items(grid, "gap")]
    # 12:00–13:00 is only an hour: shorter than the 90-minute shortest session.
    assert starts == [_local(day, 8), _local(day, 14, 30)]
    assert [band.items[0].kind for band in grid.bands] == ["closure"]


def test_a_cancelled_session_does_not_hide_the_free_time_it_left():
    day = dt.date(2026, 3, 4)
    grid = _grid(day, [_session(1, day, (8, 0), (18, 0), blocking=False)])
    [gap] = _items(grid, "gap")
    assert gap.starts_at == _local(day, 8)
    [cancelled] = _items(grid, "session")
    assert cancelled.cancelled_row


def test_todays_gaps_start_after_now_on_the_sites_slot_grid_and_the_now_line_is_drawn():
    day = dt.date(2026, 3, 4)
    grid = _grid(day, now=_local(day, 11, 7))
    [gap] = _items(grid, "gap")
    assert gap.starts_at == _local(day, 11, 15)
    assert grid.now_column == (3 * 60 + 5) // 5 + 1
    assert _grid(day).now_column is None, "no now line on another day"


def test_nurse_load_flags_the_hour_whose_busiest_moment_has_more_patients_than_nurses_can_watch():
    day = dt.date(2026, 3, 4)
    shift = SimpleNamespace(starts_at=_local(day, 8), ends_at=_local(day, 18))
    sessions = [_session(i + 1, day, (10, 0), (11, 0)) for i in range(4)] + [_session(1, day, (12, 0), (13, 0))]
    grid = _grid(day, sessions, shifts=[shift], chairs=4)
    by_hour = {hour["label"]: hour for hour in grid.load}
    assert (by_hour["10:00"]["sessions"], by_hour["10:00"]["nurses"], by_hour["10:00"]["over"]) == (4, 1, True)
    assert (by_hour["12:00"]["sessions"], by_hour["12:00"]["over"]) == (1, False)
    assert (by_hour["09:00"]["sessions"], by_hour["09:00"]["nurses"]) == (0, 1)


class _Lanes(HTMLParser):
    """Patient names and free-gap links per chair row of the board."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, dict[str, list[str]]] = {}
        self.chair: str | None = None
        self.depth = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "section" and attrs.get("data-testid") == "chair-row":
            self.chair, self.depth = attrs["data-chair"], 0
            self.rows[self.chair] = {"text": [], "gaps": []}
        if self.chair is None:
            return
        if tag == "section":
            self.depth += 1
        if attrs.get("data-testid") == "free-gap" and tag == "a":
            self.rows[self.chair]["gaps"].append(attrs["href"])

    def handle_endtag(self, tag):
        if self.chair is not None and tag == "section":
            self.depth -= 1
            if self.depth == 0:
                self.chair = None

    def handle_data(self, data):
        if self.chair is not None:
            self.rows[self.chair]["text"].append(data)


def _board(client, day: dt.date, **extra) -> str:
    response = client.get(reverse("web:board"), {"day": day.isoformat(), **extra})
    assert response.status_code == 200
    return response.content.decode()


def _lanes(html: str) -> dict[str, dict[str, list[str]]]:
    parser = _Lanes()
    parser.feed(html)
    return parser.rows


@pytest.mark.django_db
def test_each_session_is_a_block_in_its_own_chairs_row(client, web):
    login(client, web.desk.user)
    first_a, first_b = web.sessions_a[0], web.sessions_b[0]
    rows = _lanes(_board(client, START))
    assert set(rows) == {chair.name for chair in web.clinic.chairs}
    for appointment, name in ((first_a, "Alice Archer"), (first_b, "Bob Baker")):
        for chair, row in rows.items():
            assert (name in "".join(row["text"])) == (chair == appointment.chair.name), (name, chair)


@pytest.mark.django_db
def test_a_sessions_ride_nurse_and_label_are_in_full_on_hover_where_the_block_cuts_them_off(client, web):
    login(client, web.desk.user)
    first = web.sessions_a[0]
    html = _board(client, START)
    titles = re.findall(r'<p class="session__meta" title="([^"]*)">', html)
    assert titles, "no session's meta line has a title"
    wanted = f"Nurse: {first.nurse.display_name} · "
    assert any(wanted in title and title.startswith("Ride: ") for title in titles), titles


@pytest.mark.django_db
def test_a_free_gap_leads_through_the_patient_search_to_the_booking_page_with_that_chair_and_time(client, web):
    login(client, web.desk.user)
    # Three weeks after the course's last session, a maintenance session fits the plan's rules.
    day = web.sessions_a[-1].starts_at.astimezone(web.clinic.site.zone).date() + dt.timedelta(days=21)
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    rows = _lanes(_board(client, day))
    chair = web.clinic.chairs[1]
    gap = rows[chair.name]["gaps"][0]
    query = parse_qs(urlparse(gap).query)
    assert urlparse(gap).path == reverse("web:patient-search")
    assert query["chair"] == [str(chair.pk)]
    at = dt.datetime.fromisoformat(query["at"][0])
    assert at.astimezone(web.clinic.site.zone).date() == day

    search = client.get(gap + "&q=Archer").content.decode()
    assert "Booking the free time from" in search
    assert f'<strong data-testid="free-time-chair">{chair.name}</strong>' in search  # and in which chair
    # A chair id of another site, or none a key could be, names no chair (the address is the asker's).
    other = ChairFactory(site=SiteFactory(), name="Other site chair")
    for chair_id in (str(other.pk), "9" * 30):
        elsewhere = client.get(gap.replace(f"chair={chair.pk}", f"chair={chair_id}") + "&q=Archer")
        assert elsewhere.status_code == 200
        assert 'data-testid="free-time-chair"' not in elsewhere.content.decode()
    book = re.search(r'href="([^"]*/book-session/[^"]*)"', search).group(1).replace("&amp;", "&")
    assert urlparse(book).path == reverse("web:book-session", args=[web.patient_a.pk])
    page = client.get(book).content.decode()
    assert f'value="{day.isoformat()}"' in page, "the search is for the gap's day"
    assert re.search(rf'<option value="{chair.pk}" selected>', page), "and the gap's chair"
    wanted = f'value="{at.astimezone(dt.UTC).isoformat()}|{chair.pk}" checked'
    assert wanted in page, "the gap's start is already picked"


@pytest.mark.django_db
def test_the_board_shows_nurse_shifts_as_bands_and_the_load_row(client, web):
    login(client, web.desk.user)
    html = _board(client, START)
    assert html.count('data-testid="shift-band"') == len(web.clinic.nurses)
    assert "Nurse on shift 07:30–18:30" in html
    assert html.count('data-testid="load-hour"') == 10  # 08:00 to 18:00


@pytest.mark.django_db
def test_an_htmx_refresh_gets_only_the_board_body_and_caches_apart_from_the_page(client, web):
    login(client, web.desk.user)
    response = client.get(reverse("web:board"), {"day": START.isoformat()}, HTTP_HX_REQUEST="true")
    body = response.content.decode().strip()
    assert body.startswith('<div id="board-body"')
    assert "<html" not in body and "Alice Archer" in body
    assert "HX-Request" in response["Vary"]
    page = _board(client, START)
    assert 'hx-trigger="every 60s"' in page and "htmx-2.min.js" in page
    assert "includeIndicatorStyles" in page


@pytest.mark.django_db
def test_the_printed_day_sheet_lists_chair_time_patient_nurse_ride_and_notes(client, web):
    login(client, web.desk.user)
    first = web.sessions_a[0]
    html = _board(client, START, print="1")
    assert html.count('data-testid="sheet-row"') == 2
    assert "Alice Archer" in html and first.chair.name in html and "none recorded" in html
    assert "Session 1 of 6" in html
    assert 'data-testid="chair-row"' not in html, "a sheet, not the grid"


@pytest.mark.django_db
def test_the_patient_search_answers_htmx_with_the_results_only(client, web):
    login(client, web.desk.user)
    response = client.get(reverse("web:patient-search"), {"q": "arch"}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert "<html" not in html and html.count('data-testid="search-result"') == 1 and "Alice Archer" in html
    assert "HX-Request" in response["Vary"]
    page = client.get(reverse("web:patient-search"), {"q": "arch"}).content.decode()
    assert 'hx-trigger="input changed delay:300ms, search"' in page and "<html" in page


def _fill_day(site, chairs, day: dt.date, count: int, first_slot: int = 0) -> None:
    zone = site.zone
    for index in range(count):
        chair, slot = chairs[index % len(chairs)], first_slot + index // len(chairs)
        starts_at = dt.datetime.combine(day, dt.time(8 + 2 * slot), tzinfo=zone)
        AppointmentFactory(
            patient=PatientFactory(home_site=site),
            chair=chair,
            starts_at=starts_at,
            ends_at=starts_at + dt.timedelta(hours=2),
            status=AppointmentStatus.BOOKED,
        )


@pytest.mark.django_db
def test_the_board_runs_the_same_number_of_queries_for_5_sessions_and_for_40(client, web):
    site = web.clinic.site
    chairs = [*web.clinic.chairs, *(ChairFactory(site=site, name=f"Chair {n}") for n in range(4, 13))]
    login(client, web.desk.user)
    url = reverse("web:board") + "?day=2026-04-15"

    def count() -> tuple[int, str]:
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
        return len(queries), response.content.decode()

    _fill_day(site, chairs, dt.date(2026, 4, 15), 5)
    count()  # the first free-slot search of the process prepares its statement (PREPARE, then EXECUTE)
    few, html = count()
    assert html.count('data-testid="session"') == 5
    _fill_day(site, chairs, dt.date(2026, 4, 15), 35, first_slot=1)
    many, html = count()
    assert html.count('data-testid="session"') == 40
    assert len(_lanes(html)) == 12
    assert many == few


@pytest.mark.django_db
def test_the_week_counts_each_days_sessions_by_status_and_lists_only_the_uncancelled(client, web):
    from django.utils import timezone

    from scheduling.services import appointment_cancel

    first_a = web.sessions_a[0]
    appointment_cancel(appointment=first_a, actor=web.desk.user, reason="Flu", now=timezone.now(), rebook=False)
    login(client, web.desk.user)
    response = client.get(reverse("web:week"), {"day": START.isoformat()})
    html = response.content.decode()
    monday = next(day for day in response.context["days"] if day[0] == START)
    assert [(s["status"], s["count"]) for s in monday[3]] == [("booked", 1), ("cancelled", 1)]
    assert "1 booked" in html and "1 cancelled" in html
    assert [a.patient.full_name for a in monday[1]] == ["Bob Baker"]


@pytest.mark.django_db
def test_the_boards_own_refresh_does_not_keep_an_idle_desk_signed_in(client, web, time_machine):
    from django.conf import settings

    login(client, web.desk.user)
    board = reverse("web:board") + f"?day={START.isoformat()}"
    assert client.get(board).status_code == 200  # the desk's last real request
    limit = settings.SESSION_IDLE_TIMEOUT_STAFF
    start = dt.datetime.now(dt.UTC)
    refresh = {"HTTP_HX_REQUEST": "true", "HTTP_X_BACKGROUND_REFRESH": "1"}
    for minutes in range(2, int(limit.total_seconds() // 60), 2):
        time_machine.move_to(start + dt.timedelta(minutes=minutes), tick=False)
        assert client.get(board, **refresh).status_code == 200, "signed in until the idle limit"
    time_machine.move_to(start + limit + dt.timedelta(minutes=1), tick=False)
    response = client.get(board, **refresh)
    assert response.status_code == 302 and "/login/" in response["Location"]


@pytest.mark.django_db
def test_the_home_page_board_refreshes_itself_too(client, web):
    login(client, web.desk.user)
    page = client.get(reverse("home")).content.decode()
    assert 'hx-get="/"' in page
    partial = client.get(reverse("home"), HTTP_HX_REQUEST="true").content.decode()
    assert partial.strip().startswith('<div id="board-body"')
