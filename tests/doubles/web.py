"""A plain web server over TLS on loopback, for ferry's https inputs: files
from --root, with HEAD, GET (at --bps bytes a second, until SIGUSR1), single byte ranges (Range, If-Range by ETag or
Last-Modified), strong ETags (or none, with --no-etag: Last-Modified only),
and on request a fault: after --fail-after bytes of a body, the connection is
cut (once per path, --faults N times in all); with --whole-after-cut, the
GET for the rest of a cut range (the same end, a later start) ignores its
Range once and answers 200 with the whole file, as a server behind a cache
that drops ranges might; with --shifted-after-cut, it answers 206 once, but
from the start of the range that was cut (an honest Content-Range, not the
bytes asked for). Redirects:
  /to-https/<path>  302 to https://<this server>/<path>
  /to-http/<path>   302 to http://127.0.0.1:<--http-port>/<path> (which ferry must refuse)
Prints "listening on https://127.0.0.1:PORT" and writes its figures (requests,
bytes of bodies, GETs per path) as JSON to --stats on SIGTERM.
Usage: web.py --root DIR --cert PEM --key PEM --stats FILE [--port 0] ..."""
import argparse
import email.utils
import hashlib
import http.server
import json
import os
import signal
import ssl
import sys
import threading
import time

ap = argparse.ArgumentParser()
ap.add_argument("--root", required=True)
ap.add_argument("--cert", required=True)
ap.add_argument("--key", required=True)
ap.add_argument("--stats", required=True)
ap.add_argument("--port", type=int, default=0)
ap.add_argument("--http-port", type=int, default=1)
ap.add_argument("--no-etag", action="store_true")
ap.add_argument("--faults", type=int, default=0)
ap.add_argument("--fail-after", type=int, default=65536)
ap.add_argument("--whole-after-cut", action="store_true")
ap.add_argument("--shifted-after-cut", action="store_true")
ap.add_argument("--bps", type=int, default=0)  # bodies sent at this rate; SIGUSR1: at full speed
args = ap.parse_args()
root = os.path.realpath(args.root)
lock = threading.Lock()
stats = {"requests": 0, "body_bytes": 0, "gets": {}, "faults": 0, "whole": 0, "shifted": 0}
cut_ranges = {}  # the end of a cut range: its start (--whole-after-cut, --shifted-after-cut)
speed = {"bps": args.bps}


def write_stats(*_):
    with open(args.stats, "w") as f:
        json.dump(stats, f)
    sys.exit(0)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def file_for(self):
        path = self.path.split("?", 1)[0]
        p = os.path.realpath(os.path.join(root, path.lstrip("/")))
        if not p.startswith(root + os.sep) or not os.path.isfile(p):
            return None, None
        return p, os.stat(p)

    def tags(self, st):
        lm = email.utils.formatdate(st.st_mtime, usegmt=True)
        etag = None if args.no_etag else '"%s"' % hashlib.md5(
            ("%d-%d-%d" % (st.st_ino, st.st_size, st.st_mtime_ns)).encode()).hexdigest()
        return etag, lm

    def redirect(self):
        for pre, scheme, port in (("/to-https/", "https", self.server.server_address[1]),
                                  ("/to-http/", "http", args.http_port)):
            if self.path.startswith(pre):
                self.send_response(302)
                self.send_header("Location", "%s://127.0.0.1:%d/%s" % (scheme, port, self.path[len(pre):]))
                self.send_header("Content-Length", "0")
                self.end_headers()
                return True
        return False

    def head_or_get(self, body):
        with lock:
            stats["requests"] += 1
        if self.redirect():
            return
        p, st = self.file_for()
        if not p:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        etag, lm = self.tags(st)
        size = st.st_size
        start, end, partial = 0, size - 1, False
        rng = self.headers.get("Range")
        ifr = self.headers.get("If-Range")
        ignore, shift = False, None
        if rng and rng.startswith("bytes=") and self.command == "GET":
            a, _, b = rng[6:].partition("-")
            with lock:
                ignore = bool(a and b) and int(a) > cut_ranges.get(int(b), int(a))
                if ignore:
                    shift = cut_ranges.pop(int(b))
                    stats["shifted" if args.shifted_after_cut else "whole"] += 1
                    ignore = not args.shifted_after_cut
        if rng and rng.startswith("bytes=") and (ifr is None or ifr in (etag, lm)) and not ignore:
            a, _, b = rng[6:].partition("-")
            start = int(a) if a else max(0, size - int(b))
            if shift is not None:
                start = shift
            end = min(int(b), size - 1) if (a and b) else size - 1
            if start >= size or start > end:
                self.send_response(416)
                self.send_header("Content-Range", "bytes */%d" % size)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            partial = True
        self.send_response(206 if partial else 200)
        if etag:
            self.send_header("ETag", etag)
        self.send_header("Last-Modified", lm)
        self.send_header("Accept-Ranges", "bytes")
        if partial:
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, end, size))
        self.send_header("Content-Length", str(end - start + 1))
        self.end_headers()
        if not body:
            return
        with lock:
            stats["gets"][self.path] = stats["gets"].get(self.path, 0) + 1
            fault = stats["faults"] < args.faults
            if fault:
                stats["faults"] += 1
        with open(p, "rb") as f:
            f.seek(start)
            left = end - start + 1
            sent = 0
            while left:
                chunk = f.read(min(left, 65536))
                if fault and sent + len(chunk) > args.fail_after:
                    if (args.whole_after_cut or args.shifted_after_cut) and partial:
                        with lock:
                            cut_ranges[end] = start
                    self.wfile.write(chunk[: max(0, args.fail_after - sent)])
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                self.wfile.write(chunk)
                if speed["bps"]:
                    time.sleep(len(chunk) / speed["bps"])
                sent += len(chunk)
                left -= len(chunk)
                with lock:
                    stats["body_bytes"] += len(chunk)

    def do_HEAD(self):
        self.head_or_get(False)

    def do_GET(self):
        self.head_or_get(True)


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True


srv = Server(("127.0.0.1", args.port), Handler)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(args.cert, args.key)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
signal.signal(signal.SIGTERM, write_stats)
signal.signal(signal.SIGUSR1, lambda *_: speed.update(bps=0))
print("listening on https://127.0.0.1:%d" % srv.server_address[1], flush=True)
srv.serve_forever()
