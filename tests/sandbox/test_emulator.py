"""The emulator survives what operators do to it: idle clients, kills, busy ports, a hasty --forget."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil
import pytest

from hainfra.cli import main
from hainfra.config import StackConfig
from hainfra.engines import get_engine
from hainfra.engines.sandbox import emulator as emulator_mod
from hainfra.engines.sandbox.emulator import Emulator
from hainfra.engines.sandbox.handlers import Ctx
from hainfra.engines.sandbox.state import State
from hainfra.errors import EmulatorError

pytestmark = pytest.mark.slow
URN = "urn:pulumi:x::y::aws:ec2/vpc:Vpc::v"


@contextmanager
def silent_listener() -> Iterator[str]:
    """Something that accepts TCP connections and never answers (a stuck or overloaded emulator)."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        yield f"https://127.0.0.1:{server.getsockname()[1]}"


def _gone_within(pids: list[int], seconds: float) -> list[int]:
    deadline = time.monotonic() + seconds
    alive = pids
    while alive and time.monotonic() < deadline:
        alive = [p for p in alive if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
        time.sleep(0.1)
    return alive


# --- item 3: concurrency -------------------------------------------------------------------------------
def test_an_idle_client_does_not_block_other_requests(emulator: Emulator) -> None:
    idle = [socket.create_connection(("127.0.0.1", emulator.port)) for _ in range(3)]  # never sends a ClientHello
    try:
        # A server that handshakes in its accept loop never answers while the idle clients stay silent; the
        # bound is only there so the test ends (generous: the machine may be loaded), not a speed claim.
        assert emulator_mod.reachable(emulator.url, timeout=15), "a request behind idle connections got no answer"
        ssm = Ctx(emulator.url, "us-east-1").client("ssm")
        assert ssm.get_parameter(Name=emulator_mod.IDENTITY_PARAMETER)["Parameter"]["Value"] == emulator.id
    finally:
        for conn in idle:
            conn.close()


def test_a_slow_client_does_not_block_other_requests(emulator: Emulator) -> None:
    raw = socket.create_connection(("127.0.0.1", emulator.port))
    slow = emulator_mod.LOOPBACK_TLS.wrap_socket(raw, server_hostname="127.0.0.1")
    slow.sendall(b"GET /moto-api/ HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # and never the blank line that ends it
    try:
        assert emulator_mod.reachable(emulator.url, timeout=3), "a request behind a half-sent one got no answer"
    finally:
        slow.close()


# --- item 4: a private emulator dies with its owner -------------------------------------------------------
def test_private_emulator_dies_when_its_owner_is_killed(hainfra_home: Path) -> None:
    script = ("from hainfra.engines.sandbox.emulator import Emulator\nimport time\n"
              "emu = Emulator().start()\nprint(emu.process.pid, flush=True)\ntime.sleep(600)\n")
    owner = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONPATH": os.getcwd()})
    assert owner.stdout is not None
    server_pid = int(owner.stdout.readline())
    assert psutil.pid_exists(server_pid)
    owner.send_signal(signal.SIGKILL)
    owner.wait()
    assert not _gone_within([server_pid], 10), "the emulator outlived the process that started it"


@pytest.mark.parametrize("command", ["runbook", "run"])
def test_killed_runbook_or_run_leaves_no_emulator_or_kernel(command: str, emulator: Emulator, tmp_path: Path,
                                                            hainfra_home: Path) -> None:
    args = ["runbook"] if command == "runbook" else ["run", "deploy", "-p", "aws_endpoint_url", emulator.url]
    proc = subprocess.Popen(
        [sys.executable, "-m", "hainfra.cli", *args, "--stack", "killed", "--archive", str(tmp_path / "archive"),
         "-p", "asg_min", "2", "-p", "asg_desired", "2"],
        env={**os.environ, "PYTHONPATH": os.getcwd(), "HAINFRA_HOME": str(hainfra_home)},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wanted = ["ipykernel", "moto_server"] if command == "runbook" else ["ipykernel"]
    deadline = time.monotonic() + 120
    children: list[psutil.Process] = []
    while time.monotonic() < deadline:  # wait until its emulator (runbook) and a notebook kernel run
        children = psutil.Process(proc.pid).children(recursive=True)
        lines = [" ".join(c.cmdline()) for c in children if c.is_running()]
        if all(any(w in line for line in lines) for w in wanted):
            break
        time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail(f"{command} never started {wanted}")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    survivors = _gone_within([c.pid for c in children], 20)
    assert not survivors, [" ".join(psutil.Process(p).cmdline()) for p in survivors]


# --- item 6: sandbox serve on a busy or invalid port --------------------------------------------------------
def test_serve_on_a_busy_port_exits_2_and_leaves_the_first_servers_record(hainfra_home: Path) -> None:
    port = emulator_mod.free_port()
    env = {**os.environ, "PYTHONPATH": os.getcwd(), "HAINFRA_HOME": str(hainfra_home)}
    cmd = [sys.executable, "-m", "hainfra.cli", "sandbox", "serve", "--port", str(port)]
    first = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert first.stdout is not None and "listening" in first.stdout.readline()
        record = (hainfra_home / "emulator.json").read_text()
        second = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
        assert second.returncode == 2, second.stderr
        assert f"127.0.0.1:{port} is in use" in second.stderr and "listening" not in second.stdout
        assert (hainfra_home / "emulator.json").read_text() == record
        assert emulator_mod.resolve(None) == f"https://127.0.0.1:{port}", "later commands still find the first"
    finally:
        first.terminate()
        first.wait(timeout=20)


def test_second_serve_on_another_port_refuses_while_the_first_runs(emulator: Emulator, hainfra_home: Path,
                                                                      capsys: pytest.CaptureFixture) -> None:
    hainfra_home.mkdir(parents=True)
    record = json.dumps({"url": emulator.url, "pid": 1})
    (hainfra_home / "emulator.json").write_text(record)
    assert main(["sandbox", "serve", "--port", str(emulator_mod.free_port())]) == 2
    assert f"already runs for {hainfra_home} at {emulator.url}" in capsys.readouterr().err
    assert (hainfra_home / "emulator.json").read_text() == record


@pytest.mark.parametrize("port", ["70000", "0", "-1"])
def test_serve_on_an_invalid_port_exits_2_before_starting_anything(port: str, capsys: pytest.CaptureFixture,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[object] = []
    monkeypatch.setattr(subprocess, "Popen", lambda *a, **k: started.append(a))
    assert main(["sandbox", "serve", "--port", port]) == 2
    assert f"port={int(port)}" in capsys.readouterr().err and not started


def test_a_stopping_server_does_not_delete_another_servers_record(hainfra_home: Path) -> None:
    hainfra_home.mkdir(parents=True)
    other = json.dumps({"url": "https://127.0.0.1:5999", "pid": os.getpid() + 1})
    (hainfra_home / "emulator.json").write_text(other)
    emulator_mod.forget()
    assert (hainfra_home / "emulator.json").read_text() == other


# --- item 2: gone, silent and --forget -------------------------------------------------------------------
def test_silent_emulator_is_not_called_gone(monkeypatch: pytest.MonkeyPatch, hainfra_home: Path) -> None:
    monkeypatch.setattr(emulator_mod, "PROBE_SECONDS", 1.0)
    with silent_listener() as url:
        assert emulator_mod.probe(url) == emulator_mod.SILENT
        hainfra_home.mkdir(parents=True)
        (hainfra_home / "emulator.json").write_text(json.dumps({"url": url, "pid": 1}))
        with pytest.raises(EmulatorError, match="not answering within 1s") as info:
            emulator_mod.resolve(None)
    assert "gone" not in str(info.value) and "--forget" in str(info.value)
    assert emulator_mod.probe(url) == emulator_mod.GONE


def _state_on(config: StackConfig, endpoint: str, emulator_id: str) -> State:
    state = State.for_stack(config.stack)
    state.meta.update(emulator_id=emulator_id, endpoint=endpoint)
    state.put(URN, {"urn": URN, "type": "aws:ec2/vpc:Vpc", "name": "v", "id": "vpc-1", "status": "created",
                    "inputs": {}, "outputs": {}})
    return state


def test_forget_refuses_while_the_emulator_holds_the_stack(make_config: Callable[..., StackConfig],
                                                           emulator: Emulator, capsys: pytest.CaptureFixture) -> None:
    config = make_config()
    _state_on(config, emulator.url, emulator.id)
    with pytest.raises(EmulatorError, match="refusing to forget") as info:
        get_engine("sandbox", config).destroy(forget=True)
    assert f"hainfra destroy --stack {config.stack} -p aws_endpoint_url {emulator.url}" in str(info.value)
    assert URN in State.for_stack(config.stack).resources, "nothing was forgotten"
    assert main(["destroy", "--stack", config.stack, "--forget", "-p", "aws_endpoint_url", emulator.url]) == 1
    assert "refusing to forget" in capsys.readouterr().err


def test_forget_refuses_while_the_emulator_is_silent(make_config: Callable[..., StackConfig],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(emulator_mod, "PROBE_SECONDS", 1.0)
    config = make_config()
    with silent_listener() as url:
        _state_on(config, url, "0" * 32)
        with pytest.raises(EmulatorError, match="not answering within 1s"):
            get_engine("sandbox", config).destroy(forget=True)
    assert not State.for_stack(config.stack).empty


def test_forget_drops_state_of_a_gone_emulator_keeping_a_copy(make_config: Callable[..., StackConfig],
                                                              emulator: Emulator) -> None:
    config = make_config()
    state = _state_on(config, Emulator().url, "0" * 32)  # never started: nothing listens there
    get_engine("sandbox", config).destroy(forget=True)
    assert State.for_stack(config.stack).empty
    assert URN in json.loads(state.path.with_name("state.json.prev").read_text())["resources"]


def test_state_of_a_live_emulator_elsewhere_names_it(make_config: Callable[..., StackConfig],
                                                     emulator: Emulator) -> None:
    config = make_config()
    with Emulator() as other:
        _state_on(config, emulator.url, emulator.id)
        with pytest.raises(EmulatorError, match=f"still running at {emulator.url}"):
            get_engine("sandbox", config.replace(aws_endpoint_url=other.url)).preview()



# --- item 8: a notebook kernel in notebooks/ shares the project's state and emulator ---------------------------
def test_notebook_run_from_notebooks_folder_finds_the_served_emulator(emulator: Emulator, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import nbformat
    from nbclient import NotebookClient

    project = tmp_path / "project"
    (project / "notebooks").mkdir(parents=True)
    (project / "pyproject.toml").write_text("")
    (project / ".hainfra").mkdir()
    (project / ".hainfra" / "emulator.json").write_text(json.dumps({"url": emulator.url, "pid": 1}))  # serve's
    monkeypatch.delenv("HAINFRA_HOME")  # as when Jupyter was started by hand
    monkeypatch.setenv("PYTHONPATH", os.getcwd())
    cell = ("from hainfra.engines.sandbox import emulator\nfrom hainfra.home import home\n"
            "print(emulator.resolve(None), home())")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(cell)])
    NotebookClient(nb, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(project / "notebooks")}}).execute()
    assert nb.cells[0].outputs[0]["text"].split() == [emulator.url, str(project / ".hainfra")]
