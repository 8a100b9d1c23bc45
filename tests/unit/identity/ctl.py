#!/usr/bin/env python3
"""Control requests to edged, each whole answer printed as JSON.

Usage: ctl.py SOCKET CMD [ARGS_JSON]
  one request; exit 0 when the answer is ok, 1 when it is an error (its
  code on stderr).
Usage: ctl.py SOCKET --burst N OUT CMD ARGS_JSON
  N connections, the N requests sent back to back before any answer is
  read ("{i}" in ARGS_JSON becomes the request's index); answer i goes to
  OUTi ("connection closed" when there was none); exit 0.
For the identity tests: exact error codes and result fields, which edgectl
turns into text and exit codes."""
import json
import socket
import struct
import sys


def connect(path):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(60)
    s.connect(path)
    return s


def send(s, cmd, args):
    req = json.dumps({"cmd": cmd, "args": args}).encode()
    s.sendall(struct.pack(">I", len(req)) + req)


def answer(s):
    def read(n):
        b = b""
        while len(b) < n:
            c = s.recv(n - len(b))
            if not c:
                return None
            b += c
        return b

    head = read(4)
    body = read(struct.unpack(">I", head)[0]) if head else None
    return json.loads(body) if body else None


def main():
    path = sys.argv[1]
    if sys.argv[2] == "--burst":
        n, out, cmd, template = int(sys.argv[3]), sys.argv[4], sys.argv[5], sys.argv[6]
        socks = [connect(path) for _ in range(n)]
        for i, s in enumerate(socks):
            send(s, cmd, json.loads(template.replace("{i}", str(i))))
        for i, s in enumerate(socks):
            body = answer(s)
            with open("%s%d" % (out, i), "w") as f:
                f.write(json.dumps(body) if body else "connection closed")
        return 0
    cmd = sys.argv[2]
    args = json.loads(sys.argv[3]) if len(sys.argv) > 3 else {}
    s = connect(path)
    send(s, cmd, args)
    body = answer(s)
    if body is None:
        sys.exit("connection closed")
    print(json.dumps(body))
    if not body.get("ok"):
        print(body["error"]["code"], file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
