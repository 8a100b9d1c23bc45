#!/usr/bin/env python3
"""`edgectl keys generate|show` and `edgectl model pack|verify|inspect` on a
real model from tests/data, with real keys in a scratch directory; each
refusal of `model verify` is produced by one specific tampering.

usage: test_edgectl_ota.py EDGECTL
"""
import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile


def run(args, expect_rc=0):
    p = subprocess.run(args, capture_output=True, text=True, timeout=120)
    if p.returncode != expect_rc:
        sys.exit(f"FAIL: {' '.join(args)}: exit {p.returncode}, expected {expect_rc}\n"
                 f"{p.stdout}\n{p.stderr}")
    return p


def crc32c(data):
    """CRC-32C (Castagnoli, reflected), as the package header uses."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def refused(edgectl, pkg, trust, reason, *extra):
    p = run([edgectl, "model", "verify", pkg, "--trust", trust, *extra], expect_rc=1)
    if f": {reason}: " not in p.stderr:
        sys.exit(f"FAIL: verify {pkg}: expected {reason}, got: {p.stderr}")


def main():
    edgectl = sys.argv[1]
    data = os.environ.get("EDGE_TEST_DATA") or os.path.join(os.environ.get("EDGE_SOURCE_ROOT", "."),
                                                            "tests", "data")
    model = os.path.join(data, "models", "hello_world_int8.tflite")
    other = os.path.join(data, "models", "simple_add.tflite")
    lstm = os.path.join(data, "models", "mnist_lstm_int8.tflite")
    for f in (model, other, lstm):
        if not os.path.isfile(f):
            sys.exit(f"FAIL: {f} not found (set EDGE_TEST_DATA or run through meson test)")

    with tempfile.TemporaryDirectory() as tmp:
        trust = os.path.join(tmp, "trust")
        keys = os.path.join(tmp, "keys")
        os.mkdir(trust)
        os.mkdir(keys)
        a, b, rogue = (os.path.join(keys, n) for n in ("a", "b", "rogue"))

        # keys: files, modes, never overwritten, id shown
        run([edgectl, "keys", "generate", "--type", "ed25519", "--out", a])
        run([edgectl, "keys", "generate", "--type", "p256", "--out", b])
        run([edgectl, "keys", "generate", "--type", "ed25519", "--out", rogue])
        assert stat.S_IMODE(os.stat(a + ".key").st_mode) == 0o600
        assert stat.S_IMODE(os.stat(a + ".pub").st_mode) == 0o644
        run([edgectl, "keys", "generate", "--type", "ed25519", "--out", a], expect_rc=1)
        run([edgectl, "keys", "generate", "--type", "rsa", "--out", a + "x"], expect_rc=2)
        ja = json.loads(run([edgectl, "keys", "show", a, "--json"]).stdout)
        assert ja["type"] == "ed25519" and len(ja["key_id"]) == 64 and not ja["private"], ja
        jk = json.loads(run([edgectl, "keys", "show", a + ".key", "--json"]).stdout)
        assert jk["key_id"] == ja["key_id"] and jk["private"], jk
        assert "p256" in run([edgectl, "keys", "show", b + ".pub"]).stdout
        for k in (a, b):
            shutil.copy(k + ".pub", trust)

        # pack: refuses a model the engine cannot load, then a good one
        pkg = os.path.join(tmp, "hello.pkg")
        base = [edgectl, "model", "pack", model, "--name", "hello", "--version", "1.0.0",
                "--counter", "3"]
        p = run([edgectl, "model", "pack", lstm, "--name", "x", "--version", "1", "--counter", "1",
                 "--key", a, "--out", pkg], expect_rc=1)
        assert "EDGE_INFER_EUNSUPPORTED" in p.stderr and not os.path.exists(pkg), p.stderr
        run(base + ["--out", pkg], expect_rc=2)  # no key
        run(base + ["--key", a, "--key", b, "--out", pkg])

        # verify ok, with threshold 2; inspect shows manifest and signatures
        ok = run([edgectl, "model", "verify", pkg, "--trust", trust]).stdout
        assert ": ok: hello 1.0.0" in ok, ok
        run([edgectl, "model", "verify", pkg, "--trust", trust, "--threshold", "2"])
        j = json.loads(run([edgectl, "model", "inspect", pkg, "--json", "--trust", trust]).stdout)
        assert j["verdict"] == "ok", j
        assert j["manifest"]["name"] == "hello" and j["manifest"]["counter"] == 3
        assert j["manifest"]["runtime"] == "tflm"
        assert j["manifest"]["size"] == os.path.getsize(model)
        assert j["manifest"]["selftest"]["seed"] != 0
        assert [s["algorithm"] for s in j["signatures"]] == ["ed25519", "p256"]
        assert all(s["trusted"] and s["valid"] for s in j["signatures"])
        assert j["signatures"][0]["key_id"] == ja["key_id"]
        # the golden self-test, reproduced outside lib/ota: xorshift32 input
        # (proto/ota/package.md), `model run`, SHA-256 of output 0
        st = j["manifest"]["selftest"]
        n = 1
        for d in j["manifest"]["inputs"][0]["shape"]:
            n *= d
        x, inp = st["seed"], bytearray()
        for _ in range(n):
            x ^= (x << 13) & 0xFFFFFFFF
            x ^= x >> 17
            x ^= (x << 5) & 0xFFFFFFFF
            inp.append(x & 0xFF)
        in_bin, out_bin = os.path.join(tmp, "st.in"), os.path.join(tmp, "st.out")
        open(in_bin, "wb").write(bytes(inp))
        run([edgectl, "model", "run", model, "--input", in_bin, "--output", out_bin])
        assert hashlib.sha256(open(out_bin, "rb").read()).hexdigest() == st["output_sha256"], st
        text = run([edgectl, "model", "inspect", pkg]).stdout
        assert "self-test:" in text and "signatures (2):" in text, text
        # a plain .tflite still gets the model view
        assert "arena:" in run([edgectl, "model", "inspect", model]).stdout

        # threshold not met: one trusted key of two required
        one = os.path.join(tmp, "one.pkg")
        run(base + ["--key", a, "--out", one])
        refused(edgectl, one, trust, "threshold_not_met", "--threshold", "2")

        # unknown key
        rog = os.path.join(tmp, "rogue.pkg")
        run(base + ["--key", rogue, "--out", rog])
        refused(edgectl, rog, trust, "unknown_key")

        # expired
        exp = os.path.join(tmp, "exp.pkg")
        run(base + ["--key", a, "--expires", "2020-01-01", "--out", exp])
        refused(edgectl, exp, trust, "expired")

        raw = open(one, "rb").read()

        def write(name, content):
            path = os.path.join(tmp, name)
            with open(path, "wb") as f:
                f.write(content)
            return path

        # a flipped manifest byte (still a valid manifest): bad signature
        i = raw.index(b'"1.0.0"')
        refused(edgectl, write("m.pkg", raw[:i + 5] + b"1" + raw[i + 6:]), trust, "bad_signature")
        # a flipped model byte: hash mismatch
        k = len(raw) - 100
        refused(edgectl, write("h.pkg", raw[:k] + bytes([raw[k] ^ 1]) + raw[k + 1:]), trust,
                "hash_mismatch")
        # mix and match: this signed manifest with another model
        other_pkg = os.path.join(tmp, "other.pkg")
        run([edgectl, "model", "pack", other, "--name", "add", "--version", "1", "--counter", "1",
             "--key", a, "--out", other_pkg])
        o = open(other_pkg, "rb").read()
        m_len = int.from_bytes(raw[12:16], "little")
        s_len = int.from_bytes(raw[16:20], "little")
        o_model = o[32 + int.from_bytes(o[12:16], "little") + int.from_bytes(o[16:20], "little"):]
        head = bytearray(raw[:32])
        head[20:28] = len(o_model).to_bytes(8, "little")
        head[28:32] = crc32c(bytes(head[:28])).to_bytes(4, "little")
        mix = bytes(head) + raw[32:32 + m_len + s_len] + o_model
        refused(edgectl, write("x.pkg", mix), trust, "size_mismatch")
        # no signature entry: an empty signature block (4 bytes, count 0)
        head = bytearray(raw[:32])
        head[16:20] = (4).to_bytes(4, "little")
        head[28:32] = crc32c(bytes(head[:28])).to_bytes(4, "little")
        bare = bytes(head) + raw[32:32 + m_len] + bytes(4) + raw[32 + m_len + s_len:]
        refused(edgectl, write("u.pkg", bare), trust, "unsigned")
        # malformed: truncated, bad magic
        refused(edgectl, write("t.pkg", raw[:20]), trust, "malformed")
        refused(edgectl, write("g.pkg", b"EDGEPKG2" + raw[8:]), trust, "malformed")
        # usage
        run([edgectl, "model", "verify", one], expect_rc=2)
        run([edgectl, "keys"], expect_rc=2)
    print("ok")


if __name__ == "__main__":
    main()
