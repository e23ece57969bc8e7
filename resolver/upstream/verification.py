"""How a DNS-over-TLS server is authenticated (RFC 8310 strict profile), and how a refusal
is put to the admin.

The certificate must chain to the CAs (the system's, or those of a file) and be valid for
the server's name; an address literal as the name is matched against the certificate's IP
addresses. Opportunistic encryption without authentication is not offered: a resolver
anyone on the path could impersonate protects nothing.
"""

from __future__ import annotations

import ssl

_HOSTNAME_MISMATCH = 62  # X509_V_ERR_HOSTNAME_MISMATCH
_IP_ADDRESS_MISMATCH = 64  # X509_V_ERR_IP_ADDRESS_MISMATCH


def client_context(ca_file: str | None) -> ssl.SSLContext:
    """Verify the chain against `ca_file` (None: the system's CAs) and the name; TLS 1.2+
    (RFC 8310 9). Raises OSError (ssl.SSLError included) when the CAs cannot be loaded."""
    context = ssl.create_default_context(cafile=ca_file)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = True
    context.verify_mode = ssl.CERT_REQUIRED
    return context


def refusal(exc: ssl.SSLCertVerificationError, name: str, ca_file: str | None) -> str:
    """Why a server's certificate was not accepted, in the admin's terms."""
    detail = exc.verify_message or exc.reason or str(exc)
    if exc.verify_code in (_HOSTNAME_MISMATCH, _IP_ADDRESS_MISMATCH):
        return f"its certificate is not valid for {name} ({detail})"
    trusted = f"the CAs in {ca_file}" if ca_file else "the system's CAs"
    return f"its certificate is not trusted by {trusted} ({detail})"
