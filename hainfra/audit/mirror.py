"""The optional S3 mirror: every index entry and run file, uploaded with Object Lock retention.

``archive_s3_uri s3://BUCKET/PREFIX`` (a bucket created with Object Lock enabled) receives
``PREFIX/index/<seq>.json`` for each entry, ``PREFIX/head.json`` (the signed head: a second anchor
besides the witness) and ``PREFIX/<stack>/<date>/<run_id>/<file>`` for each run, each version locked
for ``archive_lock_days`` in ``archive_lock_mode``. A locked version cannot be deleted or overwritten,
so ``audit verify --remote`` can prove what the local archive held.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from hainfra.audit import chain
from hainfra.errors import AuditError, ConfigError

log = logging.getLogger(__name__)


def split_uri(uri: str) -> tuple[str, str]:
    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    return bucket, prefix.strip("/") + "/" if prefix.strip("/") else ""


def _read_plain(path: Path) -> bytes:
    """A file's bytes, refusing a symlink (O_NOFOLLOW)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError as exc:
        raise AuditError(f"cannot mirror {path}: {exc.strerror or exc} (a symlink is never followed)") from exc
    with os.fdopen(fd, "rb") as fh:
        return fh.read()


class S3Mirror:
    """Uploads to one bucket/prefix with Object Lock; reads it back for ``verify --remote``."""

    def __init__(self, uri: str, mode: str, days: int, client: Any) -> None:
        self.uri, self.mode, self.days, self.client = uri, mode, days, client
        self.bucket, self.prefix = split_uri(uri)
        try:
            lock = client.get_object_lock_configuration(Bucket=self.bucket)["ObjectLockConfiguration"]
        except (BotoCoreError, ClientError) as exc:
            raise ConfigError.one("archive_s3_uri", uri, f"the bucket has no Object Lock or cannot be read ({exc}); "
                                                         "create it with Object Lock enabled") from exc
        if lock.get("ObjectLockEnabled") != "Enabled":
            raise ConfigError.one("archive_s3_uri", uri, "the bucket's Object Lock is not enabled; use a bucket "
                                                         "created with Object Lock enabled")

    def _put(self, key: str, body: bytes) -> None:
        until = datetime.now(timezone.utc) + timedelta(days=self.days)
        try:
            self.client.put_object(Bucket=self.bucket, Key=self.prefix + key, Body=body, ObjectLockMode=self.mode,
                                   ObjectLockRetainUntilDate=until, ChecksumAlgorithm="SHA256")
        except (BotoCoreError, ClientError) as exc:
            raise AuditError(f"could not mirror {key} to {self.uri} ({exc}); the local archive holds it — "
                             "`hainfra audit verify --remote` lists what the mirror lacks") from exc

    def put_entry(self, entry: dict[str, Any]) -> None:
        self._put(f"index/{entry['seq']:010d}.json", json.dumps(entry, sort_keys=True).encode())
        head = {"seq": entry["seq"], "hash": entry["hash"], "sig": entry.get("sig"), "time": entry.get("time")}
        self._put("head.json", json.dumps(head, sort_keys=True).encode())

    def put_run(self, root: Path, folder: Path) -> None:
        """Upload the run's own files (those its run.json lists, and run.json), never through a symlink:
        whatever else appears in the folder could point at a private file, locked in the mirror for years."""
        run_json = _read_plain(folder / "run.json")
        for name in [*sorted(json.loads(run_json).get("files", {})), "run.json"]:
            path = folder / name
            self._put(str(path.relative_to(root)), run_json if name == "run.json" else _read_plain(path))

    def _get(self, key: str) -> bytes | None:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=self.prefix + key)["Body"].read()
        except ClientError as exc:
            if exc.response["Error"]["Code"] in ("NoSuchKey", "404"):
                return None
            raise

    def remote_entries(self) -> dict[int, dict[str, Any]]:
        found: dict[int, dict[str, Any]] = {}
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket,
                                                                          Prefix=self.prefix + "index/"):
            for obj in page.get("Contents", []):
                body = self._get(obj["Key"].removeprefix(self.prefix))
                if body is not None:
                    entry = json.loads(body)
                    found[int(entry["seq"])] = entry
        return found

    def compare(self, root: Path) -> list[str]:
        """Problems found comparing the local archive with the mirror (empty: they agree)."""
        local = chain.read(root).entries
        remote = self.remote_entries()
        problems = []
        for n, entry in enumerate(local, start=1):
            copy = remote.get(n)
            if copy is None:
                problems.append(f"entry {n}: not in the mirror {self.uri} (it was never uploaded)")
            elif copy != entry:
                problems.append(f"entry {n}: differs from the mirror's locked copy {self.uri}index/{n:010d}.json "
                                "(the local entry was rewritten)")
            elif entry.get("kind") == "finished":
                problems += self._compare_run(entry)
        beyond = sorted(k for k in remote if k > len(local))
        if beyond:
            problems.append(f"history loss: the mirror holds entries up to sequence {beyond[-1]} but the local index "
                            f"ends at sequence {len(local)} (entries {len(local) + 1}..{beyond[-1]} are gone locally)")
        return problems

    def _compare_run(self, entry: dict[str, Any]) -> list[str]:
        body = self._get(f"{entry['path']}/run.json")
        if body is None:
            return [f"entry {entry['seq']}: {entry['path']}/run.json is not in the mirror"]
        if hashlib.sha256(body).hexdigest() != entry["run_json_sha256"]:
            return [f"entry {entry['seq']}: the mirror's {entry['path']}/run.json does not match the entry"]
        return []
