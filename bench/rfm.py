#!/usr/bin/env python3
"""RFM benchmark: playpulse's embedded engine (DataFusion) against DuckDB, same Parquet files,
same SQL text (bench/rfm_events.sql, RFM over the raw events). Installs DuckDB from PyPI into a private venv.

    python3 bench/rfm.py [--users 1000000] [--events 100000000] [--lake DIR]

Prints, per engine, wall seconds and peak memory (max RSS of the engine's own process),
and checks both engines return the same users and the same checksum.
"""
import argparse, os, subprocess, sys, time, venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DAY0 = "1970-01-01"

def run(cmd, env=None):
    """Runs a process; returns (stdout, seconds, peak RSS in MiB) of that process alone."""
    started = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, env=env, text=True)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        sys.exit(f"{cmd[0]} failed: {status}")
    return out, time.monotonic() - started, usage.ru_maxrss / 1024

def fields(out):
    """The key=value pairs of the line a benchmark prints."""
    line = next(l for l in out.splitlines() if l.startswith("bench="))
    return dict(kv.split("=", 1) for kv in line.split())

def days_since_epoch(date):
    import datetime
    return (datetime.date.fromisoformat(date) - datetime.date(1970, 1, 1)).days

def main():
    p = argparse.ArgumentParser()
    p.add_argument("--users", type=int, default=1_000_000)
    p.add_argument("--events", type=int, default=100_000_000)
    p.add_argument("--lake", default=str(ROOT / "target" / "bench-lake"))
    p.add_argument("--as-of", default="2026-03-31")
    args = p.parse_args()
    binary = ROOT / "target" / "release" / "playpulse"
    subprocess.run(["cargo", "build", "--release", "-p", "playpulse"], cwd=ROOT, check=True)
    env_dir = ROOT / "target" / "bench-venv"
    if not (env_dir / "bin" / "python").exists():
        venv.create(env_dir, with_pip=True)
    subprocess.run([str(env_dir / "bin" / "pip"), "install", "-q", "duckdb"], check=True)

    lake = Path(args.lake)
    marker = lake / f".rows-{args.users}-{args.events}"
    if not marker.exists():
        subprocess.run(["rm", "-rf", str(lake)], check=True)
        out, secs, _ = run([str(binary), "bench", "lake", "--users", str(args.users), "--events",
                            str(args.events), "--last-day", args.as_of, "--out", str(lake)])
        print(out.strip())
        marker.touch()

    out, df_secs, df_mib = run([str(binary), "bench", "rfm", "--lake", str(lake), "--as-of", args.as_of])
    df = fields(out)
    sql = (ROOT / "bench" / "rfm_events.sql").read_text()
    sql = (sql.replace("{as_of_day}", str(days_since_epoch(args.as_of))).replace("{window_days}", "30")
           .replace("{frequency_filter}", "TRUE"))
    duck_script = f"""
import duckdb, time
started = time.monotonic()
con = duckdb.connect()
con.execute("SET enable_progress_bar = false")
con.execute("CREATE VIEW events AS SELECT * FROM read_parquet('{lake}/events/*/*.parquet')")
rows = con.execute({sql!r}).fetchall()
checksum = sum(r[1] + r[2] + r[3] + r[7] for r in rows)
print(f"bench=rfm engine=duckdb users={{len(rows)}} checksum={{checksum}} seconds={{time.monotonic() - started:.2f}}")
"""
    out, duck_secs, duck_mib = run([str(env_dir / "bin" / "python"), "-c", duck_script])
    duck = fields(out)
    print(f"datafusion: {df_secs:6.2f} s  peak {df_mib:7.0f} MiB  users={df['users']} checksum={df['checksum']}")
    print(f"duckdb:     {duck_secs:6.2f} s  peak {duck_mib:7.0f} MiB  users={duck['users']} checksum={duck['checksum']}")
    print(f"ratio datafusion/duckdb: {df_secs / duck_secs:.2f}")
    if (df["users"], df["checksum"]) != (duck["users"], duck["checksum"]):
        sys.exit("the engines disagree")

if __name__ == "__main__":
    main()
