"""Emulation: the emulator runs hainfra's own rotation function in-process (moto runs Lambda code only in Docker).

moto executes a function by starting its runtime image in Docker; without a Docker daemon every
invocation fails, and with it RotateSecret. Here a function whose deployment zip holds hainfra's
rotation module (:mod:`hainfra.lambdas.rotate_secret`) and whose handler is that module's is run
by executing *the code from the function's zip* with a Secrets Manager client pointed back at this
emulator — so a rotation in the sandbox runs the deployed code through the real four-step protocol
moto drives (a version labelled AWSPENDING without a value, then createSecret, setSecret,
testSecret, finishSecret). Any other function still goes to moto's Docker runner and fails as before.

A failing step makes the call fail (moto's RotateSecret ignores a function error and would promote an
empty version; AWS leaves the rotation pending): never a silent success.
"""

from __future__ import annotations

import io
import json
import logging
import traceback
import zipfile
from typing import Any

from hainfra import lambdas

log = logging.getLogger(__name__)
MODULE_FILE = f"{lambdas.ROTATE_SECRET}.py"


def zipped_module(code: bytes) -> str | None:
    """The rotation module's source inside a deployment zip, or None when the zip is not hainfra's function."""
    try:
        with zipfile.ZipFile(io.BytesIO(code)) as archive:
            return archive.read(MODULE_FILE).decode() if MODULE_FILE in archive.namelist() else None
    except (zipfile.BadZipFile, KeyError, UnicodeDecodeError):
        return None


def run_rotation(source: str, event: Any, endpoint_url: str, ca_bundle: str, region: str) -> None:
    """Execute the zipped module's ``rotate`` step with a client of this emulator."""
    import boto3

    namespace: dict[str, Any] = {"__name__": "emulated_rotate_secret"}
    exec(compile(source, MODULE_FILE, "exec"), namespace)  # noqa: S102 - the function's own deployed code
    client = boto3.session.Session(region_name=region, aws_access_key_id="test", aws_secret_access_key="test").client(
        "secretsmanager", endpoint_url=endpoint_url, verify=ca_bundle or False)
    namespace["rotate"](client, event if isinstance(event, dict) else json.loads(event or "{}"))


def install(endpoint_url: str, ca_bundle: str) -> None:
    """Patch moto's Lambda runner (see the module docstring)."""
    from moto.awslambda.models import LambdaFunction
    from moto.secretsmanager.exceptions import InvalidRequestException

    docker_invoke = LambdaFunction._invoke_lambda

    def invoke(self: Any, event: Any = None) -> tuple[str, bool, str]:
        source = zipped_module(getattr(self, "code_bytes", b"") or b"")
        if self.handler != lambdas.handler_name(lambdas.ROTATE_SECRET) or source is None:
            return docker_invoke(self, event)
        try:
            run_rotation(source, event, endpoint_url, ca_bundle, self.region)
        except Exception as exc:  # noqa: BLE001 - reported to the caller as the function's failure
            log.warning("emulated rotation function %s failed: %s", self.function_name, exc)
            raise InvalidRequestException(f"rotation function {self.function_name} failed: {exc}\n"
                                          f"{traceback.format_exc(limit=3)}") from exc
        return "null", False, ""

    LambdaFunction._invoke_lambda = invoke
