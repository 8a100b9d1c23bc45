#!/usr/bin/env python3
"""`edgectl offload ...` without edged: argument errors (exit 2, checked
before any connection), then each verb against the scripted control socket
of test_edgectl_ota_cli.py, answering with the shapes of edged's offload.*
commands, so that the request sent and the human view are both checked.
The commands against a real edged are in tests/integration.

usage: test_edgectl_offload_cli.py EDGECTL
"""
import json
import os
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from test_edgectl_ota_cli import FakeEdged, err, ok  # noqa: E402

EDGECTL = None
SOCK = None


def fail(msg):
    sys.exit("FAIL: " + msg)


def run(args, expect_rc, stderr_has=(), stdout_has=(), sock=None):
    p = subprocess.run([EDGECTL, "-s", sock or SOCK] + args, capture_output=True, text=True,
                       timeout=60)
    if p.returncode != expect_rc:
        fail(f"edgectl {' '.join(args)}: exit {p.returncode}, expected {expect_rc}\n"
             f"stdout: {p.stdout}\nstderr: {p.stderr}")
    for text in [stderr_has] if isinstance(stderr_has, str) else stderr_has:
        if text not in p.stderr:
            fail(f"edgectl {' '.join(args)}: stderr lacks {text!r}:\n{p.stderr}")
    for text in [stdout_has] if isinstance(stdout_has, str) else stdout_has:
        if text not in p.stdout:
            fail(f"edgectl {' '.join(args)}: stdout lacks {text!r}:\n{p.stdout}")
    return p


def rows(text):
    """The lines of a table, each split on runs of 2+ spaces (cells may hold
    one space: '48 of 1000', '2026-12-07 05:00:00')."""
    return [[c for c in line.strip().split("  ") if c.strip() != ""]
            for line in text.splitlines()]


def cells(row):
    return [c.strip() for c in row]


def usage_errors(tmp):
    nosock = os.path.join(tmp, "absent.sock")
    bad = [
        (["offload"], "Usage: edgectl offload list"),
        (["offload", "frob"], "unknown subcommand 'frob'"),
        (["offload", "enable"], "which model? (offload enable REF)"),
        (["offload", "disable"], "which model? (offload disable REF)"),
        (["offload", "enable", "kws!"], "bad model reference 'kws!'"),
        (["offload", "disable", "kws@"], "bad model reference"),
        (["offload", "enable", "kws", "vww"], "edgectl offload enable: unexpected argument 'vww'"),
        (["offload", "list", "x"], "edgectl offload list: unexpected argument 'x'"),
        (["offload", "status", "x"], "edgectl offload status: unexpected argument 'x'"),
        (["offload", "status", "--frob"], "edgectl offload status: unknown option --frob"),
        (["offload", "mismatches", "5"], "unexpected argument '5'"),
        (["offload", "mismatches", "--limit"], "--limit needs a value"),
        (["offload", "mismatches", "--limit", "0"],
         "--limit must be an integer 1..100000, not '0'"),
        (["offload", "mismatches", "--limit", "-3"], "--limit must be"),
        (["offload", "mismatches", "--limit", "5x"], "--limit must be"),
        (["offload", "mismatches", "--limit", " 5"], "--limit must be"),
        (["offload", "mismatches", "--limit", "100001"], "--limit must be"),
        (["offload", "mismatches", "--limit=99999999999999999999999"], "--limit must be"),
        (["offload", "list"] + ["--json"] * 20, "too many arguments"),
    ]
    for args, text in bad:
        run(args, 2, stderr_has=text, sock=nosock)
    good = [["offload", "list"], ["offload", "status"], ["offload", "enable", "kws"],
            ["offload", "enable", "kws@1.0"], ["offload", "disable", "ABCDEF0123"],
            ["offload", "mismatches"], ["offload", "mismatches", "--limit", "100000"],
            ["offload", "mismatches", "--limit=1", "--json"]]
    for args in good:
        run(args, 3, stderr_has="edged is not running", sock=nosock)
    for args in (["offload", "--help"], ["offload", "mismatches", "--help"]):
        run(args, 0, stdout_has="Usage: edgectl offload list", sock=nosock)
    p = run(["--help"], 0, sock=nosock)
    if "\n  offload       " not in p.stdout:
        fail(f"--help lacks the offload command:\n{p.stdout}")


KWS = {"digest": "ab" * 32, "name": "kws", "version": "1.0", "sha256": "cd" * 32,
       "enabled": True, "offloadable": True, "reason": None, "input_bytes": 490,
       "output_bytes": 12, "interpreter_bytes": 23552, "macs": 336000}
VWW = dict(KWS, digest="ef" * 32, name="vww", version="2.1", sha256="12" * 32,
           offloadable=False, reason="unsupported operator SQUARED_DIFFERENCE",
           input_bytes=27648, output_bytes=2, interpreter_bytes=3 * 1048576)
HELLO = dict(KWS, digest="34" * 32, name="hello", version="0.1", sha256="56" * 32,
             enabled=False, offloadable=None, input_bytes=1, output_bytes=1,
             interpreter_bytes=1000)


def offload_list(fake):
    answer = {"models": [KWS, VWW, HELLO]}
    fake.answer("offload.list", ok(answer))
    p = run(["offload", "list"], 0, stdout_has="3 model(s), 2 enabled")
    t = rows(p.stdout)
    if cells(t[0]) != ["MODEL", "ENABLED", "INPUT (B)", "OUTPUT (B)", "MEMORY", "DIGEST",
                       "OFFLOADABLE"]:
        fail(f"offload list: header: {p.stdout}")
    want = [["kws@1.0", "yes", "490", "12", "23.0 KiB", "ab" * 8, "yes"],
            ["vww@2.1", "yes", "27648", "2", "3.0 MiB", "ef" * 8,
             "no: unsupported operator SQUARED_DIFFERENCE"],
            ["hello@0.1", "no", "1", "1", "1000 B", "34" * 8, "-"]]
    if [cells(r) for r in t[1:4]] != want:
        fail(f"offload list: rows {t[1:4]}:\n{p.stdout}")
    if fake.last("offload.list") is not None:
        fail(f"offload list sent args {fake.last('offload.list')}")
    p = run(["--json", "offload", "list"], 0)
    if json.loads(p.stdout) != answer:
        fail("offload list --json is not edged's answer")
    p = run(["offload", "list", "--json"], 0)
    if json.loads(p.stdout) != answer:
        fail("offload list --json (after the verb) is not edged's answer")
    fake.answer("offload.list", ok({"models": []}))
    run(["offload", "list"], 0, stdout_has="no stored models")
    fake.answer("offload.list", err("not_authorised", "no role"))
    run(["offload", "list"], 4, stderr_has="(not_authorised)")


def enable_disable(fake):
    fake.answer("offload.enable", ok({k: KWS[k] for k in (
        "digest", "name", "version", "sha256", "enabled", "offloadable", "reason",
        "input_bytes", "output_bytes")}))
    p = run(["offload", "enable", "kws@1.0"], 0,
            stdout_has="enabled kws@1.0 (sha256 cdcdcdcdcdcdcdcd): input 490 B, output 12 B")
    if p.stderr:
        fail(f"offload enable of an offloadable model warned: {p.stderr}")
    if fake.last("offload.enable") != {"model": "kws@1.0"}:
        fail(f"offload enable sent {fake.last('offload.enable')}")
    # Enabled, but the engine cannot run it: said on stderr, exit 0.
    fake.answer("offload.enable", ok(dict(VWW, enabled=True)))
    run(["offload", "enable", "efefefef"], 0, stdout_has="enabled vww@2.1",
        stderr_has=["vww@2.1 is not offloadable: unsupported operator SQUARED_DIFFERENCE",
                    "answered not_offloadable"])
    if fake.last("offload.enable") != {"model": "efefefef"}:
        fail(f"offload enable sent {fake.last('offload.enable')}")
    fake.answer("offload.enable", err("ambiguous", "efefefef matches 2 models"))
    run(["offload", "enable", "efefefef"], 1, stderr_has=["(ambiguous)", "give more digits"])
    fake.answer("offload.enable", err("unavailable", "offload is off"))
    run(["offload", "enable", "kws"], 1, stderr_has=["(unavailable)", "no offload service"])
    fake.answer("offload.enable", err("not_authorised", "needs the admin role"))
    run(["offload", "enable", "kws"], 4, stderr_has="(not_authorised)")

    fake.answer("offload.disable", ok({"digest": "ab" * 32, "name": "kws", "version": "1.0",
                                       "sha256": "cd" * 32, "enabled": False}))
    run(["offload", "disable", "kws"], 0, stdout_has="disabled kws@1.0")
    if fake.last("offload.disable") != {"model": "kws"}:
        fail(f"offload disable sent {fake.last('offload.disable')}")
    fake.answer("offload.disable", err("not_found", "kws is not enabled"))
    run(["offload", "disable", "kws"], 1,
        stderr_has=["kws is not enabled (not_found)", "'edgectl offload list'"])
    p = run(["--json", "offload", "disable", "kws"], 1)
    if p.stdout:
        fail(f"offload disable --json refused: output on stdout: {p.stdout}")


def outcomes(ok_=0, busy=0, **more):
    o = {"ok": ok_, "unknown_model": 0, "not_offloadable": 0, "bad_input": 0, "busy": busy,
         "deadline_exceeded": 0, "internal": 0, "malformed": 0}
    o.update(more)
    return o


def node(i, requests, flagged=False, mismatches=0):
    return {"id": f"n{i:03d}", "requests": requests,
            "outcomes": outcomes(requests - 1, 1) if requests else outcomes(),
            "queue_us": {"p50": 120, "p99": 4500} if requests else {"p50": None, "p99": None},
            "run_us": {"p50": 2345.6, "p99": 9999} if requests else {"p50": None, "p99": None},
            "queued": 0, "matches": 3, "mismatches": mismatches, "flagged": flagged}


def status(fake):
    nodes = [node(i, 100 + i) for i in range(25)]
    # a quiet node, flagged: shown though not in the top 20
    nodes.append(node(99, 0, flagged=True, mismatches=1))
    answer = {
        "workers": 4, "queued": 3, "queue_max": 256, "node_queue_max": 16,
        "memory_bytes": 12 * 1048576, "memory_budget": 64 * 1048576, "requests": 3000,
        "outcomes": outcomes(2900, 60, deadline_exceeded=30, bad_input=9, malformed=1,
                             future_status=2),
        "busy": {"queue_full": 10, "node_cap": 45, "deadline": 5, "node_table": 0},
        "dropped": {"no_response_topic": 1, "reply_failed": 0},
        "verify": {"received": 80, "matches": 78, "mismatches": 1, "not_held": 1, "busy": 0},
        "models": [
            {"name": "kws", "version": "1.0", "sha256": "cd" * 32, "requests": 2000,
             "outcomes": outcomes(1950, 40, deadline_exceeded=10),
             "queue_us": {"p50": 150, "p99": 12345}, "run_us": {"p50": 1830.4, "p99": 2100},
             "queued": 2, "loaded": 4, "memory_bytes": 94208, "matches": 78, "mismatches": 1},
            {"name": "vww", "version": "2.1", "sha256": "12" * 32, "requests": 0,
             "outcomes": outcomes(), "queue_us": {"p50": None, "p99": None},
             "run_us": {"p50": None, "p99": None}, "queued": 0, "loaded": 0,
             "memory_bytes": 0, "matches": 0, "mismatches": 0}],
        "nodes": nodes}
    fake.answer("offload.status", ok(answer))
    p = run(["offload", "status"], 0, stdout_has=[
        "workers 4, queue 3/256 (at most 16 per node), memory 12.0 MiB of 64.0 MiB\n",
        "requests 3000: ok 2900, bad_input 9, busy 60, deadline_exceeded 30, malformed 1, "
        "future_status 2\n",
        "busy causes: queue_full 10, node_cap 45, deadline 5, node_table 0\n",
        "answers dropped: no_response_topic 1, reply_failed 0\n",
        "verify: 80 received, 78 matches, 1 mismatches, 1 model not held, 0 busy; "
        "1 node(s) flagged\n",
        "(5 more node(s) with fewer requests: --json lists them)"])
    if fake.last("offload.status") is not None:
        fail(f"offload status sent args {fake.last('offload.status')}")
    models_part, nodes_part = p.stdout.split("\nmodels (times in ms):\n")[1].split(
        "\nnodes (times in ms):\n")
    t = [cells(r) for r in rows(models_part) if r]
    if t[0] != ["MODEL", "REQUESTS", "OK", "BUSY", "OTHER", "QUEUE P50", "P99", "RUN P50",
                "P99", "QUEUED", "MATCH", "MISMATCH"]:
        fail(f"offload status: models header: {models_part}")
    if t[1] != ["kws@1.0", "2000", "1950", "40", "10", "0.15", "12.35", "1.83", "2.10", "2",
                "78", "1"]:
        fail(f"offload status: kws row {t[1]}")
    if t[2] != ["vww@2.1", "0", "0", "0", "0", "-", "-", "-", "-", "0", "0", "0"]:
        fail(f"offload status: vww row {t[2]}")
    t = [cells(r) for r in rows(nodes_part) if r and not r[0].startswith("(")]
    if t[0][0] != "NODE" or t[0][-1] != "FLAGGED":
        fail(f"offload status: nodes header {t[0]}")
    ids = [r[0] for r in t[1:]]
    # most requests first, the top 20, then the flagged quiet node
    if ids != [f"n{i:03d}" for i in range(24, 4, -1)] + ["n099"]:
        fail(f"offload status: node rows {ids}")
    if t[1] != ["n024", "124", "123", "1", "0", "0.12", "4.50", "2.35", "10.00", "3", "0"]:
        fail(f"offload status: n024 row {t[1]}")
    if t[-1] != ["n099", "0", "0", "0", "0", "-", "-", "-", "-", "3", "1", "FLAGGED"]:
        fail(f"offload status: flagged row {t[-1]}")
    p = run(["offload", "status", "--json"], 0)
    if json.loads(p.stdout) != answer:
        fail("offload status --json is not edged's answer")

    # Nothing offloaded yet.
    fake.answer("offload.status", ok(dict(answer, requests=0, outcomes=outcomes(),
                                          models=[], nodes=[])))
    run(["offload", "status"], 0, stdout_has=[
        "requests 0: ok 0\n", "none enabled ('edgectl offload enable REF')", "none yet",
        "0 node(s) flagged"])
    fake.answer("offload.status", err("unavailable", "offload is off"))
    run(["offload", "status"], 1, stderr_has="no offload service")


def mismatches(fake):
    m1 = {"ts_ms": 1796000000000, "node": "n7", "model": "kws@1.0", "sha256": "cd" * 32,
          "seq": 4242, "first_diff": 3, "length": 12, "node_bytes": "7f000102",
          "gateway_bytes": "80000102", "input_sha256": "99" * 32}
    m2 = dict(m1, ts_ms=1795999990000, node="n8", seq=17, first_diff=0)
    answer = {"mismatches": [m1, m2]}
    fake.answer("offload.mismatches", ok(answer))
    p = run(["offload", "mismatches", "--limit", "2"], 0,
            stdout_has="2 mismatch(es), newest first")
    if fake.last("offload.mismatches") != {"limit": 2}:
        fail(f"offload mismatches sent {fake.last('offload.mismatches')}")
    t = [cells(r) for r in rows(p.stdout)]
    if t[0] != ["TIME (UTC)", "NODE", "MODEL", "SEQ", "FIRST DIFF", "NODE BYTES",
                "GATEWAY BYTES"]:
        fail(f"offload mismatches: header {t[0]}")
    if t[1] != ["2026-11-30 00:53:20", "n7", "kws@1.0", "4242", "3 of 12", "7f000102",
                "80000102"] or t[2][1:5] != ["n8", "kws@1.0", "17", "0 of 12"]:
        fail(f"offload mismatches: rows {t[1:3]}")
    run(["offload", "mismatches"], 0)
    if fake.last("offload.mismatches") != {}:
        fail(f"offload mismatches without --limit sent {fake.last('offload.mismatches')}")
    p = run(["--json", "offload", "mismatches", "--limit=50"], 0)
    if json.loads(p.stdout) != answer:
        fail("offload mismatches --json is not edged's answer")
    fake.answer("offload.mismatches", ok({"mismatches": []}))
    run(["offload", "mismatches"], 0, stdout_has="no mismatches")
    fake.answer("offload.mismatches", err("bad_args", "limit: at most 1000"))
    run(["offload", "mismatches", "--limit", "5000"], 1,
        stderr_has="limit: at most 1000 (bad_args)")


def main():
    global EDGECTL, SOCK
    EDGECTL = os.path.abspath(sys.argv[1])
    with tempfile.TemporaryDirectory() as tmp:
        usage_errors(tmp)
        SOCK = os.path.join(tmp, "edged.sock")
        fake = FakeEdged(SOCK)
        offload_list(fake)
        enable_disable(fake)
        status(fake)
        mismatches(fake)
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
