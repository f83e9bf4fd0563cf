"""SMS through a GSM modem on a serial port, with text-mode AT commands (pyserial).

Chinese text needs UCS2: ``AT+CSCS="UCS2"`` makes the modem read both the number and the text
as hex UTF-16BE, and ``AT+CSMP=17,167,0,8`` sets the data coding scheme to UCS2. One SMS holds
70 UCS2 characters; longer messages go as numbered parts ("(1/2)…"), since text mode cannot
send concatenated SMS. Every step waits for OK / ERROR with a timeout, so a modem that never
answers fails the delivery (the queue retries) instead of hanging the worker.

Example::

    sms = ModemNotifier("/dev/ttyUSB0", command_timeout=5, send_timeout=60)
    sms.send(message)     # raises NotifyError("modem answered +CMS ERROR: 38 to ...")
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import serial

from edge.supervision.notify import Message, NotifyError

CTRL_Z = b"\x1a"
SMS_UCS2_CHARS = 70
MAX_PARTS = 6
_ERRORS = ("ERROR", "+CMS ERROR", "+CME ERROR", "NO CARRIER")


def ucs2_hex(text: str) -> str:
    """>>> ucs2_hex("李1")
    '67460031'
    """
    return text.encode("utf-16-be").hex().upper()


def split_sms(text: str, limit: int = SMS_UCS2_CHARS) -> list[str]:
    """Parts of at most ``limit`` UTF-16 units, numbered "(i/n)" when there is more than one."""
    if len(text.encode("utf-16-be")) // 2 <= limit:
        return [text]
    size = limit - 5  # room for "(1/6)"
    parts = [text[start:start + size] for start in range(0, len(text), size)]
    if len(parts) > MAX_PARTS:
        parts = parts[:MAX_PARTS]
        parts[-1] = parts[-1][:-1] + "…"
    return [f"({n}/{len(parts)}){part}" for n, part in enumerate(parts, start=1)]


class ModemNotifier:
    name = "sms"
    needs_phone = True

    def __init__(self, port: str, *, baudrate: int = 115200, command_timeout: float = 5.0,
                 send_timeout: float = 60.0, monotonic: Callable[[], float] = time.monotonic):
        self.port = port
        self.baudrate = baudrate
        self.command_timeout = command_timeout
        self.send_timeout = send_timeout
        self.monotonic = monotonic
        self._lock = threading.Lock()  # one conversation with the modem at a time

    def send(self, message: Message) -> None:
        if not message.phone:
            raise NotifyError(f"notification {message.id} has no phone number")
        with self._lock:
            port = self._open()
            try:
                self._session(port, message.phone, split_sms(message.text))
            except serial.SerialException as exc:
                raise NotifyError(f"serial port {self.port}: {exc}") from None
            finally:
                port.close()

    def _open(self) -> serial.Serial:
        try:
            # A fresh open per message: the modem may have been reset or replugged meanwhile.
            return serial.Serial(self.port, self.baudrate, timeout=0.05,
                                 write_timeout=self.command_timeout)
        except (serial.SerialException, OSError) as exc:
            raise NotifyError(f"cannot open modem port {self.port}: {exc}") from None

    def _session(self, port: serial.Serial, phone: str, parts: list[str]) -> None:
        port.reset_input_buffer()
        for command in ("AT", "ATE0", "AT+CMGF=1", 'AT+CSCS="UCS2"', "AT+CSMP=17,167,0,8"):
            self._command(port, command)
        number = ucs2_hex(phone)
        for part in parts:
            port.write(f'AT+CMGS="{number}"\r'.encode("ascii"))
            self._wait(port, "AT+CMGS", self.command_timeout, prompt=True)
            port.write(ucs2_hex(part).encode("ascii") + CTRL_Z)
            lines = self._wait(port, "the message text", self.send_timeout)
            if not any(line.startswith("+CMGS:") for line in lines):
                raise NotifyError("modem said OK but gave no +CMGS reference; message not sent")

    def _command(self, port: serial.Serial, command: str) -> list[str]:
        port.write(command.encode("ascii") + b"\r")
        return self._wait(port, command, self.command_timeout)

    def _wait(self, port: serial.Serial, what: str, timeout: float, prompt: bool = False
              ) -> list[str]:
        """Read lines until OK (or the "> " prompt); raise on an error code or the timeout."""
        deadline = self.monotonic() + timeout
        buffer = b""
        lines: list[str] = []
        while self.monotonic() < deadline:
            chunk = port.read(256)
            if not chunk:
                continue
            buffer += chunk
            if prompt and buffer.replace(b"\r", b"").replace(b"\n", b"").startswith(b">"):
                return lines
            *complete, buffer = buffer.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
            for raw in complete:
                line = raw.decode("ascii", errors="replace").strip()
                if not line:
                    continue
                lines.append(line)
                if line == "OK" and not prompt:
                    return lines
                if line.startswith(_ERRORS) or (prompt and line == "OK"):
                    raise NotifyError(f"modem answered {line} to {what}")
            if prompt and buffer.strip().startswith(b">"):
                return lines
        raise NotifyError(f"modem did not answer {what} within {timeout:g} s")
