"""The audit archive without notebooks: write-ahead entries, signatures, the witness, tampering, repair, spool."""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from hainfra import audit, cli
from hainfra.audit import archive, chain, signing, witness
from hainfra.audit.record import base_record, recording
from hainfra.errors import ArchiveWriteError, AuditError
from hainfra.home import config_home


def record_runs(root: Path, n: int, stack: str = "st", outcome: str = "success", prefix: str = "run") -> list[dict]:
    """``n`` archived runs, each a started + finished pair with two files."""
    results = []
    for i in range(n):
        with recording(root, base_record(f"{prefix}-{i}-{stack}-{i}", "deploy", stack),
                       signer=signing.get_signer()) as stage:
            stage.outcome = outcome
            stage.files = {"02-deploy.ipynb": f"notebook {i}".encode(), "02-deploy.html": f"<html>{i}</html>".encode()}
        results.append(stage.result)
    return results


def lines(root: Path) -> list[dict]:
    return [json.loads(line) for line in (root / "index.jsonl").read_text().splitlines()]


def write_lines(root: Path, entries: list[dict]) -> None:
    (root / "index.jsonl").write_text("".join(json.dumps(e, sort_keys=True) + "\n" for e in entries))


def rechain(entries: list[dict], start: int = 0) -> list[dict]:
    """What a careful forger does: renumber, re-link and re-hash every entry from ``start`` on."""
    for n in range(start, len(entries)):
        entries[n]["seq"] = n + 1
        entries[n]["prev"] = entries[n - 1]["hash"] if n else chain.GENESIS
        entries[n]["hash"] = chain.entry_hash(entries[n])
    return entries


def problems(root: Path) -> str:
    with pytest.raises(AuditError) as info:
        audit.verify(root)
    return str(info.value)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "archive"
    record_runs(root, 3)
    return root


# --- write-ahead ------------------------------------------------------------------------------------------
def test_each_run_is_a_signed_started_and_finished_pair_anchored_in_the_witness(root: Path) -> None:
    entries = lines(root)
    assert [e["kind"] for e in entries] == ["started", "finished"] * 3
    assert entries[0]["parameters"] is None and entries[0]["actor"] and entries[0]["stage"] == "deploy"
    assert audit.verify(root).startswith("archive verified: 3 runs, 6 files, 6 entries, hash chain intact, every "
                                         "entry signed")
    assert witness.read(root)["seq"] == 6 and witness.read(root)["hash"] == entries[-1]["hash"]
    # The signing key lives in the config folder, and nothing of it is in the archive.
    key = config_home() / signing.LOCAL_KEY
    assert key.is_file() and oct(key.stat().st_mode & 0o777) == "0o600"
    private = key.read_bytes()
    assert not any(private in p.read_bytes() for p in root.rglob("*") if p.is_file())
    run = json.loads(next(root.rglob("run.json")).read_text())
    assert run["signer"] == signing.LocalSigner.load_or_create().fingerprint == entries[0]["key"]


def test_a_stage_killed_mid_way_is_reported_incomplete(tmp_path: Path) -> None:
    root = tmp_path / "archive"
    record_runs(root, 1)
    script = textwrap.dedent(f"""
        import time
        from hainfra.audit import signing
        from hainfra.audit.record import base_record, recording
        with recording({str(root)!r}, base_record("doomed-run", "deploy", "st"), signer=signing.get_signer()):
            print("running", flush=True)
            time.sleep(60)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])})
    try:
        assert proc.stdout.readline().strip() == "running"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    report = problems(root)
    assert report.startswith("archive INCOMPLETE")
    assert "incomplete: entry 3: deploy run doomed-run of stack st started" in report and "never finished" in report
    assert cli.main(["audit", "verify", "--archive", str(root)]) == 1
    record_runs(root, 1, prefix="later")  # later runs are archived; the killed one stays reported
    assert "doomed-run" in problems(root)
    assert list(audit.runs(root)["outcome"]) == ["success", "incomplete", "success"]


def test_ctrl_c_is_archived_as_interrupted_and_re_raised(tmp_path: Path) -> None:
    root = tmp_path / "archive"
    with pytest.raises(KeyboardInterrupt):
        with recording(root, base_record("ctrl-c", "deploy", "st"), signer=signing.get_signer()) as stage:
            stage.render = lambda record: {"02-deploy.ipynb": f"partial, {record['outcome']}".encode()}
            raise KeyboardInterrupt
    assert audit.show("ctrl-c", root)["outcome"] == "interrupted"
    assert (archive.run_folder(root, audit.show("ctrl-c", root)) / "02-deploy.ipynb").read_text() == "partial, interrupted"
    assert "1 runs" in audit.verify(root)


def test_ctrl_c_during_the_write_ahead_entry_is_interrupted_not_incomplete(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """A Ctrl-C landing while the ``started`` entry is written waits for the write, then is recorded as
    ``interrupted`` with its ``finished`` entry (before: a started entry with no end, reported INCOMPLETE)."""
    root = tmp_path / "archive"
    append, sent = chain.append, []

    def append_then_ctrl_c(*args: object, **kwargs: object) -> object:
        written = append(*args, **kwargs)
        if not sent:  # the started entry only
            sent.append(True)
            os.kill(os.getpid(), signal.SIGINT)  # delivered before append returns
        return written

    monkeypatch.setattr(chain, "append", append_then_ctrl_c)
    ran: list[bool] = []
    with pytest.raises(KeyboardInterrupt):
        with recording(root, base_record("ctrl-c-early", "deploy", "st"), signer=signing.get_signer()):
            ran.append(True)
    assert ran == [] and sent == [True]  # the stage's body never ran
    assert audit.show("ctrl-c-early", root)["outcome"] == "interrupted"
    assert "1 runs" in audit.verify(root) and "INCOMPLETE" not in audit.verify(root)


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS])
def test_a_full_or_read_only_disk_spools_the_run_and_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           hainfra_home: Path, code: int) -> None:
    root = tmp_path / "archive"
    record_runs(root, 1)

    def fail(path: Path, data: bytes) -> str:
        raise OSError(code, os.strerror(code), str(path))

    monkeypatch.setattr(archive, "write_new", fail)  # the disk fills (or goes read-only) while the stage runs
    with pytest.raises(ArchiveWriteError) as info:
        with recording(root, base_record("spooled", "deploy", "st"), signer=signing.get_signer()) as stage:
            stage.outcome = "success"
            stage.files = {"02-deploy.ipynb": b"the executed notebook"}
    spool = hainfra_home / "spool" / "spooled"
    assert str(spool) in str(info.value) and os.strerror(code) in str(info.value)
    assert (spool / "02-deploy.ipynb").read_bytes() == b"the executed notebook"
    assert json.loads((spool / "run.json").read_text())["outcome"] == "success"
    assert "spooled" in problems(root)  # the stage stays visible as incomplete


def test_an_unwritable_archive_runs_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ran = []

    def fail(*args: object, **kwargs: object) -> None:
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(chain, "append", fail)
    with pytest.raises(ArchiveWriteError, match="Read-only file system.*deploy was not run"):
        with recording(tmp_path / "a", base_record("never", "deploy", "st"), signer=signing.get_signer()):
            ran.append(True)
    assert not ran


# --- a torn last line -----------------------------------------------------------------------------------
def test_torn_line_is_reported_repaired_aside_and_archiving_continues(root: Path,
                                                                     capsys: pytest.CaptureFixture) -> None:
    torn = b'{"kind": "started", "run_id": "half-writ'
    with open(root / "index.jsonl", "ab") as fh:
        fh.write(torn)
    assert "line 7 of" in problems(root) and "is torn" in problems(root)
    with pytest.raises(AuditError, match="torn.*hainfra audit repair"):
        record_runs(root, 1, prefix="blocked")
    assert cli.main(["audit", "repair", "--archive", str(root)]) == 0
    assert "moved the torn line 7" in capsys.readouterr().out
    aside = list(root.glob("index.torn-*.jsonl"))
    assert len(aside) == 1 and aside[0].read_bytes() == torn  # kept, never deleted
    record_runs(root, 1, prefix="later")
    report = audit.verify(root)
    assert "4 runs" in report and f"moved aside to {aside[0].name}" in report
    assert cli.main(["audit", "repair", "--archive", str(root)]) == 0
    assert "nothing to repair" in capsys.readouterr().out


# --- tampering: each is named, with where --------------------------------------------------------------
def test_rewrite_with_recomputed_hashes_fails_the_signature(root: Path) -> None:
    entries = lines(root)
    entries[3]["outcome"] = "failed"
    write_lines(root, rechain(entries, 3))
    report = problems(root)
    assert "entry 4 (finished run-1-st-1): signature does not verify" in report
    assert "entry 5" in report and "entry 3 " not in report


def test_rewritten_run_json_with_recomputed_index_fails_the_signature(root: Path) -> None:
    entries = lines(root)
    folder = root / entries[1]["path"]
    run_json = folder / "run.json"
    os.chmod(run_json, 0o644)
    run_json.write_text(run_json.read_text().replace('"success"', '"failed"'))
    entries[1]["run_json_sha256"] = archive.sha256_file(run_json)
    write_lines(root, rechain(entries, 1))
    assert "entry 2 (finished run-0-st-0): signature does not verify" in problems(root)


def test_a_forger_signing_with_their_own_key_is_not_trusted(root: Path) -> None:
    entries = lines(root)
    forger = signing.LocalSigner(ed25519.Ed25519PrivateKey.generate(), "")
    forger.fingerprint = signing.fingerprint(forger.key.public_key())
    forged = {**entries[-1], "run_id": "forged", "key": forger.fingerprint}
    entries.append(forged)
    rechain(entries, len(entries) - 1)
    forged["sig"] = signing.signature(forger, forged["hash"].encode())
    write_lines(root, entries)
    report = problems(root)
    assert "entry 7 (finished forged): signed by key" in report and "not pinned" in report


def test_dropped_tail_is_history_loss_naming_the_anchored_sequence(root: Path) -> None:
    entries = lines(root)
    shutil.rmtree(root / entries[-1]["path"])
    write_lines(root, entries[:-2])
    report = problems(root)
    assert "history loss: the witness anchors sequence 6" in report and "the index ends at sequence 4" in report


def test_dropped_middle_run_is_named(root: Path) -> None:
    entries = lines(root)
    kept = entries[:2] + entries[4:]
    write_lines(root, kept)
    assert "entry 3 (started run-2-st-2): chain broken" in problems(root)
    write_lines(root, rechain(kept, 2))  # re-chained: the signatures give it away, and the anchor moved
    report = problems(root)
    assert "entry 3 (started run-2-st-2): signature does not verify" in report
    assert "history loss: the witness anchors sequence 6" in report


def test_reordered_runs_are_named(root: Path) -> None:
    entries = lines(root)
    write_lines(root, entries[2:4] + entries[:2] + entries[4:])
    report = problems(root)
    assert "entry 1 (started run-1-st-1): chain broken" in report and "says sequence 3 at line 1" in report


def test_emptied_index_is_history_loss(root: Path) -> None:
    (root / "index.jsonl").write_text("")
    report = problems(root)
    assert "history loss: the witness anchors sequence 6" in report and "the index is empty" in report


def test_wiped_or_recreated_archive_is_history_loss_even_after_new_runs(root: Path) -> None:
    shutil.rmtree(root)
    assert "anchors sequence 6" in problems(root)
    record_runs(root, 1)  # a new chain starts at GENESIS: the loss was recorded before the head moved
    report = problems(root)
    assert "the witness anchors sequence 6" in report and "detected" in report
    assert "1 finished runs" in report


def test_edited_witness_is_detected(root: Path) -> None:
    path = witness.path_for(root)
    data = json.loads(path.read_text())
    data["hash"] = lines(root)[2]["hash"]
    data["seq"] = 3
    path.write_text(json.dumps(data))
    assert "witness" in problems(root) and "was edited" in problems(root)


def test_verify_with_keys_from_elsewhere(root: Path, tmp_path: Path) -> None:
    """An auditor on another machine pins the archive owner's public key by copying its .pem."""
    elsewhere = tmp_path / "auditor-keys"
    assert "not pinned" in str(audit.check(root, keys=elsewhere))
    shutil.copytree(signing.keys_dir(), elsewhere)
    assert audit.check(root, keys=elsewhere).ok


# --- CLI commands are recorded too -------------------------------------------------------------------------
class FakeEngine:
    name = "sandbox"

    def __init__(self, fail: Exception | None = None) -> None:
        self.fail = fail

    def up(self, policy_override: str | None = None) -> object:
        if self.fail:
            raise self.fail
        return type("Result", (), {"describe": lambda self: "3 created", "outputs": {"vpc_id": "vpc-1"}})()


def test_cli_up_is_recorded_with_its_policy_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture) -> None:
    import hainfra.policy
    from hainfra.errors import PolicyViolation

    root = tmp_path / "archive"
    monkeypatch.setattr(hainfra.policy, "gated_up", lambda engine, override: engine.up(override))
    monkeypatch.setattr(cli, "_engine", lambda args, config=None: FakeEngine())
    argv = ["up", "--stack", "cli", "--archive", str(root), "-p", "pulumi_config_passphrase", "pass-CANARY-123"]
    assert cli.main([*argv, "--skip-policy", "change CHG-7"]) == 0
    assert "signed by key" in capsys.readouterr().out
    monkeypatch.setattr(cli, "_engine", lambda args, config=None: FakeEngine(PolicyViolation("iam.star on role x")))
    assert cli.main([a for a in argv if a not in ("--archive", str(root))]) == 1  # $HAINFRA_ARCHIVE: the same archive
    runs = audit.runs(root)
    assert list(zip(runs["stage"], runs["outcome"], runs["policy_override"], strict=True)) == [
        ("up", "success", "change CHG-7"), ("up", "failed", "")]
    failed = audit.show(runs["run_id"][1], root)
    assert failed["failing_cell"] == {"ename": "PolicyViolation", "evalue": "iam.star on role x"}
    assert failed["config"]["pulumi_config_passphrase"] == "********"
    assert "pass-CANARY-123" not in "".join(p.read_text() for p in root.rglob("*") if p.is_file())
    assert "2 runs" in audit.verify(root)


def test_cli_up_on_a_full_disk_spools_and_exits_non_zero(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         hainfra_home: Path, capsys: pytest.CaptureFixture) -> None:
    import hainfra.policy

    monkeypatch.setattr(hainfra.policy, "gated_up", lambda engine, override: engine.up(override))
    monkeypatch.setattr(cli, "_engine", lambda args, config=None: FakeEngine())

    def full(path: Path, data: bytes) -> str:
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(archive, "write_new", full)
    assert cli.main(["up", "--stack", "full", "--archive", str(tmp_path / "archive")]) == 1
    err = capsys.readouterr().err
    spool = next((hainfra_home / "spool").iterdir())
    assert "No space left on device" in err and str(spool) in err
    assert (spool / "up.txt").read_text().startswith("3 created")


def test_a_non_json_parameter_is_recorded_as_text(tmp_path: Path) -> None:
    import datetime

    root = tmp_path / "archive"
    record = base_record("dated", "deploy", "st", parameters={"window": datetime.date(2026, 1, 2)})
    with recording(root, record, signer=signing.get_signer()) as stage:
        stage.outcome = "success"
    assert lines(root)[0]["parameters"] == {"window": "2026-01-02"}
    assert audit.show("dated", root)["parameters"] == {"window": "2026-01-02"}
    assert "1 runs" in audit.verify(root)


def test_two_writers_at_once_keep_one_intact_chain(tmp_path: Path) -> None:
    root = tmp_path / "archive"
    record_runs(root, 1)  # the key exists before the writers race
    script = textwrap.dedent(f"""
        import sys
        from hainfra.audit import signing
        from hainfra.audit.record import base_record, recording
        for i in range(15):
            with recording({str(root)!r}, base_record(f"{{sys.argv[1]}}-{{i}}", "deploy", sys.argv[1]),
                           signer=signing.get_signer()) as stage:
                stage.outcome = "success"
    """)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    procs = [subprocess.Popen([sys.executable, "-c", script, name], env=env) for name in ("a", "b")]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    assert "31 runs" in audit.verify(root) and "62 entries" in audit.verify(root)


def test_verify_refuses_a_folder_that_never_held_an_archive(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert cli.main(["audit", "verify", "--archive", str(tmp_path / "typo")]) == 1
    assert "no archive index" in capsys.readouterr().err
