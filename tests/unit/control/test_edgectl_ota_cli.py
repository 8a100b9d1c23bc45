#!/usr/bin/env python3
"""`edgectl models ...` and `edgectl ota ...` without edged: argument errors
(exit 2, checked before any connection), then each command against a scripted
control socket that records the request edgectl sent and answers with the
shapes of proto/control-protocol.md, so both the request and the human view
are checked exactly. The end-to-end tests against a real edged are in
tests/integration.

usage: test_edgectl_ota_cli.py EDGECTL
"""
import json
import os
import pty
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading

EDGECTL = None
SOCK = None


def fail(msg):
    sys.exit("FAIL: " + msg)


def run(args, expect_rc, stderr_has=None, stdout_has=None, sock=None):
    p = subprocess.run([EDGECTL, "-s", sock or SOCK] + args, capture_output=True, text=True,
                       timeout=60)
    if p.returncode != expect_rc:
        fail(f"edgectl {' '.join(args)}: exit {p.returncode}, expected {expect_rc}\n"
             f"stdout: {p.stdout}\nstderr: {p.stderr}")
    for text in [stderr_has] if isinstance(stderr_has, str) else stderr_has or []:
        if text not in p.stderr:
            fail(f"edgectl {' '.join(args)}: stderr lacks {text!r}:\n{p.stderr}")
    for text in [stdout_has] if isinstance(stdout_has, str) else stdout_has or []:
        if text not in p.stdout:
            fail(f"edgectl {' '.join(args)}: stdout lacks {text!r}:\n{p.stdout}")
    return p


class FakeEdged:
    """One request per connection (as edgectl does); answers come from a
    script per command: a list whose head is used (the last one repeats)."""

    def __init__(self, path):
        self.path = path
        self.script = {}
        self.requests = []
        self.lock = threading.Condition()
        self.srv = socket.socket(socket.AF_UNIX)
        self.srv.bind(path)
        self.srv.listen(16)
        threading.Thread(target=self.serve, daemon=True).start()

    def answer(self, cmd, *answers):
        with self.lock:
            self.script[cmd] = list(answers)
            self.requests.clear()

    def last(self, cmd):
        with self.lock:
            for req in reversed(self.requests):
                if req["cmd"] == cmd:
                    return req.get("args")
        fail(f"no {cmd} request was sent")

    def wait_for(self, cmd, n):
        """Until n requests cmd arrived since the last answer()."""
        with self.lock:
            if not self.lock.wait_for(
                    lambda: sum(r["cmd"] == cmd for r in self.requests) >= n, timeout=30):
                fail(f"edgectl sent no {n} {cmd} requests")

    def serve(self):
        while True:
            conn, _ = self.srv.accept()
            with conn:
                try:
                    self.handle(conn)
                except OSError:
                    pass  # edgectl hung up (interrupted): the next one is served

    def handle(self, conn):
        head = self.read(conn, 4)
        if not head:
            return
        req = json.loads(self.read(conn, struct.unpack(">I", head)[0]))
        with self.lock:
            self.requests.append(req)
            self.lock.notify_all()
            queue = self.script.get(req["cmd"])
            if not queue:
                resp = {"ok": False, "error": {"code": "unknown_command",
                                               "message": "not scripted"}}
            else:
                resp = queue.pop(0) if len(queue) > 1 else queue[0]
        body = json.dumps(resp).encode()
        conn.sendall(struct.pack(">I", len(body)) + body)

    @staticmethod
    def read(conn, n):
        b = b""
        while len(b) < n:
            c = conn.recv(n - len(b))
            if not c:
                return None
            b += c
        return b


def ok(result):
    return {"ok": True, "result": result}


def err(code, message):
    return {"ok": False, "error": {"code": code, "message": message}}


MODEL = {"digest": "ab" * 32, "name": "hello", "version": "1.0.0", "counter": 3, "size": 2488,
         "sha256": "cd" * 32, "pkg_size": 3100, "added_ms": 1796000000000, "runtime": "tflm",
         "arena_bytes": 2048, "n_ops": 3, "expires_ms": 0, "signers": 2}


def node(id, state, held, n=10, reason="ok", detail="", rate=0, retx=0):
    return {"id": id, "state": state, "reason": reason, "chunks_held": held, "n_chunks": n,
            "bytes_held": held * 1024, "rate_bps": rate, "unicast_chunks": 0,
            "retransmits": retx, "offers": 1, "srtt_ms": 20, "rto_ms": 200,
            "started_ms": 1796000000000, "updated_ms": 1796000001000, "finished_ms": 0,
            "output_sha256": "", "detail": detail}


def transfer(tid, state, nodes):
    counts = {}
    for n in nodes:
        counts[n["state"]] = counts.get(n["state"], 0) + 1
    return {"transfer": tid, "model": {"name": "hello", "version": "1.0.0",
                                       "digest": "ab" * 32, "sha256": "cd" * 32},
            "chunk_size": 1024, "n_chunks": 10, "campaign": True, "state": state,
            "created_ms": 1796000000000,
            "finished_ms": 0 if state == "running" else 1796000060000,
            "counts": counts,
            "stats": {"campaign_chunks": 10, "campaign_bytes": 10240, "unicast_chunks": 2,
                      "unicast_bytes": 2048, "retransmits": 2, "offers": 2},
            "nodes": nodes}


def usage_errors(tmp):
    """Bad usage exits 2 before connecting (the socket does not exist);
    the same command made valid reaches the connection (exit 3)."""
    nosock = os.path.join(tmp, "absent.sock")
    bad = [
        (["models"], "Usage: edgectl models"),
        (["models", "add"], "which package?"),
        (["models", "show"], "which model?"),
        (["models", "remove"], "which model?"),
        (["models", "fit"], "which model?"),
        (["models", "show", "bad!ref"], "bad model reference 'bad!ref'"),
        (["models", "show", "hello@"], "bad model reference"),
        (["models", "show", "@1.0"], "bad model reference"),
        (["models", "show", "g" * 32], "bad model reference"),
        (["models", "fit", "a", "b"], "unexpected argument 'b'"),
        (["models", "list", "x"], "unexpected argument 'x'"),
        (["models", "frob"], "unknown subcommand 'frob'"),
        (["models", "list", "--frob"], "unknown option --frob"),
        (["ota"], "Usage: edgectl ota send"),
        (["ota", "frob"], "unknown subcommand 'frob'"),
        (["ota", "send"], "which model?"),
        (["ota", "send", "hello"], "--to is required"),
        (["ota", "send", "hello", "--to"], "--to needs a value"),
        (["ota", "send", "x!", "--to", "all"], "bad model reference"),
        (["ota", "send", "hello", "--to", "a,,b"], "bad node id ''"),
        (["ota", "send", "hello", "--to", "a,"], "bad node id ''"),
        (["ota", "send", "hello", "--to", "n/1"], "bad node id 'n/1'"),
        (["ota", "send", "hello", "--to", "x" * 65], "bad node id"),
        (["ota", "send", "hello", "--to", "a,b,a"], "node 'a' listed twice"),
        (["ota", "send", "hello", "--to", "all", "--chunk-size", "63"],
         "--chunk-size must be an integer 64..16384, not '63'"),
        (["ota", "send", "hello", "--to", "all", "--chunk-size", "16385"], "--chunk-size"),
        (["ota", "send", "hello", "--to", "all", "--chunk-size", "-1024"], "--chunk-size"),
        (["ota", "send", "hello", "--to", "all", "--chunk-size", " 1024"], "--chunk-size"),
        (["ota", "send", "hello", "--to", "all", "--window", "0"],
         "--window must be an integer 1..256, not '0'"),
        (["ota", "send", "hello", "--to", "all", "--window", "257"], "--window"),
        (["ota", "send", "hello", "--to", "all", "--window", "8x"], "--window"),
        (["ota", "send", "hello", "other", "--to", "all"], "unexpected argument 'other'"),
        (["ota", "status", "--transfer", "0"], "a transfer is a number 1..4294967295"),
        (["ota", "status", "--transfer", "4294967296"], "a transfer is a number"),
        (["ota", "status", "n 1"], "bad node id 'n 1'"),
        (["ota", "cancel"], "which transfer?"),
        (["ota", "cancel", "seven"], "a transfer is a number 1..4294967295, not 'seven'"),
        (["ota", "cancel", "7", "--device", "a/b"], "--device: bad node id 'a/b'"),
        (["ota", "cancel", "7", "8"], "unexpected argument '8'"),
    ]
    for args, text in bad:
        run(args, 2, stderr_has=text, sock=nosock)
    good = [
        ["models", "list"], ["models", "show", "hello"], ["models", "show", "hello@1.0.0"],
        ["models", "show", "ABCDEF01"], ["models", "remove", "ab" * 32],
        ["models", "fit", "hello"],
        ["ota", "send", "hello", "--to", "all"],
        ["ota", "send", "hello@1.0.0", "--to=n1,n-2,N_3", "--no-campaign", "--chunk-size",
         "64", "--window", "256", "--wait"],
        ["ota", "send", "hello", "--to", "n1", "--chunk-size=16384", "--window=1"],
        ["ota", "status"], ["ota", "status", "n1", "--transfer", "4294967295"],
        ["ota", "cancel", "1"], ["ota", "cancel", "7", "--device", "n1"],
    ]
    for args in good:
        run(args, 3, stderr_has="edged is not running", sock=nosock)
    for args in (["models", "--help"], ["ota", "--help"], ["ota", "send", "--help"]):
        p = run(args, 0, sock=nosock)
        if "Usage: edgectl" not in p.stdout:
            fail(f"{args}: no usage on stdout")
    p = run(["--help"], 0, sock=nosock)
    for text in ("models ", "ota ", "model "):
        if "\n  " + text not in p.stdout:
            fail(f"--help lacks the {text!r} command")
    # A missing package is this side's error, before edged is asked.
    run(["models", "add", os.path.join(tmp, "absent.pkg")], 1,
        stderr_has="absent.pkg: No such file or directory", sock=nosock)
    run(["models", "add", tmp], 1, stderr_has="not a regular file", sock=nosock)


def models(fake, tmp):
    pkg = os.path.join(tmp, "hello.pkg")
    with open(pkg, "wb") as f:
        f.write(b"EDGEPKG1")
    os.symlink(pkg, os.path.join(tmp, "link.pkg"))

    # add: the real absolute path goes to edged (through the symlink, from
    # another working directory).
    fake.answer("models.add", ok({"model": MODEL}))
    p = subprocess.run([EDGECTL, "-s", SOCK, "models", "add", "link.pkg"], cwd=tmp,
                       capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        fail(f"models add: exit {p.returncode}: {p.stderr}")
    if fake.last("models.add") != {"path": os.path.realpath(pkg)}:
        fail(f"models add sent {fake.last('models.add')}")
    for text in ("added hello@1.0.0 (counter 3, 3.0 KiB, 2 signature(s))",
                 "digest " + "ab" * 32):
        if text not in p.stdout:
            fail(f"models add: stdout lacks {text!r}: {p.stdout}")
    fake.answer("models.add", dict(err("refused", "package refused"), error={
        "code": "refused", "message": "package refused", "reason": "bad_signature"}))
    run(["models", "add", pkg], 1,
        stderr_has=["package refused (refused)", "verdict bad_signature"])
    fake.answer("models.add", err("no_trust", "no trusted key"))
    run(["models", "add", pkg], 1, stderr_has=["(no_trust)", "ota.trust_dir"])
    fake.answer("models.add", err("not_authorised", "needs the admin role"))
    run(["models", "add", pkg], 4, stderr_has="(not_authorised)")

    # list
    other = dict(MODEL, name="kws", version="2.1", counter=7, digest="ef" * 32,
                 expires_ms=1798761600000)
    fake.answer("models.list", ok({"models": [MODEL, other]}))
    p = run(["models", "list"], 0, stdout_has=["2 model(s)", "abababababababab",
                                               "2027-01-01 00:00:00"])
    lines = p.stdout.splitlines()
    if not lines[0].startswith("NAME") or "hello" not in lines[1] or "kws" not in lines[2]:
        fail(f"models list: rows: {p.stdout}")
    if "never" not in lines[1] or "2.4 KiB" not in lines[1]:
        fail(f"models list: hello's row: {lines[1]}")
    if fake.last("models.list") != {}:
        fail("models list args")
    p = run(["--json", "models", "list"], 0)
    if json.loads(p.stdout) != {"models": [MODEL, other]}:
        fail("models list --json is not edged's answer")

    # show: model, manifest, signers, open transfers
    fake.answer("models.show", ok({
        "model": dict(MODEL, manifest={
            "ops": ["FULLY_CONNECTED", "QUANTIZE", "DEQUANTIZE"], "arena_bytes": 2048,
            "inputs": [{"type": "int8", "shape": [1, 1]}], "outputs": [],
            "expires_ms": 0, "selftest": {"seed": 42, "output_sha256": "ee" * 32},
            "runtime": "tflm"}),
        "signers": [{"key_id": "11" * 32, "alg": "ed25519", "trusted": True},
                    {"key_id": "22" * 32, "alg": "p256", "trusted": False}],
        "transfers": [4, 9]}))
    run(["models", "show", "hello@1.0.0"], 0, stdout_has=[
        "manifest.ops", "FULLY_CONNECTED, QUANTIZE, DEQUANTIZE",
        'manifest.inputs[0]', '{"type":"int8","shape":[1,1]}',
        "manifest.selftest.seed", "manifest.expires", "never",
        "signer[0]", "ed25519 " + "11" * 32 + " (trusted)",
        "p256 " + "22" * 32 + " (not trusted)", "open transfers", "4, 9"])
    if fake.last("models.show") != {"model": "hello@1.0.0"}:
        fail(f"models show sent {fake.last('models.show')}")
    fake.answer("models.show", err("ambiguous", "abababab matches 2 models"))
    run(["models", "show", "abababab"], 1, stderr_has=["(ambiguous)", "give more digits"])

    # remove
    fake.answer("models.remove", ok({"removed": "ab" * 32}))
    run(["models", "remove", "hello"], 0, stdout_has="removed " + "ab" * 32)
    fake.answer("models.remove", err("in_use", "transfer 4 sends it"))
    run(["models", "remove", "hello"], 1, stderr_has=["(in_use)", "edgectl ota cancel"])

    # fit
    fake.answer("models.fit", ok({"fit": ["n1", "n2"], "unfit": [
        {"id": "n3", "reason": "missing_ops", "detail": "QUANTIZE"},
        {"id": "n4", "reason": "already_have", "detail": ""}]}))
    p = run(["models", "fit", "hello"], 0, stdout_has=["fit (2): n1, n2", "unfit (2):"])
    rows = [line.split() for line in p.stdout.splitlines()]
    if ["n3", "missing_ops", "QUANTIZE"] not in rows or ["n4", "already_have", "-"] not in rows:
        fail(f"models fit: unfit table: {p.stdout}")


def ota(fake):
    # send: the request carries exactly what was asked
    sent = ok({"transfer": 7, "nodes": ["n1", "n2"],
               "skipped": [{"id": "n3", "reason": "unknown_node", "detail": ""},
                           {"id": "n4", "reason": "busy", "detail": "transfer 5"}]})
    fake.answer("ota.send", sent)
    run(["ota", "send", "hello", "--to", "n1,n2,n3,n4", "--no-campaign", "--chunk-size",
         "512", "--window", "8"], 0,
        stdout_has=["transfer 7 started", "offered to (2): n1, n2", "skipped (2):"])
    if fake.last("ota.send") != {"model": "hello", "to": ["n1", "n2", "n3", "n4"],
                                 "campaign": False, "chunk_size": 512, "window": 8}:
        fail(f"ota send sent {fake.last('ota.send')}")
    run(["ota", "send", "hello", "--to", "all"], 0)
    if fake.last("ota.send") != {"model": "hello", "to": "all"}:
        fail(f"ota send --to all sent {fake.last('ota.send')}")
    fake.answer("ota.send", {"ok": False, "error": {
        "code": "no_target", "message": "no node left to send to",
        "skipped": [{"id": "n3", "reason": "missing_ops", "detail": "QUANTIZE"}]}})
    p = run(["ota", "send", "hello", "--to", "n3"], 1,
            stderr_has=["(no_target)", "skipped (1):"])
    if ["n3", "missing_ops", "QUANTIZE"] not in [line.split() for line in p.stderr.splitlines()]:
        fail(f"no_target: skipped not shown: {p.stderr}")
    if p.stdout:
        fail(f"no_target: output on stdout: {p.stdout}")

    # send --wait: follows ota.status until the transfer ended; the log
    # (not a terminal) has one line per state change.
    running = transfer(7, "running", [node("n1", "receiving", 5), node("n2", "offered", 0)])
    verifying = transfer(7, "running", [node("n1", "verifying", 10),
                                        node("n2", "receiving", 5)])
    done = transfer(7, "finished", [node("n1", "activated", 10), node("n2", "activated", 10)])
    fake.answer("ota.send", sent)
    fake.answer("ota.status", ok({"transfers": [running]}), ok({"transfers": [verifying]}),
                ok({"transfers": [done]}))
    p = run(["ota", "send", "hello", "--to", "n1,n2", "--wait"], 0)
    log = p.stdout.splitlines()
    order = ["n1 receiving", "n2 offered", "n1 verifying", "n2 receiving", "n1 activated",
             "n2 activated"]
    if [line for line in log if line in order] != order:
        fail(f"--wait log: {p.stdout}")
    if "transfer 7: hello@1.0.0 finished" not in p.stdout or \
            "[####################] 100%" not in p.stdout:
        fail(f"--wait final view: {p.stdout}")
    if fake.last("ota.status") != {"transfer": 7}:
        fail(f"--wait polled with {fake.last('ota.status')}")

    # One node failed: exit 1, and why.
    failed = transfer(7, "finished", [node("n1", "activated", 10),
                                      node("n2", "reverted", 10, reason="selftest_mismatch")])
    fake.answer("ota.send", sent)
    fake.answer("ota.status", ok({"transfers": [failed]}))
    run(["ota", "send", "hello", "--to", "n1,n2", "--wait"], 1,
        stderr_has="transfer 7 finished: 1 of 2 node(s) activated",
        stdout_has="n2 reverted selftest_mismatch")
    # --json --wait: the send answer, then the final status answer.
    fake.answer("ota.send", sent)
    fake.answer("ota.status", ok({"transfers": [done]}))
    p = run(["--json", "ota", "send", "hello", "--to", "n1,n2", "--wait"], 0)
    dec = json.JSONDecoder()
    first, end = dec.raw_decode(p.stdout)
    second, _ = dec.raw_decode(p.stdout[end:].lstrip())
    if first != sent["result"] or second != {"transfers": [done]}:
        fail(f"--json --wait: {p.stdout}")
    # The transfer vanished from edged's list (restarted): an error.
    fake.answer("ota.send", sent)
    fake.answer("ota.status", ok({"transfers": []}))
    run(["ota", "send", "hello", "--to", "n1", "--wait"], 1,
        stderr_has="no longer lists transfer 7")

    # On a terminal the view is redrawn in place: cursor up over the rows
    # drawn (the 80 columns of a terminal that tells none: the header and
    # counts lines wrap), then clear.
    fake.answer("ota.send", sent)
    fake.answer("ota.status", ok({"transfers": [running]}), ok({"transfers": [done]}))
    master, slave = pty.openpty()
    p = subprocess.Popen([EDGECTL, "-s", SOCK, "ota", "send", "hello", "--to", "n1,n2",
                          "--wait"], stdout=slave, stderr=subprocess.PIPE)
    os.close(slave)
    screen = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        screen += chunk
    os.close(master)
    if p.wait(timeout=30) != 0:
        fail(f"--wait on a terminal: exit {p.returncode}: {p.stderr.read()}")
    p.stderr.close()
    screen = screen.decode()
    if screen.count("\x1b[7A\x1b[J") != 1 or not screen.rstrip().endswith(
            "n2  activated  [####################] 100%  10.0 KiB  -     0     -"):
        fail(f"--wait on a terminal: {screen!r}")

    # Ctrl-C stops the wait, not the transfer: no cancel is sent.
    fake.answer("ota.send", sent)
    fake.answer("ota.status", ok({"transfers": [running]}))
    p = subprocess.Popen([EDGECTL, "-s", SOCK, "ota", "send", "hello", "--to", "n1,n2",
                          "--wait"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    fake.wait_for("ota.status", 2)
    p.send_signal(signal.SIGINT)
    out, errs = p.communicate(timeout=30)
    if p.returncode != 130 or "stopped waiting; transfer 7 goes on" not in errs:
        fail(f"--wait interrupted: exit {p.returncode}: {errs}")
    if any(r["cmd"] == "ota.cancel" for r in fake.requests):
        fail("--wait interrupted sent a cancel")

    # status: header, counts, traffic, one row per node with its bar
    stalled = node("n2", "stalled", 3, reason="timeout", detail="no ack for 30 s", retx=4)
    fake.answer("ota.status", ok({"transfers": [
        transfer(9, "running", [node("n1", "receiving", 5, rate=2048), stalled]), done]}))
    p = run(["ota", "status"], 0, stdout_has=[
        "transfer 9: hello@1.0.0 running, 10 chunks of 1.0 KiB, campaign, created "
        "2026-11-30 ",
        "nodes: 1 receiving, 1 stalled; sent 10 campaign chunks (10.0 KiB), 2 unicast "
        "(2.0 KiB), 2 retransmitted, 2 offers",
        "transfer 7: hello@1.0.0 finished", "ended 2026-11-30 "])
    first = p.stdout.split("\n\n")[0]  # transfer 9's block
    rows = {line.split()[0]: line for line in first.splitlines() if line.startswith("n")}
    if "receiving  [##########----------]  50%  5.0 KiB" not in rows.get("n1", "") or \
            "2.0 KiB/s" not in rows["n1"]:
        fail(f"ota status: n1 row: {p.stdout}")
    if "[######--------------]  30%" not in rows.get("n2", "") or \
            not rows["n2"].rstrip().endswith("4     timeout: no ack for 30 s"):
        fail(f"ota status: n2 row: {p.stdout}")
    if fake.last("ota.status") != {}:
        fail(f"ota status sent {fake.last('ota.status')}")
    run(["ota", "status", "n2", "--transfer", "9"], 0)
    if fake.last("ota.status") != {"transfer": 9, "device": "n2"}:
        fail(f"ota status n2 --transfer 9 sent {fake.last('ota.status')}")
    fake.answer("ota.status", ok({"transfers": []}))
    run(["ota", "status"], 0, stdout_has="no transfers")

    # cancel
    fake.answer("ota.cancel", ok({"cancelled": 1}))
    run(["ota", "cancel", "9", "--device", "n2"], 0, stdout_has="cancelled on 1 node(s)")
    if fake.last("ota.cancel") != {"transfer": 9, "device": "n2"}:
        fail(f"ota cancel sent {fake.last('ota.cancel')}")
    fake.answer("ota.cancel", err("not_found", "no open transfer 9"))
    run(["ota", "cancel", "9"], 1, stderr_has="no open transfer 9 (not_found)")
    if fake.last("ota.cancel") != {"transfer": 9}:
        fail(f"ota cancel sent {fake.last('ota.cancel')}")


def devices_show(fake):
    base = {"id": "n1", "state": "online", "fw": "1.0"}
    fake.answer("device", ok(dict(base, ota={
        "active": {"name": "hello", "version": "1.0.0", "sha256": "cd" * 32},
        "previous": None, "last_transfer": 7, "last_outcome": "reverted",
        "last_reason": "selftest_mismatch"})))
    p = run(["devices", "show", "n1"], 0)
    rows = {line.split()[0]: " ".join(line.split()[1:]) for line in p.stdout.splitlines()}
    want = {"ota.active": "hello 1.0.0 (sha256 cdcdcdcdcdcdcdcd)", "ota.previous": "none",
            "ota.last": "transfer 7: reverted (selftest_mismatch)"}
    for k, v in want.items():
        if rows.get(k) != v:
            fail(f"devices show: {k} is {rows.get(k)!r}, expected {v!r}:\n{p.stdout}")
    fake.answer("device", ok(dict(base, ota={"active": None, "previous": None,
                                              "last_transfer": 0, "last_outcome": "",
                                              "last_reason": ""})))
    p = run(["devices", "show", "n1"], 0)
    rows = {line.split()[0]: " ".join(line.split()[1:]) for line in p.stdout.splitlines()}
    for k in ("ota.active", "ota.previous", "ota.last"):
        if rows.get(k) != "none":
            fail(f"devices show, no OTA yet: {k} is {rows.get(k)!r}:\n{p.stdout}")


def main():
    global EDGECTL, SOCK
    EDGECTL = os.path.abspath(sys.argv[1])
    with tempfile.TemporaryDirectory() as tmp:
        usage_errors(tmp)
        SOCK = os.path.join(tmp, "edged.sock")
        fake = FakeEdged(SOCK)
        models(fake, tmp)
        ota(fake)
        devices_show(fake)
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
