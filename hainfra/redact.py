"""Secret redaction: the second line of defence behind "secrets never enter a notebook".

Pure functions (no I/O). A secret reaches a notebook or its HTML in many shapes: as printed, escaped by
``json`` (the ``.ipynb`` file), by Python's ``repr``/``ascii`` or papermill's ``unicode_escape`` (``\\x``,
``\\u``, ``\\\\``, ``\\'``), by HTML (nbconvert, pandas), as base64 at any byte alignment, URL-encoded,
and broken over output lines. :class:`Redactor` builds every one of those forms (and forms of forms:
HTML of JSON of repr…) and replaces each occurrence, also where a line break, an ANSI colour code or a
JSON list boundary falls inside it. A secret too short to be told apart from ordinary text is refused
(:func:`weak`): it could be neither redacted reliably nor trusted.
"""

from __future__ import annotations

import base64
import bisect
import html
import json
import re
import threading
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, quote_plus

# The one pattern for names that look secret: parameters, extra_tags keys, SSM parameter names.
SECRET_NAME = re.compile(
    r"password|passwd|passphrase|secret|token|credential|private[-_]?key|api[-_]?key|access[-_]?key"
    r"|(?:^|[^a-z])keys?(?:$|[^a-z])", re.I)
REDACTED = "[REDACTED]"
MIN_SECRET_LENGTH = 8
# What may fall inside a secret in an archived file without hiding it from a reader: a line break
# (raw or JSON-escaped) and the indentation after it, a JSON string-list boundary (an .ipynb output's
# lines), an ANSI colour code (raw or JSON-escaped).
# (Led by one character class, so the regex engine skips ordinary text fast: 3x the plain alternation.)
_BREAK = re.compile(r'[\\\r\n"\x1b](?:(?<=\\)(?:[rn][ \t]*|u001b\[[0-9;]*m|x1b\[[0-9;]*m)|(?<=[\r\n])[ \t]*'
                    r'|(?<=")\,\s*"|(?<=\x1b)\[[0-9;]*m)')


def looks_secret(name: object) -> bool:
    """True for a name such as ``db_password``, ``api-key`` or ``Token`` (see :data:`SECRET_NAME`)."""
    return bool(SECRET_NAME.search(str(name)))


def weak(secret: str) -> bool:
    """A secret under :data:`MIN_SECRET_LENGTH` characters (line breaks not counted) is refused."""
    return len(_strip(secret)[0]) < MIN_SECRET_LENGTH


# --- the forms a value takes ---------------------------------------------------------------------------
def _py_escaped(s: str, quote_char: str, ascii_only: bool) -> str:
    """The body of a Python string literal: ``repr`` (either quote), ``ascii`` and ``unicode_escape``."""
    out = []
    for ch in s:
        if ch == "\\":
            out.append("\\\\")
        elif ch == quote_char:
            out.append("\\" + ch)
        elif ch in "\n\r\t":
            out.append(repr(ch)[1:-1])
        elif not ch.isprintable() or (ascii_only and ord(ch) > 127):
            out.append(ascii(ch)[1:-1])
        else:
            out.append(ch)
    return "".join(out)


def _base64_forms(data: bytes) -> set[str]:
    """The characters base64 always produces for ``data``, whatever precedes it (three alignments)."""
    forms = set()
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + data + b"\0\0").decode()
        stable = encoded[(offset * 8 + 5) // 6:(offset + len(data)) * 8 // 6]
        forms |= {stable, stable.replace("+", "-").replace("/", "_")}
    return forms


def _html_forms(s: str) -> set[str]:
    body = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return {s, body, html.escape(s), body.replace('"', "&#34;").replace("'", "&#39;"), body.replace('"', "&quot;")}


def _json_forms(s: str) -> set[str]:
    return {s, json.dumps(s)[1:-1], json.dumps(s, ensure_ascii=False)[1:-1]}


def forms(secret: str) -> set[str]:
    """Every representation of ``secret`` this module redacts (non-empty strings)."""
    base = {secret, quote(secret, safe=""), quote(secret), quote_plus(secret)}
    base |= {re.sub(r"%[0-9A-F]{2}", lambda m: m.group().lower(), u) for u in list(base)}
    python = {_py_escaped(secret, q, a) for q in ("'", '"', "") for a in (False, True)}
    # and escaped twice: the repr of an escaped value (print(s.encode("unicode_escape")), a repr in a list)
    python |= {_py_escaped(p, q, a) for p in list(python) for q in ("'", '"', "") for a in (False, True)}
    base |= python
    # pandas (text and HTML tables) escapes only the control characters, not the backslash
    base.add(secret.replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r"))
    base |= _base64_forms(secret.encode())
    layered = {h for f in base for h in _html_forms(f)}
    layered = {j for f in layered for j in _json_forms(f)}
    layered = {h for f in layered for h in _html_forms(f)}
    return {f for f in layered if f}


# --- finding them, also across breaks -------------------------------------------------------------------
def _strip(text: str) -> tuple[str, list[tuple[int, int]]]:
    """``text`` without breaks, and (stripped offset, original offset) at the start of each kept run."""
    kept: list[str] = []
    runs: list[tuple[int, int]] = []
    pos = length = 0
    for m in _BREAK.finditer(text):
        if m.start() > pos:
            runs.append((length, pos))
            kept.append(text[pos:m.start()])
            length += m.start() - pos
        pos = m.end()
    if pos < len(text) or not runs:
        runs.append((length, pos))
        kept.append(text[pos:])
    return "".join(kept), runs


def _original(runs: list[tuple[int, int]], offset: int) -> int:
    i = bisect.bisect_right(runs, (offset, float("inf"))) - 1
    return runs[i][1] + offset - runs[i][0]


class Redactor:
    """Replaces every form of a set of secrets. Build once per run, apply to every file.

    Raises:
        ValueError: a secret is weak (see :func:`weak`); the caller refuses it before anything runs.
    """

    def __init__(self, secrets: Iterable[str]) -> None:
        values = {s for s in secrets if s}
        short = [s for s in values if weak(s)]
        if short:
            raise ValueError(f"{len(short)} secret(s) shorter than {MIN_SECRET_LENGTH} characters cannot be redacted")
        needles = sorted({_strip(f)[0] for s in values for f in forms(s)} - {""}, key=len, reverse=True)
        # Most forms share their first characters: scan the text once per distinct opening, then compare.
        self._by_anchor: dict[str, list[str]] = {}
        for needle in needles:
            self._by_anchor.setdefault(needle[:MIN_SECRET_LENGTH], []).append(needle)

    def __bool__(self) -> bool:
        return bool(self._by_anchor)

    def spans(self, text: str) -> list[tuple[int, int]]:
        """Merged (start, end) spans of ``text`` holding a secret in any form."""
        if not self._by_anchor:
            return []
        stripped, runs = _strip(text)
        found = []
        for anchor, needles in self._by_anchor.items():
            start = stripped.find(anchor)
            while start != -1:
                needle = next((n for n in needles if stripped.startswith(n, start)), None)  # longest first
                if needle:
                    found.append((start, start + len(needle)))
                start = stripped.find(anchor, start + 1)
        merged: list[list[int]] = []
        for start, end in sorted(found):
            if merged and start <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        return [(_original(runs, s), _original(runs, e - 1) + 1) for s, e in merged]

    def text(self, text: str) -> tuple[str, int]:
        """(``text`` with each secret span replaced by :data:`REDACTED`, number of spans)."""
        spans = self.spans(text)
        for start, end in reversed(spans):
            text = text[:start] + REDACTED + text[end:]
        return text, len(spans)

    def data(self, value: Any) -> tuple[Any, int]:
        """Redact every string in a JSON-like value; a list of lines (a notebook text) is redacted joined."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list) and value and all(isinstance(v, str) for v in value) \
                and all(v.endswith("\n") for v in value[:-1]):  # the lines of one notebook text
            joined, n = self.text("".join(value))
            return (joined.splitlines(keepends=True), n) if n else (value, 0)
        if isinstance(value, list):
            pairs = [self.data(v) for v in value]
            return [v for v, _ in pairs], sum(n for _, n in pairs)
        if isinstance(value, dict):
            pairs = {k: self.data(v) for k, v in value.items()}
            return {k: v for k, (v, _) in pairs.items()}, sum(n for _, n in pairs.values())
        return value, 0

    def notebook(self, notebook_json: str) -> tuple[str, int]:
        """An ``.ipynb`` text redacted value by value, so the result is still a valid notebook."""
        data, n = self.data(json.loads(notebook_json))
        return (json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n", n) if n else (notebook_json, 0)


# --- parameters by name -------------------------------------------------------------------------------------
def secret_values(params: Any) -> list[str]:
    """Values of secret-looking names anywhere in a parameter tree (``params.db_password``…)."""
    found: list[str] = []
    if isinstance(params, dict):
        for key, value in params.items():
            if looks_secret(key) and isinstance(value, str) and value:
                found.append(value)
            else:
                found += secret_values(value)
    elif isinstance(params, list):
        for value in params:
            found += secret_values(value)
    return found


def mask_params(params: Any, placeholder: str = REDACTED) -> Any:
    """A copy of a parameter tree with secret-looking values replaced by ``placeholder``."""
    if isinstance(params, dict):
        return {k: (placeholder if looks_secret(k) and isinstance(v, str) and v else mask_params(v, placeholder))
                for k, v in params.items()}
    if isinstance(params, list):
        return [mask_params(v, placeholder) for v in params]
    return params


# --- logs ---------------------------------------------------------------------------------------------------
# Fields of Secrets Manager and SSM requests/responses that carry a secret, as botocore logs them at DEBUG
# (a Python dict of request params, or a JSON response body).
_SECRET_FIELD = re.compile(r"""(["']?(?:SecretString|SecretBinary|RandomPassword|PrivateKey|privateKey)["']?\s*:\s*)(b?)(["'])(?:\\.|(?!\3).)*\3""")
_VALUE_FIELD = re.compile(r"""(["']?Value["']?\s*:\s*)(b?)(["'])(?:\\.|(?!\3).)*\3""")


class _Known:
    """Secret values this process has seen (generated by the stack, given as parameters), for log filtering."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: set[str] = set()
        self._redactor = Redactor(())

    def add(self, *values: str) -> None:
        with self._lock:
            new = {v for v in values if v and not weak(v)} - self._values
            if new:
                self._values |= new
                self._redactor = Redactor(self._values)

    def redactor(self) -> Redactor:
        return self._redactor


KNOWN = _Known()


def remember(*values: str) -> None:
    """Record secret values so every log line that passes through :class:`LogFilter` hides them."""
    KNOWN.add(*values)


def scrub_log_text(text: str) -> str:
    """A log message without secret fields (SecretString…, SSM Value of a SecureString) or known values."""
    text = _SECRET_FIELD.sub(lambda m: f"{m[1]}{m[2]}{m[3]}{REDACTED}{m[3]}", text)
    if "SecureString" in text:
        text = _VALUE_FIELD.sub(lambda m: f"{m[1]}{m[2]}{m[3]}{REDACTED}{m[3]}", text)
    return KNOWN.redactor().text(text)[0]


class LogFilter:
    """A ``logging`` filter for handlers: rewrites each record's message through :func:`scrub_log_text`."""

    def filter(self, record: Any) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed record is logging's problem; let it report
            return True
        clean = scrub_log_text(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True
