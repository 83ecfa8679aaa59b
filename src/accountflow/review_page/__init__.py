"""`accountflow review serve`: the review queue as a local web page.

Rendered on the server (FastAPI, Jinja2 with autoescaping, plain HTML forms, one small vendored
script for keyboard shortcuts and select-all; no CDN, no build). Every action calls the one
review service (`accountflow.review`), so the page and the CLI decide the same way.

The store's single writer: the page opens the DuckDB store for each request and closes it when
the request ends, so it holds the file for milliseconds (or, for approve and regenerate, for
the model steps those run, as `review approve` does). While a batch holds the store, the page
answers 503 "a batch is running, retry in a moment" (and reloads itself) instead of waiting;
a command started while a request holds it waits up to ACCOUNTFLOW_STORE_WAIT seconds.
"""

from accountflow.review_page.app import create_app, serve

__all__ = ["create_app", "serve"]
