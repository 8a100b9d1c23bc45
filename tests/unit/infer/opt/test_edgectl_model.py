#!/usr/bin/env python3
"""`edgectl model inspect|run|bench` on the reference models in tests/data.

usage: test_edgectl_model.py EDGECTL
Finds them through EDGE_TEST_DATA (else EDGE_SOURCE_ROOT/tests/data); a
missing model is a failure, never a skip.
"""
import json
import os
import subprocess
import sys
import tempfile


def run(args, expect_rc=0):
    p = subprocess.run(args, capture_output=True, text=True, timeout=300)
    if p.returncode != expect_rc:
        sys.exit(f"FAIL: {' '.join(args)}: exit {p.returncode}, expected {expect_rc}\n{p.stderr}")
    return p


def main():
    edgectl = sys.argv[1]
    data = os.environ.get("EDGE_TEST_DATA") or os.path.join(os.environ.get("EDGE_SOURCE_ROOT", "."),
                                                            "tests", "data")
    models = os.path.join(data, "models")
    kws = os.path.join(models, "kws_ref_model.tflite")
    kws_in = os.path.join(models, "kws_ref_model.sample0.input.bin")
    lstm = os.path.join(models, "mnist_lstm_int8.tflite")
    for f in (kws, kws_in, lstm):
        if not os.path.isfile(f):
            sys.exit(f"FAIL: {f} not found (set EDGE_TEST_DATA or run through meson test)")

    # inspect: stable top-level keys, every operator supported, MACs add up
    j = json.loads(run([edgectl, "model", "inspect", kws, "--json"]).stdout)
    assert j["supported"] is True and j["unsupported"] == [], j["unsupported"]
    assert j["macs"] == sum(op["macs"] for op in j["operators"]) > 0
    assert j["arena_bytes"] > 0 and j["persistent_bytes"] >= j["packed_bytes"]
    assert j["operators"][0]["name"] == "CONV_2D"
    assert j["tensors"][0]["shape"] == [1, 49, 10, 1]
    assert j["tensors"][0]["quantization"]["zero_point"] == [83]
    text = run([edgectl, "model", "inspect", kws]).stdout
    assert "DEPTHWISE_CONV_2D" in text and "arena:" in text

    # an unsupported operator: still listed, named, and a failure exit
    j = json.loads(run([edgectl, "model", "inspect", lstm, "--json"], expect_rc=1).stdout)
    assert j["supported"] is False
    assert j["error"]["name"] == "EDGE_INFER_EUNSUPPORTED"
    names = [op["name"] for op in j["operators"]]
    assert "FULLY_CONNECTED" in names, names
    assert {"index": 0, "name": "UNIDIRECTIONAL_SEQUENCE_LSTM"} in j["unsupported"], j["unsupported"]

    with tempfile.TemporaryDirectory() as tmp:
        opt_out, ref_out = os.path.join(tmp, "opt.bin"), os.path.join(tmp, "ref.bin")
        # run: optimised and reference give the same bytes
        run([edgectl, "model", "run", kws, "--input", kws_in, "--output", opt_out])
        run([edgectl, "model", "run", kws, "--input", kws_in, "--output", ref_out, "--reference"])
        a, b = open(opt_out, "rb").read(), open(ref_out, "rb").read()
        assert len(a) == 12 and a == b, (a, b)
        # wrong input size: a clear error, no output
        short = os.path.join(tmp, "short.bin")
        open(short, "wb").write(b"\0" * 10)
        p = run([edgectl, "model", "run", kws, "--input", short, "--output", os.path.join(tmp, "x.bin")],
                expect_rc=1)
        assert "has 10 bytes" in p.stderr and "needs 490" in p.stderr, p.stderr
        assert not os.path.exists(os.path.join(tmp, "x.bin"))
        # missing --input / unknown option: usage error
        run([edgectl, "model", "run", kws, "--output", opt_out], expect_rc=2)
        run([edgectl, "model", "frobnicate"], expect_rc=2)

    # bench: both paths, identical outputs, stable keys
    j = json.loads(run([edgectl, "model", "bench", kws, "--iters", "3", "--json"]).stdout)
    assert j["reference"]["median_us"] > 0 and j["optimised"]["median_us"] > 0
    assert j["reference"]["iters"] == 3 and j["outputs_equal"] is True
    assert j["macs"] > 0 and j["arena_bytes"] > 0 and j["kernel_path"]
    print("ok: inspect, run, bench")
    return 0


if __name__ == "__main__":
    sys.exit(main())
