#!/usr/bin/env python3
"""Writes the inference offload golden vectors of this directory and
index.txt (proto/infer/offload.md): requests and verifies (node -> gateway)
and responses (gateway -> node). test_infer_msg.c parses each file with the
parser of its kind, compares the values the index states and, for valid
files, checks that the codec reproduces the bytes exactly (unless the line
says exact=0). Every file is also a seed of the fuzz corpus
(tests/fuzz/proto/corpus_infer_msg, refreshed with --corpus).
Python 3 standard library only. Run from anywhere: python3 gen.py [--corpus]"""
import os
import shutil
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "..", "..", "..", "..", "fuzz", "proto", "corpus_infer_msg")

MAGIC = 0x464E4945  # "EINF"
REQUEST, RESPONSE, VERIFY = 1, 2, 3
SHA256, NAME = 1, 2
TOP_NONE = 0xFFFF
# enum edge_infer_status, in order (append only).
STATUS = ["ok", "unknown_model", "not_offloadable", "bad_input", "busy",
          "deadline_exceeded", "internal", "malformed"]

SHA_A = bytes.fromhex("0123456789abcdef" * 4)
SHA_B = bytes.fromhex("fedcba9876543210" * 4)


def pattern(n, mul=31, add=7):
    return bytes((i * mul + add) & 0xFF for i in range(n))


KWS_INPUT = pattern(1960)             # micro_speech: 49 x 40 int8
VWW_INPUT = pattern(96 * 96 * 3, 13)  # vww_96: 96 x 96 x 3 int8


def request(deadline, kind, ref, inp, version=1, mtype=REQUEST, flags=0, input_length=None,
            ref_length=None, reserved=0, magic=MAGIC):
    input_length = len(inp) if input_length is None else input_length
    ref_length = len(ref) if ref_length is None else ref_length
    return struct.pack("<IBBHIIBBH", magic, version, mtype, flags, deadline, input_length,
                       kind, ref_length, reserved) + ref + inp


def response(status, out=b"", top=TOP_NONE, queued=0, run=0, expected=0, version=1,
             mtype=RESPONSE, flags=0, output_length=None, reserved=0):
    output_length = len(out) if output_length is None else output_length
    return struct.pack("<IBBHBBHIIII", MAGIC, version, mtype, flags, status, reserved, top,
                       queued, run, expected, output_length) + out


def verify(seq, kind, ref, inp, out, version=1, mtype=VERIFY, flags=0, input_length=None,
           output_length=None, ref_length=None, reserved=0):
    input_length = len(inp) if input_length is None else input_length
    output_length = len(out) if output_length is None else output_length
    ref_length = len(ref) if ref_length is None else ref_length
    return struct.pack("<IBBHIIBBHI", MAGIC, version, mtype, flags, seq, input_length, kind,
                       ref_length, reserved, output_length) + ref + inp + out


index = ["# Inference offload golden vectors (gen.py writes this file and the vectors).",
         "# <kind> <file> <expected reason|ok> <field|-> [key=value ...]",
         "# kind req: edge_infer_req_parse; resp: edge_infer_resp_parse;",
         "# verify: edge_infer_verify_parse. model= is the ref as text (kind 2) or",
         "# lowercase hex (kind 1). A valid file's values must be the listed ones",
         "# and the codec must reproduce its bytes (unless exact=0)."]
files = []


def write(name, data, kind, expect="ok", field="-", **values):
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(data)
    files.append(name)
    kv = "".join(" %s=%s" % (k, v) for k, v in values.items())
    index.append("%s %s %s %s%s" % (kind, name, expect, field, kv))


def ref_text(kind, ref):
    return ref.hex() if kind == SHA256 else ref.decode()


def req_values(deadline, kind, ref, inp):
    return dict(deadline_ms=deadline, model_kind=kind, model=ref_text(kind, ref),
                input_length=len(inp))


# ---- requests: valid
for name, dl, kind, ref, inp in (
        ("req_sha256_kws.bin", 250, SHA256, SHA_A, KWS_INPUT),
        ("req_name_vww.bin", 2000, NAME, b"vww_96@1.0.0", VWW_INPUT),
        ("req_name_shortest.bin", 1, NAME, b"a@1", b"\x80"),
        ("req_name_longest.bin", 600000, NAME, b"n" * 31 + b"@" + b"1.0+build." * 3 + b"x",
         pattern(10)),
        ("req_name_all_classes.bin", 100, NAME, b"Ab9._-@Zz0._+-", pattern(3))):
    write(name, request(dl, kind, ref, inp), "req", **req_values(dl, kind, ref, inp))
write("req_unknown_flags.bin", request(50, SHA256, SHA_B, b"xy", flags=0x8001), "req",
      exact=0, flags=0x8001, **req_values(50, SHA256, SHA_B, b"xy"))

# ---- requests: rejected, in the order the parser checks
good = request(250, NAME, b"kws@1.0.3", KWS_INPUT[:16])
write("req_bad_magic.bin", request(250, NAME, b"kws@1", b"x", magic=0x464E4946), "req",
      "bad_magic", "magic")
write("req_short_bad_magic.bin", b"EIX", "req", "bad_magic", "magic")
write("req_empty.bin", b"", "req", "truncated", "header")
write("req_short_good_magic.bin", b"EIN", "req", "truncated", "header")
write("req_truncated_header.bin", good[:19], "req", "truncated", "header")
write("req_version_2.bin", request(250, NAME, b"kws@1", b"x", version=2), "req",
      "unsupported_version", "version")
write("req_version_0.bin", request(250, NAME, b"kws@1", b"x", version=0), "req",
      "unsupported_version", "version")
write("req_type_response.bin", request(250, NAME, b"kws@1", b"x", mtype=RESPONSE), "req",
      "bad_header", "type")
write("req_type_4.bin", request(250, NAME, b"kws@1", b"x", mtype=4), "req", "bad_header",
      "type")
write("req_deadline_0.bin", request(0, NAME, b"kws@1", b"x"), "req", "bad_header",
      "deadline_ms")
write("req_deadline_600001.bin", request(600001, NAME, b"kws@1", b"x"), "req", "bad_header",
      "deadline_ms")
write("req_input_length_0.bin", request(250, NAME, b"kws@1", b""), "req", "bad_header",
      "input_length")
write("req_model_kind_0.bin", request(250, 0, b"kws@1", b"x"), "req", "bad_header",
      "model_kind")
write("req_model_kind_3.bin", request(250, 3, b"kws@1", b"x"), "req", "bad_header",
      "model_kind")
write("req_sha256_length_31.bin", request(250, SHA256, SHA_A[:31], b"x"), "req", "bad_header",
      "model_ref_length")
write("req_sha256_length_33.bin", request(250, SHA256, SHA_A + b"\0", b"x"), "req",
      "bad_header", "model_ref_length")
write("req_name_length_2.bin", request(250, NAME, b"a@", b"x"), "req", "bad_header",
      "model_ref_length")
write("req_name_length_64.bin", request(250, NAME, b"n" * 31 + b"@" + b"v" * 32, b"x"), "req",
      "bad_header", "model_ref_length")
write("req_reserved.bin", request(250, NAME, b"kws@1", b"x", reserved=0x0100), "req",
      "bad_header", "reserved")
write("req_truncated_ref.bin", good[:20 + 4], "req",
      "truncated", "model_ref")
write("req_truncated_input.bin", good[:-1], "req", "truncated", "input")
write("req_input_length_huge.bin", request(250, NAME, b"kws@1", b"x", input_length=0xFFFFFFFF),
      "req", "truncated", "input")
write("req_trailing_bytes.bin", good + b"\0", "req", "trailing_bytes", "-")
for name, ref in (("req_name_no_at.bin", b"kws-1.0.3"),
                  ("req_name_two_at.bin", b"kws@1@2"),
                  ("req_name_empty_name.bin", b"@1.0.3"),
                  ("req_name_empty_version.bin", b"kws@"),
                  ("req_name_plus_in_name.bin", b"kw+s@1.0"),
                  ("req_name_space.bin", b"kws @1.0"),
                  ("req_name_nul.bin", b"kws@1.0\0"),
                  ("req_name_utf8.bin", "kw\u00e9@1".encode()),
                  ("req_name_32_chars.bin", b"n" * 32 + b"@1"),
                  ("req_version_32_chars.bin", b"n@" + b"1" * 32)):
    write(name, request(250, NAME, ref, b"x"), "req", "bad_header", "model_ref")

# ---- responses: valid
out = bytes([0x80, 0x05, 0x7f, 0x7f, 0x10])  # int8: class 2 (ties to the lower index)
write("resp_ok_classifier.bin", response(0, out, top=2, queued=1500, run=8200), "resp",
      status="ok", top_class=2, queued_us=1500, run_us=8200, expected_input_bytes=0,
      output_length=5)
write("resp_ok_not_classifier.bin", response(0, pattern(64), queued=0, run=0xFFFFFFFF), "resp",
      status="ok", top_class=TOP_NONE, queued_us=0, run_us=0xFFFFFFFF,
      expected_input_bytes=0, output_length=64)
write("resp_ok_top_last.bin", response(0, b"\x00\x01", top=1), "resp", status="ok",
      top_class=1, output_length=2)
write("resp_bad_input.bin", response(3, expected=27648, queued=20), "resp",
      status="bad_input", top_class=TOP_NONE, queued_us=20, run_us=0,
      expected_input_bytes=27648, output_length=0)
for st in ("unknown_model", "not_offloadable", "busy", "deadline_exceeded", "internal",
           "malformed"):
    write("resp_%s.bin" % st, response(STATUS.index(st), queued=7, run=3), "resp", status=st,
          top_class=TOP_NONE, queued_us=7, run_us=3, expected_input_bytes=0, output_length=0)
write("resp_unknown_flags.bin", response(4, flags=0x0002), "resp", exact=0, flags=2,
      status="busy", output_length=0)

# ---- responses: rejected
good = response(0, out, top=2)
write("resp_bad_magic.bin", b"XINF" + good[4:], "resp", "bad_magic", "magic")
write("resp_truncated_header.bin", good[:27], "resp", "truncated", "header")
write("resp_version_2.bin", response(4, version=2), "resp", "unsupported_version", "version")
write("resp_type_request.bin", response(4, mtype=REQUEST), "resp", "bad_header", "type")
write("resp_status_8.bin", response(8), "resp", "bad_header", "status")
write("resp_status_255.bin", response(255), "resp", "bad_header", "status")
write("resp_reserved.bin", response(4, reserved=1), "resp", "bad_header", "reserved")
write("resp_top_class_not_ok.bin", response(4, top=0), "resp", "bad_header", "top_class")
write("resp_top_class_past_output.bin", response(0, out, top=5), "resp", "bad_header",
      "top_class")
write("resp_expected_without_bad_input.bin", response(4, expected=10), "resp", "bad_header",
      "expected_input_bytes")
write("resp_bad_input_expected_0.bin", response(3), "resp", "bad_header",
      "expected_input_bytes")
write("resp_ok_empty_output.bin", response(0), "resp", "bad_header", "output_length")
write("resp_busy_with_output.bin", response(4, b"x"), "resp", "bad_header", "output_length")
write("resp_truncated_output.bin", good[:-1], "resp", "truncated", "output")
write("resp_output_length_huge.bin", response(0, out, output_length=0xFFFFFFFF), "resp",
      "truncated", "output")
write("resp_trailing_bytes.bin", good + b"\0", "resp", "trailing_bytes", "-")

# ---- verify: valid
kout = bytes([0x81, 0x22, 0x7f, 0xe0])
write("verify_sha256_kws.bin", verify(41, SHA256, SHA_A, KWS_INPUT, kout), "verify", seq=41,
      model_kind=SHA256, model=SHA_A.hex(), input_length=len(KWS_INPUT), output_length=4)
write("verify_name_seq_max.bin", verify(0xFFFFFFFF, NAME, b"kws@1.0.3", b"\x01", b"\x02"),
      "verify", seq=0xFFFFFFFF, model_kind=NAME, model="kws@1.0.3", input_length=1,
      output_length=1)
write("verify_seq_0.bin", verify(0, NAME, b"ic@2", pattern(5), pattern(3, 5)), "verify", seq=0,
      model_kind=NAME, model="ic@2", input_length=5, output_length=3)
write("verify_unknown_flags.bin", verify(1, SHA256, SHA_B, b"in", b"out", flags=0xffff),
      "verify", exact=0, flags=0xffff, seq=1, model_kind=SHA256, model=SHA_B.hex(),
      input_length=2, output_length=3)

# ---- verify: rejected
good = verify(41, NAME, b"kws@1.0.3", b"input", b"out")
write("verify_bad_magic.bin", b"EINX" + good[4:], "verify", "bad_magic", "magic")
write("verify_truncated_header.bin", good[:23], "verify", "truncated", "header")
write("verify_version_2.bin", verify(1, NAME, b"kws@1", b"i", b"o", version=2), "verify",
      "unsupported_version", "version")
write("verify_type_request.bin", verify(1, NAME, b"kws@1", b"i", b"o", mtype=REQUEST),
      "verify", "bad_header", "type")
write("verify_input_length_0.bin", verify(1, NAME, b"kws@1", b"", b"o"), "verify",
      "bad_header", "input_length")
write("verify_model_kind_0.bin", verify(1, 0, b"kws@1", b"i", b"o"), "verify", "bad_header",
      "model_kind")
write("verify_sha256_length_16.bin", verify(1, SHA256, SHA_A[:16], b"i", b"o"), "verify",
      "bad_header", "model_ref_length")
write("verify_reserved.bin", verify(1, NAME, b"kws@1", b"i", b"o", reserved=1), "verify",
      "bad_header", "reserved")
write("verify_output_length_0.bin", verify(1, NAME, b"kws@1", b"i", b""), "verify",
      "bad_header", "output_length")
write("verify_truncated_ref.bin", good[:26], "verify", "truncated", "model_ref")
write("verify_truncated_input.bin", good[:24 + 9 + 4], "verify", "truncated", "input")
write("verify_truncated_output.bin", good[:-1], "verify", "truncated", "output")
write("verify_output_length_huge.bin",
      verify(1, NAME, b"kws@1", b"i", b"o", output_length=0xFFFFFFFF), "verify", "truncated",
      "output")
write("verify_trailing_bytes.bin", good + b"\0", "verify", "trailing_bytes", "-")
write("verify_name_bad_form.bin", verify(1, NAME, b"kws#1.0", b"i", b"o"), "verify",
      "bad_header", "model_ref")

with open(os.path.join(HERE, "index.txt"), "w") as f:
    f.write("\n".join(index) + "\n")

if "--corpus" in sys.argv[1:]:
    if os.path.isdir(CORPUS):
        for old in os.listdir(CORPUS):
            if old.endswith("-bin"):
                os.remove(os.path.join(CORPUS, old))
    else:
        os.makedirs(CORPUS)
    for name in files:
        shutil.copyfile(os.path.join(HERE, name),
                        os.path.join(CORPUS, name.replace(".bin", "-bin")))
