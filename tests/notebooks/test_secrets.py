"""Secrets travel outside the notebook, and redaction catches every shape one takes inside it.

A notebook that leaks on purpose (it reads the secret from its kernel's environment and prints it every way
a notebook can: print, repr, ascii, a list, JSON, HTML, a DataFrame, base64 at three alignments, URL-encoded,
split over lines, in an exception) is run through the real runner; nothing of the canary may reach any
archived file in any representation.
"""

from __future__ import annotations

import base64
import html
import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import quote, quote_plus

import markupsafe
import nbformat
import pytest

from hainfra.runbook import runner

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]
PREFIX, SUFFIX = "C4naryPrefix", "Q9zSuffix"
# backslash, non-ASCII (Latin-1 and beyond the BMP's ASCII), both quotes, a newline and a tab
CANARY = PREFIX + "\\é☃'\"\n\t" + SUFFIX

LEAKS = [
    "import os, json, base64, html, urllib.parse\n"
    "import pandas as pd\n"
    "from IPython.display import HTML, JSON, display\n"
    "s = os.environ['HAINFRA_PULUMI_CONFIG_PASSPHRASE']",
    "print(s)\nprint(repr(s))\nprint(ascii(s))\nprint([s], {'k': s})\nprint(s.encode('unicode_escape'))",
    "print(json.dumps(s))\nprint(json.dumps({'k': s}, ensure_ascii=False))",
    "display(HTML('<b>' + html.escape(s) + '</b>'))\ndisplay(JSON({'k': s}))",
    "pd.DataFrame([{'secret': s}])",
    "for n in range(3):\n    print(base64.b64encode(b'x' * n + s.encode()).decode())\n"
    "print(base64.urlsafe_b64encode(s.encode()).decode())",
    "print(urllib.parse.quote(s, safe=''))\nprint(urllib.parse.quote_plus(s))",
    "print(s[:9])\nprint(s[9:])",
    "s",
    "raise ValueError(f'bad passphrase {s!r}')",
]


def _leaky_notebook(folder: Path) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    params = nbformat.v4.new_code_cell('stack: str = "dev"\nparams: dict = {}\nconfig_file: str = ""')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params] + [nbformat.v4.new_code_cell(src) for src in LEAKS]
    path = folder / "leak.ipynb"
    nbformat.write(nb, path)
    return path


def representations(secret: str) -> set[str]:
    """The canary as the standard library and markupsafe write it (independent of hainfra.redact)."""
    bodies = {secret, repr(secret)[1:-1], ascii(secret)[1:-1], secret.encode("unicode_escape").decode(),
              json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1],
              quote(secret, safe=""), quote_plus(secret)}
    for n in range(3):
        encoded = base64.b64encode(b"x" * n + secret.encode()).decode()
        bodies.add(encoded[n + 1:-4])  # the part that depends on the secret alone
    layered = set(bodies)
    for escape in (html.escape, lambda t: str(markupsafe.escape(t)), lambda t: json.dumps(t)[1:-1]):
        layered |= {escape(b) for b in list(layered)}
    return {r for r in layered if len(r) >= 8}


def _unbroken(text: str) -> str:
    """Text with line breaks (raw or JSON-escaped) and JSON list boundaries removed."""
    return re.sub(r'\\n|\n|",\s*"', "", text)


@pytest.fixture
def leaky_stage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    _leaky_notebook(tmp_path)
    monkeypatch.setattr(runner, "REPO", tmp_path)
    monkeypatch.setattr(runner, "NOTEBOOKS", tmp_path)
    monkeypatch.setattr(runner, "STAGES", {"leak": "leak.ipynb"})
    runner.notebook_parameters.cache_clear()
    yield "leak"
    runner.notebook_parameters.cache_clear()


def test_every_representation_of_a_secret_is_redacted(leaky_stage: str, tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    record = runner.run_stage(leaky_stage, stack="leak", params={"pulumi_config_passphrase": CANARY},
                              archive_root=archive)
    # The leaking notebook ran to its last cell: the secret reached the kernel through its environment.
    assert record["outcome"] == "failed" and record["failing_cell"]["ename"] == "ValueError"
    assert record["redactions"] >= len(LEAKS)
    files = [p for p in archive.rglob("*") if p.is_file()]
    assert len(files) == 4
    forms = representations(CANARY)
    assert len(forms) > 20
    for path in files:
        text = path.read_text()
        for token in (PREFIX, SUFFIX):
            assert token not in text, f"{path.name} holds part of the secret ({token})"
        for form in forms:
            assert form not in text and _unbroken(form) not in _unbroken(text), f"{path.name} holds {form!r}"
    notebook = nbformat.read(next(p for p in files if p.suffix == ".ipynb"), as_version=4)  # still a valid notebook
    injected = next(c for c in notebook.cells if "injected-parameters" in c.metadata.get("tags", []))
    assert "[secret: from the kernel environment]" in injected.source  # the placeholder, not the value
    assert "[REDACTED]" in (next(p for p in files if p.suffix == ".html")).read_text()


def _cmdlines(seen: dict[int, str], stop: threading.Event) -> None:
    while not stop.is_set():
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit() and int(entry.name) not in seen:
                try:
                    seen[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                except OSError:
                    pass
        time.sleep(0.05)


@pytest.mark.parametrize("source", ["env", "file"])
def test_ps_never_shows_a_secret_from_env_or_file(source: str, tmp_path: Path) -> None:
    secret = "ps-canary-" + os.urandom(8).hex()
    env = {**os.environ, "PYTHONPATH": str(REPO), "HAINFRA_HOME": str(tmp_path / "home")}
    argv = [sys.executable, "-m", "hainfra.cli", "run", "configure", "--stack", "ps", "--archive", str(tmp_path / "a")]
    if source == "env":
        env["HAINFRA_PULUMI_CONFIG_PASSPHRASE"] = secret
    else:
        file = tmp_path / "passphrase"
        file.write_text(secret + "\n")
        file.chmod(0o600)
        argv += ["--secret-file", "pulumi_config_passphrase", str(file)]
    seen: dict[int, str] = {}
    stop = threading.Event()
    watcher = threading.Thread(target=_cmdlines, args=(seen, stop), daemon=True)
    watcher.start()
    try:
        done = subprocess.run(argv, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    finally:
        stop.set()
        watcher.join()
    assert done.returncode == 0, done.stderr
    assert any("ipykernel" in c for c in seen.values()), "the kernel was never seen: the watcher proves nothing"
    assert not [c for c in seen.values() if secret in c]
    assert "command line" not in done.stderr  # no -p, no warning about it
    archived = "".join(p.read_text() for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert secret not in archived and "pulumi_config_passphrase     ********" in archived  # it reached the kernel
