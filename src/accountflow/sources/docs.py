"""The documents source: `--docs DIR` reads `DIR/<account_id>/*` (CRM notes, call transcripts,
exported pages) as research text. Text and Markdown as they are, HTML through the same
extractor as web pages, PDF with pypdf (a dependency; the import is guarded all the same);
other files are skipped with a note. Bounded per file and per account, read in name order so
a run is reproducible."""

from __future__ import annotations

import hashlib
from html.parser import HTMLParser
from pathlib import Path

from accountflow.models import SourceText

MAX_FILE_BYTES = 2_000_000
MAX_FILES = 8
MAX_TEXT_CHARS = 6000
TEXT_SUFFIXES = {".txt", ".md", ".markdown", ".text", ".csv"}
HTML_SUFFIXES = {".html", ".htm", ".xhtml"}


def account_dir(root: Path, account_id: str) -> Path | None:
    """`root/<account_id>`, or None when the id would leave `root` (`..`, a path) or the folder
    does not exist."""
    if not account_id or account_id in {".", ".."} or "/" in account_id or "\\" in account_id:
        return None
    folder = root / account_id
    return folder if folder.is_dir() else None


def docs_digest(root: Path, account_id: str) -> str:
    """What the account's documents are now (names, sizes, modification times): part of the
    run identity, so a changed or added document makes the next run research again."""
    folder = account_dir(root, account_id)
    if folder is None:
        return "none"
    parts = [
        f"{p.name}:{p.stat().st_size}:{p.stat().st_mtime_ns}"
        for p in sorted(folder.iterdir())
        if p.is_file()
    ]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:12] if parts else "none"


class _Stripper(HTMLParser):
    """Text of an HTML document without script/style: the fallback when trafilatura finds no
    main content (a short page)."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "noscript"):
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "noscript") and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def html_text(html: str) -> str:
    """Clean text of an HTML document (trafilatura, else the tags stripped)."""
    text: str | None = None
    try:
        import trafilatura

        text = trafilatura.extract(html, include_comments=False, favor_recall=True)
    except ImportError:
        text = None
    if not text:
        stripper = _Stripper()
        stripper.feed(html)
        text = " ".join(stripper.parts)
    return " ".join(text.split())


def _pdf_text(path: Path) -> str | None:
    try:
        from pypdf import PdfReader
    except ImportError:
        return None
    reader = PdfReader(str(path))
    return "\n".join((page.extract_text() or "") for page in reader.pages[:20])


def read_docs(root: Path, account_id: str) -> tuple[list[SourceText], list[str]]:
    """The account's documents as research texts, and one note per file skipped."""
    folder = account_dir(root, account_id)
    if folder is None:
        return [], []
    texts: list[SourceText] = []
    notes: list[str] = []
    for path in sorted(p for p in folder.iterdir() if p.is_file()):
        name = f"docs://{account_id}/{path.name}"
        if len(texts) >= MAX_FILES:
            notes.append(f"{name}: skipped, more than {MAX_FILES} documents")
            continue
        if path.stat().st_size > MAX_FILE_BYTES:
            notes.append(f"{name}: skipped, larger than {MAX_FILE_BYTES} bytes")
            continue
        suffix = path.suffix.lower()
        try:
            if suffix in TEXT_SUFFIXES:
                text = path.read_text(encoding="utf-8", errors="replace")
            elif suffix in HTML_SUFFIXES:
                text = html_text(path.read_text(encoding="utf-8", errors="replace"))
            elif suffix == ".pdf":
                pdf = _pdf_text(path)
                if pdf is None:
                    notes.append(f"{name}: skipped, reading PDF needs pypdf (pip install pypdf)")
                    continue
                text = pdf
            else:
                notes.append(f"{name}: skipped, {suffix or 'no extension'} is not a text format")
                continue
        except Exception as exc:  # an unreadable file is a note, never a failed account
            notes.append(f"{name}: could not be read ({type(exc).__name__}: {exc})")
            continue
        lines = (" ".join(line.split()) for line in text.splitlines())
        text = "\n".join(line for line in lines if line)[:MAX_TEXT_CHARS]
        if text:
            texts.append(SourceText(kind="docs", url=name, title=path.stem, text=text))
        else:
            notes.append(f"{name}: no text in it")
    return texts, notes
