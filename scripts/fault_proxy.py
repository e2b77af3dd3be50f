"""A fault-injecting HTTP proxy between rtech and the local AWS emulator (moto).

Usage (the e2e tests start one per test; see tests/e2e/support.rs, `FaultProxy`):

    .venv/bin/python scripts/fault_proxy.py --upstream http://127.0.0.1:PORT \
        [--port 0] [--seed 1] [--throttle 0.1] [--error 0.0] [--lost 0.0] [--reset 0.0] \
        [--hang 0.0] [--hang-seconds 5] [--kill-after N] [--delay MS] [--log FILE]

It prints `listening on http://127.0.0.1:PORT` on stdout once it accepts connections. Every
flag also reads an environment variable (`FAULT_PROXY_SEED`, `FAULT_PROXY_THROTTLE`, …: the
flag's name in upper case), the flag winning.

Faults, each a share (0–1) of the requests it applies to:
- `--throttle`: answered, without forwarding, with the protocol's throttling error, in the shape
  the AWS SDKs classify as a retryable throttle (aws-runtime's THROTTLING_ERRORS):
  JSON protocols (an `x-amz-target` header) and REST-JSON ones (AWS Backup) 400
  `{"__type": "ThrottlingException"}`; EC2's
  query protocol (`Version=2016-11-15`) 503 `RequestLimitExceeded` in EC2's `<Response><Errors>`
  shape; other query protocols (`Action=`) 400 `Throttling` in `<ErrorResponse>`; S3 503
  `SlowDown` in S3's bare `<Error>`; Route 53 and CloudFront (REST-XML) 400 `Throttling` in
  `<ErrorResponse>`, as those services send it.
- `--error`: answered 500 `InternalError` or 503 `ServiceUnavailable` (even split) without
  forwarding.
- `--lost`: only mutating requests (every operation but Describe*/List*/Get*/Head*/Check*, and
  any GET/HEAD): forwarded, then the service's answer is thrown away and 500 `InternalError`
  sent instead, as when a create's response never arrives.
- `--lose-first OP[,OP…]` (control API: `"lose_first": ["OP", …]`): the first forwarded call of
  each named mutating operation (as in the fault log: `CreateDBSubnetGroup`, `PUT:/bucket`…)
  loses its response the same way, every time: a lost create of exactly the kinds a test names.
  `*` names every mutating operation, and `-OP` takes one out again (`*,-CreateVpc`).
- `--reset`: the connection is reset (TCP RST) without forwarding.
- `--hang`: the request is held for `--hang-seconds` without forwarding, then the connection is
  closed: a hung connection, which the client must abandon after its attempt timeout.
- `--kill-after N` (with a pid given through the control API below): the N-th mutating request
  is forwarded, then the pid is killed with SIGKILL before its answer is sent; from then on no
  mutating request is forwarded (each is held until the connection closes). This is the crash
  sweep: exactly N mutating calls reached the service.

Latency (`--delay MS`): every request the proxy answers (forwarded or faulted) is first held
for MS milliseconds, as if AWS were that far away. Whatever the delay, each request's start and
end (seconds since the proxy started, on its monotonic clock), service and operation are
recorded; `GET /__faults/calls` returns them with the longest chain of calls that waited on
each other (see `longest_chain` and `heaviest_chain`).

Round trip (`rtt`, config only): every request is forwarded at once and its answer held until
MS milliseconds after it arrived, as AWS's own time sits inside its round trip: as long as the
emulator answers a burst within MS, a run's span over MS counts its dependent round trips, with
no emulator queue in it.

A stale tag index (`stale_index`, config only): while it is true, a `tag:GetResources` request
the proxy has answered before (same region and body) gets that earlier answer again, as AWS's
index lags a delete by seconds to minutes: resources deleted since still show in it.

Reproducible: whether a request meets a fault is a function of the seed, its service and
operation (for REST calls the method and path, ids starred) and how many calls of that
operation came before it; a retried request draws again. The same rtech run therefore meets
faults on the same operations whatever the timing of its concurrent calls (which of two
concurrent calls of one operation is hit can vary).

Control API, under `/__faults/` (never an AWS path: S3 bucket names cannot contain `_`):
- `GET /__faults/stats`: JSON counters: requests, forwarded, mutating_forwarded, faults by type,
  mutating operations forwarded by name, lost responses by operation, killed pid (or null),
  stale tag index answers, and the config.
- `GET /__faults/calls`: JSON `{"calls": [{"start", "end", "service", "operation"}…],
  "wall": last end − first start, "chain": ["service:operation"…], "heaviest": […],
  "heaviest_seconds": s}` in start order (see `longest_chain` and `heaviest_chain`).
- `POST /__faults/config` with a JSON object: sets any of seed, throttle, error, lost, reset,
  hang, hang_seconds, kill_after, kill_pid, delay, rtt, stale_index, lose_first; `"zero": true` also zeroes the counters and
  forgets the recorded calls.
Requests to moto's own `/moto-api/` are forwarded untouched and not counted.

Each injected fault is logged as one line on stderr (or `--log FILE`):
`fault <type> <service> <operation> <method> <path>`.
"""
import argparse
import hashlib
import http.client
import json
import os
import re
import signal
import socket
import struct
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

READ_PREFIXES = ("Describe", "List", "Get", "BatchGet", "Head", "Check")
FAULTS = ("throttle", "error", "lost", "reset", "hang")


class State:
    def __init__(self, cfg):
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        self.cfg = cfg
        # The last answer to each tag index request (`stale_index`), kept across `zero`.
        self.index_answers = {}
        self.zero()

    def zero(self):
        self.requests = 0
        self.forwarded = 0
        self.mutating_forwarded = 0
        self.faults = {f: 0 for f in FAULTS}
        self.mutating_ops = {}
        self.seen = {}
        self.killed = None
        self.calls = []
        self.lost_first = {}
        self.lost_ops = {}
        self.stale_answers = 0

    def stats(self):
        with self.lock:
            return {
                "requests": self.requests,
                "forwarded": self.forwarded,
                "mutating_forwarded": self.mutating_forwarded,
                "faults": dict(self.faults),
                "faults_total": sum(self.faults.values()),
                "mutating_operations": dict(self.mutating_ops),
                "lost_operations": dict(self.lost_ops),
                "killed": self.killed,
                "stale_index_answers": self.stale_answers,
                "config": dict(self.cfg),
            }


def longest_chain(calls, slack=0.002):
    """The longest sequence of calls each of which started after the previous one ended (within
    `slack` seconds): with every request delayed, that is the chain of calls that waited on
    each other, and its length the dependent depth. `calls` are dicts with start, end,
    service and operation; returns their `service:operation` names in order."""
    order = sorted(range(len(calls)), key=lambda i: calls[i]["start"])
    best, prev = {}, {}
    for i in order:
        best[i], prev[i] = 1, None
        for j in order:
            if calls[j]["start"] >= calls[i]["start"]:
                break
            if calls[j]["end"] > calls[i]["start"] + slack:
                continue
            # Of equally long chains, the one whose last call ended latest: the likeliest to be
            # what this call waited for.
            later = prev[i] is None or calls[j]["end"] > calls[prev[i]]["end"]
            if best[j] + 1 > best[i] or (best[j] + 1 == best[i] and later):
                best[i], prev[i] = best[j] + 1, j
    if not best:
        return []
    i = max(best, key=lambda k: (best[k], -calls[k]["end"]))
    chain = []
    while i is not None:
        chain.append(f"{calls[i]['service']}:{calls[i]['operation']}")
        i = prev[i]
    return chain[::-1]


def heaviest_chain(calls, slack=0.002):
    """Of the sequences of calls each of which started after the previous one ended (within
    `slack` seconds), the one whose calls took longest in sum: the critical path's time as the
    calls measure it (each call its delay plus the emulator's own time). The run's wall time
    over it is how much of the run went outside that chain: waiters sleeping, changes waiting
    for a slot, CPU. Returns (seconds, ["service:operation"…])."""
    order = sorted(range(len(calls)), key=lambda i: calls[i]["start"])
    best, prev = {}, {}
    for i in order:
        own = calls[i]["end"] - calls[i]["start"]
        best[i], prev[i] = own, None
        for j in order:
            if calls[j]["start"] >= calls[i]["start"]:
                break
            if calls[j]["end"] > calls[i]["start"] + slack:
                continue
            if best[j] + own > best[i]:
                best[i], prev[i] = best[j] + own, j
    if not best:
        return 0.0, []
    i = max(best, key=lambda k: best[k])
    seconds, chain = best[i], []
    while i is not None:
        chain.append(f"{calls[i]['service']}:{calls[i]['operation']}")
        i = prev[i]
    return seconds, chain[::-1]


def service_of(headers):
    """The service named in the SigV4 credential scope (`…/us-east-1/route53/aws4_request`)."""
    m = re.search(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/aws4_request", headers.get("Authorization", ""))
    return m.group(1) if m else "s3"


# Services whose protocol is REST-JSON (no X-Amz-Target, JSON bodies): their errors are JSON
# with `__type`, which the SDKs read as the error code (AWS Backup sends ThrottlingException so).
REST_JSON = {"backup"}


def classify(method, path, headers, body):
    """(protocol, service, operation, mutating) of one request."""
    service = service_of(headers)
    target = headers.get("X-Amz-Target")
    if target:
        op = target.rsplit(".", 1)[-1]
        return "json", service, op, not op.startswith(READ_PREFIXES)
    url = urllib.parse.urlsplit(path)
    params = urllib.parse.parse_qs(url.query)
    ctype = headers.get("Content-Type", "")
    if "x-www-form-urlencoded" in ctype:
        params.update(urllib.parse.parse_qs(body.decode("utf-8", "replace")))
    if "Action" in params:
        op = params["Action"][0]
        proto = "ec2" if params.get("Version", [""])[0] == "2016-11-15" else "query"
        return proto, service, op, not op.startswith(READ_PREFIXES)
    proto = "s3" if service == "s3" else "restjson" if service in REST_JSON else "restxml"
    # `PUT:/bucket?tagging`, `POST:/2013-04-01/hostedzone/*/rrset`: path segments holding a
    # digit (ids the service made up) are starred, so that the name is the same in every run.
    path = "/".join("*" if re.search(r"\d", seg) and i > 1 else seg for i, seg in enumerate(url.path.split("/")))
    keys = "&".join(sorted(urllib.parse.parse_qs(url.query, keep_blank_values=True)))
    op = f"{method}:{path}" + (f"?{keys}" if keys else "")
    return proto, service, op, method not in ("GET", "HEAD")


def names(ops, op):
    """Whether the `--lose-first` list `ops` names `op` (`*` all, `-OP` all but OP)."""
    if "-" + op in ops:
        return False
    return op in ops or "*" in ops


def error_answer(proto, status, code, message):
    """(status, content type, body) of an AWS error in the protocol's shape."""
    rid = "fault-proxy-0000"
    if proto == "json":
        body = json.dumps({"__type": code, "message": message})
        return status, "application/x-amz-json-1.1", body
    if proto == "restjson":
        return status, "application/json", json.dumps({"__type": code, "message": message})
    if proto == "ec2":
        body = (f"<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message>"
                f"</Error></Errors><RequestID>{rid}</RequestID></Response>")
        return status, "text/xml", body
    if proto == "s3":
        body = (f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code>'
                f"<Message>{message}</Message><RequestId>{rid}</RequestId></Error>")
        return status, "application/xml", body
    sender = "Sender" if status < 500 else "Receiver"
    body = (f"<ErrorResponse><Error><Type>{sender}</Type><Code>{code}</Code>"
            f"<Message>{message}</Message></Error><RequestId>{rid}</RequestId></ErrorResponse>")
    return status, "text/xml", body


def throttle_answer(proto):
    if proto in ("json", "restjson"):
        return error_answer(proto, 400, "ThrottlingException", "Rate exceeded")
    if proto == "ec2":
        return error_answer(proto, 503, "RequestLimitExceeded", "Request limit exceeded.")
    if proto == "s3":
        return error_answer(proto, 503, "SlowDown", "Please reduce your request rate.")
    return error_answer(proto, 400, "Throttling", "Rate exceeded")


def draw(seed, key, n, what):
    """A uniform number in [0, 1) from the seed, the request's content, its occurrence and the
    fault's name."""
    h = hashlib.sha256(f"{seed}|{what}|{n}|".encode() + key).digest()
    return struct.unpack(">Q", h[:8])[0] / 2**64


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: with Nagle on, the body waits for the client's
    # delayed ACK of the headers (40 ms on Linux), which would show as time between calls.
    disable_nagle_algorithm = True
    server_version = "fault-proxy"

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.handle_any()

    do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_GET

    # --- plumbing ---------------------------------------------------------------------------

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            return self.rfile.read(n)
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        return b""

    def hold(self):
        """With `rtt`: wait until the answer is due (see the module's docs)."""
        due = getattr(self, "due", None)
        if due is not None:
            self.due = None
            left = due - time.monotonic()
            if left > 0:
                time.sleep(left)

    def send(self, status, ctype, body, extra=()):
        self.hold()
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        for k, v in extra:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def forward(self, body):
        """(status, headers, body) of the upstream's answer."""
        up = self.server.upstream
        conn = http.client.HTTPConnection(up.hostname, up.port, timeout=300)
        headers = {k: v for k, v in self.headers.items()
                   if k.lower() not in ("connection", "transfer-encoding", "content-length", "keep-alive")}
        headers["Content-Length"] = str(len(body))
        conn.request(self.command, self.path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        hdrs = [(k, v) for k, v in resp.getheaders()
                if k.lower() not in ("connection", "transfer-encoding", "content-length", "keep-alive", "server", "date")]
        conn.close()
        return resp.status, hdrs, data

    def relay(self, status, hdrs, data):
        self.hold()
        self.send_response(status)
        for k, v in hdrs:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def log_fault(self, kind, service, op):
        self.server.log(f"fault {kind} {service} {op} {self.command} {self.path}")

    def hold_until_closed(self, seconds):
        """Keep the connection open without answering for `seconds` (or until the client
        leaves), then close it."""
        self.close_connection = True
        deadline = time.monotonic() + seconds
        sock = self.connection
        while time.monotonic() < deadline:
            sock.settimeout(max(0.05, min(0.5, deadline - time.monotonic())))
            try:
                if sock.recv(1, socket.MSG_PEEK) == b"":
                    return
            except socket.timeout:
                continue
            except OSError:
                return
            # The client sent more bytes (a pipelined request): we keep ignoring it.
            time.sleep(0.05)

    # --- the proxy ----------------------------------------------------------------------------

    def handle_any(self):
        st = self.server.state
        self.due = None
        body = self.read_body()
        if self.path.startswith("/__faults/"):
            return self.control(body)
        if self.path.startswith("/moto-api/"):
            return self.relay(*self.forward(body))
        proto, service, op, mutating = classify(self.command, self.path, self.headers, body)
        start = time.monotonic() - self.server.t0
        try:
            self.proxy(body, proto, service, op, mutating)
        finally:
            end = time.monotonic() - self.server.t0
            with st.lock:
                st.calls.append({"start": start, "end": end, "service": service, "operation": op})

    def proxy(self, body, proto, service, op, mutating):
        st = self.server.state
        key = f"{service} {op}".encode()
        with st.lock:
            st.requests += 1
            n = st.seen.get(key, 0)
            st.seen[key] = n + 1
            cfg = dict(st.cfg)
            killed = st.killed is not None
        seed = cfg["seed"]
        delay = float(cfg.get("delay") or 0)
        if delay > 0:
            time.sleep(delay / 1000.0)
        rtt = float(cfg.get("rtt") or 0)
        self.due = time.monotonic() + rtt / 1000.0 if rtt > 0 else None

        def hit(what):
            share = float(cfg.get(what) or 0)
            if what == "lost" and not mutating:
                return False
            return share > 0 and draw(seed, key, n, what) < share

        if killed and mutating:
            return self.hold_until_closed(3600)
        if hit("reset"):
            self.count_fault("reset", service, op)
            self.close_connection = True
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return
        if hit("hang"):
            self.count_fault("hang", service, op)
            return self.hold_until_closed(float(cfg["hang_seconds"]))
        if hit("throttle"):
            self.count_fault("throttle", service, op)
            return self.send(*throttle_answer(proto))
        if hit("error"):
            self.count_fault("error", service, op)
            if draw(seed, key, n, "error-kind") < 0.5:
                return self.send(*error_answer(proto, 500, "InternalError", "We encountered an internal error."))
            return self.send(*error_answer(proto, 503, "ServiceUnavailable", "Service unavailable."))

        if service == "tagging" and op == "GetResources":
            m = re.search(r"Credential=[^/]+/[^/]+/([^/]+)/", self.headers.get("Authorization", ""))
            key = (m.group(1) if m else "", body)
            with st.lock:
                cached = st.index_answers.get(key)
            if cfg.get("stale_index") and cached:
                with st.lock:
                    st.stale_answers += 1
                return self.relay(*cached)
            answer = self.forward(body)
            with st.lock:
                st.index_answers[key] = answer
                st.forwarded += 1
            return self.relay(*answer)

        kill_after = cfg.get("kill_after")
        if mutating and kill_after:
            with st.lock:
                if st.killed is not None or st.mutating_forwarded >= int(kill_after):
                    blocked = True
                else:
                    blocked = False
                    st.mutating_forwarded += 1
                    nth = st.mutating_forwarded
                    st.mutating_ops[op] = st.mutating_ops.get(op, 0) + 1
            if blocked:
                return self.hold_until_closed(3600)
            answer = self.forward(body)
            with st.lock:
                st.forwarded += 1
            if nth == int(kill_after):
                self.kill(op)
                return self.hold_until_closed(3600)
            return self.relay(*answer)

        answer = self.forward(body)
        with st.lock:
            st.forwarded += 1
            if mutating:
                st.mutating_forwarded += 1
                st.mutating_ops[op] = st.mutating_ops.get(op, 0) + 1
        first_lost = False
        if mutating and names(cfg.get("lose_first") or (), op):
            with st.lock:
                lost_before = st.lost_first.setdefault(op, 0)
                st.lost_first[op] += 1
            first_lost = lost_before == 0
        if first_lost or hit("lost"):
            self.count_fault("lost", service, op)
            return self.send(*error_answer(proto, 500, "InternalError", "We encountered an internal error."))
        return self.relay(*answer)

    def count_fault(self, kind, service, op):
        with self.server.state.lock:
            self.server.state.faults[kind] += 1
            if kind == "lost":
                self.server.state.lost_ops[op] = self.server.state.lost_ops.get(op, 0) + 1
        self.log_fault(kind, service, op)

    def kill(self, op):
        """SIGKILL the registered pid (waiting for it to be registered, at most 60 s)."""
        st = self.server.state
        with st.cond:
            st.cond.wait_for(lambda: st.cfg.get("kill_pid"), timeout=60)
            pid = st.cfg.get("kill_pid")
            if pid:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except ProcessLookupError:
                    pass
            st.killed = pid
        self.server.log(f"killed pid {pid} after mutating call {st.mutating_forwarded} ({op})")

    def control(self, body):
        st = self.server.state
        if self.path == "/__faults/stats" and self.command == "GET":
            return self.send(200, "application/json", json.dumps(st.stats()))
        if self.path == "/__faults/calls" and self.command == "GET":
            with st.lock:
                calls = sorted(st.calls, key=lambda c: c["start"])
            wall = (max(c["end"] for c in calls) - calls[0]["start"]) if calls else 0.0
            heavy_s, heavy = heaviest_chain(calls)
            out = {
                "calls": calls,
                "wall": wall,
                "chain": longest_chain(calls),
                "heaviest": heavy,
                "heaviest_seconds": heavy_s,
            }
            return self.send(200, "application/json", json.dumps(out))
        if self.path == "/__faults/config" and self.command == "POST":
            try:
                new = json.loads(body or b"{}")
            except ValueError as e:
                return self.send(400, "text/plain", f"bad JSON: {e}")
            unknown = set(new) - set(st.cfg) - {"zero"}
            if unknown:
                return self.send(400, "text/plain", f"unknown keys: {sorted(unknown)}")
            with st.cond:
                if new.pop("zero", False):
                    st.zero()
                st.cfg.update(new)
                st.cond.notify_all()
            return self.send(200, "application/json", json.dumps(st.stats()))
        return self.send(404, "text/plain", "no such control endpoint")


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, addr, upstream, cfg, log_file):
        super().__init__(addr, Handler)
        self.upstream = urllib.parse.urlsplit(upstream)
        self.state = State(cfg)
        self.t0 = time.monotonic()
        self.log_lock = threading.Lock()
        self.log_file = open(log_file, "a", buffering=1) if log_file else sys.stderr

    def log(self, line):
        with self.log_lock:
            print(line, file=self.log_file, flush=True)


def main(argv=None):
    def env(name, default):
        return os.environ.get("FAULT_PROXY_" + name.upper().replace("-", "_"), default)

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--upstream", default=env("upstream", None), required=env("upstream", None) is None,
                   help="the emulator's URL, e.g. http://127.0.0.1:4566")
    p.add_argument("--host", default=env("host", "127.0.0.1"))
    p.add_argument("--port", type=int, default=int(env("port", 0)), help="0: a free port")
    p.add_argument("--seed", default=env("seed", "1"))
    for f in FAULTS:
        p.add_argument(f"--{f}", type=float, default=float(env(f, 0.0)), help=f"share of requests: {f}")
    p.add_argument("--hang-seconds", type=float, default=float(env("hang_seconds", 5.0)))
    p.add_argument("--kill-after", type=int, default=int(env("kill_after", 0)) or None)
    p.add_argument("--delay", type=float, default=float(env("delay", 0.0)),
                   help="milliseconds every request is held before it is answered")
    p.add_argument("--lose-first", default=env("lose_first", ""),
                   help="comma-separated operations whose first call's response is lost")
    p.add_argument("--log", default=env("log", None), help="fault log file (default: stderr)")
    a = p.parse_args(argv)
    for f in FAULTS:
        if not 0.0 <= getattr(a, f) <= 1.0:
            p.error(f"--{f} is a share between 0 and 1")
    cfg = {"seed": a.seed, "hang_seconds": a.hang_seconds, "kill_after": a.kill_after, "kill_pid": None,
           "delay": a.delay, "rtt": 0.0, "stale_index": False, "lose_first": [o for o in a.lose_first.split(",") if o]}
    cfg.update({f: getattr(a, f) for f in FAULTS})
    server = Server((a.host, a.port), a.upstream, cfg, a.log)
    host, port = server.server_address[:2]
    print(f"listening on http://{host}:{port}", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
