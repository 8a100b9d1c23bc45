#!/usr/bin/env python3
"""Writes the signed-package golden vectors of this directory (listed in
../index.txt as kind `ota`, a whole package, and `manifest`, the manifest
bytes alone). The signatures are filler bytes: the container is checked here,
not the cryptography (lib/ota's tests verify real signatures).
Run from anywhere: python3 gen.py"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
HASH_A = "0123456789abcdef" * 4
HASH_B = "fedcba9876543210" * 4
MODEL = b"TFL3-not-a-real-model"


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def manifest(**edit):
    fields = [
        ("format", "1"), ("name", '"kws"'), ("version", '"1.2.0+b3"'),
        ("counter", "7"), ("size", str(len(MODEL))), ("sha256", '"%s"' % HASH_A),
        ("runtime", '"tflm"'), ("ops", '["CONV_2D","FULLY_CONNECTED","SOFTMAX"]'),
        ("arena_bytes", "20480"),
        ("inputs", '[{"type":"int8","shape":[1,49,10],"scale":0.1,"zero_point":-128}]'),
        ("outputs", '[{"type":"int8","shape":[1,4],"scale":0.00390625,"zero_point":-128}]'),
        ("expires_ms", "0"),
        ("selftest", '{"seed":1,"output_sha256":"%s"}' % HASH_B),
    ]
    out = []
    for k, v in fields:
        v = edit.pop(k, v)
        if v is not None:
            out.append('"%s":%s' % (k, v))
    for k, v in edit.items():
        out.append('"%s":%s' % (k, v))
    return ("{" + ",".join(out) + "}").encode()


def sig_entry(alg, key_byte, sig_len):
    return struct.pack("<BBH", alg, 0, sig_len) + bytes([key_byte]) * 32 + \
        bytes([0x50 + key_byte]) * sig_len


def package(man=None, sigs=None, model=MODEL, version=1, header_size=32,
            crc_flip=False, sig_count=None, model_size=None, m_size=None):
    man = manifest() if man is None else man
    sigs = [sig_entry(1, 0, 64)] if sigs is None else sigs
    block = struct.pack("<B3x", len(sigs) if sig_count is None else sig_count) + b"".join(sigs)
    head = b"EDGEPKG1" + struct.pack("<HHIIQ", version, header_size,
                                     len(man) if m_size is None else m_size, len(block),
                                     len(model) if model_size is None else model_size)
    crc = crc32c(head) ^ (1 if crc_flip else 0)
    head += struct.pack("<I", crc)
    return head + man + block + model


def write(name, data):
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(data)


full = package()
head_len = len(full) - len(MODEL)
write("valid_ed25519.bin", full)
write("valid_head_only.bin", full[:head_len])
write("valid_two_sigs_ecdsa.bin",
      package(sigs=[sig_entry(2, 1, 71), sig_entry(1, 2, 64)]))
write("valid_unknown_key.bin", package(man=manifest(future='{"x":[1,2,3]}')))
write("bad_magic.bin", b"EDGEPKG0" + full[8:])
write("version_2.bin", package(version=2))
write("header_size_40.bin", package(header_size=40))
write("bad_crc.bin", package(crc_flip=True))
write("manifest_size_zero.bin", package(m_size=0))
write("manifest_too_large.bin", package(m_size=4097))
write("model_too_large.bin", package(model_size=64 * 1024 * 1024 + 1))
write("truncated_header.bin", full[:31])
write("truncated_manifest.bin", full[:40])
write("truncated_model.bin", full[:-1])
write("sig_count_zero.bin", package(sig_count=0))
write("sig_count_past_entries.bin", package(sig_count=2))
write("sig_alg_unknown.bin", package(sigs=[sig_entry(3, 0, 64)]))
write("sig_ed25519_short.bin", package(sigs=[sig_entry(1, 0, 63)]))
write("trailing_bytes.bin", full + b"\0")
write("manifest_bad_hash.bin", package(man=manifest(sha256='"%s"' % HASH_A.upper())))
write("manifest_valid.json", manifest())
write("manifest_format_2.json", manifest(format="2"))
write("manifest_missing_selftest.json", manifest(selftest=None))
write("manifest_bad_tensor_type.json",
      manifest(outputs='[{"type":"int4","shape":[1,4],"scale":1,"zero_point":0}]'))
write("manifest_shape_rank_7.json",
      manifest(inputs='[{"type":"int8","shape":[1,1,1,1,1,1,1],"scale":1,"zero_point":0}]'))
write("manifest_seed_zero.json", manifest(selftest='{"seed":0,"output_sha256":"%s"}' % HASH_B))
