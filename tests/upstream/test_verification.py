"""Tests for resolver.upstream.verification: what a DoT server must prove, and how a
refusal reads."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from resolver.upstream.verification import client_context, refusal

from .certificates import authority


def test_the_context_verifies_chain_and_name_over_tls_1_2_or_later(tmp_path: Path) -> None:
    ca = authority().write(tmp_path / "ca.pem")
    context = client_context(str(ca))
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2
    assert len(context.get_ca_certs()) == 1  # only the file's CA, not the system's too


def test_a_ca_file_that_cannot_be_loaded_raises_oserror(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        client_context(str(tmp_path / "missing.pem"))
    (tmp_path / "junk.pem").write_text("junk\n")
    with pytest.raises(ssl.SSLError):
        client_context(str(tmp_path / "junk.pem"))


def test_refusals_name_the_cause() -> None:
    mismatch = ssl.SSLCertVerificationError("x")
    mismatch.verify_code, mismatch.verify_message = 62, "Hostname mismatch"
    assert refusal(mismatch, "a.test", None) == \
        "its certificate is not valid for a.test (Hostname mismatch)"
    untrusted = ssl.SSLCertVerificationError("x")
    untrusted.verify_code, untrusted.verify_message = 20, "unable to get local issuer"
    assert refusal(untrusted, "a.test", "/ca.pem") == \
        "its certificate is not trusted by the CAs in /ca.pem (unable to get local issuer)"
