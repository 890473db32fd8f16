from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET

from web.access import enter_as_staff, patient_of, staff_of


def health(request: HttpRequest) -> JsonResponse:
    """Liveness and database reachability, for load balancers and compose health checks."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return JsonResponse({"status": "ok", "database": connection.vendor})


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """Each person's own start page: staff get today's board, patients their sessions."""
    from web import desk, portal

    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    staff = staff_of(request)
    if staff is not None:
        enter_as_staff(request, staff)
        return desk.render_board(request)
    patient = patient_of(request)  # None for a deactivated member of staff, as in the API
    if patient is not None:
        request.patient = patient  # type: ignore[attr-defined]
        return portal.portal_home(request)
    if getattr(request.user, "staff", None) is not None:
        raise PermissionDenied("Your staff account is no longer active; ask a clinic administrator.")
    raise PermissionDenied("Your account has no role in the clinic yet; ask a clinic administrator.")
