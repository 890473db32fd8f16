"""Signals other parts of the clinic can listen to (the access log records these)."""

from django.dispatch import Signal

# Sent with `request` (the Django HttpRequest) and `ip_address` whenever an API request carries
# a token that does not authenticate (unknown, expired, revoked, malformed). Failed password and
# second-factor attempts go through Django's own `user_login_failed` instead.
api_token_failed = Signal()
