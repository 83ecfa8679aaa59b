"""The review page's routes: GET the queue, POST one decision per form (redirect after post).

Safety, since account text is hostile input and the page changes state: Jinja2 autoescapes
every value; a Content-Security-Policy allows only this server's own script and styles (no
inline script, so an escaping slip still runs nothing); every form carries a per-server CSRF
token, checked in constant time; the Host header must be one this server answers to (a DNS
rebinding page cannot post to it); the server binds to 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

import hmac
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

import dspy
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape

from accountflow import review as service
from accountflow.config import Settings
from accountflow.errors import AccountflowError, StoreInUseError
from accountflow.store import Store

_STATIC = Path(__file__).parent / "static"
_STATIC_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}
_FILTERS = ("status", "band", "batch")
_LABELS = {"email": "Email", "linkedin": "LinkedIn note", "sms": "SMS", "call": "Call opener"}
_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


class ReviewPage:
    """What the routes share: the settings, who decides, the model for approve/regenerate
    (built once, on the first action that needs it), and the CSRF token."""

    def __init__(
        self,
        settings: Settings,
        reviewer: str | None = None,
        lm: dspy.BaseLM | str | None = None,
        csrf_token: str | None = None,
    ) -> None:
        self.settings = settings
        self.reviewer = reviewer or service.default_reviewer()
        self._lm_spec = lm
        self._lm: dspy.BaseLM | None = lm if isinstance(lm, dspy.BaseLM) else None
        self._lm_lock = threading.Lock()
        self.csrf = csrf_token or secrets.token_urlsafe(32)
        self.templates = Environment(
            loader=PackageLoader("accountflow.review_page", "templates"),
            autoescape=select_autoescape(default=True, default_for_string=True),
        )

    @contextmanager
    def store(self) -> Iterator[Store]:
        """The store for one request, never waited for: a batch holding it gets a 503."""
        store = Store(self.settings.db_path, wait_s=0.0)
        try:
            yield store
        finally:
            store.close()

    def orchestrator(self, store: Store) -> Any:
        from accountflow.orchestrator import Orchestrator, lm_for

        with self._lm_lock:
            if self._lm is None:
                spec = self._lm_spec if isinstance(self._lm_spec, str) else None
                self._lm = lm_for(self.settings, spec)
        return Orchestrator.from_settings(self.settings, store, lm=self._lm)

    def render(self, name: str, status_code: int = 200, **values: Any) -> HTMLResponse:
        html = self.templates.get_template(name).render(csrf=self.csrf, **values)
        return HTMLResponse(html, status_code=status_code, headers=_HEADERS)


def _filters(values: dict[str, str]) -> dict[str, str]:
    return {k: values[k] for k in _FILTERS if values.get(k)}


def _back(form: dict[str, str], anchor: str | None = None, **flash: str) -> RedirectResponse:
    """303 to the queue with the reviewer's filters kept and a message; never to another
    site (only known query keys are carried over)."""
    query = _filters(parse_back(form.get("back", "")))
    query.update({k: v for k, v in flash.items() if v})
    url = "/" + (f"?{urlencode(query)}" if query else "")
    if anchor:
        url += f"#run-{anchor}"
    return RedirectResponse(url, status_code=303, headers=_HEADERS)


def parse_back(raw: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(raw).items() if k in _FILTERS and v}


async def _form(request: Request) -> dict[str, Any]:
    """An urlencoded form: single values as strings, `run_id` as a list (bulk approve)."""
    raw = parse_qs((await request.body()).decode("utf-8", "replace"), keep_blank_values=True)
    form: dict[str, Any] = {k: v[-1] for k, v in raw.items()}
    form["run_ids"] = raw.get("run_id", [])
    return form


def create_app(
    settings: Settings,
    *,
    reviewer: str | None = None,
    lm: dspy.BaseLM | str | None = None,
    csrf_token: str | None = None,
    hosts: tuple[str, ...] = ("127.0.0.1", "localhost"),
) -> FastAPI:
    """The review page for the state dir in `settings`. `lm` is the model approve and
    regenerate run on (default: the settings' model); `hosts` the Host names it answers."""
    page = ReviewPage(settings, reviewer=reviewer, lm=lm, csrf_token=csrf_token)
    app = FastAPI(title="accountflow review", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.page = page
    allowed = {h.lower() for h in hosts}

    @app.middleware("http")
    async def guard(request: Request, call_next: Any) -> Response:
        host = (request.headers.get("host") or "").rsplit(":", 1)[0].strip("[]").lower()
        if host not in allowed:
            return Response("Unknown host.", status_code=400, headers=_HEADERS)
        if request.method == "POST":
            form = await _form(request)
            token = str(form.get("csrf", ""))
            if not hmac.compare_digest(token.encode(), page.csrf.encode()):
                return page.render(
                    "message.html",
                    status_code=403,
                    title="Form expired",
                    text="This form is from another session of the review page; reload the "
                    "queue and try again.",
                )
            request.state.form = form
        try:
            response: Response = await call_next(request)
        except StoreInUseError as exc:
            return _busy(page, exc)
        return response

    @app.exception_handler(StoreInUseError)
    async def busy(request: Request, exc: StoreInUseError) -> Response:
        return _busy(page, exc)

    @app.get("/static/{name}")
    def static(name: str) -> Response:
        path = _STATIC / name
        if "/" in name or path.suffix not in _STATIC_TYPES or not path.is_file():
            return Response("Not found.", status_code=404)
        return Response(
            path.read_bytes(),
            media_type=_STATIC_TYPES[path.suffix],
            headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache"},
        )

    @app.get("/", response_class=HTMLResponse)
    def queue(
        status: str = "awaiting",
        band: str = "",
        batch: str = "",
        msg: str = "",
        err: str = "",
    ) -> Response:
        filters = {"status": status, "band": band, "batch": batch}
        try:
            with page.store() as store:
                items = service.queue(store, status, batch or None, band or None)  # type: ignore[arg-type]
                batches = sorted(b.name for b in store.batches.list(limit=200))
        except StoreInUseError:
            raise
        except AccountflowError as exc:
            items, batches, err = [], [], str(exc)
        return page.render(
            "queue.html",
            items=items,
            filters=filters,
            back=urlencode(_filters(filters)),
            batches=batches,
            statuses=service.QUEUE_STATUSES,
            bands=service.BANDS,
            msg=msg,
            err=err,
            reviewer=page.reviewer,
            labels=_LABELS,
        )

    @app.post("/runs/{run_id}/approve")
    def approve(run_id: str, request: Request) -> Response:
        form = request.state.form
        with page.store() as store:
            try:
                result = service.decide(
                    page.orchestrator(store),
                    run_id,
                    "approve",
                    form.get("note") or None,
                    page.reviewer,
                )
            except AccountflowError as exc:
                return _back(form, run_id, err=str(exc))
        status = result.status.value if result else "approved"
        return _back(form, form.get("next") or None, msg=f"{run_id}: approved ({status}).")

    @app.post("/runs/{run_id}/reject")
    def reject(run_id: str, request: Request) -> Response:
        form = request.state.form
        regenerate = form.get("regenerate") == "1"
        with page.store() as store:
            try:
                if regenerate:
                    service.decide(
                        page.orchestrator(store),
                        run_id,
                        "reject",
                        form.get("note"),
                        page.reviewer,
                        regenerate=True,
                        channel=form.get("channel") or None,
                    )
                else:
                    service.record_decision(
                        store, run_id, "reject", form.get("note"), page.reviewer
                    )
            except AccountflowError as exc:
                return _back(form, run_id, err=str(exc))
        if regenerate:
            what = f"the {form['channel']} message" if form.get("channel") else "the outreach"
            return _back(form, run_id, msg=f"{run_id}: {what} regenerated from your note.")
        return _back(form, form.get("next") or None, msg=f"{run_id}: rejected.")

    @app.post("/runs/{run_id}/edit")
    def edit(run_id: str, request: Request) -> Response:
        form = request.state.form
        then_approve = form.get("then") == "approve"
        with page.store() as store:
            try:
                orchestrator = page.orchestrator(store)
                service.edit(
                    orchestrator,
                    run_id,
                    str(form.get("channel", "")),
                    str(form.get("body", "")),
                    form.get("subject"),
                    page.reviewer,
                )
                if then_approve:
                    service.decide(orchestrator, run_id, "approve", None, page.reviewer)
            except AccountflowError as exc:
                return _back(form, run_id, err=str(exc))
        if then_approve:
            return _back(form, form.get("next") or None, msg=f"{run_id}: edited and approved.")
        return _back(form, run_id, msg=f"{run_id}: edit saved.")

    @app.post("/runs/{run_id}/restore")
    def restore(run_id: str, request: Request) -> Response:
        form = request.state.form
        with page.store() as store:
            try:
                service.restore(store, run_id, str(form.get("channel", "")), page.reviewer)
            except AccountflowError as exc:
                return _back(form, run_id, err=str(exc))
        return _back(form, run_id, msg=f"{run_id}: original {form.get('channel')} restored.")

    @app.post("/bulk-approve")
    def bulk_approve(request: Request) -> Response:
        form = request.state.form
        run_ids = [r for r in form["run_ids"] if r]
        if not run_ids:
            return _back(form, err="Select the runs to approve first.")
        with page.store() as store:
            done = service.approve_many(page.orchestrator(store), run_ids, None, page.reviewer)
        failed = [f"{run_id}: {error}" for run_id, _result, error in done if error]
        ok = len(done) - len(failed)
        return _back(
            form,
            msg=f"Approved {ok} of {len(done)}.",
            err=" ".join(failed),
        )

    return app


def _busy(page: ReviewPage, exc: StoreInUseError) -> Response:
    return page.render(
        "message.html",
        status_code=503,
        title="A batch is running",
        text=f"A batch is running; retry in a moment. ({exc})",
        refresh=True,
    )


def serve(
    settings: Settings,
    host: str = "127.0.0.1",
    port: int = 8765,
    reviewer: str | None = None,
    lm: str | None = None,
) -> None:
    """Run the review page until Ctrl-C."""
    import uvicorn

    hosts = tuple(dict.fromkeys(("127.0.0.1", "localhost", host)))
    app = create_app(settings, reviewer=reviewer, lm=lm, hosts=hosts)
    uvicorn.run(app, host=host, port=port, log_level="warning")
