"""Research with and without the web source, side by side, on labeled accounts with a site.

    python bench/web_research.py [--lm local/qwen2.5-coder-0.5b] [--target pipeline]

Serves a small fictional website for each of four dev accounts on 127.0.0.1 (one port per
site; the fixture text is in this file), points each account's `website` at it, allows those
hosts with ACCOUNTFLOW_WEB_ALLOW_HOSTS, and runs the same eval suite twice in one process:
`--sources account` and `--sources account,web`. Prints, per account and overall, the fit
and grounding metrics, the pages and seconds spent fetching per account, and the facts cited
with a URL. Nothing leaves the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

PAGE = (
    "<html><head><title>{title}</title></head>"
    "<body><nav>{nav}</nav><main>{body}</main></body></html>"
)

SITES: dict[str, dict[str, tuple[str, str]]] = {
    "lab-044": {
        "/": (
            "Ashgrove Logistics",
            "<h1>Ashgrove Logistics</h1><p>Ashgrove Logistics runs regional "
            "trucking and four cross-dock warehouses in Ohio and Kentucky for about 400 "
            "retail shippers.</p><p>Shippers follow every load in the Ashgrove tracking "
            "portal.</p>",
        ),
        "/about": (
            "About Ashgrove",
            "<h1>About us</h1><p>Ashgrove Logistics was founded in 1998 "
            "in Columbus, Ohio and employs about 520 people.</p><p>A data team of three "
            "loads carrier status feeds and warehouse scans into Azure SQL, and the "
            "tracking portal reads from it.</p>",
        ),
        "/news/portal-delays": (
            "News",
            "<h1>Tracking portal update</h1><p>In September 2026 "
            "carrier status feeds arrived hours late for two days, and the "
            "tracking portal showed shippers stale delivery times.</p>",
        ),
    },
    "lab-045": {
        "/": (
            "Viñedos Santa Inés",
            "<h1>Viñedos Santa Inés</h1><p>Family winery in the Maipo "
            "and Colchagua valleys since 1952.</p>",
        ),
        "/about": (
            "Nosotros",
            "<h1>About the winery</h1><p>Viñedos Santa Inés exports to 30 "
            "countries and employs about 600 people at two wineries and a bottling "
            "plant.</p><p>One analyst maintains the export reports for 40 importers.</p>",
        ),
        "/careers": (
            "Careers",
            "<h1>Careers</h1><p>We are hiring a data engineer to move our "
            "export reporting from spreadsheets to BigQuery.</p>",
        ),
    },
    "lab-052": {
        "/": (
            "Kinetic Learning Labs",
            "<h1>Kinetic Learning Labs</h1><p>Adaptive math practice "
            "for grades 3 to 8, used by 1,200 schools.</p>",
        ),
        "/about": (
            "About Kinetic",
            "<h1>About</h1><p>Kinetic Learning Labs is based in Raleigh "
            "and has about 90 employees.</p>",
        ),
        "/blog/district-reports": (
            "Blog",
            "<h1>District reports, every semester</h1><p>District "
            "contracts now require a usage report each semester. Our two "
            "analysts build them with dbt on Snowflake.</p>",
        ),
    },
    "lab-058": {
        "/": (
            "Pacific Rim Seafood",
            "<h1>Pacific Rim Seafood Distributors</h1><p>Fresh and "
            "frozen seafood for West Coast restaurants and grocers.</p>",
        ),
        "/about": (
            "About",
            "<h1>About us</h1><p>Pacific Rim Seafood Distributors employs about "
            "800 people at three cold-storage warehouses in Seattle, Portland and "
            "Oakland.</p>",
        ),
        "/news/inventory": (
            "News",
            "<h1>Inventory accuracy program</h1><p>In 2026 Pacific Rim "
            "started a program to reconcile Redshift inventory counts with the "
            "warehouse system daily after sales reps promised stock that was not "
            "there.</p>",
        ),
    },
}


def _handler(pages: dict[str, tuple[str, str]]) -> type[BaseHTTPRequestHandler]:
    nav = " ".join(f'<a href="{p}">{t}</a>' for p, (t, _) in pages.items())

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/robots.txt":
                body, kind, status = b"User-agent: *\nAllow: /\n", "text/plain", 200
            elif path in pages:
                title, html = pages[path]
                body = PAGE.format(title=title, nav=nav, body=html).encode()
                kind, status = "text/html; charset=utf-8", 200
            else:
                body, kind, status = b"not found", "text/plain", 404
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


def serve() -> tuple[dict[str, str], list[ThreadingHTTPServer]]:
    urls, servers = {}, []
    for account_id, pages in SITES.items():
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(pages))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        urls[account_id] = f"http://127.0.0.1:{server.server_address[1]}/"
        servers.append(server)
    return urls, servers


METRICS = (
    "fit_band",
    "fit_score",
    "pain_point_recall",
    "grounding",
    "fact_sources",
    "output_rules",
    "demo_copy",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lm", default="local/qwen2.5-coder-0.5b")
    parser.add_argument("--target", default="pipeline", choices=["analysis", "pipeline"])
    args = parser.parse_args()
    urls, servers = serve()
    os.environ["ACCOUNTFLOW_WEB_ALLOW_HOSTS"] = ",".join(
        u.removeprefix("http://").rstrip("/") for u in urls.values()
    )
    from accountflow.config import Settings
    from accountflow.evals.execute import run_suite
    from accountflow.evals.suites import load_suite

    with tempfile.TemporaryDirectory(prefix="accountflow-web-bench-") as tmp:
        rows = [json.loads(line) for line in (ROOT / "datasets/labeled/dev.jsonl").open()]
        chosen = []
        for row in rows:
            if row["account"]["account_id"] in urls:
                row["account"]["website"] = urls[row["account"]["account_id"]]
                chosen.append(row)
        data = Path(tmp) / "dev-with-sites.jsonl"
        data.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in chosen))
        suite_file = Path(tmp) / "web.yaml"
        suite_file.write_text(
            f"name: web-research\ntarget: {args.target}\ndataset: {data}\nthreads: 1\n"
            "metrics:\n"
            + "".join(f"  {m}: 1\n" for m in METRICS)
            + "thresholds:\n  fail_under: 0.0\n"
        )
        suite = load_suite(str(suite_file))
        results = {}
        for sources in ("account", "account,web"):
            settings = Settings.load(home=Path(tmp) / "home", lm=args.lm, sources=sources)
            t0 = time.perf_counter()
            outcome = run_suite(settings, suite, track=False)
            results[sources] = (outcome, time.perf_counter() - t0)
    for server in servers:
        server.shutdown()

    print(f"{len(urls)} dev accounts with a fixture site, {args.target} target, {args.lm}")
    header = f"{'metric':<20}" + "".join(f"{s:>14}" for s in results)
    print(header)
    for metric in METRICS:
        cells = []
        for outcome, _ in results.values():
            value = outcome.report.metric_means.get(metric)
            cells.append(f"{value:>14.3f}" if value is not None else f"{'-':>14}")
        print(f"{metric:<20}" + "".join(cells))
    for sources, (outcome, seconds) in results.items():
        line = f"{sources}: aggregate {outcome.report.aggregate:.3f}, {seconds:.1f} s"
        if outcome.sources is not None:
            s = outcome.sources
            n = max(s.accounts, 1)
            line += (
                f"; per account: {s.pages / n:.1f} pages, {s.fetched / n:.1f} requests, "
                f"{s.seconds / n:.2f} s reading the site"
            )
        print(line)
        for row in outcome.report.rows:
            fit = row.scores.get("fit_band")
            print(f"  {row.example_id}: score {row.score:.3f}; {fit.reason if fit else ''}")
            profile = (row.prediction or {}).get("profile") or {}
            for fact in profile.get("key_facts", []):
                if fact.get("url"):
                    print(f"    fact ({fact['source']}, {fact['url']}): {fact['fact']}")


if __name__ == "__main__":
    main()
