"""Conformance of the sandbox to `sandbox/openapi.json`, checked by schemathesis.

Two runs per operation: one with generated path parameters (mostly error answers) and one with
path parameters bound to a real tenant, customer and contact (mostly success answers, whose
bodies are validated against the response schemas). Generation is bounded and deterministic.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
)

from sandbox import Sandbox

OPENAPI = Path(__file__).parents[2] / "sandbox" / "openapi.json"
ERROR_STATUSES = {400, 401, 403, 404, 405, 409}


def documented_or_error_status(ctx: Any, response: Any, case: Any) -> bool | None:
    """Accept a documented status or one of the sandbox's error statuses, nothing else."""
    documented = {int(code) for code in case.operation.responses.status_codes}
    assert response.status_code in documented | ERROR_STATUSES, (
        f"{case.operation.label} answered {response.status_code}"
    )
    if response.status_code in ERROR_STATUSES:
        assert set(response.json()["error"]) == {"status", "code", "message"}
    return None


CHECKS = [
    not_a_server_error,
    documented_or_error_status,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


SCHEMA = schemathesis.openapi.from_path(OPENAPI)
SCHEMA.config.generation.update(max_examples=12, deterministic=True)
SCHEMA.config.phases.update(phases=["examples", "fuzzing"])


def call_and_validate(case: Any, sandbox: Sandbox) -> None:
    """Send a generated case to the sandbox with the admin token and run the checks."""
    headers = {"Authorization": f"Bearer {sandbox.tokens['admin']}"}
    case.call_and_validate(base_url=sandbox.base_url, headers=headers, checks=CHECKS)


# NOTE: one live sandbox serves every example of an operation on purpose; state carried between
# examples (a contact deleted by one example) is what a real server would carry too.
SHARED_SANDBOX = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])


@SCHEMA.parametrize()
@SHARED_SANDBOX
def test_generated_requests_conform(case: Any, sandbox: Sandbox) -> None:
    call_and_validate(case, sandbox)


@SCHEMA.parametrize()
@SHARED_SANDBOX
def test_requests_on_real_objects_conform(case: Any, sandbox: Sandbox) -> None:
    contact = next(c for c in sandbox.truth_contacts() if c["extensions"])
    for name in ("tenantUid", "customerUid", "customerContactUid"):
        if name in case.path_parameters:
            case.path_parameters[name] = contact[name]
    call_and_validate(case, sandbox)
