"""Deadlines for HTTP requests that never finish arriving (half-sent requests).

uvicorn's h11 protocol waits for a request's line and headers, and for its body, for as long as the client keeps
the connection open: a soak test held 20 connections whose headers never finished for 60 s, each before any token
check (a client sending one byte now and then also cancels uvicorn's keep-alive timer). `DeadlineH11Protocol`
closes a connection that has not sent a whole request head within `HEAD_SECONDS` of opening (or of the previous
response), or a whole body within ``Limits.request_seconds`` of its head. A request that has arrived is not timed:
a long forecast, a streamed reply and a WebSocket session (the upgrade hands the connection to the WebSocket
protocol) run as long as they need. uvicorn has no such setting (``timeout_keep_alive`` only times idle keep-alive
connections); a reverse proxy in front remains the place for finer rules (rates, many slow connections at once).
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

#: seconds a connection may take to send a request's line and headers (browsers and clients send them at once)
HEAD_SECONDS = 10.0


class DeadlineH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline for the request head (`HEAD_SECONDS`) and one for the body
    (`body_seconds`); a connection past either is closed (the application sees the client disconnect). Made per
    server by `protocol_class`."""

    head_seconds: float = HEAD_SECONDS
    body_seconds: float = 60.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._deadline: asyncio.TimerHandle | None = None
        self._phase: str | None = None
        super().connection_made(transport)
        self._arm("head", self.head_seconds)

    def _arm(self, phase: str, seconds: float) -> None:
        self._disarm()
        self._phase = phase
        self._deadline = self.loop.call_later(seconds, self._expire)

    def _disarm(self) -> None:
        if getattr(self, "_deadline", None) is not None:
            self._deadline.cancel()  # type: ignore[union-attr]
        self._deadline, self._phase = None, None

    def _expire(self) -> None:
        self._deadline = None
        state = self.conn.their_state
        late = (self._phase == "head" and state is h11.IDLE) or (self._phase == "body" and state is h11.SEND_BODY)
        if late and not self.transport.is_closing():
            self.transport.close()

    def _follow(self) -> None:
        """Arms or ends the deadline by where the client's request stands after new data."""
        state = self.conn.their_state
        if state is h11.IDLE:
            if self._phase != "head":  # (between requests, the head deadline was armed by the response)
                self._arm("head", self.head_seconds)
        elif state is h11.SEND_BODY:
            if self._phase != "body":
                self._arm("body", self.body_seconds)
        else:  # the request is in (DONE), the connection upgraded to a WebSocket, or closed
            self._disarm()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.transport.get_protocol() is not self:  # upgraded to a WebSocket (h11 still reads the request's body
            self._disarm()  # as coming: the upgrade took the connection before its end): not ours to time
            return
        self._follow()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._follow()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)


def protocol_class(body_seconds: float, head_seconds: float | None = None) -> type[DeadlineH11Protocol]:
    """A `DeadlineH11Protocol` with these deadlines (the head's: `HEAD_SECONDS`), for ``uvicorn.Config(http=...)``."""
    head = HEAD_SECONDS if head_seconds is None else head_seconds
    attrs: dict[str, Any] = {"body_seconds": float(body_seconds), "head_seconds": float(head)}
    return type("DeadlineH11Protocol", (DeadlineH11Protocol,), attrs)
