"""Pages for people (the API lives elsewhere); included at the root by config.urls."""

from django.urls import path, re_path

from web import booking as booking_pages
from web import capacity as capacity_pages
from web import chart, desk, portal
from web import holidays as holiday_pages
from web import patients as patient_pages
from web import reschedule as reschedule_pages
from web import to_move as to_move_pages
from web import waitlist as waitlist_pages

app_name = "web"

urlpatterns = [
    path("board/", desk.board, name="board"),
    path("week/", desk.week, name="week"),
    path("to-move/", to_move_pages.to_move, name="to-move"),
    path("holidays/", holiday_pages.site_holidays, name="site-holidays"),
    path("patients/", desk.patient_search, name="patient-search"),
    path("patients/<int:patient_id>/", chart.patient_chart, name="patient"),
    path("plans/<int:plan_id>/book/", desk.book_course, name="book-course"),
    path("plans/<int:plan_id>/adjust/", chart.plan_adjust, name="plan-adjust"),
    path("plans/<int:plan_id>/clear-attention/", chart.plan_clear_attention_page, name="plan-clear-attention"),
    path("appointments/<int:appointment_id>/<slug:action>/", desk.appointment_action, name="appointment-action"),
    path("me/sessions/<int:appointment_id>/session.ics", portal.appointment_download, name="portal-ics"),
    path("me/sessions/<int:appointment_id>/<slug:action>/", portal.portal_action, name="portal-action"),
    path("me/reminders/", portal.preferences, name="portal-preferences"),
    path("me/email/confirm/", portal.email_confirmation_request, name="portal-email-confirm-request"),
    path("me/email/confirmation/", portal.email_confirmation, name="portal-email-confirmation"),
    path("me/email/change/", portal.email_change, name="portal-email-change"),
    # The mailed link. The token is django.core.signing's alphabet; anything else is a 404 before any query.
    re_path(
        r"^me/email/confirm/(?P<token>[A-Za-z0-9_:.-]{1,400})/$",
        portal.email_confirmation_link,
        name="portal-email-confirm",
    ),
    # The token is token_urlsafe's alphabet: anything else (a NUL, say) is a 404 before any query.
    re_path(r"^calendar/(?P<token>[A-Za-z0-9_-]{1,64})\.ics$", portal.calendar_feed, name="calendar-feed"),
    path("me/calendar/<slug:action>/", portal.calendar_feed_change, name="portal-calendar"),
    # Waitlist (web/waitlist.py)
    path("waitlist/", waitlist_pages.waitlist, name="waitlist"),
    path("patients/<int:patient_id>/waitlist/", waitlist_pages.waitlist_add_page, name="waitlist-add"),
    path("waitlist/<int:entry_id>/remove/", waitlist_pages.waitlist_remove_action, name="waitlist-remove"),
    path("waitlist/offers/<int:offer_id>/accept/", waitlist_pages.waitlist_accept_for_patient, name="waitlist-accept"),
    path("w/<str:token>/", waitlist_pages.accept_link, name="waitlist-accept-link"),
    # One session by hand, and moves (web/booking.py)
    path("patients/<int:patient_id>/book-session/", booking_pages.book_session, name="book-session"),
    path("sessions/<int:appointment_id>/move/", booking_pages.move_session, name="move-session"),
    # Registration, new plans and screening (web/patients.py)
    path("patients/new/", patient_pages.register, name="patient-register"),
    path("patients/<int:patient_id>/evaluations/new/", patient_pages.evaluation_new, name="evaluation-new"),
    path("patients/<int:patient_id>/plans/new/", patient_pages.plan_new, name="plan-new"),
    path("plans/<int:plan_id>/screening/", patient_pages.plan_screening, name="plan-screening"),
    # The clinic manager's pages: day template and capacity (web/capacity.py)
    path("day-template/", capacity_pages.day_template, name="day-template"),
    path("capacity/", capacity_pages.capacity, name="capacity"),
    # Patients rescheduling their own session (web/reschedule.py)
    path("me/reschedule/<int:appointment_id>/", reschedule_pages.reschedule, name="portal-reschedule"),
]
