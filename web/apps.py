from django.apps import AppConfig


class WebConfig(AppConfig):
    """The server-rendered pages (desk, board, chart, portal, booking, waitlist), their templates and static files.

    The top floor: it imports the domain apps and none of them imports it (see docs/architecture.md)."""

    name = "web"
