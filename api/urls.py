"""The /api/ urlconf: version 1 of the REST API, its OpenAPI schema and its docs.

The API's composition: it imports every app's thin views (their api.py); none of them imports it."""

from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView
from rest_framework.routers import DefaultRouter

from clinic.api import (
    ChairViewSet,
    ClosureViewSet,
    OpeningHoursViewSet,
    ReminderPolicyViewSet,
    ShiftViewSet,
    SiteViewSet,
    StaffViewSet,
)
from clinic.api_errors import api_not_found
from clinic.security.docs import swagger_ui_view
from patients.api import ContraindicationViewSet, EvaluationViewSet, PatientFlagViewSet
from scheduling.api import (
    AppointmentViewSet,
    DayBoardView,
    FreeSlotsView,
    PatientViewSet,
    PlanViewSet,
    ProtocolViewSet,
    ReminderViewSet,
    SessionsToMoveView,
)

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("sites", SiteViewSet, basename="site")
router.register("chairs", ChairViewSet, basename="chair")
router.register("staff", StaffViewSet, basename="staff")
router.register("opening-hours", OpeningHoursViewSet, basename="opening-hours")
router.register("closures", ClosureViewSet, basename="closure")
router.register("shifts", ShiftViewSet, basename="shift")
router.register("reminder-policies", ReminderPolicyViewSet, basename="reminder-policy")
router.register("patients", PatientViewSet, basename="patient")
router.register("evaluations", EvaluationViewSet, basename="evaluation")
router.register("patient-flags", PatientFlagViewSet, basename="patient-flag")
router.register("contraindications", ContraindicationViewSet, basename="contraindication")
router.register("protocols", ProtocolViewSet, basename="protocol")
router.register("plans", PlanViewSet, basename="plan")
router.register("appointments", AppointmentViewSet, basename="appointment")
router.register("reminders", ReminderViewSet, basename="reminder")

v1 = [
    *router.urls,
    path("sites/<int:site_id>/free-slots/", FreeSlotsView.as_view(), name="site-free-slots"),
    path("sites/<int:site_id>/day-board/", DayBoardView.as_view(), name="site-day-board"),
    path("sites/<int:site_id>/sessions-to-move/", SessionsToMoveView.as_view(), name="site-sessions-to-move"),
    path("", include("measures.api")),
    path("clinical/", include("clinical.api_urls")),
    path("auth/", include("clinic.security.api_urls")),
]

urlpatterns = [
    path("v1/", include((v1, "api"), namespace="v1")),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", swagger_ui_view(), name="api-docs"),
    re_path(r"^", api_not_found),
]
