#!/usr/bin/env python3
"""Notification benchmark: from a partner EARN's HTTP request to the push at the receiver.

    python3 bench/notify.py [--db postgres://…] [--users 20000] [--rate 200] [--seconds 30]
                            [--backlog 20000]

`playpulse serve` (release build, schedule off) with its webhook pointed at a receiver in this
process, which checks each request's signature and notes when each idempotency key arrived.

1. Latency under load: --rate requests a second for --seconds, each one partner EARN of a
   random user (of --users, made known first) through `POST /v1/events`, from 8 client
   threads; per request, the time from sending it to its push arriving. p50, p99, max.
2. Throughput: --backlog partner EARNs ingested in batches of 1,000 first, then the time
   until every push has arrived (notifications a second).

The store is fresh each run (a temp dir, or a database created and dropped on --db's server),
and its size is printed beside the figures.
"""
import argparse, hashlib, hmac, http.server, json, os, random, subprocess, sys, tempfile, threading, time, urllib.request, uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
SECRET = "a benchmark webhook secret, long enough to be accepted"


class Receiver(http.server.BaseHTTPRequestHandler):
    # Keep-alive, as a real receiver: the dispatcher reuses its connections.
    protocol_version = "HTTP/1.1"
    arrived = {}
    lock = threading.Lock()

    def do_POST(self):
        body = self.rfile.read(int(self.headers["content-length"]))
        t, v1 = (p.split("=", 1)[1] for p in self.headers["playpulse-signature"].split(","))
        expected = hmac.new(SECRET.encode(), t.encode() + b"." + body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, v1):
            self.send_response(401)
            self.end_headers()
            return
        with Receiver.lock:
            Receiver.arrived.setdefault(self.headers["idempotency-key"], time.monotonic())
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def post(base, key, events):
    request = urllib.request.Request(f"{base}/v1/events", json.dumps({"events": events}).encode(),
                                     {"content-type": "application/json", "authorization": f"Bearer {key}"})
    answer = json.load(urllib.request.urlopen(request))
    assert all(r["status"] == "accepted" for r in answer["results"]), answer


def earn(user, amount=500, source="partner"):
    return {"event_id": str(uuid.uuid4()), "user_id": user, "type": "EARN_CYBER_TOKENS",
            "ts": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "props": {"amount": amount, "source": source}}


def wait_for(keys, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with Receiver.lock:
            if all(k in Receiver.arrived for k in keys):
                return True
        time.sleep(0.01)
    return False


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, round(p * (len(values) - 1)))]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--db", help="a postgres:// server URL to create the benchmark's database on")
    p.add_argument("--users", type=int, default=20_000)
    p.add_argument("--rate", type=int, default=200)
    p.add_argument("--seconds", type=int, default=30)
    p.add_argument("--backlog", type=int, default=20_000)
    args = p.parse_args()
    subprocess.run(["cargo", "build", "--release", "-p", "playpulse"], cwd=ROOT, check=True)
    binary = str(TARGET / "release" / "playpulse")

    # The standard library's listen backlog (5) would drop the connections of a burst.
    http.server.ThreadingHTTPServer.request_queue_size = 256
    receiver = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    data = tempfile.mkdtemp(prefix="pp-notify-")
    store_args = ["--data-dir", data]
    db_name = None
    if args.db:
        db_name = f"pp_bench_notify_{os.getpid()}"
        subprocess.run(["psql", args.db, "-qc", f"CREATE DATABASE {db_name}"], check=True)
        store_args += ["--db", args.db.rsplit("/", 1)[0] + "/" + db_name]
    env = dict(os.environ, PLAYPULSE_SCHEDULE__ENABLED="false",
               PLAYPULSE_NOTIFY__WEBHOOK__URL=f"http://127.0.0.1:{receiver.server_port}/hook",
               PLAYPULSE_NOTIFY__WEBHOOK__SECRET=SECRET)
    key = subprocess.run([binary, "keys", "create", "--scope", "ingest,read", "--name", "bench", *store_args],
                         env=env, capture_output=True, text=True, check=True).stdout.strip()
    server = subprocess.Popen([binary, "serve", *store_args, "--listen", "127.0.0.1:0"],
                              stdout=subprocess.PIPE, text=True, env=env)
    try:
        base = next(l.strip().split("=", 1)[1] for l in server.stdout if l.startswith("listening="))
        users = [f"n{i:06d}" for i in range(args.users)]
        for start in range(0, len(users), 1000):  # known users: app earns notify nobody
            post(base, key, [earn(u, 10, "app") for u in users[start:start + 1000]])
        backend = "PostgreSQL" if args.db else "SQLite"

        # 1. Latency under load.
        sent = {}
        def one(_):
            e = earn(random.choice(users))
            started = time.monotonic()
            post(base, key, [e])
            sent[f"token-arrival/{e['event_id']}"] = started
        total = args.rate * args.seconds
        with ThreadPoolExecutor(8) as pool:
            began = time.monotonic()
            for i in range(total):
                pause = began + i / args.rate - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
                pool.submit(one, i)
        offered = total / (time.monotonic() - began)
        if not wait_for(list(sent), 60):
            sys.exit("pushes missing after a minute")
        latencies = [(Receiver.arrived[k] - t) * 1000 for k, t in sent.items()]
        print(f"store: {backend}, {args.users:,} users, {args.users + total:,} events before the backlog")
        print(f"latency (EARN request sent -> push at the receiver), {total:,} requests at "
              f"{offered:.0f}/s: p50 {percentile(latencies, 0.5):.0f} ms, p99 {percentile(latencies, 0.99):.0f} ms, "
              f"max {max(latencies):.0f} ms")

        # 2. Throughput of a backlog.
        backlog = [earn(random.choice(users)) for _ in range(args.backlog)]
        keys = [f"token-arrival/{e['event_id']}" for e in backlog]
        started = time.monotonic()
        for start in range(0, len(backlog), 1000):
            post(base, key, backlog[start:start + 1000])
        ingested = time.monotonic() - started
        if not wait_for(keys, 600):
            sys.exit("backlog not delivered in ten minutes")
        drained = max(Receiver.arrived[k] for k in keys) - started
        print(f"throughput: {args.backlog:,} notifications ingested in {ingested:.1f} s, all delivered "
              f"{drained:.1f} s after the first request: {args.backlog / drained:,.0f} notifications/s")
    finally:
        server.terminate()
        server.wait()
        if db_name:
            subprocess.run(["psql", args.db, "-qc", f"DROP DATABASE IF EXISTS {db_name} WITH (FORCE)"])
        subprocess.run(["rm", "-rf", data])


if __name__ == "__main__":
    main()
