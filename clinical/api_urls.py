"""The session record's API routes, included under /api/v1/clinical/ by api.urls."""

from rest_framework.routers import SimpleRouter

from clinical.api import ControlledSubstanceLogViewSet, SessionRecordViewSet

router = SimpleRouter(trailing_slash=True)
router.register("sessions", SessionRecordViewSet, basename="clinical-session")
router.register("controlled-substance-log", ControlledSubstanceLogViewSet, basename="controlled-substance-log")

urlpatterns = router.urls
