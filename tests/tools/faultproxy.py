#!/usr/bin/python3
"""faultproxy: a tiny fault-injecting HTTP/1.1 reverse proxy for swiftfs tests.

It sits between the swiftfs daemon (libcurl, keep-alive) and a real Swift
proxy on loopback and can answer with an injected status, reset or truncate
connections, or delay requests.  Python 3 stdlib only.

CLI:
    faultproxy.py --listen 127.0.0.1:PORT --upstream 127.0.0.1:UPORT
                  [--port-file FILE] [--no-rewrite-storage-url]
    PORT 0 picks a free port; it is written to --port-file once listening.

Control API (same port, never forwarded upstream), JSON in and out:
    POST   /__fault__/rules   add a rule, returns {"id": N}
           {"method": "GET"         exact or regex (fullmatch), optional
            "path": "^/v1/.*obj"    regex searched in path+query, optional
            "range": "^bytes=0-"    regex searched in the Range header, optional
            "action": "status" | "reset" | "reset_body" | "delay" | "truncate"
                      | "lose_answer" (forwarded and done upstream; the
                        connection is reset before the answer)
                      | "stall_body" | "corrupt_body" | "drop_header"
            "status": 503           for "status"
            "times": 1              matching requests it applies to, -1 = forever
            "skip": 0               let the first M matching requests pass
            "after_bytes": 0        reset_body/truncate/stall_body: body bytes
                                    forwarded (stall_body: before the pause);
                                    corrupt_body: the request body byte that
                                    is flipped on its way upstream (length-
                                    framed bodies; the log entry then has
                                    "flipped": true)
            "seconds": 1.0,         for "delay": sleep before forwarding; for
                                    "stall_body": the pause in the body
            "header": "ETag"}       a response header left out (with any action
                                    that forwards; "drop_header" does only that)
    GET    /__fault__/rules   list rules (with remaining times, applied count)
    DELETE /__fault__/rules   remove all rules (/__fault__/rules/ID: one rule)
    GET    /__fault__/log     [{"seq","method","path","status","fault","rule"}]
    DELETE /__fault__/log     clear the log and the stats
    GET    /__fault__/stats   {"total": N, "methods": {...}, "faults": {...}}

Rules are checked in order of addition; the first active matching rule
applies.  A matching rule still in its "skip" phase counts the request down
and lets later rules look at it.

Python API (for pytest):
    from faultproxy import FaultProxy
    fp = FaultProxy().start("127.0.0.1", 18080)
    fp.add_rule(method="GET", path="/obj$", action="status", status=503, times=2)
    ... use fp.url / fp.port ...; fp.log(); fp.clear(); fp.clear_log(); fp.stop()
"""
import argparse
import collections
import fcntl
import http.client
import ipaddress
import json
import os
import re
import select
import socket
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time

CHUNK = 64 * 1024
MAXLINE = 65536
CONTROL = "/__fault__/"
ACTIONS = ("status", "reset", "reset_body", "delay", "truncate", "stall_body",
           "corrupt_body", "drop_header", "lose_answer")


class Drop(Exception):
    """The client connection must be closed now (with RST if rst)."""

    def __init__(self, rst):
        super().__init__("rst" if rst else "close")
        self.rst = rst


class UpstreamGone(Exception):
    """Sending the request body upstream failed."""


# ---------------------------------------------------------------- HTTP bits

def read_head(rfile):
    """Read a start line and headers. Returns (line, [(name, value)]) or None
    on a clean EOF before the first byte."""
    line = rfile.readline(MAXLINE)
    while line in (b"\r\n", b"\n"):         # tolerate stray CRLFs between messages
        line = rfile.readline(MAXLINE)
    if not line:
        return None
    if not line.endswith(b"\n"):
        raise EOFError("truncated or oversized start line")
    headers = []
    while True:
        h = rfile.readline(MAXLINE)
        if h in (b"\r\n", b"\n"):
            break
        if not h.endswith(b"\n"):
            raise EOFError("truncated or oversized header")
        name, _, value = h.decode("latin-1").partition(":")
        headers.append((name.strip(), value.strip()))
    return line.decode("latin-1").rstrip("\r\n"), headers


def hget(headers, name):
    """Last value of header name (case-insensitive), or None."""
    val = None
    for n, v in headers:
        if n.lower() == name:
            val = v
    return val


def has_token(headers, name, token):
    return token in (hget(headers, name) or "").lower()


def serialize(line, headers):
    text = line + "\r\n" + "".join("%s: %s\r\n" % hv for hv in headers) + "\r\n"
    return text.encode("latin-1")


def body_kind(headers):
    """('chunked', 0), ('length', N) or None when the headers give no framing."""
    if has_token(headers, "transfer-encoding", "chunked"):
        return ("chunked", 0)
    cl = hget(headers, "content-length")
    if cl is not None:
        return ("length", int(cl))
    return None


def copy_body(rfile, send, kind, length, limit=None):
    """Copy one message body from rfile to send() in pieces of <= 64 KiB,
    keeping chunked framing as-is. kind is 'length', 'chunked' or 'eof'.
    If limit is set, stop once that many payload bytes were sent and return
    False (body cut short); otherwise return True."""
    sent = 0

    def copy(n):                            # n payload bytes (None: up to EOF)
        nonlocal sent
        while n is None or n > 0:
            want = CHUNK if n is None else min(n, CHUNK)
            if limit is not None:
                if sent >= limit:
                    return False
                want = min(want, limit - sent)
            data = rfile.read1(want)
            if not data:
                if n is None:
                    return True
                raise EOFError("body ended early")
            send(data)
            sent += len(data)
            if n is not None:
                n -= len(data)
        return True

    if kind == "length":
        return copy(length)
    if kind == "eof":
        return copy(None)
    while True:                             # chunked
        line = rfile.readline(MAXLINE)
        if not line.endswith(b"\n"):
            raise EOFError("bad chunk size line")
        size = int(line.split(b";")[0].strip(), 16)
        send(line)
        if size == 0:                       # last chunk: trailers up to blank line
            while True:
                t = rfile.readline(MAXLINE)
                if not t.endswith(b"\n"):
                    raise EOFError("bad trailer")
                send(t)
                if t in (b"\r\n", b"\n"):
                    return True
        if not copy(size):
            return False
        send(rfile.readline(MAXLINE))       # CRLF after chunk data


def send_simple(sock, code, body, keep, method="GET", ctype="text/plain"):
    """Send a complete small response."""
    reason = http.client.responses.get(code, "Unknown")
    head = "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n%s\r\n" % (
        code, reason, ctype, len(body), "" if keep else "Connection: close\r\n")
    sock.sendall(head.encode("latin-1") + (b"" if method == "HEAD" else body))


def drop(sock, rfile, rst):
    """Close the client socket; with rst, first let the peer receive what was
    sent (bounded wait on the unacked send queue), then RST via SO_LINGER 0."""
    try:
        if rst:
            deadline = time.monotonic() + 2.0
            while time.monotonic() < deadline:
                buf = fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0" * 4)
                if struct.unpack("i", buf)[0] == 0:
                    break
                time.sleep(0.005)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    rfile.close()                           # the makefile holds a ref to the fd
    sock.close()


# ---------------------------------------------------------------- the proxy

class Proxy:
    def __init__(self, listen, upstream, rewrite=True, timeout=300.0, tls=None):
        self.listen, self.upstream = listen, upstream
        self.rewrite, self.timeout = rewrite, timeout
        self.tls = None
        if tls:                             # (cert, key): clients speak TLS to us
            import ssl
            self.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.tls.load_cert_chain(*tls)
        self.lock = threading.Lock()
        self.rules, self.next_id, self.seq = [], 1, 0
        self.entries = collections.deque(maxlen=100000)
        self.methods, self.faults = collections.Counter(), collections.Counter()
        self.self_url = None

    # --- rules / log
    def add_rule(self, spec):
        action = spec.get("action")
        if action not in ACTIONS:
            raise ValueError("action must be one of %s" % ", ".join(ACTIONS))
        rule = {"method": spec.get("method"), "path": spec.get("path"),
                "range": spec.get("range"), "action": action,
                "status": int(spec.get("status", 503)), "times": int(spec.get("times", 1)),
                "skip": int(spec.get("skip", 0)), "after_bytes": int(spec.get("after_bytes", 0)),
                "seconds": float(spec.get("seconds", 1.0)), "header": spec.get("header"),
                "applied": 0}
        rx = {"method_re": re.compile(rule["method"], re.I) if rule["method"] else None,
              "path_re": re.compile(rule["path"]) if rule["path"] else None,
              "range_re": re.compile(rule["range"]) if rule["range"] else None}
        with self.lock:
            rule["id"] = self.next_id
            self.next_id += 1
            self.rules.append((rule, rx))
        return rule["id"]

    def match(self, method, target, rng=None):
        with self.lock:
            for rule, rx in self.rules:
                if rule["times"] == 0:
                    continue
                if rx["method_re"] and not rx["method_re"].fullmatch(method):
                    continue
                if rx["path_re"] and not rx["path_re"].search(target):
                    continue
                if rx["range_re"] and not rx["range_re"].search(rng or ""):
                    continue
                if rule["skip"] > 0:
                    rule["skip"] -= 1
                    continue
                if rule["times"] > 0:
                    rule["times"] -= 1
                rule["applied"] += 1
                return dict(rule)
        return None

    def control(self, method, target, body):
        """Handle a /__fault__/ request; returns (status, json-able object)."""
        path = target.split("?", 1)[0].rstrip("/")
        with self.lock:
            if path == "/__fault__/rules" and method == "GET":
                return 200, [r for r, _ in self.rules]
            if path == "/__fault__/rules" and method == "DELETE":
                self.rules = []
                return 200, {"ok": True}
            if path.startswith("/__fault__/rules/") and method == "DELETE":
                rid = path.rsplit("/", 1)[1]
                self.rules = [(r, x) for r, x in self.rules if str(r["id"]) != rid]
                return 200, {"ok": True}
            if path == "/__fault__/log" and method == "GET":
                return 200, [dict(e) for e in self.entries]
            if path == "/__fault__/log" and method == "DELETE":
                self.entries.clear()
                self.methods.clear()
                self.faults.clear()
                return 200, {"ok": True}
            if path == "/__fault__/stats" and method == "GET":
                return 200, {"total": sum(self.methods.values()),
                             "methods": dict(self.methods), "faults": dict(self.faults)}
        if path == "/__fault__/rules" and method == "POST":
            try:
                return 200, {"id": self.add_rule(json.loads(body or b"{}"))}
            except (ValueError, TypeError, AttributeError, re.error) as e:
                return 400, {"error": str(e)}
        return 404, {"error": "no such control endpoint"}

    # --- connections
    def serve_forever(self, port_file=None):
        host, port = self.listen
        lsock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        lsock.bind((host, port))
        lsock.listen(128)
        port = lsock.getsockname()[1]
        self.self_url = "%s://%s:%d" % ("https" if self.tls else "http",
                                        "[%s]" % host if ":" in host else host, port)
        if port_file:                       # write atomically: readers never see ""
            with open(port_file + ".tmp", "w") as f:
                f.write("%d\n" % port)
            os.replace(port_file + ".tmp", port_file)
        print("faultproxy: listening on %s, upstream %s:%d" % ((self.self_url,) + self.upstream),
              file=sys.stderr, flush=True)
        while True:
            csock, _ = lsock.accept()
            threading.Thread(target=self.client, args=(csock,), daemon=True).start()

    def client(self, csock):
        csock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.tls:
            try:
                csock = self.tls.wrap_socket(csock, server_side=True)
            except OSError as e:            # a client that refused our certificate
                print("faultproxy: TLS handshake failed: %r" % e, file=sys.stderr, flush=True)
                csock.close()
                return
        rfile = csock.makefile("rb")
        rst = False
        try:
            while self.one_request(csock, rfile):
                pass
        except Drop as d:
            rst = d.rst
        except Exception as e:              # never let one connection kill the proxy
            print("faultproxy: connection error: %r" % e, file=sys.stderr, flush=True)
        drop(csock, rfile, rst)

    def one_request(self, csock, rfile):
        """Serve one request; returns True if the connection stays open."""
        try:
            head = read_head(rfile)
        except (OSError, EOFError):
            return False
        if head is None:
            return False
        line, headers = head
        parts = line.split(" ")
        if len(parts) != 3:
            send_simple(csock, 400, b"bad request line\n", False)
            return False
        method, target, version = parts
        conn = (hget(headers, "connection") or "").lower()
        keep = "close" not in conn if version == "HTTP/1.1" else "keep-alive" in conn
        if target.startswith(CONTROL):
            kind = body_kind(headers)
            body = bytearray()
            if kind:
                if has_token(headers, "expect", "100-continue"):
                    csock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
                copy_body(rfile, body.extend, kind[0], kind[1])
            code, obj = self.control(method, target, bytes(body))
            send_simple(csock, code, json.dumps(obj).encode() + b"\n", keep, method,
                        "application/json")
            return keep

        rule = self.match(method, target, hget(headers, "range"))
        fault = rule["action"] if rule else None
        with self.lock:
            self.seq += 1
            entry = {"seq": self.seq, "method": method, "path": target, "status": None,
                     "fault": fault, "rule": rule["id"] if rule else None,
                     "range": hget(headers, "range")}
            self.entries.append(entry)
            self.methods[method] += 1
            if fault:
                self.faults[fault] += 1
        t0 = time.monotonic()
        try:
            return self.handle(csock, rfile, method, target, line, headers, keep, rule, entry)
        finally:
            print("faultproxy: %s %s -> %s%s (%.0f ms)" % (
                method, target, entry["status"] or "-", " fault=" + fault if fault else "",
                (time.monotonic() - t0) * 1000), file=sys.stderr, flush=True)

    def handle(self, csock, rfile, method, target, line, headers, keep, rule, entry):
        action = rule["action"] if rule else None
        kind = body_kind(headers)
        has_body = kind is not None and kind != ("length", 0)
        expect = has_body and has_token(headers, "expect", "100-continue")
        if action == "reset":
            raise Drop(rst=True)
        if action == "delay":
            time.sleep(rule["seconds"])
        if action == "status":              # answer locally, keep the connection sane
            if has_body:
                if expect:
                    csock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
                copy_body(rfile, lambda b: None, kind[0], kind[1])
            entry["status"] = code = rule["status"]
            body = ("%d %s (injected by faultproxy)\n" % (
                code, http.client.responses.get(code, "Unknown"))).encode()
            send_simple(csock, code, body, keep, method)
            return keep

        head_sent = False
        csend = csock.sendall

        def usend(data):                    # tell upstream send errors apart
            try:
                usock.sendall(data)
            except OSError as e:
                raise UpstreamGone(e) from e

        try:
            usock = socket.create_connection(self.upstream, timeout=self.timeout)
        except OSError as e:
            print("faultproxy: upstream connect failed: %s" % e, file=sys.stderr, flush=True)
            entry["status"] = 502
            send_simple(csock, 502, b"upstream unreachable\n", keep and not has_body, method)
            return keep and not has_body
        usock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        urfile = usock.makefile("rb")
        try:
            usock.sendall(serialize(line, headers))
            final = None
            body_done = not has_body
            if expect:
                # Wait (briefly, like curl) for the upstream's verdict on the body.
                if select.select([usock], [], [], 1.0)[0]:
                    final = self.read_response(urfile, csend, until_100=True)
            if has_body and final is None:
                bsend = usend
                if action == "corrupt_body":
                    at = [rule["after_bytes"]]  # payload offset of the byte to flip

                    def bsend(data, at=at, chunked=kind[0] == "chunked"):
                        # chunked framing passes through copy_body's send too:
                        # count payload only for length-framed bodies
                        if not chunked and 0 <= at[0] < len(data):
                            data = bytearray(data)
                            data[at[0]] ^= 0xFF
                            data = bytes(data)
                            entry["flipped"] = True  # the log tells it happened
                        if not chunked:
                            at[0] -= len(data)
                        usend(data)
                try:
                    copy_body(rfile, bsend, kind[0], kind[1])
                    body_done = True
                except UpstreamGone:        # upstream gave up early: use its answer
                    pass
            if final is None:
                final = self.read_response(urfile, csend)
            status_line, rheaders = final
            if action == "lose_answer":     # done upstream; the client never hears
                entry["status"] = int(status_line.split(" ")[1])
                raise Drop(rst=True)
            if rule and rule.get("header"):
                rheaders = [(n, v) for n, v in rheaders
                            if n.lower() != rule["header"].lower()]
            code = int(status_line.split(" ")[1])
            entry["status"] = code
            if self.rewrite and self.self_url:
                rheaders = [(n, re.sub(r"^https?://[^/]+", self.self_url, v))
                            if n.lower() == "x-storage-url" else (n, v) for n, v in rheaders]
            if method == "HEAD" or code in (204, 304):
                rkind = None
            else:
                rkind = body_kind(rheaders) or ("eof", 0)
            keep = (keep and body_done and (rkind is None or rkind[0] != "eof")
                    and not has_token(rheaders, "connection", "close"))
            if not keep and not has_token(rheaders, "connection", "close"):
                rheaders = rheaders + [("Connection", "close")]
            csend(serialize(status_line, rheaders))
            head_sent = True
            limit = rule["after_bytes"] if action in ("reset_body", "truncate") else None
            if action == "stall_body" and rkind and rkind[0] == "length":
                first = min(rule["after_bytes"], rkind[1])
                copy_body(urfile, csend, "length", first)
                time.sleep(rule["seconds"])
                copy_body(urfile, csend, "length", rkind[1] - first)
                return keep
            if rkind:
                copy_body(urfile, csend, rkind[0], rkind[1], limit)
            if limit is not None:
                raise Drop(rst=action == "reset_body")
            return keep
        except (OSError, EOFError, ValueError, IndexError) as e:
            print("faultproxy: %s %s: %r" % (method, target, e), file=sys.stderr, flush=True)
            if not head_sent:               # we can still tell the client
                entry["status"] = 502
                try:
                    send_simple(csock, 502, b"upstream error\n", False, method)
                except OSError:
                    pass
            return False
        finally:
            urfile.close()
            usock.close()

    @staticmethod
    def read_response(urfile, csend, until_100=False):
        """Read the upstream's response head, relaying interim 1xx responses to
        the client. With until_100, return None right after relaying a 100."""
        while True:
            head = read_head(urfile)
            if head is None:
                raise EOFError("upstream closed without a response")
            code = int(head[0].split(" ")[1])
            if code >= 200:
                return head
            csend(serialize(*head))
            if until_100 and code == 100:
                return None


# ---------------------------------------------------------------- CLI

def hostport(text):
    host, _, port = text.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    if host != "localhost" and not ipaddress.ip_address(host).is_loopback:
        raise argparse.ArgumentTypeError("loopback addresses only: %s" % text)
    return host, int(port)


def main(argv=None):
    ap = argparse.ArgumentParser(description="fault-injecting HTTP/1.1 reverse proxy")
    ap.add_argument("--listen", type=hostport, required=True, help="HOST:PORT (0 = any free)")
    ap.add_argument("--upstream", type=hostport, required=True, help="HOST:PORT of Swift")
    ap.add_argument("--port-file", help="write the bound port here")
    ap.add_argument("--rewrite-storage-url", action=argparse.BooleanOptionalAction, default=True,
                    help="point X-Storage-Url response headers at this proxy (default on)")
    ap.add_argument("--upstream-timeout", type=float, default=300.0)
    ap.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"),
                    help="speak TLS to clients (upstream stays plain HTTP)")
    args = ap.parse_args(argv)
    proxy = Proxy(args.listen, args.upstream, args.rewrite_storage_url, args.upstream_timeout,
                  args.tls)
    try:
        proxy.serve_forever(args.port_file)
    except KeyboardInterrupt:
        pass


# ---------------------------------------------------------------- Python API

class FaultProxy:
    """Runs faultproxy.py as a subprocess; for pytest fixtures."""

    host = "127.0.0.1"

    def __init__(self, rewrite_storage_url=True, stderr=None, tls=None):
        self.rewrite_storage_url = rewrite_storage_url
        self.stderr = stderr                # None: inherit; or a file object
        self.tls = tls                      # (cert, key): TLS towards the clients
        self.proc, self.port = None, None

    @property
    def url(self):
        return "%s://%s:%d" % ("https" if self.tls else "http", self.host, self.port)

    def start(self, upstream_host, upstream_port, timeout=10.0):
        tmpdir = tempfile.mkdtemp(prefix="faultproxy-")
        port_file = os.path.join(tmpdir, "port")
        cmd = [sys.executable or "/usr/bin/python3", os.path.abspath(__file__),
               "--listen", "%s:0" % self.host, "--upstream", "%s:%d" % (upstream_host, upstream_port),
               "--port-file", port_file]
        if not self.rewrite_storage_url:
            cmd.append("--no-rewrite-storage-url")
        if self.tls:
            cmd += ["--tls", str(self.tls[0]), str(self.tls[1])]
        self.proc = subprocess.Popen(cmd, stderr=self.stderr)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("faultproxy exited with %s" % self.proc.returncode)
            if os.path.exists(port_file):
                with open(port_file) as f:
                    self.port = int(f.read())
                try:
                    socket.create_connection((self.host, self.port), timeout=1).close()
                    os.unlink(port_file)
                    os.rmdir(tmpdir)
                    return self
                except OSError:
                    pass
            time.sleep(0.02)
        self.stop()
        raise RuntimeError("faultproxy did not start within %ss" % timeout)

    def _call(self, method, path, obj=None):
        if self.tls:
            import ssl
            conn = http.client.HTTPSConnection(self.host, self.port, timeout=10,
                                               context=ssl._create_unverified_context())
        else:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
        try:
            body = json.dumps(obj).encode() if obj is not None else None
            conn.request(method, CONTROL + path, body=body,
                         headers={"Content-Type": "application/json"})
            resp = conn.getresponse()
            data = json.loads(resp.read() or b"null")
            if resp.status != 200:
                raise RuntimeError("faultproxy %s %s: %s %s" % (method, path, resp.status, data))
            return data
        finally:
            conn.close()

    def add_rule(self, **kw):
        return self._call("POST", "rules", kw)["id"]

    def rules(self):
        return self._call("GET", "rules")

    def clear(self):
        self._call("DELETE", "rules")

    def log(self):
        return self._call("GET", "log")

    def clear_log(self):
        self._call("DELETE", "log")

    def stats(self):
        return self._call("GET", "stats")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


if __name__ == "__main__":
    main()
