"""Sign-in, account and second-factor pages. Not namespaced, because settings.LOGIN_URL and
LOGOUT_REDIRECT_URL name "login"."""

from django.contrib.auth import views as auth_views
from django.urls import path

from clinic.audit import log_anonymous_access
from clinic.security import views

urlpatterns = [
    path("login/", views.ClinicLoginView.as_view(), name="login"),
    path("login/code/", views.login_code, name="login-code"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("account/", views.account, name="account"),
    path("account/password/", views.ClinicPasswordChangeView.as_view(), name="password-change"),
    # Logged though nobody is signed in: who asked for links, and whose password a link set.
    path(
        "account/password/reset/", log_anonymous_access(views.ClinicPasswordResetView.as_view()), name="password-reset"
    ),
    path(
        "account/password/reset/sent/",
        auth_views.PasswordResetDoneView.as_view(template_name="registration/password_reset_sent.html"),
        name="password-reset-sent",
    ),
    path(
        "account/password/reset/<uidb64>/<token>/",
        log_anonymous_access(views.ClinicPasswordResetConfirmView.as_view()),
        name="password-reset-confirm",
    ),
    path(
        "account/password/reset/done/",
        auth_views.PasswordResetCompleteView.as_view(template_name="registration/password_reset_complete.html"),
        name="password-reset-complete",
    ),
    path("account/tokens/revoke/", views.token_revoke_view, name="account-token-revoke"),
    path("account/tokens/revoke-all/", views.tokens_revoke_all_view, name="account-tokens-revoke-all"),
    path("account/two-factor/", views.two_factor_enrol, name="two-factor-enrol"),
]
