"""The site's URLs plus an /api/ view outside ClinicAPIMixin that writes a row and then fails,
for tests/api/test_review_fixes.py (an unexpected 500 must not commit half a write)."""

from django.http import HttpRequest, HttpResponse
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt

from patients.models import Contraindication

HALF_WRITTEN_CODE = "half-written"


@csrf_exempt
def write_then_fail(request: HttpRequest) -> HttpResponse:
    Contraindication.objects.create(code=HALF_WRITTEN_CODE, label="Written before the failure", kind="flag")
    raise RuntimeError("An unexpected failure after the write")


urlpatterns = [
    path("api/v1/test-write-then-fail/", write_then_fail),
    path("", include("config.urls")),
]
