#!/usr/bin/env python3
"""A misbehaving HTTP server for the mnist-fetch tests (tests/mnist-fetch-http.bats).

usage: fetch-server.py PORTFILE DIR MODE
Binds 127.0.0.1 on a free port, writes the port number to PORTFILE, and answers every GET for
.../NAME with DIR/NAME, badly, according to MODE:
  drop      announce the full Content-Length, send half of the body, close the connection
  nolength  send half of the body without a Content-Length, then close (looks complete)
  stall     announce the full Content-Length, send half of the body, then wait (until killed)
  error500  answer 500 Internal Server Error
  bomb      answer every GET with a gzip bomb: 64 MB of zeros compressed to about 64 KB
  endless   answer every GET with a body that never ends (no Content-Length, 64 KB chunks)
  trickle   announce the full Content-Length, then send one byte every 50 ms
Each request is logged to stderr as "GET /path".
"""
import http.server
import os
import sys
import time
import zlib


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        sys.stderr.write("GET %s\n" % self.path)
        sys.stderr.flush()
        mode = self.server.mode
        path = os.path.join(self.server.dir, os.path.basename(self.path))
        if mode == "error500":
            self.send_error(500)
            return
        if mode in ("bomb", "endless"):
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            if mode == "bomb":
                self.send_header("Content-Length", str(len(BOMB)))
            self.end_headers()
            try:
                if mode == "bomb":
                    self.wfile.write(BOMB)
                else:
                    chunk = bytes(range(256)) * 256
                    while True:
                        self.wfile.write(chunk)
            except OSError:
                pass  # the client hung up: what it should do
            self.close_connection = True
            return
        if not os.path.isfile(path):
            self.send_error(404)
            return
        body = open(path, "rb").read()
        half = body[: len(body) // 2]
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        if mode != "nolength":
            self.send_header("Content-Length", str(len(body)))
        else:
            self.send_header("Connection", "close")
        self.end_headers()
        if mode == "trickle":
            try:
                for i in range(len(body)):
                    self.wfile.write(body[i:i + 1])
                    self.wfile.flush()
                    time.sleep(0.05)
            except OSError:
                pass
            self.close_connection = True
            return
        self.wfile.write(half)
        self.wfile.flush()
        if mode == "stall":
            time.sleep(60)
        self.close_connection = True

    def log_message(self, fmt, *args):
        pass


def gzip_bomb(size):
    z = zlib.compressobj(9, zlib.DEFLATED, 16 + 15)
    zeros = bytes(1 << 20)
    return b"".join(z.compress(zeros) for _ in range(size >> 20)) + z.flush()


BOMB = b""


def main():
    global BOMB
    portfile, directory, mode = sys.argv[1:4]
    if mode == "bomb":
        BOMB = gzip_bomb(64 << 20)
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    srv.dir = directory
    srv.mode = mode
    with open(portfile + ".tmp", "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(portfile + ".tmp", portfile)
    srv.serve_forever()


if __name__ == "__main__":
    main()
