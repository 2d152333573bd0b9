"""RSA2 (SHA256withRSA, PKCS#1 v1.5) as Alipay's OpenAPI uses it: load a merchant's
public key and check a signature. The platform never holds a merchant's private key."""

from __future__ import annotations

import base64
import binascii
from functools import lru_cache

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from guardpay.errors import AuthenticationFailed, InvalidRequest

MIN_BITS = 2048


def load_public_key(pem: str) -> rsa.RSAPublicKey:
    """A PEM `PUBLIC KEY` of at least 2048 bits, or a specific 400."""
    try:
        key = serialization.load_pem_public_key(pem.encode())
    except (ValueError, TypeError):
        raise InvalidRequest(
            "public_key is not a PEM public key", code="public_key_invalid", param="public_key"
        ) from None
    if not isinstance(key, rsa.RSAPublicKey) or key.key_size < MIN_BITS:
        raise InvalidRequest(
            f"RSA2 needs an RSA public key of at least {MIN_BITS} bits",
            code="public_key_invalid",
            param="public_key",
        )
    return key


def verify(pem: str, signature_b64: str, message: bytes) -> None:
    """Raises 401 `signature_invalid` unless `signature_b64` signs `message`."""
    try:
        signature = base64.b64decode(signature_b64, validate=True)
        _stored_key(pem).verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, binascii.Error, InvalidRequest):
        raise AuthenticationFailed(
            "the request signature does not verify", code="signature_invalid"
        ) from None


@lru_cache(maxsize=4096)
def _stored_key(pem: str) -> rsa.RSAPublicKey:
    """A stored key, parsed once per process (every request a merchant signs is checked
    against the same key). Keyed by the key's own text, so a revoked or rotated key needs
    no invalidation: whether it may sign is its row's (`revoked_at`), read in the
    request's transaction first (services/identity/merchant_api.py `authenticate`)."""
    return load_public_key(pem)


def fingerprint(pem: str) -> str:
    """SHA-256 of the DER public key: shown so a merchant can tell which key is which."""
    der = load_public_key(pem).public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    digest = hashes.Hash(hashes.SHA256())
    digest.update(der)
    return digest.finalize().hex()


def authorization(
    private_key: rsa.RSAPrivateKey, key_id: str, message: bytes, timestamp: int, nonce: str
) -> str:
    """The merchant side: the `Authorization` header value for a canonical request
    (`signing.canonical`). The demo, the benchmark and the tests sign with it; a merchant's
    own code does the same in its language (or uses an Alipay SDK's RSA2 signer)."""
    signature = private_key.sign(message, padding.PKCS1v15(), hashes.SHA256())
    encoded = base64.b64encode(signature).decode()
    return f"GP-RSA2 key_id={key_id},timestamp={timestamp},nonce={nonce},signature={encoded}"
