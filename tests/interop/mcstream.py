"""A small writer of the Tunnel record stream (maxcompute-protocol.md §3.8), independent of the
code under test, that can also damage what it writes (for bad-input tests)."""

import struct

_CRC_TABLE = []
for _i in range(256):
    _c = _i
    for _ in range(8):
        _c = (_c >> 1) ^ 0x82F63B78 if _c & 1 else _c >> 1
    _CRC_TABLE.append(_c)


def crc32c(data, crc=0):
    crc ^= 0xFFFFFFFF
    for b in data:
        crc = (crc >> 8) ^ _CRC_TABLE[(crc ^ b) & 0xFF]
    return crc ^ 0xFFFFFFFF


def varint(v):
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def zigzag(v):
    return (v << 1) ^ (v >> 63)


def tag(field, wire_type):
    return varint((field << 3) | wire_type)


def record(fields, crc_delta=0):
    """fields: (column number, kind, value) with kind 'int' or 'bytes'."""
    body, crc = bytearray(), 0
    for field, kind, value in fields:
        crc = crc32c(struct.pack("<i", field), crc)
        if kind == "int":
            body += tag(field, 0) + varint(zigzag(value))
            crc = crc32c(struct.pack("<q", value), crc)
        else:
            body += tag(field, 2) + varint(len(value)) + value
            crc = crc32c(value, crc)
    crc = (crc + crc_delta) & 0xFFFFFFFF
    return bytes(body) + tag(33553408, 0) + varint(crc), crc


def stream(records, count_delta=0, stream_crc_delta=0):
    body, crc_of_crcs = bytearray(), 0
    for data, crc in records:
        body += data
        crc_of_crcs = crc32c(struct.pack("<I", crc), crc_of_crcs)
    body += tag(33554430, 0) + varint(zigzag(len(records) + count_delta))
    body += tag(33554431, 0) + varint((crc_of_crcs + stream_crc_delta) & 0xFFFFFFFF)
    return bytes(body)


def rows(n, start=0):
    return [record([(1, "int", start + i), (2, "bytes", b"row-%d" % (start + i))])
            for i in range(n)]
