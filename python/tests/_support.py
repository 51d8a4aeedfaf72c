"""Test support: a real registry server in a child process, and an admin API client.

The databases come from ``PROMPT_REGISTRY_TEST_DATABASES`` (comma-separated
``sqlite:PATH`` and ``postgres://...`` URLs, as ``npm test`` sets it). Without
it, the tests use one temporary SQLite database and say that Postgres was not
covered.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Tuple

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
ADMIN_KEY = "python-client-admin-key-0123456789"
SERVER_SECRET = "python-client-server-secret-0123456789abcdef"
START_TIMEOUT = 60.0


_NOT_COVERED = (
    "\nPROMPT_REGISTRY_TEST_DATABASES is not set: the client tests ran on a temporary SQLite "
    "database only; Postgres was NOT covered. `npm test` runs them on both.\n"
)


def databases() -> List[str]:
    """The databases the client tests run on (computed once)."""
    if not hasattr(databases, "urls"):
        configured = os.environ.get("PROMPT_REGISTRY_TEST_DATABASES", "")
        urls = [u.strip() for u in configured.split(",") if u.strip()]
        if not urls:
            folder = tempfile.mkdtemp(prefix="prompt-registry-pytest-")
            atexit.register(shutil.rmtree, folder, True)
            # Said before the tests and again after them, where it is seen.
            sys.stderr.write(_NOT_COVERED + "\n")
            atexit.register(sys.stderr.write, _NOT_COVERED)
            urls = [f"sqlite:{os.path.join(folder, 'registry.db')}"]
        databases.urls = urls  # type: ignore[attr-defined]
    return list(databases.urls)  # type: ignore[attr-defined]


def dialect(url: str) -> str:
    return "postgres" if url.startswith(("postgres:", "postgresql:")) else "sqlite"


def sibling_database(url: str, suffix: str) -> str:
    """Another database for a second server: a new SQLite file beside the first;
    on Postgres the same database (servers on one Postgres are replicas)."""
    if dialect(url) == "sqlite":
        path = url[len("sqlite:") :]
        root, ext = os.path.splitext(path)
        return f"sqlite:{root}-{suffix}{ext or '.db'}"
    return url


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RegistryServer:
    """``prompt-registry serve`` on a database, in its own process group."""

    def __init__(self, database_url: str, port: int = 0, env: Optional[Dict[str, str]] = None) -> None:
        self.database_url = database_url
        self.port = port
        self.env = env or {}
        self.url = ""
        self.process: Optional[subprocess.Popen] = None
        self._reader: Optional[threading.Thread] = None
        self._output: List[str] = []

    def start(self) -> "RegistryServer":
        # One server secret for every test server: servers on one Postgres are replicas and must share it.
        env = dict(os.environ, PROMPT_REGISTRY_ADMIN_KEY=ADMIN_KEY, PROMPT_REGISTRY_SECRET=SERVER_SECRET, PROMPT_REGISTRY_LOG_LEVEL="info", **self.env)
        self.process = subprocess.Popen(
            ["node", "--import", "tsx", "server/cli.ts", "serve", "--port", str(self.port), "--db", self.database_url, "--no-log-requests"],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        found = threading.Event()

        def read() -> None:
            assert self.process is not None and self.process.stdout is not None
            for raw in self.process.stdout:
                line = raw.decode("utf-8", "replace").rstrip()
                self._output.append(line)
                if not found.is_set():
                    try:
                        entry = json.loads(line)
                    except ValueError:
                        continue
                    if isinstance(entry, dict) and entry.get("msg") == "prompt registry listening":
                        self.url = entry["url"]
                        found.set()

        self._reader = threading.Thread(target=read, daemon=True)
        self._reader.start()
        deadline = time.monotonic() + START_TIMEOUT
        while not found.wait(0.05):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise RuntimeError("the registry did not start:\n" + "\n".join(self._output[-40:]))
        self.port = int(self.url.rsplit(":", 1)[1])
        return self

    def kill(self) -> None:
        """SIGKILL: the registry is gone at once, as in a crash."""
        self._signal(signal.SIGKILL)

    def stop(self) -> None:
        """SIGTERM: a graceful shutdown."""
        self._signal(signal.SIGTERM)

    def _signal(self, sig: int) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, sig)
        except ProcessLookupError:
            pass
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
        if self._reader is not None:
            self._reader.join(5)
        if self.process.stdout is not None:
            self.process.stdout.close()

    def restart(self) -> None:
        """Starts again on the same port and database."""
        self.start()

    # -- the admin API

    def call(self, method: str, path: str, body: Any = None) -> Tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        headers = {"X-API-Key": ADMIN_KEY}
        if data is not None:
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(self.url + path, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                raw = response.read()
                return response.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as err:
            raw = err.read()
            return err.code, json.loads(raw) if raw else None

    def publish(self, name: str, content: str, **settings: Any) -> int:
        status, body = self.call("POST", f"/prompts/{name}/versions", {"content": content, **settings})
        if status != 201:
            raise AssertionError(f"publishing {name} answered {status}: {body}")
        return int(body["version"])

    def deploy(self, name: str, version: int, environment: str = "production") -> None:
        status, body = self.call("POST", f"/prompts/{name}/deployments", {"version": version, "environment": environment})
        if status not in (200, 201):
            raise AssertionError(f"deploying {name} v{version} answered {status}: {body}")

    def rollback(self, name: str, environment: str = "production") -> None:
        status, body = self.call("POST", f"/prompts/{name}/rollback", {"environment": environment})
        if status != 201:
            raise AssertionError(f"rolling back {name} answered {status}: {body}")


def eventually(check: Callable[[], bool], message: str, timeout: float = 5.0, interval: float = 0.02) -> None:
    """Waits until ``check()`` is true; fails with ``message`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        if check():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {message}")
        time.sleep(interval)


if TYPE_CHECKING:
    PerDatabase = unittest.TestCase
else:
    PerDatabase = object
# Base of the per-database test mixins: a TestCase for type checkers only, so
# the mixin itself is not collected; ``per_database`` makes the real classes.


class SharedRegistry(PerDatabase):
    """A per-database mixin with one registry for the whole class; the clients
    a test appends to ``self.clients`` are closed after it."""

    database_url: str
    server: RegistryServer

    @classmethod
    def setUpClass(cls) -> None:
        cls.server = RegistryServer(cls.database_url).start()

    @classmethod
    def tearDownClass(cls) -> None:
        cls.server.stop()

    def setUp(self) -> None:
        self.clients: List[Any] = []

    def tearDown(self) -> None:
        for client in self.clients:
            client.close(0.5)


def per_database(mixin: type) -> type:
    """Makes one TestCase per configured database from a mixin of test methods
    (unittest has no parametrize). Each class gets ``database_url`` and a name
    such as ``ClientTests_sqlite``; the mixin itself is not a TestCase, so it
    is not collected."""
    module = sys.modules[mixin.__module__]
    urls = databases()
    for url in urls:
        same = [u for u in urls if dialect(u) == dialect(url)]
        name = f"{mixin.__name__}_{dialect(url)}" + (str(same.index(url) + 1) if len(same) > 1 else "")
        cls = type(name, (mixin, unittest.TestCase), {"database_url": url, "__module__": mixin.__module__, "__qualname__": name})
        setattr(module, name, cls)
    return mixin


def unique(prefix: str) -> str:
    """A prompt name no other test uses."""
    unique.counter += 1  # type: ignore[attr-defined]
    return f"{prefix}-{os.getpid()}-{unique.counter}"  # type: ignore[attr-defined]


unique.counter = 0  # type: ignore[attr-defined]


def json_dump(path: str, value: Dict[str, Any]) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(value, f)


class FakeRegistry:
    """A scripted HTTP server for the logger's unit tests: ``POST /executions``
    answers the next status of ``script`` (then 201) and records each body."""

    def __init__(self, script: Optional[List[int]] = None) -> None:
        import http.server

        self.script: List[int] = list(script or [])
        self.bodies: List[Any] = []
        self.lock = threading.Lock()
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 - the http.server API
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with fake.lock:
                    fake.bodies.append(json.loads(raw))
                    status = fake.script.pop(0) if fake.script else 201
                body = json.dumps({"error": {"code": "invalid_executions", "message": "bad row"}} if status >= 400 else {"accepted": 1}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the http.server API
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def ids(self) -> List[List[str]]:
        """The execution ids of each POST, in order."""
        with self.lock:
            return [[row["id"] for row in body] for body in self.bodies]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
