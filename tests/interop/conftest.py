"""A real MLLP listener for the SIU tests, and a clinic whose site has a receiver pointing at it.

The listener is an asyncio server (the `hl7` package's start_hl7_server) on 127.0.0.1 in a
thread of its own. It records every message that arrives and answers as told: an AA ACK (the
default), AE or AR, bytes that are no ACK at all, or nothing."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass

import hl7
import pytest
import time_machine
from hl7.mllp import start_hl7_server

from interop.models import SiuReceiver
from interop.siu.outbox import forget_receivers
from tests.scheduling.conftest import NOW, Clinic, make_clinic


class Listener:
    def __init__(self) -> None:
        self.received: list[str] = []
        self.answer = "AA"  # AA, AE, AR, "garbage", "unframed", "silent"
        self.port = 0
        self.delay = 0.0
        self._server: asyncio.AbstractServer | None = None
        self._writers: list = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()

    def _run(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(10)

    def start(self) -> None:
        """Listen (again on the same port, after the first start)."""
        self._run(self._start())

    def stop(self) -> None:
        """Close the port and every open connection: the receiver is down."""
        self._run(self._stop())

    def close(self) -> None:
        self.stop()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    async def _start(self) -> None:
        self._server = await start_hl7_server(self._client, "127.0.0.1", self.port, encoding="utf-8")
        self.port = self._server.sockets[0].getsockname()[1]

    async def _stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for writer in self._writers:
                writer.close()
            await self._server.wait_closed()
            self._server = None
            self._writers.clear()

    async def _client(self, reader, writer) -> None:
        self._writers.append(writer)
        try:
            while True:
                block = await reader.readblock()
                text = block.decode("utf-8")
                self.received.append(text)
                if self.delay:
                    await asyncio.sleep(self.delay)
                if self.answer == "silent":
                    continue
                if self.answer == "garbage":
                    writer.writeblock(b"this is not an ACK")
                elif self.answer == "unframed":
                    writer.write(b"MSA|AA|nothing\r")
                else:
                    writer.writeblock(str(hl7.parse(text).create_ack(self.answer)).encode("utf-8"))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    # What arrived, for the assertions.
    def messages(self) -> list[hl7.Message]:
        return [hl7.parse(text) for text in self.received]

    def events(self) -> list[tuple[str, str]]:
        """(appointment id, trigger event) of each message, in arrival order."""
        return [(str(m.segment("SCH")[2][0][0]), str(m.segment("MSH")[9][0][1])) for m in self.messages()]

    def control_ids(self) -> list[str]:
        return [str(m.segment("MSH")[10]) for m in self.messages()]


@pytest.fixture
def listener():
    server = Listener()
    server.start()
    yield server
    server.close()


@dataclass
class Feed:
    clinic: Clinic
    receiver: SiuReceiver


@pytest.fixture
def travel():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def feed(db, listener, travel) -> Feed:
    forget_receivers()
    clinic = make_clinic()
    receiver = SiuReceiver.objects.create(
        site=clinic.site,
        host="127.0.0.1",
        port=listener.port,
        receiving_application="EHR",
        receiving_facility="CLINIC",
        ack_timeout_seconds=0.5,
    )
    yield Feed(clinic=clinic, receiver=receiver)
    forget_receivers()


# The FHIR server's clinic and personas (tests/interop/fhir_support.py).
from tests.interop.fhir_support import frozen, world  # noqa: E402, F401
