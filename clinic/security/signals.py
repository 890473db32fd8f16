"""Signals other parts of the clinic can listen to (the access log records these), and the request
attributes a sign-in page sets for the access log's row."""

from django.dispatch import Signal

# Sent with `request` (the Django HttpRequest) and `ip_address` whenever an API request carries
# a token that does not authenticate (unknown, expired, revoked, malformed). Failed password and
# second-factor attempts go through Django's own `user_login_failed` instead.
api_token_failed = Signal()

# Set on the request by a page nobody is signed in to: the path to log instead of the one asked
# (a secret in it redacted), and the login the page acted for (the password reset's link).
ACCESS_LOG_PATH_ATTRIBUTE = "access_log_path"
ACCESS_LOG_USERNAME_ATTRIBUTE = "access_log_username"
