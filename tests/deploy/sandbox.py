"""Run a program under the kernel restrictions the systemd unit asks for, without systemd.

`python sandbox.py ALLOWED_SYSCALLS_FILE PROGRAM [ARGS...]` sets, then execs PROGRAM:
- NoNewPrivileges=yes: PR_SET_NO_NEW_PRIVS;
- MemoryDenyWriteExecute=yes: both ways systemd has enforced it: PR_SET_MDWE (Linux >= 6.3,
  used by newer systemd), which refuses memory that is writable and executable or made
  executable later, and systemd 252's seccomp rules (mmap with PROT_WRITE|PROT_EXEC,
  mprotect/pkey_mprotect with PROT_EXEC, shmat with SHM_EXEC fail with EPERM);
- SystemCallFilter= and RestrictAddressFamilies=: a seccomp filter allowing only the system
  calls named in the file (one name a line; the unit's filter, expanded by the test with
  `systemd-analyze syscall-filter`), and socket() only for AF_UNIX, AF_INET and AF_INET6
  (others fail with EAFNOSUPPORT, as under systemd). Any other system call kills the whole
  process (systemd, with SystemCallErrorNumber=EPERM, would fail the call instead): a test
  that runs the server under this sees every forbidden call, even one whose error the
  program would swallow.

x86-64 only. Everything is inherited by forked workers and kept across execve.
"""

from __future__ import annotations

import ctypes
import os
import re
import struct
import sys
from pathlib import Path

UNISTD = Path("/usr/include/x86_64-linux-gnu/asm/unistd_64.h")
AUDIT_ARCH_X86_64 = 0xC000003E
X32_SYSCALL_BIT = 0x40000000

PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
PR_SET_MDWE = 65
PR_MDWE_REFUSE_EXEC_GAIN = 1

LD_W_ABS = 0x20
JEQ_K = 0x15
JGE_K = 0x35
AND_K = 0x54
RET_K = 0x06
RET_KILL_PROCESS = 0x80000000
RET_ERRNO = 0x00050000
RET_ALLOW = 0x7FFF0000
EAFNOSUPPORT = 97
EPERM = 1
PROT_WRITE, PROT_EXEC, SHM_EXEC = 0x2, 0x4, 0o100000

NR_OFFSET = 0
ARCH_OFFSET = 4
ARG0_OFFSET = 16  # args[0], its low 32 bits (little-endian)
ARG2_OFFSET = 32

ALLOWED_FAMILIES = (1, 2, 10)  # AF_UNIX, AF_INET, AF_INET6


def syscall_numbers(header: Path = UNISTD) -> dict[str, int]:
    """Names to numbers on x86-64, from the kernel's header (package linux-libc-dev)."""
    pattern = re.compile(r"^#define __NR_(\w+)\s+(\d+)\s*$", re.MULTILINE)
    return {name: int(number) for name, number in pattern.findall(header.read_text())}


def _insn(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


def _refuse_flags(number: int, mask: int) -> list[bytes]:
    """System call `number` fails with EPERM when its third argument has all of `mask`."""
    block = [_insn(LD_W_ABS, ARG2_OFFSET), _insn(AND_K, mask), _insn(JEQ_K, mask, jf=1),
             _insn(RET_K, RET_ERRNO | EPERM), _insn(RET_K, RET_ALLOW)]
    return [_insn(JEQ_K, number, jf=len(block)), *block]


def program(allowed: set[int], numbers: dict[str, int]) -> bytes:
    """The classic-BPF filter: right architecture, socket()'s family, the write-and-execute
    rules, then the list."""
    socket_nr = numbers["socket"]
    insns = [
        _insn(LD_W_ABS, ARCH_OFFSET),
        _insn(JEQ_K, AUDIT_ARCH_X86_64, jt=1),
        _insn(RET_K, RET_KILL_PROCESS),
        _insn(LD_W_ABS, NR_OFFSET),
        _insn(JGE_K, X32_SYSCALL_BIT, jf=1),
        _insn(RET_K, RET_KILL_PROCESS),
        _insn(JEQ_K, socket_nr, jf=2 + 2 * len(ALLOWED_FAMILIES)),
        _insn(LD_W_ABS, ARG0_OFFSET),
    ]
    for family in ALLOWED_FAMILIES:
        insns += [_insn(JEQ_K, family, jf=1), _insn(RET_K, RET_ALLOW)]
    insns.append(_insn(RET_K, RET_ERRNO | EAFNOSUPPORT))
    guarded = {"mmap": PROT_WRITE | PROT_EXEC, "mprotect": PROT_EXEC,
               "pkey_mprotect": PROT_EXEC, "shmat": SHM_EXEC}
    for name, mask in guarded.items():
        if numbers[name] in allowed:
            insns += _refuse_flags(numbers[name], mask)
    for number in sorted(allowed - {socket_nr}):
        insns += [_insn(JEQ_K, number, jf=1), _insn(RET_K, RET_ALLOW)]
    insns.append(_insn(RET_K, RET_KILL_PROCESS))
    return b"".join(insns)


class _Program(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def restrict(names: list[str]) -> None:
    numbers = syscall_numbers()
    allowed = {numbers[name] for name in names if name in numbers}
    code = program(allowed, numbers)
    buffer = ctypes.create_string_buffer(code, len(code))
    fprog = _Program(len(code) // 8, ctypes.cast(buffer, ctypes.c_void_p))
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong,
                           ctypes.c_ulong]
    for option, value, what in ((PR_SET_NO_NEW_PRIVS, 1, "no_new_privs"),
                                (PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, "MDWE")):
        if libc.prctl(option, value, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), f"prctl {what}: {os.strerror(ctypes.get_errno())}")
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(fprog), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), f"seccomp: {os.strerror(ctypes.get_errno())}")


def main(argv: list[str]) -> None:
    names = Path(argv[1]).read_text().split()
    restrict(names)
    os.execv(argv[2], argv[2:])


if __name__ == "__main__":
    main(sys.argv)
