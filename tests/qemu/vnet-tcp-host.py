#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# The host end of the multiqueue guest test (run-virtio-net-mq.sh), run in
# the TAP's network namespace: for each stream i, a TCP sink on port
# 5000 + i (reads until EOF, the guest's upload) and a TCP source on port
# 6000 + i (sends --bytes zeros, then closes: the guest's download), each
# serving one connection after another until SIGTERM. One line per
# connection when it ends; "ready" once listening.
#
#   vnet-tcp-host.py --ip ADDR --streams N --bytes B
import argparse
import signal
import socket
import sys
import threading
import time


def serve(sock, port, source, nbytes):
    while True:
        one(sock, port, source, nbytes)


def one(sock, port, source, nbytes):
    conn, _ = sock.accept()
    t0, done = time.monotonic(), 0
    if source:
        chunk = bytes(65536)
        while done < nbytes:
            done += conn.send(chunk[: min(len(chunk), nbytes - done)])
        conn.shutdown(socket.SHUT_WR)
        while conn.recv(65536):
            pass
    else:
        while True:
            data = conn.recv(1 << 20)
            if not data:
                break
            done += len(data)
    conn.close()
    print(f"{'source' if source else 'sink'} port {port} bytes {done} "
          f"seconds {time.monotonic() - t0:.2f}", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ip", required=True)
    ap.add_argument("--streams", type=int, default=2)
    ap.add_argument("--bytes", type=int, required=True)
    a = ap.parse_args()
    threads = []
    for i in range(a.streams):
        for base, source in ((5000, False), (6000, True)):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((a.ip, base + i))
            s.listen(1)
            threads.append(threading.Thread(
                target=serve, args=(s, base + i, source, a.bytes), daemon=True))
    for t in threads:
        t.start()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print("ready", flush=True)
    while True:
        signal.pause()


if __name__ == "__main__":
    sys.exit(main())
