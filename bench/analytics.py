#!/usr/bin/env python3
"""Nightly analytics benchmark: a full rebuild of the rollups, an incremental night (the new
day's rollups, RFM, segments, every KPI) and each KPI over 90 days, against DuckDB's time for
the bare RFM query over the raw events (bench/rfm_events.sql), same files, same run.

    python3 bench/analytics.py [--users 1000000] [--events 100000000] [--day-events 3300000]

The lake: `--events` over the 30 days ending --last-day, then one new day of --day-events.
Prints wall seconds and peak memory (max RSS of each engine's own process) and the ratios the
targets are stated in. Installs DuckDB from PyPI into a private venv.
"""
import argparse, datetime, os, subprocess, sys, time, venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))

def run(cmd):
    """Runs a process; returns (stdout, seconds, peak RSS in MiB) of that process alone."""
    started = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        sys.exit(f"{cmd[0]} failed: {status}")
    return out, time.monotonic() - started, usage.ru_maxrss / 1024

def lines(out, kind):
    """The key=value pairs of each line a benchmark prints for `kind`."""
    return [dict(kv.split("=", 1) for kv in l.split()) for l in out.splitlines() if l.startswith(f"bench={kind} ")]

def main():
    p = argparse.ArgumentParser()
    p.add_argument("--users", type=int, default=1_000_000)
    p.add_argument("--events", type=int, default=100_000_000)
    p.add_argument("--day-events", type=int, default=3_300_000)
    p.add_argument("--last-day", default="2026-03-31")
    p.add_argument("--lake", default=str(TARGET / "bench-analytics-lake"))
    args = p.parse_args()
    new_day = (datetime.date.fromisoformat(args.last_day) + datetime.timedelta(days=1)).isoformat()
    subprocess.run(["cargo", "build", "--release", "-p", "playpulse"], cwd=ROOT, check=True)
    binary = TARGET / "release" / "playpulse"
    env_dir = TARGET / "bench-venv"
    if not (env_dir / "bin" / "python").exists():
        venv.create(env_dir, with_pip=True)
    subprocess.run([str(env_dir / "bin" / "pip"), "install", "-q", "duckdb"], check=True)

    lake = Path(args.lake)
    marker = lake / f".rows-{args.users}-{args.events}-{args.day_events}"
    if not marker.exists():
        subprocess.run(["rm", "-rf", str(lake)], check=True)
        for events, days, last, seed in [(args.events, 30, args.last_day, 42), (args.day_events, 1, new_day, 43)]:
            out, secs, _ = run([str(binary), "bench", "lake", "--users", str(args.users), "--events", str(events),
                                "--days", str(days), "--last-day", last, "--seed", str(seed), "--out", str(lake)])
            print(out.strip())
        marker.touch()

    out, total, peak = run([str(binary), "bench", "nightly", "--lake", str(lake), "--as-of", new_day])
    rebuild, night, kpis = lines(out, "rebuild")[0], lines(out, "night")[0], lines(out, "kpi")

    sql = (ROOT / "bench" / "rfm_events.sql").read_text()
    as_of = (datetime.date.fromisoformat(new_day) - datetime.date(1970, 1, 1)).days
    sql = sql.replace("{as_of_day}", str(as_of)).replace("{window_days}", "30").replace("{frequency_filter}", "TRUE")
    duck_script = f"""
import duckdb, time
started = time.monotonic()
con = duckdb.connect()
con.execute("SET enable_progress_bar = false")
con.execute("CREATE VIEW events AS SELECT * FROM read_parquet('{lake}/events/*/*.parquet')")
rows = con.execute({sql!r}).fetchall()
print(f"bench=duckdb users={{len(rows)}} seconds={{time.monotonic() - started:.2f}}")
"""
    out, duck_secs, duck_mib = run([str(env_dir / "bin" / "python"), "-c", duck_script])
    duck = lines(out, "duckdb")[0]
    rebuild_s, night_s = float(rebuild["seconds"]), float(night["seconds"])
    print(f"lake: {args.events:,} events over 30 days + {args.day_events:,} on {new_day}, {args.users:,} users")
    print(f"duckdb bare RFM over raw events: {duck_secs:6.2f} s  peak {duck_mib:6.0f} MiB  users={duck['users']}")
    print(f"full rebuild of the rollups:     {rebuild_s:6.2f} s  ratio {rebuild_s / duck_secs:.2f} (target <= 1.2)  rows={rebuild['rows']}")
    print(f"incremental night:               {night_s:6.2f} s  ratio {night_s / duck_secs:.2f} (target <= 0.2)"
          f"  [rollup {night['rollup_seconds']} s, RFM+segments {night['rfm_segments_seconds']} s, KPIs {night['kpis_seconds']} s]")
    print(f"playpulse process: {total:.1f} s, peak {peak:.0f} MiB")
    for k in kpis:
        verdict = "ok" if float(k["p99_ms"]) < 100 else "MISS"
        print(f"  kpi {k['metric']:16} over {k['days']} days: p50 {k['p50_ms']:>7} ms  p99 {k['p99_ms']:>7} ms  {verdict}")

if __name__ == "__main__":
    main()
