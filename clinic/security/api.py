"""API tokens: obtain one with username and password (and the second factor when the user has
one), revoke the one in use, or revoke all of one's tokens."""

from __future__ import annotations

from axes.handlers.proxy import AxesProxyHandler
from django.conf import settings
from django.contrib.auth import authenticate, user_login_failed
from django.db import transaction
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from clinic.api_errors import ClinicAutoSchema
from clinic.security.authentication import ClinicTokenAuthentication
from clinic.security.services import TokenLimitReached, token_issue, token_revoke, tokens_revoke_all
from clinic.security.two_factor import code_verify, confirmed_device, second_factor_required


class TokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=4096, trim_whitespace=False)
    otp_code = serializers.CharField(
        max_length=12,
        required=False,
        allow_blank=True,
        help_text="The six-digit code from the authenticator app; required once the user has enrolled one.",
    )


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="Send as `Authorization: Token <token>`. Shown once; only a hash is kept.")
    expiry = serializers.DateTimeField(allow_null=True)


class SecondFactorEnrolmentRequired(exceptions.PermissionDenied):
    default_code = "second_factor_enrolment_required"
    default_detail = "Your role requires a second factor: set one up on the web (Account page) first."


class TokenLimit(exceptions.PermissionDenied):
    default_code = "token_limit_reached"


def _locked_out() -> exceptions.Throttled:
    return exceptions.Throttled(
        wait=settings.AUTH_COOLOFF.total_seconds(),
        detail="Too many failed sign-in attempts; try again later.",
    )


class TokenObtainView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    schema = ClinicAutoSchema()

    @extend_schema(request=TokenRequestSerializer, responses={201: TokenSerializer}, operation_id="auth_token_create")
    def post(self, request):
        form = TokenRequestSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        django_request = request._request
        credentials = {"username": form.validated_data["username"], "password": form.validated_data["password"]}
        user = authenticate(django_request, **credentials)
        if getattr(django_request, "axes_locked_out", False):
            raise _locked_out()
        if user is None:
            raise exceptions.ValidationError({"non_field_errors": ["Wrong username or password."]})
        device = confirmed_device(user)
        if device is None and second_factor_required(user):
            raise SecondFactorEnrolmentRequired()
        code = form.validated_data.get("otp_code", "")
        if device is not None and not code:
            raise exceptions.ValidationError({"otp_code": ["Enter the code from your authenticator app."]})
        try:
            # One savepoint for the code and the token: refused at the token limit, the code is
            # left unused (django-otp records each code's use), so it still works once the user has
            # revoked a token. A wrong code's failure count is kept.
            with transaction.atomic():
                verified = device is None or code_verify(device=device, code=code)
                if verified:
                    clear_text, instance = token_issue(user=user)
        except TokenLimitReached as refused:
            raise TokenLimit(str(refused)) from refused
        if not verified:
            # Counted like a wrong password (lockout) and seen by the access log.
            user_login_failed.send(
                sender=__name__, credentials={"username": user.get_username()}, request=django_request
            )
            if getattr(django_request, "axes_locked_out", False):
                raise _locked_out()
            raise exceptions.ValidationError({"otp_code": ["That code is not valid; codes change every 30 seconds."]})
        # A successful sign-in like the web's for the lockout: the failure count starts again
        # (AXES_RESET_ON_SUCCESS). Only axes is told: Django's user_logged_in would also start a
        # browser session's idle clock, and a token client has no session.
        AxesProxyHandler.user_logged_in(sender=__name__, request=django_request, user=user)
        return Response({"token": clear_text, "expiry": instance.expiry}, status=status.HTTP_201_CREATED)


class _SignedIn(APIView):
    authentication_classes = [ClinicTokenAuthentication, SessionAuthentication]
    permission_classes = [IsAuthenticated]
    schema = ClinicAutoSchema()


class TokenLogoutView(_SignedIn):
    @extend_schema(request=None, responses={204: None}, operation_id="auth_logout")
    def post(self, request):
        """Revoke the token this request was made with."""
        if request.auth is None or not hasattr(request.auth, "digest"):
            raise exceptions.ValidationError({"non_field_errors": ["This request was not made with an API token."]})
        token_revoke(token=request.auth)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TokenLogoutAllView(_SignedIn):
    @extend_schema(
        request=None,
        responses={200: inline_serializer("TokensRevoked", {"revoked": serializers.IntegerField()})},
        operation_id="auth_logout_all",
    )
    def post(self, request):
        """Revoke every API token of the signed-in user (all devices and integrations)."""
        return Response({"revoked": tokens_revoke_all(user=request.user)})
