"""Signing index entries with a key that is not in the archive, and checking them against pinned keys.

Like CloudTrail's digest files: whoever can edit the archive can recompute its hashes, but cannot sign.
The default signer is a local Ed25519 key created on first use in the user's config folder
(``hainfra.home.config_home()``); ``audit_signer kms:<key id or alias>`` signs with an AWS KMS
asymmetric key instead (ECC_NIST_P256 or RSA). Either way the public key is *pinned* in
``<config>/audit-keys/<fingerprint>.pem`` and ``audit verify`` checks signatures offline with the
``cryptography`` package against pinned keys only — never a key found in the archive.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from hainfra.errors import AuditError, ConfigError
from hainfra.home import config_home

log = logging.getLogger(__name__)
LOCAL_KEY = "audit-ed25519.pem"
KEYS_DIR = "audit-keys"


class Signer(Protocol):
    """Signs an entry hash; ``fingerprint`` names the pinned public key that verifies it."""

    fingerprint: str
    algorithm: str

    def sign(self, message: bytes) -> bytes: ...


def fingerprint(public_key: Any) -> str:
    """sha256 of the DER SubjectPublicKeyInfo, hex (the same for a key wherever it is held)."""
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


def keys_dir() -> Path:
    return config_home() / KEYS_DIR


def emulator_keys_dir() -> Path:
    """Pins of KMS keys held by an AWS emulator: never trusted unless verify is pointed here (``--keys``).

    Any local user can have the emulator sign (loopback, well-known credentials), so its key pinned
    beside the real ones would let anyone forge entries that verify accepts in every archive.
    """
    return keys_dir() / "emulator"


def _write_private(path: Path, data: bytes) -> bool:
    """Create ``path`` (0600) atomically unless it exists; False if another process won the race."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        os.write(fd, data)
        os.fsync(fd)
        os.close(fd)
        os.link(tmp, path)  # fails if it exists: two first runs at once keep one key
        return True
    except FileExistsError:
        return False
    finally:
        os.unlink(tmp)


def pin(public_key: Any, directory: Path | None = None) -> str:
    """Pin a public key in ``directory`` (default: trusted by `audit verify`); returns its fingerprint."""
    fp = fingerprint(public_key)
    path = (directory or keys_dir()) / f"{fp}.pem"
    if not path.exists():
        pem = public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        _write_private(path, pem)
    return fp


# (folder, fingerprint) -> key, for pins whose file matched its fingerprint: verify looks up thousands.
_PINNED: dict[tuple[Path, str], Any] = {}


def _ours(stat: os.stat_result) -> bool:
    """Owned by us (or root) and writable by nobody else: a file another user could have written is no pin."""
    return stat.st_uid in (os.geteuid(), 0) and not stat.st_mode & 0o022


def pinned_key(fp: str, directory: Path | None = None) -> Any | None:
    cached = (directory or keys_dir(), fp)
    if cached not in _PINNED:
        path = cached[0] / f"{fp}.pem"
        try:
            if not _ours(path.stat()):
                log.warning("ignoring the pinned key %s: another user owns it or may write it", path)
                return None
            key = serialization.load_pem_public_key(path.read_bytes())
        except (OSError, ValueError):
            return None
        if fingerprint(key) != fp:  # a file renamed to another key's fingerprint is no pin
            return None
        _PINNED[cached] = key
    return _PINNED[cached]


@dataclass
class LocalSigner:
    """An Ed25519 key in the user's config folder, created on first use."""

    key: ed25519.Ed25519PrivateKey
    fingerprint: str
    algorithm: str = "ed25519"

    @classmethod
    def load_or_create(cls) -> LocalSigner:
        path = config_home() / LOCAL_KEY
        if not path.exists():
            new = ed25519.Ed25519PrivateKey.generate()
            pem = new.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
            if _write_private(path, pem):
                log.warning("created the audit signing key %s (fingerprint %s); keep it out of the archive",
                            path, fingerprint(new.public_key()))
        _check_private(path)
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, ed25519.Ed25519PrivateKey):
            raise AuditError(f"{path} is not an Ed25519 private key; move it aside and a new key is created")
        return cls(key, pin(key.public_key()))

    def sign(self, message: bytes) -> bytes:
        return self.key.sign(message)


def _check_private(path: Path) -> None:
    """Refuse a signing key others can read or that another user owns (as ssh refuses a loose private key)."""
    stat = path.stat()
    if stat.st_uid != os.geteuid():
        raise AuditError(f"{path} belongs to another user (uid {stat.st_uid}), who may hold a copy and sign as "
                         "you: move it aside and a new key is created")
    if stat.st_mode & 0o077:
        raise AuditError(f"{path} is readable by others (mode {oct(stat.st_mode & 0o777)}): anyone on this machine "
                         f"could sign as the archive. Fix: chmod 600 {path} (and if others may have copied it, move "
                         "it aside so a new key is created)")


class KmsSigner:
    """An AWS KMS asymmetric key (SIGN_VERIFY); its public key is fetched once and pinned.

    An emulator's key (``emulated``) is pinned apart, in :func:`emulator_keys_dir`.
    """

    ALGORITHMS = {"ECC_NIST_P256": "ECDSA_SHA_256", "RSA_2048": "RSASSA_PSS_SHA_256",
                  "RSA_3072": "RSASSA_PSS_SHA_256", "RSA_4096": "RSASSA_PSS_SHA_256"}

    def __init__(self, key_id: str, client: Any, emulated: bool = False) -> None:
        self.key_id = key_id
        self.client = client
        response = client.get_public_key(KeyId=key_id)
        spec = response.get("KeySpec") or response.get("CustomerMasterKeySpec")
        if response.get("KeyUsage") != "SIGN_VERIFY" or spec not in self.ALGORITHMS:
            raise ConfigError.one("audit_signer", f"kms:{key_id}",
                                  f"the key is {response.get('KeyUsage')} {spec}; use a SIGN_VERIFY key of spec "
                                  f"{', '.join(self.ALGORITHMS)}")
        self.algorithm = self.ALGORITHMS[spec]
        self.fingerprint = pin(serialization.load_der_public_key(response["PublicKey"]),
                               emulator_keys_dir() if emulated else None)
        if emulated:
            log.warning("audit_signer kms:%s is a key of the AWS emulator: its entries verify only with "
                        "`hainfra audit verify --keys %s`", key_id, emulator_keys_dir())

    def sign(self, message: bytes) -> bytes:
        return self.client.sign(KeyId=self.key_id, Message=message, MessageType="RAW",
                                SigningAlgorithm=self.algorithm)["Signature"]


def get_signer(spec: str = "local", *, aws: dict[str, Any] | None = None) -> Signer:
    """The signer named by ``audit_signer``: ``local`` or ``kms:<key id, ARN or alias/name>``.

    ``aws`` with an ``endpoint_url`` is hainfra's AWS emulator (``aws_endpoint_url``), not AWS.
    """
    if spec in ("", "local"):
        return LocalSigner.load_or_create()
    if spec.startswith("kms:") and len(spec) > 4:
        import boto3
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return KmsSigner(spec[4:], boto3.client("kms", **(aws or {})), emulated=bool((aws or {}).get("endpoint_url")))
        except (BotoCoreError, ClientError) as exc:
            raise ConfigError.one("audit_signer", spec, f"cannot read the KMS key's public key ({exc}); "
                                                        "check the key id/alias and the region") from exc
    raise ConfigError.one("audit_signer", spec, "use local (the default) or kms:<key id, ARN or alias/name>")


def signature(signer: Signer, message: bytes) -> dict[str, str]:
    return {"key": signer.fingerprint, "alg": signer.algorithm,
            "value": base64.b64encode(signer.sign(message)).decode()}


def check(sig: dict[str, str] | None, message: bytes, directory: Path | None = None) -> str | None:
    """None if ``sig`` verifies ``message`` with a pinned key, else why not (for a verify report)."""
    if not sig or not isinstance(sig, dict):
        return "not signed"
    key = pinned_key(str(sig.get("key")), directory)
    if key is None:
        return (f"signed by key {str(sig.get('key'))[:16]}… which is not pinned in {directory or keys_dir()} "
                "(a forged entry, or a key from another machine: copy its .pem there to trust it)")
    try:
        raw = base64.b64decode(sig["value"], validate=True)
        if isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(raw, message)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(raw, message, ec.ECDSA(hashes.SHA256()))
        elif isinstance(key, rsa.RSAPublicKey):
            key.verify(raw, message, padding.PSS(padding.MGF1(hashes.SHA256()), padding.PSS.AUTO), hashes.SHA256())
        else:
            return f"key {sig['key'][:16]}… has an unsupported type {type(key).__name__}"
    except (InvalidSignature, ValueError, KeyError, TypeError):
        return f"signature does not verify with key {str(sig.get('key'))[:16]}… (rewritten after signing)"
    return None
