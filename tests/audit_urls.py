"""The site's URLs plus an HTTP Basic login inside the API's transaction, for
tests/test_access_log.py (a refusal there must survive the view's rollback)."""

from django.urls import include, path
from rest_framework.authentication import BasicAuthentication
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from clinic.api import ClinicAPIMixin


class BasicLoginView(ClinicAPIMixin, APIView):
    authentication_classes = [BasicAuthentication]
    permission_classes = [IsAuthenticated]

    def post(self, request):
        return Response({"username": request.user.get_username()})


urlpatterns = [
    path("test-login/basic/", BasicLoginView.as_view()),
    path("", include("config.urls")),
]
