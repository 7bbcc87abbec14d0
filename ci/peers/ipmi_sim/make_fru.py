#!/usr/bin/env python3
"""Write the FRU inventory image that ipmi_sim serves as FRU device 0.

Format: IPMI Platform Management FRU Information Storage Definition v1.0 (common
header, chassis, board and product info areas). The fields deliberately use all
three text encodings a reader must handle (8-bit ASCII, 6-bit packed ASCII and
BCD plus) so that both our decoder and `ipmitool fru print` are exercised on them.
The expected values are repeated in firmware-api/tests/ipmi_sim.rs.

usage: make_fru.py OUTPUT_FILE [SIZE]
"""
import sys
from datetime import datetime


def ascii8(text):
    data = text.encode("ascii")
    assert len(data) <= 63
    return bytes([0xC0 | len(data)]) + data


def ascii6(text):
    codes = [ord(c) - 0x20 for c in text]
    assert all(0 <= c < 64 for c in codes), text
    while len(codes) % 4:
        codes.append(0)  # pads with spaces
    out = bytearray()
    for i in range(0, len(codes), 4):
        v = codes[i] | codes[i + 1] << 6 | codes[i + 2] << 12 | codes[i + 3] << 18
        out += bytes([v & 0xFF, (v >> 8) & 0xFF, (v >> 16) & 0xFF])
    return bytes([0x80 | len(out)]) + bytes(out)


def bcd_plus(text):
    table = {**{str(d): d for d in range(10)}, " ": 0xA, "-": 0xB, ".": 0xC}
    nibbles = [table[c] for c in text]
    if len(nibbles) % 2:
        nibbles.append(0xA)
    out = bytes(nibbles[i] << 4 | nibbles[i + 1] for i in range(0, len(nibbles), 2))
    return bytes([0x40 | len(out)]) + out


def zero_sum(data):
    return (-sum(data)) & 0xFF


def area(body):
    """Version byte, length (in 8-byte units), body, end marker, padding, checksum."""
    raw = bytearray([0x01, 0x00]) + body + bytes([0xC1])
    while (len(raw) + 1) % 8:
        raw.append(0x00)
    raw[1] = (len(raw) + 1) // 8
    raw.append(zero_sum(raw))
    return bytes(raw)


def main():
    out = sys.argv[1]
    size = int(sys.argv[2]) if len(sys.argv) > 2 else 256

    chassis = area(
        bytes([0x17])  # chassis type: rack mount chassis
        + ascii8("CH-PART-1")
        + bcd_plus("1234-56789")  # chassis serial number
        + ascii8("rack 3 slot 7")  # custom field
    )
    minutes = int((datetime(2016, 3, 5, 12, 0) - datetime(1996, 1, 1)).total_seconds() // 60)
    board = area(
        bytes([0x19])  # language: English
        + minutes.to_bytes(3, "little")
        + ascii8("Vapor IO")
        + ascii8("Sim Server Board")
        + ascii8("SN-0001")
        + ascii6("BRD-42")  # part number, 6-bit packed ASCII
        + ascii8("")  # FRU file id
    )
    product = area(
        bytes([0x19])
        + ascii8("Vapor IO")
        + ascii8("Sim Server")
        + ascii8("PRD-7")
        + ascii8("1.0")
        + ascii8("PSN-0001")
        + ascii8("TAG-1")
        + ascii8("")  # FRU file id
    )

    offset = 8
    offsets = []
    for a in (chassis, board, product):
        offsets.append(offset // 8)
        offset += len(a)
    header = bytearray([0x01, 0x00, offsets[0], offsets[1], offsets[2], 0x00, 0x00])
    header.append(zero_sum(header))
    image = bytes(header) + chassis + board + product
    assert len(image) <= size, "FRU image larger than the FRU device"
    image += bytes(size - len(image))
    with open(out, "wb") as f:
        f.write(image)


if __name__ == "__main__":
    main()
