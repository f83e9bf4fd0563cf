"""A simulated GSM modem on a pseudo-terminal, for tests and the demo.

It answers text-mode AT commands the way common modems do (echo until ATE0, ``> `` prompt after
AT+CMGS, ``+CMGS: <n>`` then OK after the text and Ctrl-Z) and decodes UCS2 numbers and text,
so a test can assert on the Chinese message that "went out". ``mode`` can be changed at any time:

- ``"ok"``: everything works;
- ``"error"``: every command gets ERROR;
- ``"error_on_send"``: the message text gets ``+CMS ERROR: 500``;
- ``"silent"``: nothing is ever answered.

Example::

    with FakeModem() as modem:
        ModemNotifier(modem.port).send(message)
        modem.wait_for_messages(1, timeout=5)
        modem.messages[0].text
"""

from __future__ import annotations

import os
import select
import threading
import tty
from dataclasses import dataclass

_POLL = 0.05


@dataclass(frozen=True)
class SentSms:
    number: str
    text: str


def _decode(value: str, charset: str) -> str:
    if charset == "UCS2":
        return bytes.fromhex(value).decode("utf-16-be")
    return value


class FakeModem:
    def __init__(self, mode: str = "ok"):
        self.mode = mode
        self.commands: list[str] = []
        self.messages: list[SentSms] = []
        self.port = ""
        self._echo = True
        self._charset = "GSM"
        self._number: str | None = None
        self._buffer = b""
        self._reference = 0
        self._changed = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._master = self._slave = -1

    def start(self) -> FakeModem:
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)  # no echo or line editing by the pty itself
        self.port = os.ttyname(self._slave)
        self._thread = threading.Thread(target=self._run, name="fake-modem", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)
        for fd in (self._master, self._slave):
            if fd >= 0:
                os.close(fd)
        self._master = self._slave = -1

    def __enter__(self) -> FakeModem:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def wait_for_messages(self, count: int, timeout: float) -> bool:
        """True once at least ``count`` messages were accepted, False after ``timeout``."""
        with self._changed:
            return self._changed.wait_for(lambda: len(self.messages) >= count, timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self._master], [], [], _POLL)
            if not ready:
                continue
            try:
                data = os.read(self._master, 4096)
            except OSError:  # nobody has the port open right now
                continue
            self._feed(data)

    def _reply(self, text: str) -> None:
        if self.mode != "silent":
            os.write(self._master, text.encode("ascii"))

    def _feed(self, data: bytes) -> None:
        self._buffer += data
        while True:
            if self._number is not None:
                end = self._buffer.find(b"\x1a")
                if end < 0:
                    return
                text, self._buffer = self._buffer[:end], self._buffer[end + 1:]
                self._message(text.decode("ascii", errors="replace"))
                continue
            end = self._buffer.find(b"\r")
            if end < 0:
                return
            line, self._buffer = self._buffer[:end], self._buffer[end + 1:]
            self._command(line.decode("ascii", errors="replace").strip())

    def _command(self, command: str) -> None:
        with self._changed:
            self.commands.append(command)
            self._changed.notify_all()
        if not command:
            return
        if self._echo:
            self._reply(command + "\r")
        if self.mode == "error":
            self._reply("\r\nERROR\r\n")
            return
        upper = command.upper()
        if upper == "ATE0":
            self._echo = False
        elif upper.startswith("AT+CSCS="):
            self._charset = command.split("=", 1)[1].strip('"').upper()
        elif upper.startswith("AT+CMGS="):
            self._number = command.split("=", 1)[1].strip('"')
            self._reply("\r\n> ")
            return
        self._reply("\r\nOK\r\n")

    def _message(self, text: str) -> None:
        number, self._number = self._number or "", None
        if self.mode == "error_on_send":
            self._reply("\r\n+CMS ERROR: 500\r\n")
            return
        try:
            sms = SentSms(_decode(number, self._charset), _decode(text, self._charset))
        except ValueError:
            self._reply("\r\n+CMS ERROR: 304\r\n")  # invalid PDU/text parameter
            return
        self._reference += 1
        with self._changed:
            self.messages.append(sms)
            self._changed.notify_all()
        self._reply(f"\r\n+CMGS: {self._reference}\r\n\r\nOK\r\n")
