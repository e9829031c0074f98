"""hainfra.redact: every form of a secret is found, also broken over lines; weak secrets are refused."""

from __future__ import annotations

import base64
import html
import json
import logging
from pathlib import Path

import pytest

from hainfra import cli, redact
from hainfra.config import SECRET_FROM_ENV, StackConfig, read_secret_file
from hainfra.errors import ConfigError

SECRET = "Tr0ub4dor&3-\\\"é'☃x"
PACKAGE = Path(__file__).resolve().parents[2] / "hainfra"


@pytest.mark.parametrize("shape", [
    lambda s: s,
    lambda s: json.dumps({"k": s}),
    lambda s: repr([s]),
    lambda s: ascii(s),
    lambda s: html.escape(repr(s)),
    lambda s: json.dumps(html.escape(s)),
    lambda s: base64.b64encode(b"ab" + s.encode() + b"cd").decode(),
    lambda s: base64.urlsafe_b64encode(b"a" + s.encode()).decode(),
    lambda s: __import__("urllib.parse").parse.quote(s, safe=""),
    lambda s: s[:5] + "\n" + s[5:],  # printed in two lines
    lambda s: json.dumps([s[:5] + "\n", s[5:]], indent=1),  # the same as .ipynb stores it
    lambda s: s[:3] + "\x1b[0;31m" + s[3:],  # a colour code inside it (tracebacks)
    lambda s: repr(s.encode("unicode_escape")),  # escaped twice
])
def test_every_shape_is_redacted(shape) -> None:
    text = f"before {shape(SECRET)} after"
    clean, n = redact.Redactor([SECRET]).text(text)
    assert n >= 1 and redact.REDACTED in clean
    assert clean.startswith("before ") and clean.endswith(" after")
    assert "Tr0ub" not in clean and "b4dor" not in clean


def test_unrelated_text_is_untouched() -> None:
    text = "Tr0ub4dor and friends, C:\\path é ☃"
    assert redact.Redactor([SECRET]).text(text) == (text, 0)


def test_notebook_stays_a_valid_notebook_with_lines_split() -> None:
    nb = {"cells": [{"outputs": [{"text": ["x " + SECRET[:6] + "\n", SECRET[6:] + " y\n"]}]}]}
    clean, n = redact.Redactor([SECRET]).notebook(json.dumps(nb))
    assert n == 1
    assert json.loads(clean)["cells"][0]["outputs"][0]["text"] == ["x [REDACTED] y\n"]


@pytest.mark.parametrize("weak", ["short", "1234567", "abc\n\n\n\n\n\n"])
def test_weak_secrets_are_refused(weak: str) -> None:
    with pytest.raises(ValueError, match="shorter than 8"):
        redact.Redactor([weak])
    with pytest.raises(ConfigError, match="pulumi_config_passphrase.*shorter than 8"):
        StackConfig.load({"pulumi_config_passphrase": weak})


def test_short_secret_exits_2(capsys: pytest.CaptureFixture) -> None:
    assert cli.main(["run", "configure", "--stack", "x", "-p", "pulumi_config_passphrase", "abc"]) == 2
    err = capsys.readouterr().err
    assert "pulumi_config_passphrase='********'" in err and "shorter than 8" in err and "'abc'" not in err


def test_secret_name_pattern() -> None:
    for name in ("pulumi_config_passphrase", "db_password", "API-Key", "apiKey", "Token", "key", "ssh.key",
                 "aws_secret_access_key", "Credentials"):
        assert redact.looks_secret(name), name
    for name in ("monkey", "KeyName", "keyboard", "CostCenter", "Owner"):
        assert not redact.looks_secret(name), name


def test_one_home_for_the_secret_name_pattern() -> None:
    # Issue 18: two regexes disagreed about "passphrase"; the pattern is spelled in hainfra/redact.py only.
    spelled = [p.relative_to(PACKAGE.parent) for p in PACKAGE.rglob("*.py") if "passwd|" in p.read_text()]
    assert spelled == [Path("hainfra/redact.py")]
    from hainfra.policy import rules

    assert rules.SECRET_NAME is redact.SECRET_NAME


@pytest.mark.parametrize("key", ["db_password", "ApiToken", "secret", "private_key", "key"])
def test_secret_looking_tags_are_refused_pointing_at_secrets_manager(key: str) -> None:
    with pytest.raises(ConfigError, match="Secrets Manager"):
        StackConfig.load({"extra_tags": {key: "value"}})
    assert StackConfig.load({"extra_tags": {"CostCenter": "42"}}).extra_tags == {"CostCenter": "42"}


def test_secret_placeholder_reads_the_environment() -> None:
    env = {"HAINFRA_PULUMI_CONFIG_PASSPHRASE": "from-the-environment"}
    assert StackConfig.load({"pulumi_config_passphrase": SECRET_FROM_ENV}, env=env).pulumi_config_passphrase == \
        "from-the-environment"
    with pytest.raises(ConfigError, match=r"HAINFRA_PULUMI_CONFIG_PASSPHRASE, which is not set"):
        StackConfig.load({"pulumi_config_passphrase": SECRET_FROM_ENV}, env={})


def test_secret_file(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    file = tmp_path / "pass"
    file.write_text("a-long-passphrase\n")
    file.chmod(0o600)
    assert read_secret_file("pulumi_config_passphrase", file) == "a-long-passphrase"
    assert "readable by other users" not in caplog.text
    file.chmod(0o644)
    read_secret_file("pulumi_config_passphrase", file)
    assert "readable by other users" in caplog.text
    with pytest.raises(ConfigError, match="not a secret parameter"):
        read_secret_file("region", file)
    with pytest.raises(ConfigError, match="no such secret file"):
        read_secret_file("pulumi_config_passphrase", tmp_path / "missing")


def test_secret_on_the_command_line_warns(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    file = tmp_path / "pass"
    file.write_text("a-long-passphrase")
    file.chmod(0o600)
    assert cli.main(["policy", "--stack", "w", "--secret-file", "pulumi_config_passphrase", str(file)]) == 0
    assert "command line" not in caplog.text
    assert cli.main(["policy", "--stack", "w", "-p", "pulumi_config_passphrase", "a-long-passphrase"]) == 0
    assert "--secret-file pulumi_config_passphrase" in caplog.text and "a-long-passphrase" not in caplog.text


def test_log_filter_hides_secret_fields_and_known_values(caplog: pytest.LogCaptureFixture) -> None:
    redact.remember("generated-secret-0123456789")
    handler = logging.StreamHandler()
    handler.addFilter(redact.LogFilter())
    lines = [
        ("Response body:\n%s", (b'{"ARN": "arn", "SecretString": "sm-value-abcdefgh", "Name": "n"}',)),
        ("Making request with params: %s", ({"Name": "/p/secure/t", "Type": "SecureString", "Value": "ssm-value-xyz"},)),
        ("Response body:\n%s", (b'{"RandomPassword":"rand-value-abcdefg"}',)),
        ("tags %s", ({"Key": "Owner", "Value": "team-a"},)),
        ("a generated-secret-0123456789 in passing", ()),
    ]
    for msg, args in lines:
        record = logging.LogRecord("botocore.parsers", logging.DEBUG, __file__, 1, msg, args, None)
        handler.filter(record)
        text = record.getMessage()
        for value in ("sm-value", "ssm-value", "rand-value", "generated-secret"):
            assert value not in text
    record = logging.LogRecord("x", logging.DEBUG, __file__, 1, "tags %s", ({"Key": "Owner", "Value": "team-a"},), None)
    handler.filter(record)
    assert "team-a" in record.getMessage()  # a tag's Value outside an SSM SecureString stays readable
