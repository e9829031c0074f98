"""Lambda functions shipped with hainfra, and their deterministic packaging.

Each function is one standalone module here (it imports nothing from hainfra: the zip holds that
file alone). :func:`package` builds the zip byte for byte the same from the same source (fixed
timestamps and permissions), so the code hash changes only when the code does and a deploy of an
unchanged hainfra updates nothing.
"""

from __future__ import annotations

import base64
import hashlib
import io
import zipfile
from pathlib import Path

HERE = Path(__file__).parent
ROTATE_SECRET = "rotate_secret"
RUNTIME = "python3.12"
_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip can hold


def source(module: str) -> str:
    """The text of a function module shipped in this package."""
    return (HERE / f"{module}.py").read_text()


def zip_files(files: dict[str, str]) -> bytes:
    """A zip of ``{name: text}``, identical for identical input (sorted, fixed time and mode)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=_EPOCH)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, files[name].encode())
    return buffer.getvalue()


def package(module: str) -> bytes:
    """The deployment zip of one function module."""
    return zip_files({f"{module}.py": source(module)})


def code_hash(data: bytes) -> str:
    """Lambda's CodeSha256: base64 of the zip's sha256 (what ``source_code_hash`` compares)."""
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def handler_name(module: str) -> str:
    return f"{module}.handler"
