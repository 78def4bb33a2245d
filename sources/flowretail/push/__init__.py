"""Reverse ETL: push contact and extension changes from the warehouse back to Flow Retail.

Example:
    >>> import dlt
    >>> from sources.flowretail.push import Outcome, PushSession, contacts_destination
    >>> session = PushSession.connect("https://api.flowretail.com/v2", token)
    >>> pipeline = dlt.pipeline("contacts_push", destination=contacts_destination(session))
    >>> pipeline.run([{"tenant_uid": "t1", "customer_uid": "c1",
    ...     "customer_contact_uid": "k1", "email": "ann@example.com"}], table_name="contacts")
    >>> session.report.counts()[Outcome.UPDATED]
    1
"""

from __future__ import annotations

from .changes import ContactChange, ContactKey, ExtensionChange, InvalidRow
from .destinations import contacts_destination, extensions_destination, push_columns, push_rows
from .outcomes import PROBLEMS, Outcome, PushReport, Result
from .rejections import TABLE as REJECTIONS_TABLE
from .rejections import write_rejections
from .writer import PushSession

__all__ = [
    "PROBLEMS",
    "REJECTIONS_TABLE",
    "ContactChange",
    "ContactKey",
    "ExtensionChange",
    "InvalidRow",
    "Outcome",
    "PushReport",
    "PushSession",
    "Result",
    "contacts_destination",
    "extensions_destination",
    "push_columns",
    "push_rows",
    "write_rejections",
]
