"""Domain names on the wire: reading them (pointers followed), their text form, encoding them.

`Query.qname` text is lower case, without the trailing dot, "" for the root. Label bytes
other than a-z, 0-9, '-' and '_' (after ASCII lower-casing) are written as \\DDD, so a
label holding a '.', a space or a '*' can never collide with a blocklist key.
"""

from __future__ import annotations

from typing import Final

from resolver.dns.message import MAX_LABEL, MAX_NAME_WIRE, MalformedMessage

MAX_POINTER_HOPS: Final = 128
"""A 255-octet name has at most 127 labels; more hops than that can only be a loop."""


def _byte_text(value: int) -> str:
    char = chr(value + 32) if 65 <= value <= 90 else chr(value)
    if char.isascii() and (char.isalnum() or char in "-_"):
        return char
    return f"\\{value:03d}"


_TEXT: Final = tuple(_byte_text(b) for b in range(256))


HOSTNAME_BYTES: Final = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
"""Label bytes whose text is themselves (lower-cased): names made of these need no escapes."""


def labels_text(labels: list[bytes]) -> str:
    """The `Query.qname` text of a name's labels."""
    if not b"".join(labels).translate(None, HOSTNAME_BYTES):  # the usual name: no escapes
        return b".".join(labels).lower().decode("ascii")
    return ".".join("".join([_TEXT[b] for b in label]) for label in labels)


def labels_wire(labels: list[bytes]) -> bytes:
    """The uncompressed wire form of a name's labels, root label included."""
    return b"".join(bytes((len(label),)) + label for label in labels) + b"\x00"


def read_name(data: bytes, pos: int) -> tuple[list[bytes], int]:
    """The labels of the name at `pos`, following compression pointers, and the offset after it.

    Pointers may point anywhere inside the message, forward ones included: a lone question
    has nothing before it but the header. Loops are cut by the hop limit, and the 255-octet
    limit applies to the expanded name.
    """
    size = len(data)
    labels: list[bytes] = []
    end = -1
    wire_length = 1
    hops = 0
    while True:
        if pos >= size:
            raise MalformedMessage(f"name runs past the end of the message at offset {pos}")
        length = data[pos]
        if length == 0:
            return labels, (pos + 1 if end < 0 else end)
        kind = length & 0xC0
        if kind == 0xC0:
            if pos + 1 >= size:
                raise MalformedMessage(f"compression pointer cut short at offset {pos}")
            if end < 0:
                end = pos + 2
            hops += 1
            if hops > MAX_POINTER_HOPS:
                raise MalformedMessage("compression pointer loop")
            pos = ((length & 0x3F) << 8) | data[pos + 1]
            continue
        if kind:
            raise MalformedMessage(f"label type 0x{kind:02x} at offset {pos} is not supported")
        wire_length += length + 1
        if wire_length > MAX_NAME_WIRE:
            raise MalformedMessage("name longer than 255 octets")
        if pos + 1 + length > size:
            raise MalformedMessage(f"label runs past the end of the message at offset {pos}")
        labels.append(data[pos + 1 : pos + 1 + length])
        pos += 1 + length


def name_to_wire(name: str) -> bytes:
    """Encode a name written as `Query.qname` spells it (\\DDD and \\X escapes allowed).

    A trailing dot is optional; "" and "." are the root. Raises ValueError for names that
    cannot be encoded (empty or over-long labels, over-long names, non-ASCII text).
    """
    if name in ("", "."):
        return b"\x00"
    if not name.isascii():
        raise ValueError(f"{name!r} is not ASCII; encode it as an A-label (punycode) first")
    if "\\" not in name:
        plain = [label.encode("ascii") for label in name.removesuffix(".").split(".")]
        if not all(plain):
            raise ValueError(f"{name!r} has an empty label")
        return _checked_wire(name, plain)
    labels: list[bytes] = []
    label = bytearray()
    i = 0
    while i < len(name):
        char = name[i]
        if char == "\\":
            digits = name[i + 1 : i + 4]
            if len(digits) == 3 and digits.isdigit():
                if int(digits) > 255:
                    raise ValueError(f"escape \\{digits} in {name!r} is above 255")
                label.append(int(digits))
                i += 4
                continue
            if i + 1 >= len(name):
                raise ValueError(f"{name!r} ends with a lone backslash")
            label.append(ord(name[i + 1]))
            i += 2
            continue
        if char == ".":
            if not label:
                raise ValueError(f"{name!r} has an empty label")
            labels.append(bytes(label))
            label.clear()
            if i == len(name) - 1:
                break
        else:
            label.append(ord(char))
        i += 1
    else:
        labels.append(bytes(label))
    return _checked_wire(name, labels)


def _checked_wire(name: str, labels: list[bytes]) -> bytes:
    if any(len(label) > MAX_LABEL for label in labels):
        raise ValueError(f"{name!r} has a label longer than 63 octets")
    wire = labels_wire(labels)
    if len(wire) > MAX_NAME_WIRE:
        raise ValueError(f"{name!r} is longer than 255 octets on the wire")
    return wire
