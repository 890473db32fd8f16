from django.urls import path

from clinic.security.api import TokenLogoutAllView, TokenLogoutView, TokenObtainView

urlpatterns = [
    path("token/", TokenObtainView.as_view(), name="auth-token"),
    path("logout/", TokenLogoutView.as_view(), name="auth-logout"),
    path("logout-all/", TokenLogoutAllView.as_view(), name="auth-logout-all"),
]
