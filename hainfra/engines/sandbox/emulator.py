"""The AWS emulator: a moto server on 127.0.0.1, in its own process.

Each emulator gets an identity (an SSM parameter holding a UUID) so state that was
written against one emulator is never silently reused against another. ``probe`` tells
an emulator that answers from one that listens but does not answer in time and from one
that is gone; only the last is ever called "gone".
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from hainfra.aws import EMULATOR_CREDENTIALS
from hainfra.engines.sandbox.moto_server import OWNER_ENV
from hainfra.engines.sandbox.state import atomic_write
from hainfra.errors import ConfigError, EmulatorError, StateError
from hainfra.home import home

log = logging.getLogger(__name__)
IDENTITY_PARAMETER = "/hainfra/emulator-id"
IDENTITY_REGION = "us-east-1"
# The emulator speaks TLS (a certificate made at start), so TLS-only bucket policies hold
# in the sandbox exactly as on AWS. It is loopback-only: the certificate is not verified.
LOOPBACK_TLS = ssl.create_default_context()
LOOPBACK_TLS.check_hostname = False
LOOPBACK_TLS.verify_mode = ssl.CERT_NONE
START_HELP = "start one with `hainfra sandbox serve` (it prints the URL) and pass -p aws_endpoint_url URL"
PROBE_SECONDS = 5.0  # how long an emulator may take to answer before it is "not answering"
ANSWERS, SILENT, GONE = "answers", "silent", "gone"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def reachable(url: str, timeout: float = 1.0) -> bool:
    try:
        urllib.request.urlopen(f"{url.rstrip('/')}/moto-api/", timeout=timeout, context=LOOPBACK_TLS).close()
        return True
    except (urllib.error.URLError, OSError, ValueError):
        return False


def probe(url: str, timeout: float = PROBE_SECONDS) -> str:
    """ANSWERS, SILENT (something accepts connections but does not answer within ``timeout``) or GONE."""
    parts = urlsplit(url)
    try:
        socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 443), timeout=timeout).close()
    except TimeoutError:
        return SILENT
    except (OSError, ValueError):
        return GONE
    return ANSWERS if reachable(url, timeout) else SILENT


def unreachable_error(url: str, status: str, what: str = "the AWS emulator") -> EmulatorError:
    """The message for an emulator that does not answer: silent and gone are different problems."""
    if status == SILENT:
        return EmulatorError(
            f"{what} at {url} is running but not answering within {PROBE_SECONDS:.0f}s (busy or stuck); "
            "wait and retry, or stop that process and start a new emulator — its resources are still there, "
            "so do not use `destroy --forget` while it runs")
    return EmulatorError(f"{what} at {url} is gone (nothing listens there); {START_HELP}")


def identity(url: str) -> str:
    """The emulator's identity; given one the first time hainfra meets it."""
    status = probe(url)
    if status != ANSWERS:
        raise unreachable_error(url, status)
    ssm = boto3.client("ssm", endpoint_url=url, region_name=IDENTITY_REGION, config=Config(retries={"max_attempts": 2}),
                       verify=False, **EMULATOR_CREDENTIALS)
    try:
        return ssm.get_parameter(Name=IDENTITY_PARAMETER)["Parameter"]["Value"]
    except ClientError:
        value = uuid.uuid4().hex
        try:
            ssm.put_parameter(Name=IDENTITY_PARAMETER, Value=value, Type="String")
        except ClientError:  # another process won the race
            return ssm.get_parameter(Name=IDENTITY_PARAMETER)["Parameter"]["Value"]
        return value
    except BotoCoreError as exc:
        raise EmulatorError(f"the emulator at {url} does not answer like AWS ({exc}); {START_HELP}") from exc


class Emulator:
    """A private moto server process on an ephemeral port; a context manager."""

    def __init__(self, port: int | None = None) -> None:
        self.port = free_port() if port is None else port
        self.url = f"https://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> Emulator:
        """Start the server; it exits by itself when this process dies (see ``moto_server.die_with_owner``).

        Raises:
            ConfigError: the port is invalid or taken — checked before any process starts.
        """
        check_port(self.port)
        env = {**os.environ, "MOTO_IAM_LOAD_MANAGED_POLICIES": "false", OWNER_ENV: str(os.getpid())}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "hainfra.engines.sandbox.moto_server", "-H", "127.0.0.1", "-p", str(self.port), "--ssl"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, start_new_session=True)
        deadline = time.monotonic() + timeout
        while not reachable(self.url, timeout=0.5):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise EmulatorError(f"the moto server did not start on port {self.port}")
            time.sleep(0.1)
        self.id = identity(self.url)
        log.info("emulator %s up at %s", self.id, self.url)
        return self

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.process = None

    def __enter__(self) -> Emulator:
        return self.start() if self.process is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def check_port(port: int) -> None:
    """Refuse a port that is out of range or already taken (by another emulator or anything else)."""
    if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
        raise ConfigError.one("port", port, "use a TCP port between 1 and 65535 (default 5000)")
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server does: TIME_WAIT is not "busy"
        try:
            s.bind(("127.0.0.1", port))
        except OSError as exc:
            running = recorded_url()
            hint = f" (`hainfra sandbox serve` recorded {running})" if running else ""
            raise ConfigError.one("port", port, f"127.0.0.1:{port} is in use{hint}: {exc.strerror}; "
                                                "pick another with --port, or use the emulator already there") from None


def check_serve(port: int) -> None:
    """Before `sandbox serve` starts anything: a valid free port, and no other live server for this folder.

    The record holds one server, which every later command uses: a second one would take it over.
    """
    check_port(port)
    _home_folder()  # the record must be writable: fail before an emulator starts, not after
    running = recorded_url()
    if running and probe(running) != GONE:
        raise ConfigError.one("port", port, f"a `hainfra sandbox serve` already runs for {home()} at {running}; "
                                            "use it, or stop it first")


def _record_path() -> Path:
    return home() / "emulator.json"


def _home_folder() -> Path:
    """``home()``, made if missing; a StateError naming it when it cannot be (a file, read-only)."""
    folder = home()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if not os.access(folder, os.W_OK | os.X_OK):
            raise PermissionError(13, "Permission denied")
    except OSError as exc:
        raise StateError(f"cannot use {folder} for hainfra's local files: {exc.strerror or exc}. Fix: point "
                         "HAINFRA_HOME at a folder you own (or unset it)") from exc
    return folder


def record(url: str) -> None:
    """Remember the long-lived emulator of `hainfra sandbox serve` for later commands."""
    _home_folder()
    atomic_write(_record_path(), json.dumps({"url": url, "pid": os.getpid()}).encode())


def forget() -> None:
    """Drop the record — only if this process wrote it: another server's record is never touched."""
    try:
        owner = json.loads(_record_path().read_text()).get("pid")
    except (OSError, ValueError, AttributeError):
        return
    if owner == os.getpid():
        _record_path().unlink(missing_ok=True)


def recorded_url() -> str | None:
    try:
        return str(json.loads(_record_path().read_text())["url"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def resolve(url: str | None) -> str:
    """The emulator URL to use: the given one, else the recorded `sandbox serve` one."""
    if url:
        return url.rstrip("/")
    recorded = recorded_url()
    if recorded is None:
        raise EmulatorError(f"no AWS emulator is running for the sandbox engine; {START_HELP}")
    status = probe(recorded)
    if status != ANSWERS:
        raise unreachable_error(recorded, status, "the emulator recorded by `hainfra sandbox serve`")
    return recorded


def serve(port: int, announce: Callable[[str], None]) -> int:
    """Run a long-lived emulator, recorded for later commands, until SIGTERM/Ctrl-C (0) or it dies (1)."""

    def stop(signum: int, frame: Any) -> None:
        raise SystemExit(0)  # runs the finally below: the emulator process is stopped, its URL forgotten

    check_serve(port)  # exit 2 before anything starts; another server's record stays
    signal.signal(signal.SIGTERM, stop)
    emu = Emulator(port=port).start()
    try:
        record(emu.url)
        announce(emu.url)
        while emu.process and emu.process.poll() is None:
            time.sleep(1)
        return 1
    finally:
        forget()
        emu.stop()
