"""Adversarial review of the audit archive: an attacker who can write the archive folder (and its
parent) but neither the signing key nor the witness under the config folder."""

from __future__ import annotations

import json
import os
import shutil
import threading
from pathlib import Path

import pytest

from hainfra import audit
from hainfra.audit import archive, chain, signing, witness
from hainfra.errors import AuditError
from hainfra.home import config_home
from tests.unit.test_audit import lines, problems, rechain, record_runs, write_lines


def test_archive_swapped_for_a_symlink_to_an_older_copy_is_history_loss(tmp_path: Path) -> None:
    """Every entry of the older copy is validly signed; only the witness can tell the last run is gone."""
    root = tmp_path / "archive"
    record_runs(root, 2)
    backup = tmp_path / "backup-of-archive"
    shutil.copytree(root, backup)
    record_runs(root, 1, prefix="the-run-to-hide")
    shutil.rmtree(root)
    root.symlink_to(backup, target_is_directory=True)
    report = problems(root)
    assert "history loss: the witness anchors sequence 6" in report and "the index ends at sequence 4" in report


def test_a_non_object_signature_is_a_finding_not_a_crash(tmp_path: Path) -> None:
    root = tmp_path / "archive"
    record_runs(root, 1)
    entries = lines(root)
    entries[0]["sig"] = "forged"
    entries[1]["run_id"] = ["not", "hashable"]
    write_lines(root, rechain(entries))
    report = problems(root)
    assert "entry 1 (started" in report and "not signed" in report
    assert "entry 2 (finished" in report and "signature does not verify" in report


def _forge_finished(root: Path, files: dict[str, str], run_json: object | None = None) -> None:
    """Append a forged (unsigned-valid) finished run whose run.json lists ``files``."""
    entries = lines(root)
    folder = root / "st" / "forged"
    folder.mkdir(parents=True)
    data = json.dumps(run_json if run_json is not None else {"files": files}).encode()
    (folder / "run.json").write_bytes(data)
    entries.append({**entries[-1], "run_id": "forged", "path": "st/forged",
                    "run_json_sha256": archive.sha256_bytes(data)})
    write_lines(root, rechain(entries, len(entries) - 1))


def test_files_outside_the_run_folder_are_never_read(tmp_path: Path) -> None:
    """A forged run.json naming a path outside its folder (or a FIFO) must not make verify read it."""
    root = tmp_path / "archive"
    record_runs(root, 1)
    outside = tmp_path / "outside.txt"
    outside.write_text("private")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    _forge_finished(root, {"../../../outside.txt": archive.sha256_bytes(b"private"), str(fifo): "0" * 64,
                           "sub/outside.txt": archive.sha256_bytes(b"private")})
    (root / "st" / "forged" / "sub").symlink_to(tmp_path)  # a sub-folder that leads out of the run folder
    result: dict[str, str] = {}
    worker = threading.Thread(target=lambda: result.update(report=problems(root)), daemon=True)
    worker.start()
    worker.join(timeout=20)
    if worker.is_alive():  # unblock the reader so the test process can end, then fail
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        os.close(fd)
        worker.join(timeout=5)
        pytest.fail("audit verify blocked reading a FIFO named by a forged run.json")
    report = result["report"]
    assert "entry 3 (finished forged)" in report and "outside its run folder" in report
    assert "outside.txt" in report and "fifo" in report and "sub/outside.txt" in report
    assert audit.check(root).files == 2  # the two genuine files only


def test_a_run_json_that_is_not_an_object_is_a_finding(tmp_path: Path) -> None:
    root = tmp_path / "archive"
    record_runs(root, 1)
    _forge_finished(root, {}, run_json=["not", "an", "object"])
    report = problems(root)
    assert "entry 3 (finished forged)" in report and "run.json" in report and "not a run record" in report


def test_a_run_folder_symlinked_outside_the_archive_is_named(tmp_path: Path) -> None:
    """A run folder that points elsewhere can change without touching the archive: verify names it."""
    root = tmp_path / "archive"
    record_runs(root, 1)
    folder = root / lines(root)[1]["path"]
    elsewhere = tmp_path / "elsewhere"
    shutil.move(folder, elsewhere)
    folder.symlink_to(elsewhere, target_is_directory=True)
    assert "outside the archive" in problems(root)


def test_signature_checks_only_trust_pinned_keys_not_the_archive(tmp_path: Path) -> None:
    """A .pem planted in the archive (under any name) is never consulted."""
    root = tmp_path / "archive"
    record_runs(root, 1)
    pinned = next(signing.keys_dir().glob("*.pem"))
    (root / "audit-keys").mkdir()
    shutil.copy(pinned, root / "audit-keys" / pinned.name)
    pinned.unlink()
    signing._PINNED.clear()
    assert "not pinned" in problems(root)
    assert chain.INDEX == "index.jsonl"


def test_a_genuine_file_replaced_by_a_fifo_is_named_not_read(tmp_path: Path) -> None:
    root = tmp_path / "archive"
    record_runs(root, 1)
    html = root / lines(root)[1]["path"] / "02-deploy.html"
    html.unlink()
    os.mkfifo(html)
    result: dict[str, str] = {}
    worker = threading.Thread(target=lambda: result.update(report=problems(root)), daemon=True)
    worker.start()
    worker.join(timeout=20)
    if worker.is_alive():
        os.close(os.open(html, os.O_WRONLY | os.O_NONBLOCK))
        worker.join(timeout=5)
        pytest.fail("audit verify blocked reading a FIFO in a run folder")
    assert f"{html} is not a regular file" in result["report"]


def test_a_signing_key_others_can_read_is_refused_like_ssh_does(tmp_path: Path) -> None:
    """A key copied without its mode (cp, an unpacked backup) lets every local user sign as the archive."""
    signing.get_signer()
    key = config_home() / signing.LOCAL_KEY
    key.chmod(0o644)
    with pytest.raises(AuditError, match=f"{key}.*readable by others.*chmod 600"):
        signing.get_signer()
    key.chmod(0o600)
    assert signing.get_signer().fingerprint


def test_a_pin_others_can_write_is_not_trusted(tmp_path: Path) -> None:
    """A pinned key in a folder or file another user can write could be theirs."""
    root = tmp_path / "archive"
    record_runs(root, 1)
    pin = next(signing.keys_dir().glob("*.pem"))
    pin.chmod(0o666)
    signing._PINNED.clear()
    assert "not pinned" in problems(root)
    pin.chmod(0o644)
    signing._PINNED.clear()
    assert audit.verify(root).startswith("archive verified")


def test_verify_while_a_stage_appends_is_not_history_loss(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A writer appending between verify's reads of the witness and of the index is neither a loss
    nor entries copied in: verify reads both under the index's shared lock."""
    root = tmp_path / "archive"
    record_runs(root, 1)
    real_read, writer = witness.read_all, threading.Thread(target=lambda: record_runs(root, 1, prefix="concurrent"))

    def read_then_another_writer_appends(path: Path) -> list:
        anchor = real_read(path)
        if not writer.is_alive() and writer.ident is None:
            writer.start()
            writer.join(timeout=3)  # with the lock held it waits for verify; without, it appends now
        return anchor

    monkeypatch.setattr(witness, "read_all", read_then_another_writer_appends)
    report = audit.check(root)
    writer.join(timeout=30)
    assert report.ok, str(report)
    assert audit.check(root).ok and len(lines(root)) == 4


def test_an_index_symlinked_to_a_users_file_is_never_appended_to_nor_repaired(tmp_path: Path) -> None:
    """`verify` calls the victim's last line torn and says to run repair: repair would move that line
    (a secret key) into the archive, where the attacker reads it, and truncate the victim's file."""
    victim = tmp_path / "credentials"
    content = b"[default]\naws_access_key_id = AKIAEXAMPLE\naws_secret_access_key = wJalrXUtnFEMIK7MDENG"
    victim.write_bytes(content)
    root = tmp_path / "archive"
    root.mkdir()
    (root / chain.INDEX).symlink_to(victim)
    with pytest.raises(AuditError, match="is a symlink"):
        audit.repair(root)
    with pytest.raises(AuditError, match="is a symlink"):
        record_runs(root, 1)
    assert "is a symlink" in problems(root)
    assert victim.read_bytes() == content
    assert not any(b"wJalrXUtnFEMIK7MDENG" in p.read_bytes() for p in root.rglob("*") if p.is_file() and
                   not p.is_symlink())


class FakeLockedBucket:
    """Just enough of an S3 client for S3Mirror: records what would be uploaded."""

    def __init__(self) -> None:
        self.keys: dict[str, bytes] = {}

    def get_object_lock_configuration(self, Bucket: str) -> dict:  # noqa: N803 - boto3's names
        return {"ObjectLockConfiguration": {"ObjectLockEnabled": "Enabled"}}

    def put_object(self, Key: str, Body: bytes, **kwargs: object) -> None:  # noqa: N803
        self.keys[Key] = Body


def test_a_run_folder_planted_as_a_symlink_is_never_written_through(tmp_path: Path) -> None:
    """The run folder's path is known from the started entry; a link there must not receive the run,
    and the mirror must not upload (and lock for years) the files of the folder it points to."""
    from hainfra.audit.mirror import S3Mirror
    from hainfra.audit.record import base_record, recording
    from hainfra.errors import ArchiveWriteError

    private = tmp_path / "dot-aws"
    private.mkdir()
    (private / "credentials").write_text("aws_secret_access_key = wJalrXUtnFEMIK7MDENG")
    root = tmp_path / "archive"
    bucket = FakeLockedBucket()
    mirror = S3Mirror("s3://b/audit", "GOVERNANCE", 1, bucket)
    record = base_record("planted", "deploy", "st")
    with pytest.raises(ArchiveWriteError), recording(root, record, signer=signing.get_signer(),
                                                     mirror=mirror) as stage:
        folder = archive.run_folder(root, record)
        folder.parent.mkdir(parents=True)
        folder.symlink_to(private, target_is_directory=True)
        stage.outcome, stage.files = "success", {"02-deploy.ipynb": b"{}"}
    assert sorted(p.name for p in private.iterdir()) == ["credentials"]
    assert not any(b"wJalr" in body for body in bucket.keys.values())


def test_the_mirror_uploads_only_the_runs_own_files(tmp_path: Path) -> None:
    """A symlink dropped into a run folder before the upload is not followed into the mirror."""
    from hainfra.audit.mirror import S3Mirror

    private = tmp_path / "credentials"
    private.write_text("aws_secret_access_key = wJalrXUtnFEMIK7MDENG")
    root = tmp_path / "archive"
    record_runs(root, 1)
    folder = root / lines(root)[1]["path"]
    (folder / "extra.txt").symlink_to(private)
    bucket = FakeLockedBucket()
    S3Mirror("s3://b/audit", "GOVERNANCE", 1, bucket).put_run(root, folder)
    assert sorted(k.rsplit("/", 1)[1] for k in bucket.keys) == ["02-deploy.html", "02-deploy.ipynb", "run.json"]


def test_the_temp_spool_is_not_a_predictable_folder_another_user_can_prepare(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """When the home cannot hold the spool, the run goes to the system temp folder: a link planted
    there at the predictable path must not make hainfra overwrite a file of the user's."""
    import tempfile

    from hainfra.audit.record import base_record, recording
    from hainfra.errors import ArchiveWriteError

    shared_tmp = tmp_path / "tmp"
    shared_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(shared_tmp))
    home_file = tmp_path / "home-is-a-file"
    home_file.write_text("")
    monkeypatch.setenv("HAINFRA_HOME", str(home_file))
    victim = tmp_path / "bashrc"
    victim.write_text("export PATH=/usr/bin\n")
    planted = shared_tmp / f"hainfra-spool-{os.getuid()}" / "planted"
    planted.mkdir(parents=True)
    (planted / "run.json").symlink_to(victim)
    root = tmp_path / "archive"
    record_runs(root, 1)
    monkeypatch.setattr(archive, "write_new", lambda path, data: (_ for _ in ()).throw(OSError(28, "No space")))
    with pytest.raises(ArchiveWriteError) as info:
        with recording(root, base_record("planted", "deploy", "st"), signer=signing.get_signer()) as stage:
            stage.outcome, stage.files = "success", {"02-deploy.ipynb": b"the executed notebook"}
    assert victim.read_text() == "export PATH=/usr/bin\n"
    spool = Path(info.value.spool)
    assert (spool / "02-deploy.ipynb").read_bytes() == b"the executed notebook"
    assert oct(spool.stat().st_mode & 0o777) == "0o700"


def test_a_notebook_that_cannot_be_rendered_still_finishes_its_record(tmp_path: Path) -> None:
    """Ctrl-C while papermill writes leaves torn notebook JSON: rendering fails, yet the stage must be
    recorded as interrupted (not left incomplete forever) and Ctrl-C must still reach the caller."""
    from hainfra.audit.record import base_record, recording

    def torn_notebook(record: dict) -> dict:
        raise ValueError("Notebook does not appear to be JSON: '{\"cells\": [{\"cell_t'")

    root = tmp_path / "archive"
    with pytest.raises(KeyboardInterrupt):
        with recording(root, base_record("torn", "deploy", "st"), signer=signing.get_signer()) as stage:
            stage.render = torn_notebook
            raise KeyboardInterrupt
    finished = lines(root)[-1]
    assert finished["kind"] == "finished" and finished["outcome"] == "interrupted"
    run = audit.show("torn", root)
    assert "does not appear to be JSON" in run["render_error"]
    assert audit.verify(root).startswith("archive verified: 1 runs")


def test_signed_entries_grafted_from_a_copy_of_the_archive_are_not_anchored(tmp_path: Path) -> None:
    """A copy (`cp -r archive try`) shares the head, so its later entries chain and verify; grafted
    onto the real archive they would claim runs that never happened there."""
    root = tmp_path / "archive"
    record_runs(root, 1)
    copy = tmp_path / "try-things"
    shutil.copytree(root, copy)
    record_runs(copy, 1, prefix="destroy-in-the-copy")
    grafted = lines(copy)
    write_lines(root, grafted)
    shutil.copytree(copy / grafted[-1]["path"], root / grafted[-1]["path"])
    report = problems(root)
    assert "entries 3..4 are not anchored" in report and "sequence 2" in report


def test_every_spelling_of_a_symlinked_archive_shares_an_up_to_date_witness(tmp_path: Path) -> None:
    """Writing through a symlinked path and through the real one keeps one current witness (no false alarm)."""
    real = tmp_path / "data" / "archive"
    record_runs(real, 1)
    (tmp_path / "link").symlink_to(tmp_path / "data", target_is_directory=True)
    through_link = tmp_path / "link" / "archive"
    record_runs(through_link, 2, prefix="via-link")
    record_runs(real, 1, prefix="via-real")
    for spelling in (real, through_link):
        assert audit.verify(spelling).startswith("archive verified: 4 runs"), spelling


def test_an_unwritable_witness_refuses_before_the_entry_is_written(tmp_path: Path) -> None:
    """Otherwise each attempt leaves an unanchored `started` line: incomplete runs that never ran,
    later named as entries copied in."""
    from hainfra.audit.record import base_record, recording
    from hainfra.errors import ArchiveWriteError

    root = tmp_path / "archive"
    record_runs(root, 1)
    before = (root / chain.INDEX).read_bytes()
    for path in witness.paths_for(root):
        path.unlink()
    shutil.rmtree(config_home() / "witness")
    (config_home() / "witness").write_text("not a folder")
    ran = []
    for _ in range(2):
        with pytest.raises(ArchiveWriteError, match="was not run"):
            with recording(root, base_record("blocked", "deploy", "st"), signer=signing.get_signer()):
                ran.append(1)
    assert not ran and (root / chain.INDEX).read_bytes() == before
