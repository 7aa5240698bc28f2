#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Run QMP commands on a QEMU monitor socket, in order; print each result.

    qmp.py SOCKET COMMAND[=JSON-ARGUMENTS] ...

e.g. qmp.py qmp.sock 'set-action={"reboot": "reset"}' system_reset
Exits 1 with QEMU's message when a command fails. Events are skipped."""
import json
import socket
import sys


def main():
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(sys.argv[1])
    f = sock.makefile("rw")
    json.loads(f.readline())  # the greeting

    def call(cmd, args=None):
        req = {"execute": cmd}
        if args is not None:
            req["arguments"] = args
        f.write(json.dumps(req) + "\n")
        f.flush()
        while True:
            r = json.loads(f.readline())
            if "return" in r:
                return r["return"]
            if "error" in r:
                sys.exit("qmp: %s: %s" % (cmd, r["error"].get("desc")))

    call("qmp_capabilities")
    for c in sys.argv[2:]:
        name, _, args = c.partition("=")
        print(json.dumps(call(name, json.loads(args) if args else None)))


if __name__ == "__main__":
    main()
