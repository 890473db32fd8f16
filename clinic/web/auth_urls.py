"""Log in and out with Django's views and our template. Not namespaced, because
settings.LOGIN_URL and LOGOUT_REDIRECT_URL name "login"."""

from django.contrib.auth import views as auth_views
from django.urls import path

urlpatterns = [
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
]
