"""The site's URLs plus two API logins, for tests/test_access_log.py: DRF's token login and an
HTTP Basic login inside the API's transaction (as knox's LoginView would be)."""

from django.urls import include, path
from rest_framework.authentication import BasicAuthentication
from rest_framework.authtoken.views import obtain_auth_token
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
    path("test-login/token/", obtain_auth_token),
    path("test-login/basic/", BasicLoginView.as_view()),
    path("", include("clinic.urls")),
]
