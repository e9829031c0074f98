"""The AWS emulator: a moto server on 127.0.0.1, in its own process.

Each emulator gets an identity (an SSM parameter holding a UUID) so state that was
written against one emulator is never silently reused against another.
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

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from hainfra.aws import EMULATOR_CREDENTIALS
from hainfra.errors import EmulatorError
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


def identity(url: str) -> str:
    """The emulator's identity; given one the first time hainfra meets it."""
    if not reachable(url):
        raise EmulatorError(f"no AWS emulator answers at {url}; {START_HELP}")
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
        self.port = port or free_port()
        self.url = f"https://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> Emulator:
        env = {**os.environ, "MOTO_IAM_LOAD_MANAGED_POLICIES": "false"}
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


def _record_path() -> Path:
    return home() / "emulator.json"


def record(url: str) -> None:
    """Remember the long-lived emulator of `hainfra sandbox serve` for later commands."""
    _record_path().parent.mkdir(parents=True, exist_ok=True)
    _record_path().write_text(json.dumps({"url": url, "pid": os.getpid()}))


def forget() -> None:
    _record_path().unlink(missing_ok=True)


def resolve(url: str | None) -> str:
    """The emulator URL to use: the given one, else the recorded `sandbox serve` one."""
    if url:
        return url.rstrip("/")
    try:
        recorded = json.loads(_record_path().read_text())["url"]
    except (OSError, ValueError, KeyError):
        raise EmulatorError(f"no AWS emulator is running for the sandbox engine; {START_HELP}") from None
    if not reachable(recorded):
        raise EmulatorError(f"the emulator recorded at {recorded} is gone; {START_HELP}")
    return recorded


def serve(port: int, announce: Callable[[str], None]) -> int:
    """Run a long-lived emulator, recorded for later commands, until SIGTERM/Ctrl-C (0) or it dies (1)."""

    def stop(signum: int, frame: Any) -> None:
        raise SystemExit(0)  # runs the finally below: the emulator process is stopped, its URL forgotten

    signal.signal(signal.SIGTERM, stop)
    emu = Emulator(port=port).start()
    record(emu.url)
    announce(emu.url)
    try:
        while emu.process and emu.process.poll() is None:
            time.sleep(1)
        return 1
    finally:
        forget()
        emu.stop()
