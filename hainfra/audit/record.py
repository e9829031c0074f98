"""Recording one stage or command write-ahead: ``started`` before it runs, ``finished`` after.

``with recording(root, record, signer=...) as stage:`` appends the signed ``started`` entry before
the block runs (if that fails, nothing runs); the block sets ``stage.outcome`` and ``stage.files`` (or
``stage.render``, which makes the files from the final record); on exit the files and ``run.json`` are written and the ``finished`` entry appended. Ctrl-C
inside the block is archived as ``interrupted`` and re-raised; any other exception as ``failed``.
A stage killed outright leaves only ``started``, which ``audit verify`` reports as incomplete. If the
archive cannot be written at the end, everything is kept in a spool folder and ArchiveWriteError names it.
"""

from __future__ import annotations

import getpass
import html
import json
import logging
import os
import signal
import socket
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from hainfra.audit import archive, chain
from hainfra.audit.signing import Signer
from hainfra.errors import ArchiveWriteError, AuditError
from hainfra.home import home
from hainfra.redact import Redactor

log = logging.getLogger(__name__)
STARTED_FIELDS = ("run_id", "run_group", "stage", "stack", "actor", "host", "started", "parameters", "policy_override")


def actor() -> str:
    return os.environ.get("HAINFRA_ACTOR") or getpass.getuser()


def new_run_id(stage: str) -> str:
    return f"{datetime.now(timezone.utc).strftime('%Y%m%dT%H%M%SZ')}-{stage}-{uuid.uuid4().hex[:8]}"


def command_recording(config: Any, command: str, root: str | Path, **fields: Any) -> AbstractContextManager[Stage]:
    """Record a state-changing CLI command (``up``, ``destroy``) in the same archive as the notebooks."""
    from hainfra import __version__, audit
    from hainfra.config import SECRET_FIELDS

    record = base_record(new_run_id(command), command, config.stack, engine=config.engine, config=redacted_config(config),
                         hainfra_version=__version__, parameters=None, **fields)
    secrets = [v for k, v in config.as_dict().items() if k in SECRET_FIELDS and v]
    return recording(root, record, signer=audit.signer_for(config), mirror=audit.mirror_for(config), secrets=secrets)


def redacted_config(config: Any) -> dict[str, Any]:
    """The resolved configuration with secret fields masked, for run.json and the HTML header."""
    from hainfra.config import MASK, SECRET_FIELDS

    return {k: MASK if k in SECRET_FIELDS and v else v for k, v in config.as_dict().items()}


def base_record(run_id: str, stage: str, stack: str, **fields: Any) -> dict[str, Any]:
    """Who, where and when: the fields every record starts with."""
    return {"run_id": run_id, "run_group": fields.pop("run_group", None) or run_id, "stage": stage, "stack": stack,
            "actor": actor(), "host": socket.gethostname(), "pid": os.getpid(), "started": chain.utc(), **fields}


@dataclass
class Stage:
    """What the recorded block reports back: outcome, files, and extra record fields."""

    root: Path
    record: dict[str, Any]
    signer: Signer
    mirror: Any = None
    secrets: list[str] = field(default_factory=list)
    outcome: str | None = None
    failing_cell: dict[str, Any] | None = None
    files: dict[str, bytes] = field(default_factory=dict)
    render: Callable[[dict[str, Any]], dict[str, bytes]] | None = None  # files from the final record
    result: dict[str, Any] | None = None  # the archived record, once finished
    mirror_errors: list[str] = field(default_factory=list)


@contextmanager
def recording(root: str | Path, record: dict[str, Any], *, signer: Signer, mirror: Any = None,
              secrets: list[str] | None = None) -> Iterator[Stage]:
    """Record the block write-ahead (see the module docstring)."""
    stage = Stage(Path(root), {**record, "signer": signer.fingerprint}, signer, mirror, list(secrets or []))
    started = {"kind": "started", "pid": record.get("pid"), **{k: record.get(k) for k in STARTED_FIELDS}}
    try:
        with _interrupt_deferred() as interrupted:
            _mirror(stage, "put_entry", chain.append(stage.root, started, signer))
    except OSError as exc:
        raise ArchiveWriteError(f"cannot write the write-ahead entry to {stage.root / chain.INDEX} ({exc}); "
                                f"{record['stage']} was not run — fix the archive folder and run it again") from exc
    try:
        if interrupted:
            raise KeyboardInterrupt  # the Ctrl-C that arrived during the write: recorded as interrupted below
        yield stage
    except KeyboardInterrupt:
        stage.outcome = "interrupted"
        _finish(stage)
        raise
    except BaseException as exc:
        stage.outcome = stage.outcome if stage.outcome not in (None, "success") else "failed"
        stage.failing_cell = stage.failing_cell or {"ename": type(exc).__name__, "evalue": str(exc)}
        _finish(stage)
        raise
    else:
        _finish(stage)
    if stage.mirror_errors:
        raise AuditError(f"run {record['run_id']} is archived locally but not fully mirrored: "
                         f"{'; '.join(stage.mirror_errors)}")


@contextmanager
def _interrupt_deferred() -> Iterator[list[int]]:
    """Hold a Ctrl-C (SIGINT) until the block ends, listing it instead: the write-ahead entry is written whole
    and is always followed by its ``finished`` entry (else a Ctrl-C in that instant left an INCOMPLETE run).
    Only the main thread receives signals; elsewhere this does nothing."""
    caught: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield caught
        return
    previous = signal.signal(signal.SIGINT, lambda signum, _frame: caught.append(signum))
    try:
        yield caught
    finally:  # None: the previous handler was not set from Python (then Python's default is the right one)
        signal.signal(signal.SIGINT, previous if previous is not None else signal.default_int_handler)


def _mirror(stage: Stage, method: str, *args: Any) -> None:
    """Upload to the mirror; a failure is collected (the local archive already holds it) and raised at the end."""
    if stage.mirror is not None:
        try:
            getattr(stage.mirror, method)(*args)
        except AuditError as exc:
            log.error("%s", exc)
            stage.mirror_errors.append(str(exc))


def _finish(stage: Stage) -> None:
    record = {**stage.record, "ended": chain.utc(), "outcome": stage.outcome or "failed",
              "failing_cell": _redacted_cell(stage.failing_cell, stage.secrets)}
    try:
        files = stage.render(record) if stage.render else stage.files
    except Exception as exc:  # noqa: BLE001 - torn notebook JSON (Ctrl-C mid-write): still record the outcome
        log.error("could not render run %s for the archive: %s", record["run_id"], exc)
        record["render_error"] = Redactor(stage.secrets).text(f"{type(exc).__name__}: {exc}")[0]
        files = {}
    try:
        record, run_sha = archive.write_run(stage.root, record, files)
        entry = chain.append(stage.root, {"kind": "finished", "run_id": record["run_id"], "stage": record["stage"],
                                  "stack": record["stack"], "outcome": record["outcome"],
                                  "path": str(archive.run_folder(stage.root, record).relative_to(stage.root)),
                                  "run_json_sha256": run_sha}, stage.signer)
    except (OSError, AuditError) as exc:
        spool = spool_run(record, files, exc)
        raise ArchiveWriteError(f"could not archive run {record['run_id']} in {stage.root} ({exc}); the executed "
                                f"notebook and its record are kept in {spool}", spool=str(spool)) from exc
    stage.result = record
    _mirror(stage, "put_entry", entry)
    _mirror(stage, "put_run", stage.root, archive.run_folder(stage.root, record))


def _redacted_cell(cell: dict[str, Any] | None, secrets: list[str]) -> dict[str, Any] | None:
    if not cell:
        return cell
    return {**cell, "evalue": archive.redact_text(str(cell.get("evalue", "")), secrets)[0]}


def spool_run(record: dict[str, Any], files: dict[str, bytes], error: BaseException) -> Path:
    """Keep an unarchivable run: ``$HAINFRA_HOME/spool/<run_id>/``, else a new private temp folder.

    The temp folder is made by ``mkdtemp`` (unpredictable, 0700) and files are created exclusively:
    in a shared ``/tmp`` another user could have prepared a predictable path with links to our files.
    """
    run_id = record["run_id"]
    payload = {**files, "run.json": json.dumps(record, indent=2, sort_keys=True, default=str).encode(),
               "error.txt": f"{type(error).__name__}: {error}\n".encode()}
    for make in (lambda: _new_folder(home() / "spool", run_id),
                 lambda: Path(tempfile.mkdtemp(prefix=f"hainfra-spool-{run_id}-"))):
        try:
            folder = make()
            for name, data in payload.items():
                with open(folder / name, "xb") as fh:
                    fh.write(data)
            log.error("archive write failed; run %s kept in %s", run_id, folder)
            return folder
        except OSError as exc:
            log.error("cannot spool run %s: %s", run_id, exc)
    raise ArchiveWriteError(f"could not archive run {run_id} ({error}) and no spool folder was writable")


def _new_folder(base: Path, name: str) -> Path:
    base.mkdir(parents=True, exist_ok=True, mode=0o700)
    (base / name).mkdir(mode=0o700)
    return base / name


# --- the readable header of an archived HTML rendering ---------------------------------------------------
HEADER_STYLE = ("font-family:sans-serif;border:2px solid #333;padding:12px;margin:12px;max-width:1240px;"
                "overflow-wrap:anywhere")
# Archived tables are complete (never truncated), so they wrap to fit a 1280 px page instead.
PAGE_STYLE = ("body{max-width:1280px} table{max-width:1240px;table-layout:auto} "
              "td,th{white-space:normal!important;overflow-wrap:anywhere;word-break:break-word}")


def header_html(record: dict[str, Any]) -> str:
    """A block of the record's metadata that opens the archived HTML (escaped; secrets already redacted)."""
    git = record.get("git") or {}
    counts = record.get("verify_counts")
    rows = [("run", record.get("run_id")), ("stage", record.get("stage")), ("stack", record.get("stack")),
            ("outcome", record.get("outcome")), ("actor", record.get("actor")), ("host", record.get("host")),
            ("started", record.get("started")), ("finished", record.get("ended")),
            ("git commit", f"{git.get('commit')}{' (dirty)' if git.get('dirty') else ''}"),
            ("hainfra", record.get("hainfra_version")), ("engine", record.get("engine")),
            ("policy override", record.get("policy_override") or "—"),
            ("verify", ", ".join(f"{k} {v}" for k, v in counts.items()) if counts else "—"),
            ("signing key", record.get("signer"))]
    cells = "".join(f"<tr><th style='text-align:left;padding-right:1em'>{html.escape(k)}</th>"
                    f"<td>{html.escape(str(v))}</td></tr>" for k, v in rows)
    config = html.escape(json.dumps(record.get("config") or {}, indent=1, sort_keys=True))
    return (f"<style>{PAGE_STYLE}</style><header id='hainfra-record' style='{HEADER_STYLE}'><h2>hainfra run record</h2><table>{cells}</table>"
            f"<details><summary>resolved configuration (secrets redacted)</summary><pre style='white-space:pre-wrap'>"
            f"{config}</pre></details></header>")


def with_header(page: str, record: dict[str, Any]) -> str:
    """``page`` with the header inserted right after ``<body…>`` (or in front, if there is none)."""
    at = page.find("<body")
    end = page.find(">", at) + 1 if at >= 0 else 0
    return page[:end] + header_html(record) + page[end:]
