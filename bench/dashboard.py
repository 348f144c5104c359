#!/usr/bin/env python3
"""Dashboard benchmark: each page's server time and weight at size.

    python3 bench/dashboard.py [--users 1000000] [--events 300000000] [--days 90] [--runs 40]
                               [--skip retention]

The data: a lake of --events events of --users users over the --days business days ending
yesterday (`playpulse bench lake`), rolled up, and the nightly batch of the last two of
those days (so segments, their history and the moves between nights exist: 1 user_segments
row per user in the SQLite store). Then `playpulse serve` (release build, schedule off)
with an operator signed in, and each page asked for --runs times in a row after two
warm-up requests: p50, p99 and max of the time to the whole answer, and its size (the
stylesheet and icon come once and are cached). Before them, the time of the very first
request, which opens the analytics session the others share.
"""
import argparse, datetime, http.cookiejar, os, statistics, subprocess, sys, time, urllib.error, urllib.parse, urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
PASSWORD = "a long enough benchmark passphrase"
PAGES = [
    "/dashboard",
    "/dashboard/retention",
    "/dashboard/retention?granularity=week",
    "/dashboard/retention?granularity=month",
    "/dashboard/economy",
    "/dashboard/segments",
    "/dashboard/hours",
    "/dashboard/proposals",
    "/dashboard/jobs",
    "/dashboard/users?id=u0000001",
    "/dashboard/keys",
]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--users", type=int, default=1_000_000)
    p.add_argument("--events", type=int, default=300_000_000)
    p.add_argument("--days", type=int, default=90)
    p.add_argument("--runs", type=int, default=40)
    p.add_argument("--data", default=str(TARGET / "bench-dashboard"))
    p.add_argument("--skip", action="append", default=[], help="leave out pages whose path holds this")
    args = p.parse_args()
    subprocess.run(["cargo", "build", "--release", "-p", "playpulse"], cwd=ROOT, check=True)
    binary = str(TARGET / "release" / "playpulse")
    data = Path(args.data)
    yesterday = datetime.date.today() - datetime.timedelta(days=1)
    marker = data / f".ready-{args.users}-{args.events}-{args.days}-{yesterday}"
    env = dict(os.environ, PLAYPULSE_SCHEDULE__ENABLED="false")
    if not marker.exists():
        subprocess.run(["rm", "-rf", str(data)], check=True)
        started = time.monotonic()
        subprocess.run([binary, "bench", "lake", "--users", str(args.users), "--events", str(args.events),
                        "--days", str(args.days), "--last-day", yesterday.isoformat(), "--out", str(data / "lake")],
                       check=True, env=env)
        print(f"lake written in {time.monotonic() - started:.0f} s")
        for night in [yesterday - datetime.timedelta(days=1), yesterday]:
            started = time.monotonic()
            subprocess.run([binary, "batch", "--as-of", night.isoformat(), "--data-dir", str(data)],
                           check=True, env=env, stdout=subprocess.DEVNULL)
            print(f"night {night} in {time.monotonic() - started:.0f} s")
        create = subprocess.run([binary, "operators", "create", "--name", "bench", "--role", "viewer",
                                 "--password-stdin", "--data-dir", str(data)],
                                input=PASSWORD + "\n", text=True, env=env, capture_output=True)
        if create.returncode != 0 and "exists already" not in create.stderr:
            sys.exit(create.stderr)
        marker.touch()

    server = subprocess.Popen([binary, "serve", "--data-dir", str(data), "--listen", "127.0.0.1:0"],
                              stdout=subprocess.PIPE, text=True, env=env)
    try:
        base = None
        for line in server.stdout:
            if line.startswith("listening="):
                base = line.strip().split("=", 1)[1]
                break
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        form = urllib.parse.urlencode({"name": "bench", "password": PASSWORD}).encode()
        opener.open(f"{base}/dashboard/login", form).read()
        print(f"store: {args.users:,} users' segments; lake: {args.events:,} events over {args.days} days to {yesterday}")
        # The first analytics page opens the session (the lake's tables registered, the
        # per-day ones read into memory) that later requests share for analytics.refresh_s.
        started = time.monotonic()
        opener.open(base + PAGES[0]).read()
        print(f"first request, opening the analytics session: {(time.monotonic() - started) * 1000:.0f} ms")
        print(f"{'page':42} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'bytes':>9}")
        for page in [p for p in PAGES if not any(skip in p for skip in args.skip)]:
            try:
                for _ in range(2):
                    opener.open(base + page).read()
            except urllib.error.HTTPError as err:
                # A page past the server's 30 s limit is answered 408: say so, and go on.
                print(f"{page:42} HTTP {err.code} after the server's time limit: not timed")
                continue
            times, size = [], 0
            for _ in range(args.runs):
                started = time.monotonic()
                size = len(opener.open(base + page).read())
                times.append((time.monotonic() - started) * 1000)
            times.sort()
            p99 = times[min(len(times) - 1, round(0.99 * (len(times) - 1)))]
            print(f"{page:42} {statistics.median(times):8.1f} {p99:8.1f} {times[-1]:8.1f} {size:9,}")
        for asset in ["/dashboard/assets/app.css", "/dashboard/assets/icon.svg"]:
            print(f"{asset:42} {'':8} {'':8} {'':8} {len(opener.open(base + asset).read()):9,}")
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
