"""The one small interface every channel implements: `send(message) -> provider
message id`, raising on failure. An Outbox hands out channels for one batch so
an SMTP connection is opened once, lazily, and closed at the end."""

from __future__ import annotations

from dataclasses import dataclass, field
from email import encoders
from email.mime.base import MIMEBase
from email.utils import make_msgid
from types import TracebackType
from typing import Protocol

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.core.mail.backends.base import BaseEmailBackend

from clinic.models import Channel
from scheduling.reminders.sms import BaseSmsBackend, get_sms_backend


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes
    mimetype: str


@dataclass(frozen=True)
class OutgoingMessage:
    to: str
    subject: str
    body: str
    attachments: tuple[Attachment, ...] = ()
    headers: dict[str, str] = field(default_factory=dict)


def _mime_part(attachment: Attachment) -> MIMEBase:
    """The bytes exactly as built, base64-encoded. Attached as text, Django would
    decode them and the mail generator would turn CRLF into LF, breaking the
    .ics line rules (RFC 5545 §3.1) on the way."""
    maintype, _, rest = attachment.mimetype.partition("/")
    subtype, *parameters = (part.strip() for part in rest.split(";"))
    part = MIMEBase(maintype, subtype, **dict(parameter.split("=", 1) for parameter in parameters if parameter))
    part.set_payload(attachment.content)
    encoders.encode_base64(part)
    part.add_header("Content-Disposition", "attachment", filename=attachment.filename)
    return part


class MessageChannel(Protocol):
    def send(self, message: OutgoingMessage) -> str: ...


class EmailChannel:
    def __init__(self, connection: BaseEmailBackend | None = None) -> None:
        self._connection = connection
        self._opened = False

    def send(self, message: OutgoingMessage) -> str:
        if self._connection is None:
            self._connection = get_connection(fail_silently=False)
        if not self._opened:
            self._connection.open()
            self._opened = True
        # Django's backends return no id of their own; the Message-ID we set is
        # what a bounce or a provider's log will quote back. A reminder brings
        # its own, the same on every attempt, so a provider can drop a resend.
        message_id = message.headers.get("Message-ID") or make_msgid(domain="reminders.clinic")
        email = EmailMessage(
            subject=message.subject,
            body=message.body,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[message.to],
            headers={"Message-ID": message_id, **message.headers},
            connection=self._connection,
        )
        for attachment in message.attachments:
            email.attach(_mime_part(attachment))
        if email.send(fail_silently=False) != 1:
            raise RuntimeError("The email backend accepted no message.")
        return message_id

    def close(self) -> None:
        if self._connection is not None and self._opened:
            self._connection.close()
            self._opened = False


class SmsChannel:
    def __init__(self, backend: BaseSmsBackend | None = None) -> None:
        self._backend = backend

    def send(self, message: OutgoingMessage) -> str:
        if self._backend is None:
            self._backend = get_sms_backend()
        return self._backend.send(to=message.to, body=message.body)


class Outbox:
    def __init__(self) -> None:
        self._email = EmailChannel()
        self._sms = SmsChannel()

    def channel(self, name: str) -> MessageChannel:
        return self._sms if name == Channel.SMS else self._email

    def __enter__(self) -> Outbox:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._email.close()
