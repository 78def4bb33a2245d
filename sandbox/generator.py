"""Seeded generator of tenants, customers and contacts.

The same `SandboxConfig` always yields the same data. Contacts per customer are skewed like
B2B data: half the customers have none, most others a few, some dozens, and one customer per
tenant (with 50 or more customers) has hundreds. Timestamps lie between 2024-01-01 and
2026-06-30 and come in groups of identical values, as bulk imports leave them.
"""

from __future__ import annotations

import calendar
import gc
import random
from collections.abc import Sequence
from typing import TypeVar

from sandbox.config import SandboxConfig
from sandbox.model import EXTENSION_TWO_INVOICE, Contact, Customer, Tenant

_START = calendar.timegm((2024, 1, 1, 0, 0, 0)) * 1000
_END = calendar.timegm((2026, 6, 30, 0, 0, 0)) * 1000
_DAY = 86_400_000
_WHALE_MIN, _WHALE_MAX = 200, 450
T = TypeVar("T")
_DOZENS_MIN, _DOZENS_MAX = 12, 60

FIRSTNAMES = [
    ("Ola", "ola"),
    ("Kari", "kari"),
    ("Åse", "ase"),
    ("Bjørn", "bjorn"),
    ("Søren", "soren"),
    ("Zoë", "zoe"),
    ("François", "francois"),
    ("José", "jose"),
    ("Jürgen", "jurgen"),
    ("Łukasz", "lukasz"),
    ("Ólafur", "olafur"),
    ("Märta", "marta"),
    ("Émilie", "emilie"),
    ("Anna", "anna"),
    ("Lars", "lars"),
    ("Ingrid", "ingrid"),
    ("Mikael", "mikael"),
    ("Sofía", "sofia"),
    ("Nikolaj", "nikolaj"),
    ("Hanna", "hanna"),
    ("Jonas", "jonas"),
    ("Eva", "eva"),
    ("Per", "per"),
    ("Liv", "liv"),
    ("Ольга", "olga"),
    ("Yuki", "yuki"),
    ("美咲", "misaki"),
    ("伟", "wei"),
    ("Siobhán", "siobhan"),
    ("Ahmed", "ahmed"),
]
LASTNAMES = [
    ("Hansen", "hansen"),
    ("Johansen", "johansen"),
    ("Ødegård", "odegard"),
    ("Sørensen", "sorensen"),
    ("Åberg", "aberg"),
    ("Lindqvist", "lindqvist"),
    ("Müller", "muller"),
    ("García", "garcia"),
    ("Dubois", "dubois"),
    ("Nowak", "nowak"),
    ("Jónsdóttir", "jonsdottir"),
    ("Berg", "berg"),
    ("Nilsen", "nilsen"),
    ("Eriksson", "eriksson"),
    ("Larsen", "larsen"),
    ("Virtanen", "virtanen"),
    ("Kowalska", "kowalska"),
    ("Dahl", "dahl"),
    ("Strand", "strand"),
    ("Bakke", "bakke"),
    ("Petrova", "petrova"),
    ("Tanaka", "tanaka"),
    ("佐藤", "sato"),
    ("王", "wang"),
    ("O'Brien", "obrien"),
    ("Haddad", "haddad"),
]
_EMOJI = ["🚀", "🌟", "🎉", "☕"]
_DOMAINS = ["example.com", "example.no", "example.se", "firma.example", "post.example"]
_COMPANY_SUFFIX = ["AS", "AB", "ApS", "GmbH", "Ltd", "Handel AS", "Bygg AS", "Trading AB"]
_TENANTS = [
    ("Nordlys Retail", "NO", "Europe/Oslo", "nb", ["Oslo", "Bergen", "Tromsø"]),
    ("Skärgård Handel", "SE", "Europe/Stockholm", "sv", ["Göteborg", "Malmö", "Umeå"]),
    ("Købmand Hansen", "DK", "Europe/Copenhagen", "da", ["København", "Århus", "Odense"]),
    ("Harbour Goods", "GB", "Europe/London", "en", ["London", "Leeds", "Bristol"]),
    ("東京ストア", "JP", "Asia/Tokyo", "ja", ["東京", "大阪", "札幌"]),
]
_STREETS = ["Storgata", "Kirkeveien", "Hovedgatan", "Nørregade", "Main Street", "Fjordvegen"]


def new_uid(rng: random.Random) -> str:
    """Return a uuid4-shaped UID drawn from `rng`."""
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{h[16:20]}-{h[20:]}"


def generate(config: SandboxConfig) -> list[Tenant]:
    """Build every tenant with its customers and contacts for `config`."""
    rng = random.Random(config.seed)
    tenants = []
    # NOTE: cyclic GC passes over millions of fresh objects cost more than the generation itself;
    # nothing built here forms a cycle, so collection waits until the end.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for index in range(config.tenants):
            tenant = _tenant(rng, index)
            counts = contact_counts(rng, config.customers, config.mean_contacts)
            _fill_customers(rng, tenant, counts)
            tenants.append(tenant)
    finally:
        if gc_was_enabled:
            gc.enable()
    return tenants


def _tenant(rng: random.Random, index: int) -> Tenant:
    name, country, timezone, language, _ = _TENANTS[index % len(_TENANTS)]
    if index >= len(_TENANTS):
        name = f"{name} {index // len(_TENANTS) + 1}"
    created = _START - _below(rng, 365 * _DAY)
    return Tenant(
        uid=new_uid(rng),
        name=name,
        country_code=country,
        timezone=timezone,
        language_code=language,
        created=created,
        modified=created + _below(rng, 30 * _DAY),
        organization_uid=new_uid(rng),
    )


def contact_counts(rng: random.Random, customers: int, mean: float) -> list[int]:
    """Draw a skewed contact count per customer whose mean is close to `mean`."""
    whale = customers >= 50
    budget = mean * customers - (_WHALE_MIN + _WHALE_MAX) / 2 * whale
    rest_mean = max(0.0, budget / max(1, customers - whale))
    nonzero_mean = 2 * rest_mean
    if nonzero_mean < 1:
        zero_share, dozens_share, few_mean = 1 - rest_mean, 0.0, 1.0
    else:
        zero_share = 0.5
        dozens_share = min(0.06, (nonzero_mean - 1) / 70)
        few_mean = (nonzero_mean - 36 * dozens_share) / (1 - dozens_share)
    few_span = 2 * few_mean - 1
    counts = []
    for _ in range(customers):
        draw = rng.random()
        if draw < zero_share:
            counts.append(0)
        elif draw < zero_share + (1 - zero_share) * dozens_share:
            counts.append(_between(rng, _DOZENS_MIN, _DOZENS_MAX + 1))
        else:
            counts.append(1 + int(rng.random() * few_span))
    if whale:
        counts[_below(rng, customers)] = _between(rng, _WHALE_MIN, _WHALE_MAX + 1)
    return counts


def _fill_customers(rng: random.Random, tenant: Tenant, counts: list[int]) -> None:
    batches = sorted(_between(rng, _START, _END) for _ in range(8))
    created = sorted(_between(rng, _START, _END - _DAY) for _ in counts)
    for index, (count, born) in enumerate(zip(counts, created, strict=True)):
        customer = new_customer(rng, tenant, index + 1, born, count)
        customer.modified = _modified(rng, born, batches)
        for contact in contacts_for(rng, count, batches):
            customer.contacts[contact.uid] = contact
            tenant.contact_owner[contact.uid] = customer.uid
        tenant.customers[customer.uid] = customer


def new_customer(
    rng: random.Random, tenant: Tenant, number: int, created: int, contacts: int
) -> Customer:
    """Build one customer of `tenant` without contacts; `contacts` steers B2B or B2C."""
    first, first_slug = _pick(rng, FIRSTNAMES)
    last, last_slug = _pick(rng, LASTNAMES)
    b2b_share = 1.0 if contacts >= 3 else (0.5 if contacts else 0.25)
    is_company = rng.random() < b2b_share
    city = _pick(rng, _TENANTS[_TENANTS_INDEX.get(tenant.country_code, 0)][4])
    limit = _pick(rng, [0, 10_000, 50_000, 100_000]) if is_company else 0
    return Customer(
        uid=new_uid(rng),
        external_id=f"C-{number:06d}",
        customer_type="B2B" if is_company else "B2C",
        company_name=f"{last} {_pick(rng, _COMPANY_SUFFIX)}" if is_company else "",
        firstname=first,
        lastname=last,
        email=f"{first_slug}.{last_slug}@{_pick(rng, _DOMAINS)}",
        mobile=f"+47{_between(rng, 40_000_000, 99_999_999)}",
        address=f"{_pick(rng, _STREETS)} {_between(rng, 1, 120 + 1)}",
        postal_code=f"{_between(rng, 1000, 9999)}",
        city=city,
        country_code=tenant.country_code,
        created=created,
        modified=created,
        credit_limit=float(limit),
        credit_balance=round(rng.random() * limit, 2),
        payment_terms=_pick(rng, [0, 14, 30]) if is_company else 0,
    )


_TENANTS_INDEX = {entry[1]: index for index, entry in enumerate(_TENANTS)}


def contacts_for(rng: random.Random, count: int, batches: list[int]) -> list[Contact]:
    """Build `count` contacts in creation order; about a quarter carry TWO_INVOICE."""
    created = sorted(_between(rng, _START, _END - _DAY) for _ in range(count))
    contacts: list[Contact] = []
    for born in created:
        contact = new_contact(rng, born, _modified(rng, born, batches))
        if contacts and rng.random() < 0.2:
            # A bulk import: same timestamps as the contact before.
            contact.created, contact.modified = contacts[-1].created, contacts[-1].modified
        contacts.append(contact)
    return contacts


def new_contact(rng: random.Random, created: int, modified: int) -> Contact:
    """Build one contact with unicode names and some empty or malformed emails and mobiles."""
    first, first_slug = _pick(rng, FIRSTNAMES)
    last, last_slug = _pick(rng, LASTNAMES)
    if rng.random() < 0.01:
        last = f"{last} {_pick(rng, _EMOJI)}"
    quality = rng.random()
    if quality < 0.08:
        email = ""
    elif quality < 0.1:
        email = f"{first_slug}.{last_slug}.no-at-sign.example"
    else:
        email = f"{first_slug}.{last_slug}{_below(rng, 100)}@{_pick(rng, _DOMAINS)}"
    mobile = "" if rng.random() < 0.12 else f"+47{_between(rng, 40_000_000, 99_999_999)}"
    extensions = [EXTENSION_TWO_INVOICE] if rng.random() < 0.25 else []
    return Contact(new_uid(rng), first, last, email, mobile, created, modified, extensions)


def _pick(rng: random.Random, items: Sequence[T]) -> T:
    return items[int(rng.random() * len(items))]


def _below(rng: random.Random, stop: int) -> int:
    return int(rng.random() * stop)


def _between(rng: random.Random, start: int, stop: int) -> int:
    """Return an int in [start, stop); cheaper than `randrange` for bulk generation."""
    return start + int(rng.random() * (stop - start))


def _modified(rng: random.Random, created: int, batches: list[int]) -> int:
    draw = rng.random()
    if draw < 0.3:
        return created
    if draw < 0.45:
        batch = _pick(rng, batches)
        if batch >= created:
            return batch
    return min(_END, created + _between(rng, 1, 400 * _DAY))
