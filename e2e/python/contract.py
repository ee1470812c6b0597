"""Validate real responses against the official WorkOS OpenAPI document (3.1).

The response schema is looked up by path template + method + status and
validated with JSON Schema 2020-12 (OpenAPI 3.1 schemas are 2020-12:
`type: [string, "null"]`, `const`, ...). `$ref`s resolve against the whole spec
document through a `referencing` registry.

Beyond the spec, the house contract (docs/workos-api-behaviour.md) is checked:
every response carries X-Request-ID; every body is JSON with
`Content-Type: application/json`; timestamps are ISO-8601 UTC with exactly 3
fractional digits and `Z`; error bodies are `{"message": str, "code": str, ...}`.

The AuthKit sign-in operations (V061_OPERATIONS) are looked up in the newer v0.61
document instead, whose authenticate errors may also be OAuth-style `{error,
error_description}` and whose redirects (logout's 302) have no body.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple
from urllib.parse import unquote, urlsplit

import httpx
import yaml
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SPEC_URI = "urn:workos:openapi"
# The newer document (v0.61): the AuthKit sign-in operations are checked against it.
SPEC_V061_URI = "urn:workos:openapi:v0.61"

# (METHOD, path template) of the AuthKit operations whose responses are validated
# against the v0.61 document instead of the 0.1.0 one. Everything else keeps the
# 0.1.0 document.
V061_OPERATIONS = frozenset({
    ("POST", "/user_management/authenticate"),
    ("GET", "/user_management/sessions/logout"),
    ("POST", "/user_management/sessions/revoke"),
    ("GET", "/user_management/users/{id}/sessions"),
    ("POST", "/user_management/magic_auth"),
    ("GET", "/user_management/magic_auth/{id}"),
    ("POST", "/user_management/users/{id}/email_verification/send"),
    ("POST", "/user_management/users/{id}/email_verification/confirm"),
    ("GET", "/user_management/email_verification/{id}"),
    ("POST", "/user_management/password_reset"),
    ("GET", "/user_management/password_reset/{id}"),
    ("POST", "/user_management/password_reset/confirm"),
    ("POST", "/user_management/users/{id}/email_change/send"),
    ("POST", "/user_management/users/{id}/email_change/confirm"),
    ("POST", "/auth/factors/enroll"),
    ("GET", "/auth/factors/{id}"),
    ("DELETE", "/auth/factors/{id}"),
    ("POST", "/auth/factors/{id}/challenge"),
    ("POST", "/auth/challenges/{id}/verify"),
    ("POST", "/user_management/users/{userlandUserId}/auth_factors"),
    ("GET", "/user_management/users/{userlandUserId}/auth_factors"),
    ("GET", "/user_management/jwt_template"),
    ("PUT", "/user_management/jwt_template"),
    ("GET", "/user_management/cors_origins"),
    ("POST", "/user_management/cors_origins"),
    ("GET", "/user_management/users/{id}/identities"),
})

# Operations whose errors the v0.61 document writes OAuth-style, `{error,
# error_description}` (RFC 6749 section 5.2), beside the WorkOS `{code, message}`.
OAUTH_ERROR_OPERATIONS = frozenset({("POST", "/user_management/authenticate")})

# Responses of ours known not to match the v0.61 document, reported and left for the
# server or the spec to change: (METHOD, template, status, the body's `code` or
# `error`, or "{}" for an empty object). For these, and only these, the per-status
# schema of the document is not applied; the house checks (X-Request-ID, JSON,
# timestamps, the error envelope) still are. Remove an entry once it matches.
KNOWN_V061_MISMATCHES: Dict[Tuple[str, str, int, str], str] = {
    ("POST", "/user_management/authenticate", 400, "unsupported_grant_type"):
        "the document lists no unsupported_grant_type among the 400 errors",
    ("POST", "/user_management/authenticate", 429, "rate_limit_exceeded"):
        "the document's 429 is daily_quota_exceeded or OAuth too_many_requests",
    ("POST", "/user_management/sessions/revoke", 200, "{}"):
        "the document's 200 has no body; the server answers {} (no empty 200s)",
    ("GET", "/user_management/sessions/logout", 200, "{}"):
        "the document's 200 has no body; the server answers {} (no empty 200s)",
}

TIMESTAMP_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")

# What every error body must look like when the spec gives no schema for the
# status (401, 413, unknown routes, ...): the WorkOS envelope.
ERROR_ENVELOPE = {
    "type": "object",
    "properties": {
        "message": {"type": "string", "minLength": 1},
        "code": {"type": "string", "pattern": "^[a-z][a-z0-9_]*$"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"code": {"type": "string"}, "field": {"type": "string"}},
                "required": ["code"],
            },
        },
    },
    "required": ["message", "code"],
}


# The OAuth error body, for OAUTH_ERROR_OPERATIONS only.
OAUTH_ERROR_ENVELOPE = {
    "type": "object",
    "properties": {
        "error": {"type": "string", "pattern": "^[a-z][a-z0-9_]*$"},
        "error_description": {"type": "string", "minLength": 1},
    },
    "required": ["error", "error_description"],
}


class ContractViolation(AssertionError):
    """A response that breaks the official spec or the house contract."""


def _format_checker() -> FormatChecker:
    checker = FormatChecker(formats=())

    @checker.checks("date-time")
    def _is_timestamp(value: object) -> bool:
        # Golden rule 4: exactly 3 fractional digits and `Z` (Python < 3.11's
        # fromisoformat and the SDK models depend on it).
        return not isinstance(value, str) or bool(TIMESTAMP_RE.match(value))

    return checker


@dataclass(frozen=True)
class Operation:
    template: str
    method: str
    spec: Dict[str, Any]
    # The document the operation (and its schema pointers) come from.
    source: str = SPEC_URI

    @property
    def key(self) -> Tuple[str, str]:
        return (self.method.upper(), self.template)


Routes = List[Tuple[re.Pattern[str], int, str]]


def _load(spec_file: Path) -> Dict[str, Any]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with open(spec_file, "rb") as f:
        return yaml.load(f, Loader=loader)


def _routes(doc: Dict[str, Any]) -> Routes:
    routes: Routes = []
    for template in doc["paths"]:
        pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "/?$"
        literal_segments = sum(1 for s in template.split("/") if s and "{" not in s)
        routes.append((re.compile(pattern), literal_segments, template))
    # Prefer the template with most literal segments
    # (/organizations/external_id/{x} over /organizations/{id}/{y}).
    routes.sort(key=lambda r: -r[1])
    return routes


def _find(doc: Dict[str, Any], routes: Routes, method: str, path: str,
          source: str) -> Optional[Operation]:
    for pattern, _, template in routes:
        if pattern.match(path):
            op = doc["paths"][template].get(method)
            if op is not None:
                return Operation(template, method, op, source)
    return None


class Contract:
    """The official spec, indexed for response validation.

    With `v061_file`, the V061_OPERATIONS are looked up in that document instead.
    """

    def __init__(self, spec_file: Path, v061_file: Optional[Path] = None) -> None:
        self.doc: Dict[str, Any] = _load(spec_file)
        registry: Registry = Registry().with_resource(
            SPEC_URI, Resource(contents=self.doc, specification=DRAFT202012))
        self.v061_doc: Optional[Dict[str, Any]] = None
        if v061_file is not None:
            self.v061_doc = _load(v061_file)
            registry = registry.with_resource(
                SPEC_V061_URI, Resource(contents=self.v061_doc, specification=DRAFT202012))
            missing = [
                f"{m} {t}" for m, t in sorted(V061_OPERATIONS)
                if m.lower() not in self.v061_doc["paths"].get(t, {})
            ]
            if missing:
                raise RuntimeError(f"{v061_file} lacks the AuthKit operations {missing}")
            self._v061_routes = _routes(self.v061_doc)
        self.registry = registry
        self.format_checker = _format_checker()
        self._routes = _routes(self.doc)
        # The known v0.61 mismatches met so far (for the report), with the problems
        # the document's schema would have raised.
        self.tolerated: List[Tuple[Tuple[str, str, int, str], List[str]]] = []

    def operation(self, method: str, path: str) -> Optional[Operation]:
        method = method.lower()
        if self.v061_doc is not None:
            op = _find(self.v061_doc, self._v061_routes, method, path, SPEC_V061_URI)
            if op is not None and op.key in V061_OPERATIONS:
                return op
        return _find(self.doc, self._routes, method, path, SPEC_URI)

    @functools.lru_cache(maxsize=None)
    def _validator(self, pointer: str, source: str = SPEC_URI) -> Draft202012Validator:
        return Draft202012Validator(
            {"$ref": f"{source}#{pointer}"},
            registry=self.registry,
            format_checker=self.format_checker,
        )

    @functools.lru_cache(maxsize=None)
    def _oauth_envelope_validator(self) -> Draft202012Validator:
        return Draft202012Validator(OAUTH_ERROR_ENVELOPE)

    def _schema_errors(self, op: Operation, pointer: str, status: int, body: Any) -> List[str]:
        """The document's schema for (op, status) against body, minus a known mismatch."""
        problems = self._errors(self._validator(pointer, op.source), body)
        if problems and op.source == SPEC_V061_URI:
            if body == {}:
                tag = "{}"
            elif isinstance(body, dict):
                tag = str(body.get("code") or body.get("error") or "")
            else:
                tag = ""
            key = (op.method.upper(), op.template, status, tag)
            if key in KNOWN_V061_MISMATCHES:
                self.tolerated.append((key, problems))
                return []
        return problems

    @functools.lru_cache(maxsize=None)
    def _envelope_validator(self) -> Draft202012Validator:
        return Draft202012Validator(ERROR_ENVELOPE)

    @staticmethod
    def _pointer(*parts: str) -> str:
        return "".join("/" + p.replace("~", "~0").replace("/", "~1") for p in parts)

    def response_schema_pointer(
        self, op: Operation, status: int
    ) -> Tuple[Optional[str], bool]:
        """(JSON pointer to the schema, whether the status is declared at all)."""
        responses = op.spec.get("responses", {})
        for key in (str(status), f"{str(status)[0]}XX", "default"):
            if key in responses:
                content = (responses[key] or {}).get("content") or {}
                if "application/json" in content and "schema" in content["application/json"]:
                    return (
                        self._pointer(
                            "paths", op.template, op.method, "responses", key,
                            "content", "application/json", "schema",
                        ),
                        True,
                    )
                return None, True
        return None, False

    def check(self, response: httpx.Response, *, strict_errors: bool = True) -> Any:
        """Validate one response; returns the parsed JSON body (or None).

        strict_errors=False validates an error body against the WorkOS error
        envelope only, for protocol-level rejections (malformed JSON, an
        oversized body) that the spec's per-operation error schemas, written
        for business errors, do not describe.
        """
        request = response.request
        where = f"{request.method} {request.url} -> {response.status_code}"
        problems: List[str] = []

        if not response.headers.get("x-request-id"):
            problems.append("missing X-Request-ID header")

        body: Any = None
        raw = response.content
        if raw:
            ctype = response.headers.get("content-type", "")
            if "application/json" not in ctype:
                problems.append(f"body with Content-Type {ctype!r}, not application/json")
            try:
                body = json.loads(raw)
            except ValueError:
                problems.append(f"body is not JSON: {raw[:200]!r}")
                raise ContractViolation(f"{where}: " + "; ".join(problems))
        elif response.headers.get("content-type", "").startswith("application/json"):
            problems.append("application/json with an empty body (golden rule 2)")

        path = unquote(urlsplit(str(request.url)).path)
        op = self.operation(request.method, urlsplit(str(request.url)).path)
        status = response.status_code
        is_error = status >= 400

        if raw and not is_error:
            if op is None:
                problems.append(f"2xx body from a path not in the spec ({path})")
            else:
                pointer, declared = self.response_schema_pointer(op, status)
                if pointer is None:
                    problem = (
                        f"status {status} with a body, but the spec declares "
                        f"{'no schema for it' if declared else 'no such status'} "
                        f"on {op.method.upper()} {op.template}"
                    )
                    if declared and op.source == SPEC_V061_URI:
                        # Run it through the known-mismatch table like a schema error.
                        key = (op.method.upper(), op.template, status,
                               "{}" if body == {} else "")
                        if key in KNOWN_V061_MISMATCHES:
                            self.tolerated.append((key, [problem]))
                            problem = ""
                    if problem:
                        problems.append(problem)
                else:
                    problems += self._schema_errors(op, pointer, status, body)
            for key, value in find_timestamps(body):
                if not TIMESTAMP_RE.match(value):
                    problems.append(f"timestamp {key}={value!r} is not YYYY-MM-DDTHH:MM:SS.mmmZ")
        elif not raw and not is_error and 300 <= status < 400 and op is not None \
                and op.source == SPEC_V061_URI:
            # A redirect the document declares: no body, a Location.
            _, declared = self.response_schema_pointer(op, status)
            if not declared:
                problems.append(f"redirect {status} not declared on {op.method.upper()} {op.template}")
            if not response.headers.get("location"):
                problems.append(f"redirect {status} without a Location header")
        elif not raw and not is_error:
            if status != 204:
                problems.append(f"{status} with an empty body (use 204, golden rule 2)")
            if op is not None:
                _, declared = self.response_schema_pointer(op, status)
                declared_2xx = [
                    k for k in op.spec.get("responses", {}) if k.startswith("2")
                ]
                bodiless = [
                    k for k in declared_2xx
                    if not ((op.spec["responses"][k] or {}).get("content"))
                ]
                if not declared and not bodiless:
                    problems.append(
                        f"204 but {op.method.upper()} {op.template} declares only "
                        f"{declared_2xx} with bodies"
                    )
        elif is_error:
            if not raw:
                problems.append("error response without a body")
            else:
                envelope = self._errors(self._envelope_validator(), body)
                if envelope and op is not None and op.source == SPEC_V061_URI \
                        and op.key in OAUTH_ERROR_OPERATIONS \
                        and isinstance(body, dict) and "error" in body:
                    envelope = self._errors(self._oauth_envelope_validator(), body)
                problems += envelope
                if strict_errors and op is not None:
                    pointer, _ = self.response_schema_pointer(op, status)
                    if pointer is not None:
                        problems += self._schema_errors(op, pointer, status, body)

        if problems:
            raise ContractViolation(
                f"{where}:\n  - " + "\n  - ".join(problems) + f"\n  body: {raw[:1200]!r}"
            )
        return body

    @staticmethod
    def _errors(validator: Draft202012Validator, body: Any) -> List[str]:
        out = []
        for err in sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path)):
            loc = "/".join(str(p) for p in err.absolute_path) or "(root)"
            detail = err.message
            if err.context:
                # oneOf/anyOf: name the branch meant for this body, i.e. the one
                # whose `const` discriminators (event name, object) matched.
                branches: Dict[Any, List[Any]] = {}
                for sub in err.context:
                    branches.setdefault(sub.relative_schema_path[0], []).append(sub)
                plausible = [
                    errs for errs in branches.values()
                    if not any(e.validator == "const" for e in errs)
                ] or list(branches.values())
                best = min(plausible, key=len)
                detail = "no oneOf branch matched; closest branch: " + "; ".join(
                    f"{'/'.join(str(p) for p in e.absolute_path) or '(root)'}: {e.message}"
                    for e in best[:5]
                )
            out.append(f"schema: at {loc}: {detail[:800]}")
        return out


def find_timestamps(value: Any, key: str = "") -> List[Tuple[str, str]]:
    """All (key, value) pairs whose key ends in `_at` anywhere in a JSON value."""
    found: List[Tuple[str, str]] = []
    if isinstance(value, dict):
        for k, v in value.items():
            if k.endswith("_at") and isinstance(v, str):
                found.append((k, v))
            found += find_timestamps(v, k)
    elif isinstance(value, list):
        for item in value:
            found += find_timestamps(item, key)
    return found
