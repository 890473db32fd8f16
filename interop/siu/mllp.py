"""Sending over MLLP (the `hl7` package's asyncio streams: <VT> message <FS><CR>) and reading
the receiver's ACK.

One connection per receiver, all of a claim's receivers at the same time (so a slow one does not
eat the others' share of the claim's lease); on each, messages go one at a time, each waiting
for its ACK. An ACK that does not come in time, cannot be read, or answers another control id
leaves the stream in an unknown state, so the connection is dropped and the rest wait for the
next run."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass

import hl7
from hl7.mllp import InvalidBlockError, open_hl7_connection

ACCEPTED = "AA"


@dataclass(frozen=True)
class Outgoing:
    control_id: str
    payload: str


@dataclass(frozen=True)
class Batch:
    """One receiver's messages, sent in order on one connection."""

    host: str
    port: int
    timeout: float
    messages: Sequence[Outgoing]


@dataclass(frozen=True)
class Answer:
    """What became of one message: `code` is the ACK's MSA-1 (AA, AE, AR, CA, CE, CR) or ""
    when none was read; `error` says what went wrong in words."""

    control_id: str
    code: str = ""
    error: str = ""

    @property
    def accepted(self) -> bool:
        return self.code in (ACCEPTED, "CA")


def read_ack(block: bytes, *, control_id: str) -> Answer:
    """The answer in an ACK block (MLLP framing already removed); a malformed ACK is an error."""
    try:
        # Some interface engines end segments with CR LF (or LF); hl7.parse splits on CR alone.
        text = block.decode("utf-8").replace("\r\n", "\r").replace("\n", "\r")
        message = hl7.parse(text)
        msa = message.segment("MSA")
        code = str(msa[1]).strip()
        acked = str(msa[2]).strip()
    except Exception as exc:  # hl7.parse raises several kinds for garbage; all mean "not an ACK"
        return Answer(control_id, error=f"malformed ACK ({exc.__class__.__name__}): {block[:80]!r}")
    if code not in ("AA", "AE", "AR", "CA", "CE", "CR"):
        return Answer(control_id, error=f"malformed ACK: MSA-1 is {code[:10]!r}")
    if acked != control_id:
        return Answer(control_id, error=f"ACK for another message: MSA-2 is {acked[:20]!r}")
    if code in (ACCEPTED, "CA"):
        return Answer(control_id, code=code)
    text = ""
    with contextlib.suppress(IndexError, KeyError):
        text = str(msa[3]).strip()
    try:
        err = str(message.segment("ERR")).strip()
    except (KeyError, IndexError):
        err = ""
    return Answer(control_id, code=code, error=f"{code} {text} {err}".strip()[:500])


async def _send_batch(batch: Batch, stop_at: float) -> list[Answer]:
    host, port, messages, timeout = batch.host, batch.port, batch.messages, batch.timeout
    answers: list[Answer] = []
    loop = asyncio.get_running_loop()
    if not messages or loop.time() + timeout > stop_at:
        return answers  # not even the first would be answered in time: do not connect
    try:
        reader, writer = await asyncio.wait_for(open_hl7_connection(host, port, encoding="utf-8"), timeout)
    except (TimeoutError, OSError) as exc:
        return [Answer(m.control_id, error=f"cannot connect to {host}:{port}: {exc!r}") for m in messages]
    try:
        for message in messages:
            if loop.time() + timeout > stop_at:
                break  # the rest would outlive the claim's lease; the next run sends them
            writer.writeblock(message.payload.encode("utf-8"))
            try:
                await asyncio.wait_for(writer.drain(), timeout)
                block = await asyncio.wait_for(reader.readblock(), timeout)
            except TimeoutError:
                answers.append(Answer(message.control_id, error=f"no ACK within {timeout:g} s"))
                break
            except InvalidBlockError as exc:
                answers.append(Answer(message.control_id, error=f"malformed ACK: not an MLLP block ({exc})"))
                break
            except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                answers.append(Answer(message.control_id, error=f"connection lost before the ACK: {exc!r}"))
                break
            answer = read_ack(block, control_id=message.control_id)
            answers.append(answer)
            if not answer.code:  # unreadable: what follows on this stream cannot be trusted
                break
    finally:
        writer.close()
        with contextlib.suppress(OSError, asyncio.TimeoutError):
            await asyncio.wait_for(writer.wait_closed(), timeout)
    return answers


async def _send_batches(batches: Sequence[Batch], budget: float) -> list[list[Answer]]:
    stop_at = asyncio.get_running_loop().time() + budget
    return list(await asyncio.gather(*(_send_batch(batch, stop_at) for batch in batches)))


def mllp_send(*, batches: Sequence[Batch], budget: float) -> list[list[Answer]]:
    """Send each batch in order on a connection of its own, all batches at the same time, each
    message waiting at most its batch's `timeout` seconds for its ACK; start no message that
    could still be waiting after `budget` seconds. For each batch, answers come back for the
    messages that were tried, in order; a message with no answer in its list was not sent (try
    it next run)."""
    if not any(batch.messages for batch in batches):
        return [[] for _ in batches]
    return asyncio.run(_send_batches(batches, budget))
