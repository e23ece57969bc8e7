"""A throw-away certificate authority and server certificates for DNS-over-TLS tests.

Made with `cryptography` (a test dependency only): EC P-256 keys, so a whole set takes
milliseconds. Nothing here is trusted by the system; tests hand the CA file to dnsfence.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

SERVER_NAME = "dns.dnsfence.test"
"""The name the test server certificates carry (besides 127.0.0.1 and ::1)."""


@dataclass(frozen=True, slots=True)
class Authority:
    """A CA: its key and self-signed certificate."""

    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate

    def write(self, path: Path) -> Path:
        path.write_bytes(self.certificate.public_bytes(serialization.Encoding.PEM))
        return path


@dataclass(frozen=True, slots=True)
class ServerFiles:
    """A server's certificate and key as PEM files, and its CA's certificate."""

    certificate: Path
    key: Path
    ca: Path


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _validity(builder: x509.CertificateBuilder) -> x509.CertificateBuilder:
    now = dt.datetime.now(dt.UTC)
    return builder.not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(
        now + dt.timedelta(days=2))


def authority(common_name: str = "dnsfence test CA") -> Authority:
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name(common_name)
    builder = _validity(x509.CertificateBuilder().subject_name(name).issuer_name(name)
                        .public_key(key.public_key()).serial_number(x509.random_serial_number()))
    certificate = (
        builder.add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                       critical=False)
        .sign(key, hashes.SHA256()))
    return Authority(key, certificate)


def server_files(directory: Path, ca: Authority, *, names: Sequence[str] = (SERVER_NAME,),
                 addresses: Sequence[str] = ("127.0.0.1", "::1"),
                 prefix: str = "server") -> ServerFiles:
    """A server certificate signed by `ca`, valid for `names` and `addresses`, written with
    its key and the CA certificate under `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    alternatives: list[x509.GeneralName] = [x509.DNSName(name) for name in names]
    alternatives += [x509.IPAddress(ipaddress.ip_address(a)) for a in addresses]
    builder = _validity(x509.CertificateBuilder().subject_name(_name(names[0] if names else
                                                                     "dnsfence test server"))
                        .issuer_name(ca.certificate.subject).public_key(key.public_key())
                        .serial_number(x509.random_serial_number()))
    certificate = (
        builder.add_extension(x509.SubjectAlternativeName(alternatives), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()),
                       critical=False)
        .sign(ca.key, hashes.SHA256()))
    certificate_path = directory / f"{prefix}.pem"
    certificate_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path = directory / f"{prefix}.key"
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return ServerFiles(certificate_path, key_path, ca.write(directory / f"{prefix}-ca.pem"))
