"""Signing certificates with Ed25519 (pure: no I/O, no clock).

One deployment signs with one key, derived from its configured secret
(``TRUSTREG_SECRET_KEY``) so that every process of the deployment signs with the same
key and no key file has to be distributed::

    seed = HKDF-SHA256(secret_key (UTF-8), salt=none, info=SIGNING_INFO, length=32)
    private key = Ed25519PrivateKey.from_private_bytes(seed)

Changing the secret changes the key: certificates issued before then no longer verify
against the new public key. What is signed is the certificate's content as canonical
JSON: keys sorted, no whitespace, UTF-8, non-ASCII characters unescaped.
"""

from __future__ import annotations

import base64
import json
import secrets
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

# Fixed, versioned: a new info string would be a new key for the same secret.
SIGNING_INFO = b"trustreg certificate signing key v1"
CODE_LENGTH = 12  # base32 characters: 60 random bits


def canonical_json(content: dict[str, Any]) -> str:
    """The one text form of a certificate's content that is signed and stored."""
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def signing_key(secret_key: str) -> Ed25519PrivateKey:
    """The deployment's Ed25519 key, derived from its secret (see the module docstring)."""
    seed = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=SIGNING_INFO).derive(
        secret_key.encode("utf-8")
    )
    return Ed25519PrivateKey.from_private_bytes(seed)


def sign(key: Ed25519PrivateKey, payload: str) -> str:
    """The signature of ``payload`` (UTF-8), as lowercase hex."""
    return key.sign(payload.encode("utf-8")).hex()


def verifies(public_key: Ed25519PublicKey, payload: str, signature_hex: str) -> bool:
    """Whether ``signature_hex`` is a valid signature of ``payload`` under ``public_key``."""
    try:
        signature = bytes.fromhex(signature_hex)
    except ValueError:
        return False
    try:
        public_key.verify(signature, payload.encode("utf-8"))
    except InvalidSignature:
        return False
    return True


def public_key_hex(public_key: Ed25519PublicKey) -> str:
    """The raw 32-byte public key, as lowercase hex."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return raw.hex()


def public_key_pem(public_key: Ed25519PublicKey) -> str:
    """The public key as a PEM SubjectPublicKeyInfo block (``openssl pkey -pubin``)."""
    pem = public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return pem.decode("ascii")


def new_code() -> str:
    """A short random verification code: 12 characters of the base32 alphabet (A-Z, 2-7)."""
    return base64.b32encode(secrets.token_bytes(10)).decode("ascii")[:CODE_LENGTH]
