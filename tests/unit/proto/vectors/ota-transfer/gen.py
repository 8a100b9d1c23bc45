#!/usr/bin/env python3
"""Writes the OTA transfer golden vectors of this directory and index.txt
(proto/ota/transfer.md): frames (.bin, gateway -> node) and answers (.json,
node -> gateway). test_ota_transfer.c parses each file, compares the values
the index states and, for valid files, checks that the codec reproduces the
bytes exactly (unless the line says exact=0).
Python 3 standard library only. Run from anywhere: python3 gen.py"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
HASH_A = "0123456789abcdef" * 4
HASH_B = "fedcba9876543210" * 4

MAGIC = 0x41544F45
OFFER, CHUNK, CANCEL, REVERT = 1, 2, 3, 4
# enum edge_ota_reason, in order (append only).
REASONS = ["ok", "busy", "already_have", "incompatible", "missing_ops",
           "insufficient_arena", "insufficient_flash", "rollback", "unsigned",
           "bad_signature", "unknown_key", "threshold_not_met", "expired",
           "malformed", "chunk_size", "size_mismatch", "hash_mismatch",
           "flash_error", "storage_error", "activate_failed", "selftest_failed",
           "selftest_mismatch", "timeout", "cancelled", "superseded", "internal",
           "not_held"]


def crc32c(data, crc=0):
    crc ^= 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def frame(ftype, transfer, index, payload, version=1, flags=0, length=None,
          crc_flip=0, magic=MAGIC):
    """A frame: 24-byte header (CRC-32C over bytes 0..19 and the payload)."""
    length = len(payload) if length is None else length
    hdr = struct.pack("<IBBHIII", magic, version, ftype, flags, transfer, index, length)
    crc = crc32c(payload, crc32c(hdr)) ^ crc_flip
    return hdr + struct.pack("<I", crc) + payload


def package_head(model_size, manifest=b'{"format":1,"name":"kws"}'):
    """A package head (header, manifest, one filler Ed25519 signature):
    the offer carries it as is; the model follows as chunks."""
    block = struct.pack("<B3x", 1) + struct.pack("<BBH", 1, 0, 64) + b"\x11" * 32 + b"\x22" * 64
    hdr = b"EDGEPKG1" + struct.pack("<HHIIQ", 1, 32, len(manifest), len(block), model_size)
    return hdr + struct.pack("<I", crc32c(hdr)) + manifest + block


def offer_payload(chunk_size, n_chunks, flags, head, window=0):
    return struct.pack("<IIII", chunk_size, n_chunks, flags, window) + head


MODEL = bytes((i * 31 + 7) & 0xFF for i in range(1000))
HEAD = package_head(len(MODEL))

index = ["# OTA transfer golden vectors (gen.py writes this file and the vectors).",
         "# <kind> <file> <expected reason|ok> <field|-> [key=value ...]",
         "# kind frame: edge_ota_frame_parse; kind offer: then edge_ota_offer_parse;",
         "# kind revert: then edge_ota_revert_parse (target= the payload's hex);",
         "# kind answer: edge_ota_answer_parse. A valid file's values must be the",
         "# listed ones and the codec must reproduce its bytes (unless exact=0)."]


def write(name, data, kind, expect="ok", field="-", **values):
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(data)
    kv = "".join(" %s=%s" % (k, v) for k, v in values.items())
    index.append("%s %s %s %s%s" % (kind, name, expect, field, kv))


def frame_values(ftype, transfer, index_, payload):
    return dict(type=ftype, transfer=transfer, index=index_, length=len(payload))


# ---- frames: valid
p = offer_payload(256, 4, 0, HEAD, window=16)
write("offer_unicast.bin", frame(OFFER, 0x1001, 0, p), "offer",
      chunk_size=256, n_chunks=4, offer_flags=0, window=16, **frame_values(OFFER, 0x1001, 0, p))
p = offer_payload(64, 16, 1, HEAD)
write("offer_campaign.bin", frame(OFFER, 0xfedcba98, 0, p), "offer",
      chunk_size=64, n_chunks=16, offer_flags=1, **frame_values(OFFER, 0xfedcba98, 0, p))
p = offer_payload(1024, 1, 0, HEAD)
write("offer_one_chunk.bin", frame(OFFER, 2, 0, p), "offer",
      chunk_size=1024, n_chunks=1, offer_flags=0, **frame_values(OFFER, 2, 0, p))
for i, name in ((0, "chunk_first.bin"), (1, "chunk_second.bin")):
    p = MODEL[i * 256:(i + 1) * 256]
    write(name, frame(CHUNK, 0x1001, i, p), "frame", **frame_values(CHUNK, 0x1001, i, p))
p = MODEL[3 * 256:]  # the last chunk is shorter: 232 bytes
write("chunk_last_short.bin", frame(CHUNK, 0x1001, 3, p), "frame",
      **frame_values(CHUNK, 0x1001, 3, p))
p = bytes(range(256)) * 64  # EDGE_OTA_CHUNK_MAX bytes
write("chunk_max.bin", frame(CHUNK, 3, 0xFFFFFFFF, p), "frame",
      **frame_values(CHUNK, 3, 0xFFFFFFFF, p))
write("cancel_cancelled.bin", frame(CANCEL, 0x1001, 0, bytes([REASONS.index("cancelled")])),
      "frame", type=CANCEL, transfer=0x1001, index=0, length=1, cancel_reason="cancelled")
write("cancel_superseded.bin", frame(CANCEL, 7, 0, bytes([REASONS.index("superseded")])),
      "frame", type=CANCEL, transfer=7, index=0, length=1, cancel_reason="superseded")
# Unknown flag bits are ignored (the codec writes 0, so not byte-exact).
write("chunk_unknown_flags.bin", frame(CHUNK, 9, 1, b"abc", flags=0x8001), "frame",
      exact=0, flags=0x8001, **frame_values(CHUNK, 9, 1, b"abc"))
p = offer_payload(256, 4, 0x80000001, HEAD)
write("offer_unknown_flags.bin", frame(OFFER, 5, 0, p), "offer", exact=0,
      chunk_size=256, n_chunks=4, offer_flags=0x80000001, **frame_values(OFFER, 5, 0, p))

# Revert: the raw SHA-256 of the model to run again from the other slot.
TARGET = bytes.fromhex(HASH_A)
write("revert_good.bin", frame(REVERT, 0x1002, 0, TARGET), "revert", target=HASH_A,
      **frame_values(REVERT, 0x1002, 0, TARGET))
write("revert_max_transfer.bin", frame(REVERT, 0xFFFFFFFF, 0, bytes.fromhex(HASH_B)), "revert",
      target=HASH_B, **frame_values(REVERT, 0xFFFFFFFF, 0, bytes.fromhex(HASH_B)))

# ---- frames: rejected
good = frame(CHUNK, 0x1001, 1, MODEL[256:512])
write("frame_bad_magic.bin", frame(CHUNK, 1, 0, b"x", magic=0x41544F46), "frame",
      "bad_magic", "magic")
write("frame_short_bad_magic.bin", b"EOX", "frame", "bad_magic", "magic")
write("frame_truncated_header.bin", good[:23], "frame", "truncated", "header")
write("frame_version_2.bin", frame(CHUNK, 1, 0, b"x", version=2), "frame",
      "unsupported_version", "version")
write("frame_truncated_payload.bin", good[:-1], "frame", "truncated", "payload")
write("frame_trailing_bytes.bin", good + b"\0", "frame", "trailing_bytes", "-")
write("frame_bad_crc.bin", frame(CHUNK, 1, 0, b"xyz", crc_flip=0x80000000), "frame",
      "bad_header", "crc")
flipped = bytearray(good)
flipped[100] ^= 0x01  # one payload bit: the CRC covers the payload
write("frame_payload_bit_flip.bin", bytes(flipped), "frame", "bad_header", "crc")
write("frame_type_5.bin", frame(5, 1, 0, b"x"), "frame", "bad_header", "type")
write("revert_length_31.bin", frame(REVERT, 1, 0, TARGET[:31]), "revert", "bad_header", "length")
write("revert_length_33.bin", frame(REVERT, 1, 0, TARGET + b"\0"), "revert", "bad_header",
      "length")
write("revert_index_1.bin", frame(REVERT, 1, 1, TARGET), "revert", "bad_header", "index")
write("revert_transfer_0.bin", frame(REVERT, 0, 0, TARGET), "revert", "bad_header", "transfer")
write("revert_bad_crc.bin", frame(REVERT, 1, 0, TARGET, crc_flip=1), "revert", "bad_header",
      "crc")
write("frame_transfer_0.bin", frame(CHUNK, 0, 0, b"x"), "frame", "bad_header", "transfer")
write("frame_offer_index_1.bin", frame(OFFER, 1, 1, offer_payload(256, 4, 0, HEAD)), "frame",
      "bad_header", "index")
write("frame_cancel_index_1.bin", frame(CANCEL, 1, 1, b"\x17"), "frame", "bad_header", "index")
write("frame_cancel_length_2.bin", frame(CANCEL, 1, 0, b"\x17\x00"), "frame",
      "bad_header", "length")
write("frame_chunk_empty.bin", frame(CHUNK, 1, 0, b""), "frame", "bad_header", "length")
write("frame_chunk_too_long.bin", frame(CHUNK, 1, 0, b"\0" * 16385), "frame",
      "bad_header", "length")
write("frame_length_huge.bin", frame(CHUNK, 1, 0, b"x", length=0xFFFFFFFF), "frame",
      "bad_header", "length")
write("frame_offer_no_head.bin", frame(OFFER, 1, 0, offer_payload(256, 4, 0, HEAD[:16])),
      "frame", "bad_header", "length")
write("offer_chunk_size_63.bin", frame(OFFER, 1, 0, offer_payload(63, 16, 0, HEAD)), "offer",
      "out_of_range", "chunk_size")
write("offer_chunk_size_16385.bin", frame(OFFER, 1, 0, offer_payload(16385, 1, 0, HEAD)),
      "offer", "out_of_range", "chunk_size")
write("offer_n_chunks_short.bin", frame(OFFER, 1, 0, offer_payload(256, 3, 0, HEAD)), "offer",
      "inconsistent", "n_chunks")
write("offer_n_chunks_long.bin", frame(OFFER, 1, 0, offer_payload(256, 5, 0, HEAD)), "offer",
      "inconsistent", "n_chunks")
write("offer_window_257.bin", frame(OFFER, 1, 0, offer_payload(256, 4, 0, HEAD, window=257)),
      "offer", "out_of_range", "window")
write("offer_model_too_large.bin",
      frame(OFFER, 1, 0, offer_payload(16384, 4097, 0, package_head(64 * 1024 * 1024 + 1))),
      "offer", "out_of_range", "model_size")


# ---- answers
def answer(*members):
    return ("{" + ",".join('"%s":%s' % (k, v) for k, v in members) + "}").encode()


def s(v):
    return '"%s"' % v


def env(msg, transfer):
    return [("proto", 1), ("msg", s(msg)), ("transfer", transfer)]


write("accept_fresh.json",
      answer(*env("accept", 4097), ("sha256", s(HASH_A)), ("max_chunk", 1024), ("window", 16),
             ("next", 0)),
      "answer", msg="accept", transfer=4097, sha256=HASH_A, max_chunk=1024, window=16, next=0,
      have="")
write("accept_resume.json",
      answer(*env("accept", 4097), ("sha256", s(HASH_A)), ("max_chunk", 16384), ("window", 256),
             ("next", 40), ("have", s("05ff00a0"))),
      "answer", msg="accept", transfer=4097, sha256=HASH_A, max_chunk=16384, window=256, next=40,
      have="05ff00a0")
write("ack_contiguous.json", answer(*env("ack", 4097), ("next", 3)), "answer",
      msg="ack", transfer=4097, next=3, have="")
write("ack_with_gaps.json", answer(*env("ack", 4097), ("next", 1), ("have", s("0d"))), "answer",
      msg="ack", transfer=4097, next=1, have="0d")
write("ack_full_bitmap.json", answer(*env("ack", 1), ("next", 1048576), ("have", s("a5" * 256))),
      "answer", msg="ack", transfer=1, next=1048576, have="a5" * 256)
write("deny_rollback.json",
      answer(*env("deny", 12), ("sha256", s(HASH_A)), ("reason", s("rollback")),
             ("detail", s("counter_3_below_7"))),
      "answer", msg="deny", transfer=12, sha256=HASH_A, reason="rollback",
      detail="counter_3_below_7")
write("deny_busy.json", answer(*env("deny", 12), ("sha256", s(HASH_A)), ("reason", s("busy"))),
      "answer", msg="deny", transfer=12, reason="busy", detail="")
write("deny_unknown_reason.json",
      answer(*env("deny", 12), ("sha256", s(HASH_A)), ("reason", s("low_battery"))),
      "answer", exact=0, msg="deny", transfer=12, reason="internal", detail="low_battery")
write("result_activated.json",
      answer(*env("result", 12), ("sha256", s(HASH_A)), ("outcome", s("activated")),
             ("reason", s("ok")), ("output_sha256", s(HASH_B))),
      "answer", msg="result", transfer=12, sha256=HASH_A, outcome="activated", reason="ok",
      output_sha256=HASH_B)
write("result_reverted.json",
      answer(*env("result", 12), ("sha256", s(HASH_A)), ("outcome", s("reverted")),
             ("reason", s("selftest_mismatch")), ("output_sha256", s(HASH_A))),
      "answer", msg="result", transfer=12, outcome="reverted", reason="selftest_mismatch",
      output_sha256=HASH_A)
write("result_failed.json",
      answer(*env("result", 12), ("sha256", s(HASH_A)), ("outcome", s("failed")),
             ("reason", s("hash_mismatch"))),
      "answer", msg="result", transfer=12, outcome="failed", reason="hash_mismatch")
write("result_not_held.json",
      answer(*env("result", 0x1002), ("sha256", s(HASH_A)), ("outcome", s("failed")),
             ("reason", s("not_held"))),
      "answer", msg="result", transfer=0x1002, sha256=HASH_A, outcome="failed", reason="not_held")
write("result_revert_activated.json",
      answer(*env("result", 0x1002), ("sha256", s(HASH_A)), ("outcome", s("activated")),
             ("reason", s("ok")), ("output_sha256", s(HASH_B))),
      "answer", msg="result", transfer=0x1002, sha256=HASH_A, outcome="activated", reason="ok",
      output_sha256=HASH_B)
write("answer_pretty_unknown_keys.json",
      b'{\n  "transfer": 8,\n  "msg": "ack",\n  "later": {"k": [true, null]},\n'
      b'  "next": 2,\n  "proto": 1\n}\n',
      "answer", exact=0, msg="ack", transfer=8, next=2)
write("answer_proto_2.json", answer(("proto", 2), ("msg", s("ack")), ("transfer", 1), ("next", 0)),
      "answer", "unsupported_version", "proto")
write("answer_duplicate_key.json",
      answer(*env("ack", 1), ("next", 0), ("next", 1)), "answer", "duplicate_key", "-")
write("answer_unknown_msg.json", answer(*env("offer", 1)), "answer", "bad_enum", "msg")
write("answer_transfer_0.json", answer(*env("ack", 0), ("next", 0)), "answer",
      "out_of_range", "transfer")
write("accept_window_0.json",
      answer(*env("accept", 1), ("sha256", s(HASH_A)), ("max_chunk", 1024), ("window", 0),
             ("next", 0)), "answer", "out_of_range", "window")
write("accept_max_chunk_63.json",
      answer(*env("accept", 1), ("sha256", s(HASH_A)), ("max_chunk", 63), ("window", 4),
             ("next", 0)), "answer", "out_of_range", "max_chunk")
write("ack_have_odd.json", answer(*env("ack", 1), ("next", 0), ("have", s("abc"))), "answer",
      "bad_string", "have")
write("ack_have_upper.json", answer(*env("ack", 1), ("next", 0), ("have", s("AB"))), "answer",
      "bad_string", "have")
write("ack_have_too_long.json", answer(*env("ack", 1), ("next", 0), ("have", s("00" * 257))),
      "answer", "string_too_long", "have")
write("deny_reason_ok.json", answer(*env("deny", 1), ("sha256", s(HASH_A)), ("reason", s("ok"))),
      "answer", "inconsistent", "reason")
write("deny_bad_hash.json", answer(*env("deny", 1), ("sha256", s(HASH_A.upper())),
                                   ("reason", s("busy"))), "answer", "bad_hash", "sha256")
write("result_activated_no_output.json",
      answer(*env("result", 1), ("sha256", s(HASH_A)), ("outcome", s("activated")),
             ("reason", s("ok"))), "answer", "missing_field", "output_sha256")
write("result_failed_ok.json",
      answer(*env("result", 1), ("sha256", s(HASH_A)), ("outcome", s("failed")),
             ("reason", s("ok"))), "answer", "inconsistent", "reason")
write("answer_too_large.json",
      answer(*env("ack", 1), ("next", 0), ("pad", s("x" * 1000))), "answer", "too_large", "-")

with open(os.path.join(HERE, "index.txt"), "w") as f:
    f.write("\n".join(index) + "\n")
