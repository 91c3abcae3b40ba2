"""A fault-injecting HTTP proxy on loopback, between ferry and Azurite.

Each request is forwarded to the upstream (Azurite) unless a fault is drawn
for it, at --rate, from a seeded generator:
  503      answer 503 ServerBusy with Retry-After (not forwarded)
  500      answer 500 InternalError, no Retry-After (not forwarded)
  reset    forward, then close the connection half-way through the body
  truncate forward, then send fewer body bytes than Content-Length, close
  stall    forward, send half the body, then stop sending (the client must give up)
  throttle forward, send the body slowly (in 20 steps, or at --throttle-bps)
Apart from those, --corrupt N,M flips one byte in the middle of the body of
the Nth, Mth, ... GET of a file's bytes (counted from 1 in order of answer),
as a network or a disk that damages data without a checksum would.
--cut N,M closes the connection half-way through the body of the Nth, Mth,
... GET of a file's bytes (counted the same way), as a dropped link would.
--drop-range-md5 drops the Content-MD5 of ranged answers (206), as a
service or a proxy that does not give a range's MD5 would.
--take-crc64 makes a Put Block's x-ms-content-crc64 the proxy's to check
(CRC-64/NVME, Azure's): a wrong one is answered 400 Crc64Mismatch, a right
one is dropped before the request goes on, as a service that takes the
header would (strict Azurite refuses it). The datastore must use a SAS: the
header is signed under a shared key.
Prints its port on stdout, and on SIGTERM writes its figures as JSON to --stats.
SIGUSR1 stops all faults from then on (the network has recovered).
Bounded: it serves at most --max-requests and exits after --max-seconds.
"""
import argparse
import base64
import http.client
import json
import random
import signal
import socket
import socketserver
import sys
import threading
import time

ap = argparse.ArgumentParser()
ap.add_argument("--upstream", required=True)  # host:port
ap.add_argument("--rate", type=float, default=0.2)
ap.add_argument("--faults", default="503,500,reset,truncate,stall,throttle")
ap.add_argument("--seed", type=int, default=1)
ap.add_argument("--stats", required=True)
ap.add_argument("--stall-seconds", type=float, default=4.0)
ap.add_argument("--throttle-bps", type=int, default=0)
ap.add_argument("--max-requests", type=int, default=200000)
ap.add_argument("--max-seconds", type=float, default=900)
ap.add_argument("--corrupt", default="")
ap.add_argument("--cut", default="")
ap.add_argument("--drop-range-md5", action="store_true")
ap.add_argument("--take-crc64", action="store_true")
args = ap.parse_args()
up_host, up_port = args.upstream.rsplit(":", 1)
kinds = [k for k in args.faults.split(",") if k]
rng = random.Random(args.seed)
lock = threading.Lock()
stats = {"requests": 0, "faults": 0, "by_kind": {k: 0 for k in kinds}, "forwarded": 0, "body_bytes": 0, "list_bytes": 0,
         "get_paths": {}, "body_gets": 0, "ranges": [], "corrupted": [], "blocks": []}
corrupt = {int(n) for n in args.corrupt.split(",") if n}
cut = {int(n) for n in args.cut.split(",") if n}
started = time.time()


CRC64_TABLE = []
for i in range(256):
    c = i
    for _ in range(8):
        c = (c >> 1) ^ 0x9A6C9329AC4BC9B5 if c & 1 else c >> 1
    CRC64_TABLE.append(c)


def crc64_b64(data):
    # CRC-64/NVME (reflected, all ones in and out), as x-ms-content-crc64 carries it
    c = 0xFFFFFFFFFFFFFFFF
    for b in data:
        c = CRC64_TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    return base64.b64encode((c ^ 0xFFFFFFFFFFFFFFFF).to_bytes(8, "little")).decode()


def draw():
    with lock:
        stats["requests"] += 1
        if stats["requests"] > args.max_requests or not kinds or rng.random() >= args.rate:
            return None
        k = rng.choice(kinds)
        stats["faults"] += 1
        stats["by_kind"][k] += 1
        return k


def recover(*_):
    global kinds
    with lock:
        kinds = []


def write_stats(*_):
    with open(args.stats, "w") as f:
        json.dump(stats, f)
    if _:
        sys.exit(0)


class Handler(socketserver.StreamRequestHandler):
    def handle(self):
        while time.time() - started < args.max_seconds:
            line = self.rfile.readline(65536)
            if not line or line in (b"\r\n", b"\n"):
                return
            method, target, _ = line.decode("latin-1").split(" ", 2)
            headers = []
            while True:
                h = self.rfile.readline(65536)
                if h in (b"\r\n", b"\n", b""):
                    break
                k, v = h.decode("latin-1").split(":", 1)
                headers.append((k.strip(), v.strip()))
            hd = {k.lower(): v for k, v in headers}
            if hd.get("expect", "").lower() == "100-continue":
                self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                self.wfile.flush()
            n = int(hd.get("content-length", "0") or 0)
            fault = draw()
            if fault == "throttle" and args.throttle_bps and n:
                # a slow link both ways: the request body arrives at the same rate
                parts, left = [], n
                while left:
                    chunk = self.rfile.read(min(left, max(1, args.throttle_bps // 20)))
                    if not chunk:
                        return
                    parts.append(chunk)
                    left -= len(chunk)
                    time.sleep(0.05)
                body = b"".join(parts)
            else:
                body = self.rfile.read(n) if n else b""
            if fault in ("503", "500"):
                msg = b"<?xml version=\"1.0\"?><Error><Code>%s</Code><Message>injected</Message></Error>" % (
                    b"ServerBusy" if fault == "503" else b"InternalError")
                head = "HTTP/1.1 %s\r\nContent-Length: %d\r\nx-ms-error-code: %s\r\n%s\r\n" % (
                    "503 Service Unavailable" if fault == "503" else "500 Internal Server Error", len(msg),
                    "ServerBusy" if fault == "503" else "InternalError",
                    "Retry-After: 1\r\n" if fault == "503" else "")
                self.wfile.write(head.encode() + msg)
                self.wfile.flush()
                continue
            if args.take_crc64 and "x-ms-content-crc64" in hd and crc64_b64(body) != hd["x-ms-content-crc64"]:
                fault = "400"
            if fault == "400":
                msg = b"<?xml version=\"1.0\"?><Error><Code>Crc64Mismatch</Code><Message>checked here</Message></Error>"
                self.wfile.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: %d\r\n"
                                 b"x-ms-error-code: Crc64Mismatch\r\n\r\n%s" % (len(msg), msg))
                self.wfile.flush()
                continue
            conn = http.client.HTTPConnection(up_host, int(up_port), timeout=120)
            drop = ("expect", "connection", "host") + (("x-ms-content-crc64",) if args.take_crc64 else ())
            fwd = {k: v for k, v in headers if k.lower() not in drop}
            fwd["Host"] = "%s:%s" % (up_host, up_port)
            conn.request(method, target, body=body if method not in ("GET", "HEAD") or body else None,
                         headers=fwd)
            resp = conn.getresponse()
            data = resp.read()
            conn.close()
            with lock:
                stats["forwarded"] += 1
                if method == "PUT" and "comp=block&" in target + "&":
                    # each Put Block: its id and the digests it carried, for the test to check
                    stats["blocks"].append({"target": target, "crc64": hd.get("x-ms-content-crc64"),
                                            "md5": hd.get("content-md5"), "status": resp.status})
                if method == "GET":
                    stats["list_bytes" if "comp=list" in target else "body_bytes"] += len(data)
                    if "comp=" not in target:
                        p = target.split("?", 1)[0]
                        stats["get_paths"][p] = stats["get_paths"].get(p, 0) + 1
                        if resp.status in (200, 206) and "resource=" not in target:
                            stats["body_gets"] += 1
                            rng = hd.get("x-ms-range") or hd.get("range") or "all"
                            stats["ranges"].append(rng)
                            if stats["body_gets"] in corrupt and data:
                                i = len(data) // 2
                                data = data[:i] + bytes([data[i] ^ 0x5A]) + data[i + 1:]
                                stats["corrupted"].append(rng)
                            if stats["body_gets"] in cut and len(data) > 1:
                                fault = "reset"
                                stats.setdefault("cut", []).append(rng)
            out = ["HTTP/1.1 %d %s" % (resp.status, resp.reason)]
            for k, v in resp.getheaders():
                if k.lower() not in ("transfer-encoding", "connection", "content-length") and not (
                        args.drop_range_md5 and resp.status == 206 and k.lower() == "content-md5"):
                    out.append("%s: %s" % (k, v))
            length = len(data)
            if method == "HEAD":
                length = int(resp.getheader("Content-Length") or 0)
                data = b""
            out.append("Content-Length: %d" % length)
            self.wfile.write(("\r\n".join(out) + "\r\n\r\n").encode("latin-1"))
            if fault in ("reset", "truncate", "stall") and len(data) > 1:
                self.wfile.write(data[: len(data) // 2])
                self.wfile.flush()
                if fault == "stall":
                    time.sleep(args.stall_seconds)
                if fault == "reset":
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                return
            if fault == "throttle":
                step = max(1, len(data) // 20)
                pause = 0.01
                if args.throttle_bps:
                    step = max(1, args.throttle_bps // 20)
                    pause = 0.05
                for i in range(0, len(data), step):
                    self.wfile.write(data[i:i + step])
                    self.wfile.flush()
                    time.sleep(pause)
            else:
                self.wfile.write(data)
            self.wfile.flush()


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


signal.signal(signal.SIGTERM, write_stats)
signal.signal(signal.SIGUSR1, recover)
srv = Server(("127.0.0.1", 0), Handler)
print(srv.server_address[1], flush=True)
timer = threading.Timer(args.max_seconds, lambda: (write_stats(), srv.shutdown()))
timer.daemon = True
timer.start()
srv.serve_forever()
