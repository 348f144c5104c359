"""Every query an operator's monitoring runs returns a series from a live playpulse.

Asks a running Prometheus (which scrapes a running playpulse and has loaded alerts.yml) to:
- report every rule healthy (parsed, evaluated without error);
- answer each recording rule's expression with at least one series;
- answer each alert's expression with its comparisons made `bool` (so that the expression
  answers 0 or 1 per series instead of filtering), with at least one series;
- answer every query of the Grafana board with at least one series;
- and that every playpulse metric a query names is one the server describes (a query whose
  `or vector(0)` shows 0 for a counter nothing has incremented yet cannot hide a typo).

    python3 monitoring_check.py PROMETHEUS_URL BOARD_JSON DESCRIBED_IN
"""

import json
import re
import sys
import urllib.parse
import urllib.request

# A comparison against a number: `> 0.1`, `== 1`, `>= 93600`.
COMPARISON = re.compile(r"(==|!=|>=|<=|>|<)\s*(-?[0-9][0-9.e+]*)")


# A metric name in a query; recording rules (with a colon) are checked as rules.
METRIC = re.compile(r"\bplaypulse_[a-z0-9_]+")
DESCRIBED = re.compile(r'describe_(?:counter|gauge|histogram)!\(\s*"(playpulse_[a-z0-9_]+)"')
HISTOGRAM_SERIES = ("_bucket", "_count", "_sum")


def unknown_metrics(expr, described):
    for name in METRIC.findall(expr):
        base = next((name[: -len(s)] for s in HISTOGRAM_SERIES if name.endswith(s)), name)
        if name not in described and base not in described:
            yield name


def get(base, path, **params):
    url = f"{base}{path}?{urllib.parse.urlencode(params)}"
    with urllib.request.urlopen(url, timeout=30) as answer:
        body = json.load(answer)
    if body.get("status") != "success":
        raise SystemExit(f"{url}: {body}")
    return body["data"]


def series(base, expr):
    return get(base, "/api/v1/query", query=expr)["result"]


def board_queries(board):
    for panel in board["panels"]:
        for target in panel.get("targets", []):
            # Grafana fills in the rate interval; four scrape intervals is its usual value.
            yield panel["title"], target["expr"].replace("$__rate_interval", "1m")


def main():
    base, board_path, source = sys.argv[1], sys.argv[2], sys.argv[3]
    with open(source) as f:
        described = set(DESCRIBED.findall(f.read()))
    failures = []
    rules = [r for g in get(base, "/api/v1/rules")["groups"] for r in g["rules"]]
    if not rules:
        failures.append("Prometheus loaded no rules")
    for rule in rules:
        name = rule.get("name")
        if rule.get("health") != "ok":
            failures.append(f"rule {name}: health {rule.get('health')}: {rule.get('lastError')}")
            continue
        query = rule["query"]
        failures += [f"rule {name}: {m} is not a metric the server describes" for m in unknown_metrics(query, described)]
        if rule["type"] == "alerting":
            if not COMPARISON.search(query):
                failures.append(f"alert {name}: no comparison against a number in {query}")
                continue
            query = COMPARISON.sub(r"\1 bool \2", query)
        found = series(base, query)
        print(f"{len(found):3d} series  {rule['type']:9s} {name}")
        if not found:
            failures.append(f"{rule['type']} rule {name}: no series for {query}")
    with open(board_path) as f:
        board = json.load(f)
    queries = list(board_queries(board))
    for title, expr in queries:
        failures += [f"panel {title!r}: {m} is not a metric the server describes" for m in unknown_metrics(expr, described)]
        found = series(base, expr)
        print(f"{len(found):3d} series  panel     {title}")
        if not found:
            failures.append(f"panel {title!r}: no series for {expr}")
    print(f"{len(rules)} rules and {len(queries)} board queries evaluated")
    if failures:
        print("\n".join(failures), file=sys.stderr)
        raise SystemExit(1)


if __name__ == "__main__":
    main()
