"""Write train/dev/test.jsonl from the hand-written accounts in this file.

Run `python datasets/labeled/build.py` after editing an account; commit the script and the
JSONL together. Everything that reads like content (companies, descriptions, people, inquiries,
labels, the split of each account) is written by hand below; this script only fills in the
mechanical parts (contact ids, e-mail addresses from names, reserved 555-01xx phone numbers,
LinkedIn URLs), validates every line through `accountflow.datasets.LabeledAccount` and refuses
to write splits that lack a fit band or a hard-case tag. Every company and person is fictional;
domains use the reserved `.example` top-level domain.
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


@dataclass
class C:
    """A contact. `email` None = derived from the ASCII name; "" = no e-mail at all."""

    name: str | None
    title: str | None
    email: str | None = None
    phone: bool = False
    linkedin: bool = False
    primary: bool = False
    cid: str | None = None


@dataclass
class Inq:
    """An inquiry from contact number `who` (1-based), identified by id or by e-mail."""

    who: int
    topic: str
    message: str
    at: str
    by: str = "id"
    email: str | None = None  # overrides the contact's address (e.g. other letter case)


@dataclass
class A:
    num: int
    split: str
    name: str
    domain: str | None = None
    industry: str | None = None
    employees: int | None = None
    location: str | None = None
    description: str | None = None
    notes: str | None = None
    contacts: list[C] = field(default_factory=list)
    inquiry: Inq | None = None
    area: str = "555"  # US area code for generated phone numbers
    email_style: str = "first.last"
    pains: list[str] = field(default_factory=list)
    band: str = "medium"
    fit: tuple[int, int] = (40, 79)
    approach: str = "relationship_building"
    tags: list[str] = field(default_factory=list)
    canaries: list[str] = field(default_factory=list)


_FOLD = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "Ä": "Ae", "Ö": "Oe",
                       "Ü": "Ue"})


def _ascii(name: str) -> str:
    folded = unicodedata.normalize("NFKD", name.translate(_FOLD))
    text = "".join(ch for ch in folded if not unicodedata.combining(ch))
    if not text.isascii():
        raise ValueError(f"give {name!r} an explicit email: it has no ASCII spelling")
    return text.lower().replace("'", "")


def _email(name: str, domain: str, style: str) -> str:
    parts = _ascii(name).replace("-", " ").split()
    first, last = parts[0], parts[-1]
    local = {"first.last": f"{first}.{last}", "flast": f"{first[0]}{last}",
             "first": first, "first_last": f"{first}_{last}"}[style]
    return f"{local}@{domain}"


def _contact(acc: A, index: int, c: C) -> dict[str, Any]:
    email = c.email
    if email is None and c.name and acc.domain:
        email = _email(c.name, acc.domain, acc.email_style)
    row: dict[str, Any] = {"contact_id": c.cid or f"c-l{acc.num:03d}-{index}", "name": c.name}
    if email:
        row["email"] = email
    if c.phone:
        row["phone"] = f"+1{acc.area}5550{(acc.num * 7 + index * 13) % 100 + 100:03d}"
    row["title"] = c.title
    if c.linkedin and c.name:
        slug = (email.split("@")[0] if email else _ascii(c.name)).replace(".", "-")
        row["linkedin_url"] = f"https://www.linkedin.com/in/{slug.replace(' ', '-')}"
    row["is_primary"] = c.primary
    return {k: v for k, v in row.items() if v is not None}


def record(acc: A) -> dict[str, Any]:
    account: dict[str, Any] = {"account_id": f"lab-{acc.num:03d}", "company_name": acc.name}
    for key, value in (("domain", acc.domain), ("industry", acc.industry),
                       ("employee_count", acc.employees), ("location", acc.location),
                       ("description", acc.description), ("notes", acc.notes)):
        if value is not None:
            account[key] = value
    contacts = [_contact(acc, i, c) for i, c in enumerate(acc.contacts, start=1)]
    if contacts:
        account["contacts"] = contacts
    if acc.inquiry is not None:
        who = contacts[acc.inquiry.who - 1]
        inquiry: dict[str, Any] = (
            {"contact_id": who["contact_id"]} if acc.inquiry.by == "id"
            else {"email": acc.inquiry.email or who["email"]}
        )
        inquiry.update(topic=acc.inquiry.topic, message=acc.inquiry.message,
                       received_at=acc.inquiry.at)
        account["inquiry"] = inquiry
    labels: dict[str, Any] = {"pain_points": acc.pains, "fit_band": acc.band,
                              "fit_range": list(acc.fit), "approach": acc.approach,
                              "tags": acc.tags}
    if acc.canaries:
        labels["injection_canaries"] = acc.canaries
    return {"account": account, "labels": labels}


# ------------------------------------------------------------------------------------ accounts
# Fit bands follow the analysis signature: high = ICP industry, 150-5,000 employees and a buying
# signal with no disqualifier; medium = a partial match; low = a disqualifier applies or the
# company is far outside the ICP's size or industry. Approach: low fit or thin data ->
# relationship_building; else a described problem -> pain_point_focused; else a recent event ->
# opportunity_focused. Splits are fixed here, by hand, stratified by band and hard case.

ACCOUNTS: list[A] = [
    # ================================================================ train
    A(
        1, "train", "Larkfield Parcel Systems", "larkfieldparcel.example",
        "Logistics & transportation", 820, "Louisville, KY, USA",
        "Larkfield Parcel Systems is a regional parcel carrier serving 11 states from two sort "
        "hubs in Kentucky and Indiana. It is moving its operational reporting from an on-prem SQL "
        "Server warehouse to BigQuery, orchestrated by about 140 Airflow DAGs. In September 2026 "
        "a failed nightly load went unnoticed and the route-density dashboard showed zero "
        "volume for two days. The company is hiring three analytics engineers.",
        "Inbound from the data platform lead after the route-density incident.",
        [C("Gareth Mullins", "VP Engineering", phone=True, linkedin=True, primary=True),
         C("Ayesha Raman", "Data Platform Lead", linkedin=True),
         C("Colin Baptiste", "Analytics Engineer"),
         C("Deborah Kline", "Chief Financial Officer", phone=True)],
        Inq(2, "alerting on failed BigQuery loads",
            "A nightly load failed silently last month and ops saw zero volume on the "
            "route-density dashboard for two days. Can Beacon alert on missing loads per table "
            "across our Airflow DAGs?", "2026-10-02T13:41:00Z", by="email"),
        area="502",
        pains=["silent load failures blanking dashboards", "no alerting across 140 Airflow DAGs",
               "SQL Server to BigQuery migration risk"],
        band="high", fit=(85, 100), approach="pain_point_focused",
    ),
    A(
        2, "train", "Pinecrest Mutual Insurance", "pinecrestmutual.example", "Insurance", 2400,
        "Hartford, CT, USA",
        "Pinecrest Mutual writes personal auto and homeowners policies in New England. Loss-ratio "
        "and reserve reports are built in Snowflake from the policy-admin and claims systems. In "
        "the spring a vendor upgrade to the policy-admin system renamed a coverage column and "
        "the quarterly loss-ratio report went to the board with blanks. Actuaries now reconcile "
        "the figures by hand before each state insurance department filing.",
        None,
        [C("Harold Vance", "Chief Information Officer", phone=True, primary=True),
         C("Naomi Cheung", "Director, Actuarial Data", linkedin=True),
         C("Peter Szabo", "Senior Data Engineer")],
        area="860",
        pains=["upstream schema changes breaking reports", "manual reconciliation before filings",
               "blank figures in board loss-ratio report"],
        band="high", fit=(82, 100), approach="pain_point_focused",
    ),
    A(
        3, "train", "Brightleaf Montessori Network", "brightleafmontessori.example", "Education",
        45, "Eugene, OR, USA",
        "Brightleaf runs three Montessori schools with about 45 staff. Enrollment, tuition and "
        "attendance live in a school-management app and a set of shared Google Sheets kept by "
        "the office manager. There is no IT or data staff; a parent volunteer built the "
        "enrollment spreadsheet.",
        None,
        [C("Rosalind Achebe", "Head of School", primary=True),
         C("Tim Halvorsen", "Office Manager")],
        pains=["enrollment data kept in shared spreadsheets", "no staff to maintain reporting"],
        band="low", fit=(0, 15), approach="relationship_building", tags=["poor_fit"],
    ),
    A(
        4, "train", "Fernway Lending", "fernwaylending.example", "Financial services & fintech",
        310, "Austin, TX, USA",
        "Fernway Lending offers working-capital loans to small businesses through an online "
        "application. Its risk and servicing data runs on Redshift with dbt models maintained by "
        "a five-person data team. In August 2026 Fernway acquired Tillwise, a payments startup, "
        "and must merge Tillwise's Postgres customer and transaction data into its own warehouse "
        "before the first combined investor report in Q1 2027.",
        "Met the Head of Data at a fintech meetup in Austin; no active project yet.",
        [C("Lucia Ferreira", "Chief Executive Officer", linkedin=True),
         C("Devon Marsh", "Head of Data", phone=True, linkedin=True, primary=True),
         C("Kwame Asante", "Analytics Engineer")],
        area="512",
        pains=["merging Tillwise data after the acquisition",
               "accurate combined investor reporting", "small team maintaining dbt models"],
        band="high", fit=(80, 95), approach="opportunity_focused",
    ),
    # ================================================================ dev
    A(
        41, "dev", "Corbel Freight Audit", "corbelaudit.example", "Logistics & transportation",
        430, "Chicago, IL, USA",
        "Corbel Freight Audit audits and pays carrier invoices for about 300 shippers. Invoice "
        "and rate data is loaded into BigQuery by 90 Fivetran connectors. In July 2026 a carrier "
        "rate table was loaded twice and the refund estimates sent to twelve shippers were "
        "doubled before anyone noticed. Shippers receive weekly savings reports built from the "
        "warehouse.",
        None,
        [C("Moira Delaney", "Chief Operating Officer", phone=True, primary=True),
         C("Isaac Brenner", "Head of Data", linkedin=True),
         C("Sunita Pillai", "BI Developer")],
        Inq(2, "duplicate detection on loaded rate tables",
            "We loaded a carrier rate table twice in July and sent doubled refund estimates to "
            "customers. How would Beacon catch duplicate loads before reports go out?",
            "2026-09-18T16:05:00Z", by="email"),
        area="312",
        pains=["duplicate loads inflating customer reports", "90 Fivetran connectors unmonitored",
               "customer-facing weekly savings reports"],
        band="high", fit=(85, 100), approach="pain_point_focused",
    ),
    A(
        42, "dev", "Pebble & Fern Bakery", "pebbleandfern.example", "Food & beverage", 18,
        "Portland, ME, USA",
        "Pebble & Fern is a two-shop bakery with 18 employees. Sales come from a point-of-sale "
        "system's built-in reports and the owner tracks wholesale orders to cafés in a "
        "spreadsheet.",
        None,
        [C("Hannah Rook", "Owner", primary=True)],
        pains=["wholesale orders tracked in a spreadsheet", "reporting limited to POS reports"],
        band="low", fit=(0, 10), approach="relationship_building", tags=["poor_fit"],
    ),
    # ================================================================ test
    A(
        61, "test", "Bramblewood Freight Brokerage", "bramblewoodfreight.example",
        "Logistics & transportation", 540, "Dallas, TX, USA",
        "Bramblewood runs a digital freight brokerage that matches truckload shipments with "
        "about 9,000 carriers. Load, pricing and carrier-payment data lands in BigQuery through "
        "Fivetran and is modeled in dbt. Over Labor Day weekend the carrier-payment report "
        "stayed stale for three days and carriers were paid late. The data team is hiring four "
        "analytics engineers this year.",
        None,
        [C("Rafael Ortega", "Chief Technology Officer", phone=True, primary=True),
         C("Jenna Hollis", "Director of Data Engineering", linkedin=True),
         C("Marcus Oyelowo", "Analytics Engineer"),
         C("Tessa Gray", "Controller")],
        Inq(2, "freshness monitoring for carrier-payment data",
            "Our carrier-payment report went stale over a holiday weekend and nobody was paged. "
            "Can Beacon watch freshness on the dbt models behind it and page our on-call?",
            "2026-09-09T14:22:00Z"),
        area="214",
        pains=["stale carrier-payment report", "late payments to carriers",
               "no paging on stale dbt models"],
        band="high", fit=(85, 100), approach="pain_point_focused",
    ),
    A(
        62, "test", "Little Otter Daycare Centers", "littleotterdaycare.example",
        "Childcare & education", 30, "Madison, WI, USA",
        "Little Otter runs two daycare centers with 30 staff. Attendance and billing are handled "
        "in a childcare-management app; the director exports monthly reports to Excel for the "
        "state subsidy program.",
        None,
        [C("Beth Lindqvist", "Center Director", primary=True),
         C("Omar Castellanos", "Billing Coordinator")],
        pains=["manual Excel exports for subsidy reporting", "no data staff"],
        band="low", fit=(0, 10), approach="relationship_building", tags=["poor_fit"],
    ),
]

# ------------------------------------------------------------------------------------ build


def build(accounts: list[A]) -> dict[str, list[dict[str, Any]]]:
    """Validate every account and group the records by split; raises on the first problem."""
    from accountflow.datasets import SPLITS, LabeledAccount

    by_split: dict[str, list[dict[str, Any]]] = {s: [] for s in SPLITS}
    seen: set[int] = set()
    for acc in accounts:
        if acc.num in seen:
            raise SystemExit(f"account number {acc.num} is used twice")
        seen.add(acc.num)
        rec = record(acc)
        LabeledAccount.model_validate(rec)
        by_split[acc.split].append(rec)
    return by_split


def main() -> None:
    by_split = build(ACCOUNTS)
    for split, rows in by_split.items():
        out = HERE / f"{split}.jsonl"
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
        out.write_text(text, encoding="utf-8")
        print(f"{out.name}: {len(rows)} accounts")


if __name__ == "__main__":
    main()
