"""Client addresses as logged: each mode, IPv4 and IPv6, and the hash key's life."""

from __future__ import annotations

import multiprocessing
import stat
from pathlib import Path

import pytest

from resolver.querylog.anonymise import (
    KEY_BYTES,
    KEY_FILE,
    ClientAnonymiser,
    load_key,
    truncated,
)


@pytest.mark.parametrize(("address", "logged"), [
    ("192.0.2.77", "192.0.2.0"),
    ("10.1.2.255", "10.1.2.0"),
    ("2001:db8:1:2:3::4", "2001:db8:1::"),
    ("2001:db8:abcd:ffff::1", "2001:db8:abcd::"),
    ("::ffff:198.51.100.9", "198.51.100.0"),  # an IPv4 client of a dual-stack socket
    ("fe80::1:2%eth0", "fe80::"),
    ("not an address", ""),
    ("", ""),
])
def test_truncate_keeps_the_24_or_the_48(address: str, logged: str) -> None:
    assert truncated(address) == logged
    assert ClientAnonymiser("truncate")(address) == logged


def test_full_keeps_the_address_and_none_keeps_nothing() -> None:
    for address in ("192.0.2.77", "2001:db8::1"):
        assert ClientAnonymiser("full")(address) == address
        assert ClientAnonymiser("none")(address) == ""


def test_the_key_is_made_once_with_mode_0600_and_kept(tmp_path: Path) -> None:
    state = tmp_path / "state"  # not there yet: made
    key = load_key(state)
    assert len(key) == KEY_BYTES
    path = state / KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_key(state) == key  # a restart reads the same key
    assert load_key(tmp_path / "other") != key
    assert [p.name for p in state.iterdir()] == [KEY_FILE]  # no temporary file left


def _key_hex(state: str) -> str:
    return load_key(Path(state)).hex()


def test_workers_starting_at_once_agree_on_one_key(tmp_path: Path) -> None:
    with multiprocessing.get_context("fork").Pool(4) as pool:
        keys = pool.map(_key_hex, [str(tmp_path)] * 16)
    assert set(keys) == {(tmp_path / KEY_FILE).read_bytes().hex()}


def test_a_damaged_key_is_refused(tmp_path: Path) -> None:
    (tmp_path / KEY_FILE).write_bytes(b"short")
    with pytest.raises(ValueError, match="32 bytes"):
        load_key(tmp_path)


def test_hash_is_a_stable_token_per_key_that_hides_the_address(tmp_path: Path) -> None:
    key = load_key(tmp_path / "a")
    first = ClientAnonymiser("hash", key)
    again = ClientAnonymiser("hash", load_key(tmp_path / "a"))
    other = ClientAnonymiser("hash", load_key(tmp_path / "b"))
    for address in ("192.0.2.77", "2001:db8:1:2::99"):
        token = first(address)
        assert len(token) == 16 and int(token, 16) >= 0
        assert again(address) == token
        assert other(address) != token
        assert address not in token
    assert first("192.0.2.77") != first("192.0.2.78")
    assert first("::ffff:192.0.2.77") == first("192.0.2.77")  # one client, one token


def test_hash_needs_a_key_and_modes_are_checked() -> None:
    with pytest.raises(ValueError, match="key"):
        ClientAnonymiser("hash")
    with pytest.raises(ValueError, match="mode"):
        ClientAnonymiser("partial")
