"""A real HTTP file server on 127.0.0.1 for the remote-imagery tests, in its own process.

It serves a folder with ``Range`` support (GDAL's ``/vsicurl/`` reads COGs by byte range, which
``http.server.SimpleHTTPRequestHandler`` lacks) and injects the failures the readers must
survive: the first ``fail_first`` GETs of every path answer ``fail_status``, paths in ``hidden``
answer 404. It runs in a child process because rasterio holds the GIL while GDAL waits for the
server: a server thread in the test process would never answer.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

_RANGE = re.compile(r"bytes=(\d*)-(\d*)$")
# Control paths: POST a JSON of knobs to /__config; GET /__gets for the GET counts per path,
# /__connections for how many client connections (TCP ports) those GETs came over.
CONFIG_PATH, GETS_PATH, CONNECTIONS_PATH = "/__config", "/__gets", "/__connections"


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, root: Path) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.root = root
        self.knobs: dict[str, Any] = {"fail_first": 0, "fail_status": 503, "retry_after": None,
                                      "hidden": []}
        self.gets: Counter[str] = Counter()
        self.clients: set[int] = set()
        self.lock = threading.Lock()


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:  # quiet: the tests assert on counts
        pass

    def _file(self, path: str) -> Path | None:
        target = (self.server.root / path.lstrip("/")).resolve()
        if path in self.server.knobs["hidden"] or not target.is_file():
            return None
        return target

    def _send(self, status: int, body: bytes = b"", **headers: str) -> None:
        self.send_response(status)
        for name, value in {"Content-Length": str(len(body)), **headers}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        knobs = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with self.server.lock:
            self.server.knobs.update(knobs)
            self.server.gets.clear()
            self.server.clients.clear()
        self._send(204 if self.path == CONFIG_PATH else 404)

    def do_HEAD(self) -> None:  # noqa: N802
        target = self._file(self.path.split("?", 1)[0])
        if target is None:
            return self._send(404)
        self.send_response(200)
        self.send_header("Content-Length", str(target.stat().st_size))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()

    def do_GET(self) -> None:  # noqa: N802
        path = self.path.split("?", 1)[0]
        if path == GETS_PATH:
            return self._send(200, json.dumps(self.server.gets).encode())
        if path == CONNECTIONS_PATH:
            return self._send(200, str(len(self.server.clients)).encode())
        with self.server.lock:
            self.server.gets[path] += 1
            self.server.clients.add(self.client_address[1])
            failing = self.server.gets[path] <= self.server.knobs["fail_first"]
        if failing:
            retry_after = self.server.knobs["retry_after"]
            return self._send(self.server.knobs["fail_status"],
                              **({"Retry-After": str(retry_after)} if retry_after else {}))
        target = self._file(path)
        if target is None:
            return self._send(404)
        data = target.read_bytes()
        match = _RANGE.match(self.headers.get("Range", ""))
        if match is None:
            return self._send(200, data, **{"Accept-Ranges": "bytes"})
        first = int(match[1]) if match[1] else max(0, len(data) - int(match[2]))
        last = min(int(match[2]), len(data) - 1) if match[1] and match[2] else len(data) - 1
        self._send(206, data[first:last + 1],
                   **{"Content-Range": f"bytes {first}-{last}/{len(data)}"})


class LoopbackServer:
    """Client side of a running server: its URL, its knobs and its GET counts."""

    def __init__(self, url: str) -> None:
        self.url = url

    def configure(self, **knobs: Any) -> None:
        """Set ``fail_first``, ``fail_status``, ``retry_after``, ``hidden``; reset the counts."""
        request = urllib.request.Request(self.url + CONFIG_PATH, method="POST",
                                         data=json.dumps(knobs).encode())
        urllib.request.urlopen(request, timeout=5).close()

    def gets(self) -> Counter[str]:
        """GETs per path since the last :meth:`configure`."""
        with urllib.request.urlopen(self.url + GETS_PATH, timeout=5) as response:
            return Counter(json.loads(response.read()))

    def connections(self) -> int:
        """Client connections the GETs since the last :meth:`configure` came over."""
        with urllib.request.urlopen(self.url + CONNECTIONS_PATH, timeout=5) as response:
            return int(response.read())


@contextmanager
def serve(root: Path) -> Iterator[LoopbackServer]:
    """A server of ``root`` in a child process, stopped on exit."""
    child = subprocess.Popen([sys.executable, __file__, str(root)], stdout=subprocess.PIPE,
                             text=True)
    try:
        assert child.stdout is not None
        yield LoopbackServer(child.stdout.readline().strip())
    finally:
        child.terminate()
        child.wait(timeout=10)


if __name__ == "__main__":
    server = _Server(Path(sys.argv[1]))
    print(f"http://127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever()
