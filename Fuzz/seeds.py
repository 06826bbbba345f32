"""Writes the seed inputs of each fuzz target into Corpus/<target>/: real
encodings of what Plinth stores (scripts/fuzz.sh starts every run from the
corpus; libFuzzer's runs add what they find). Run once; the corpus is
committed."""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def tup_int(v):
    if v == 0:
        return b"\x14"
    n = (abs(v).bit_length() + 7) // 8
    if v > 0:
        return bytes([0x14 + n]) + v.to_bytes(n, "big")
    m = (1 << (8 * n)) - 1 + v
    return bytes([0x14 - n]) + m.to_bytes(n, "big")


def tup_bytes(b, code=0x01):
    return bytes([code]) + b.replace(b"\x00", b"\x00\xff") + b"\x00"


def tup_str(s):
    return tup_bytes(s.encode(), 0x02)


def tup_nested(*elems):
    out = b"\x05"
    for e in elems:
        out += b"\x00\xff" if e is None else e
    return out + b"\x00"


def write(target, name, data):
    d = os.path.join(HERE, "Corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


db = tup_str("pl") + tup_int(3)
row_key = db + tup_int(1) + tup_int(7) + tup_int(42)
index_key = db + tup_int(2) + tup_int(9) + tup_int(1) + tup_str("alice") + tup_int(1) + tup_int(-3) + tup_int(42)
write("FuzzTuple", "row-key", row_key)
write("FuzzTuple", "index-key", index_key)
write("FuzzTuple", "nested", tup_nested(tup_int(1), None, tup_bytes(b"a\x00b"), tup_nested(tup_int(-300))))
write("FuzzTuple", "double-and-uuid", b"\x21" + struct.pack(">d", -1.5) + b"\x30" + bytes(range(16)))
write("FuzzTuple", "bigint", b"\x1d\x09" + bytes(9) + b"\x0b\xf6" + bytes([0xff] * 9))

prefix = db + tup_int(2) + tup_int(9)
write("FuzzIndexKey", "two-columns", bytes([len(prefix) | (1 << 5)]) + prefix + tup_int(1) + tup_str("x") + tup_int(0) + tup_int(5))
write("FuzzIndexKey", "desc-column", bytes([len(prefix)]) + prefix + tup_int(1) + tup_bytes(bytes(~b & 0xff for b in tup_int(77)) + b"\xff") + tup_int(6))
write("FuzzIndexKey", "stats-key", bytes([len(db) + 2]) + db + tup_int(4) + tup_int(7) + tup_int(3) + tup_int(1))
write("FuzzIndexKey", "index-tuple", bytes([0]) + bytes(6) + struct.pack("<H", 16) + bytes(8))

tuple_ = bytes([0x02, 0x00, 0x02, 0x09, 24, 0xff]) + bytes(8) + b"hello"
write("FuzzRowFormat", "inline", b"\x00" + struct.pack("<I", 700) + tuple_)
total = 150000
write("FuzzRowFormat", "split", b"\x01" + struct.pack("<III", total, 2, 701) + b"\x02" + tuple_)
write("FuzzRowFormat", "chunk", b"\x02" + bytes(64))
write("FuzzRowFormat", "stored-int", struct.pack("<q", 123456789))


def log_entry(time, ranges, points):
    out = struct.pack("<qI", time, len(ranges))
    for b, e in ranges:
        out += struct.pack("<I", len(b)) + b + struct.pack("<I", len(e)) + e
    out += struct.pack("<I", len(points))
    for p in points:
        out += struct.pack("<H", len(p)) + p
    return out


write("FuzzConflictLog", "points", log_entry(1764000000000, [], [row_key, index_key]))
write("FuzzConflictLog", "ranges", log_entry(1764000000000, [(row_key, row_key + b"\xff")], [b"k"]))
write("FuzzConflictLog", "empty", log_entry(0, [], []))


def bucket(entries):
    out = struct.pack("<I", len(entries))
    for s, v in entries:
        out += struct.pack("<HI", len(s), len(v)) + s + v
    return out


write("FuzzLongKeys", "two-entries", bucket([(b"\x01suffix-a", b"value a"), (b"\x02suffix-b", b"v" * 300)]))
write("FuzzLongKeys", "empty-suffix", bucket([(b"", b"x")]))
