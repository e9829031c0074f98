"""Redaction benchmark: forms per secret, time to build a Redactor, and throughput on notebook-sized text.

The archive redacts every executed notebook, its HTML and run.json; this shows what that costs for the
runbook's secrets (32 alphanumeric characters, few forms) and for a hostile secret (backslash, quotes,
non-ASCII, newline, tab: hundreds of forms).

Run: .venv/bin/python bench/redact.py [--mb 1]
"""

from __future__ import annotations

import argparse
import json
import random
import string
import time

from hainfra import redact

PLAIN = "".join(random.Random(1).choices(string.ascii_letters + string.digits, k=32))
HOSTILE = "C4naryPrefix\\é☃'\"\n\tQ9zSuffix"


def text_of(megabytes: float) -> str:
    """Notebook-like text: JSON-escaped lines of printable output with line breaks."""
    rng = random.Random(2)
    alphabet = string.ascii_letters + string.digits + " .,:;-_/\\\"'<>&é"
    lines = ["".join(rng.choices(alphabet, k=rng.randint(10, 120))) + "\n" for _ in range(int(megabytes * 16_000))]
    return json.dumps(lines, indent=1)


def measure(label: str, secrets: list[str], text: str) -> None:
    start = time.perf_counter()
    redactor = redact.Redactor(secrets)
    built = time.perf_counter() - start
    start = time.perf_counter()
    _, found = redactor.text(text + secrets[0])
    scanned = time.perf_counter() - start
    size = len(text) / 1e6
    print(f"{label:28} forms {len(redact.forms(secrets[0])):4}  build {built * 1000:6.1f} ms  "
          f"scan {size:.2f} MB in {scanned * 1000:7.1f} ms ({size / scanned:6.1f} MB/s), found {found}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mb", type=float, default=1.0, help="size of the scanned text in MB")
    args = parser.parse_args()
    text = text_of(args.mb)
    measure("runbook (3 plain secrets)", [PLAIN, PLAIN[::-1], PLAIN.upper()], text)
    measure("hostile canary", [HOSTILE], text)
    measure("hostile + 3 plain", [HOSTILE, PLAIN, PLAIN[::-1], PLAIN.upper()], text)


if __name__ == "__main__":
    main()
