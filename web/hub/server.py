"""The hub's web server (waitress) as a hub service: started and stopped with the receiver.

If the port is taken the hub keeps receiving (boxes must never wait for a web page) and says
loudly, once, that the dashboard is not served and how to change the port.
"""

from __future__ import annotations

import logging
import threading

log = logging.getLogger(__name__)


class WebServer:
    def __init__(self, dashboard, host: str, port: int, *, threads: int = 8):
        self.dashboard = dashboard
        self.host = host
        self.port = port
        self.threads = threads
        self.url = ""
        self.ready_lines: list[str] = []
        self._server = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        from waitress import create_server

        from web.hub import create_app

        app = create_app(self.dashboard)
        try:
            self._server = create_server(app, host=self.host, port=self.port,
                                         threads=self.threads, ident="hallwatch-hub")
        except OSError as exc:
            line = (f"集中监察页面未启动：{self.host}:{self.port} 无法监听（{exc.strerror}）；"
                    f"请在 hub.toml 的 [web] port 中换一个端口 (hub web not served: {exc})")
            log.error(line)
            self.ready_lines.append(line)
            return
        self.url = f"http://{self.host}:{self._server.effective_port}"
        self.ready_lines.append(f"hallwatch hub web serving {self.url}/")
        if self.dashboard.config.web.serve_portal:
            self.ready_lines.append(f"公众门户 (public portal): {self.url}/portal/")
        self._thread = threading.Thread(target=self._run, name="hub-web", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._server.run()
        except (OSError, ValueError):  # select() on a socket closed by stop()
            pass

    def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        if self._thread is not None:
            self._thread.join(timeout=10)
