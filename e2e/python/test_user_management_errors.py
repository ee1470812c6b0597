"""Conflicts and bad input on users, memberships, roles and invitations: each a
typed SDK error with the WorkOS code, and nothing changed (counts before/after)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

import pytest
from workos import (
    BadRequestError,
    ConflictError,
    NotFoundError,
    UnprocessableEntityError,
    WorkOSClient,
)
from workos.organization_membership import RoleMultiple, RoleSingle
from workos.user_management import PasswordPlaintext

import harness
from harness import missing_id, unique

ALL_STATUSES = ["active", "inactive", "pending"]


def email() -> str:
    return f"{unique('user')}@example.test"


def users(client: WorkOSClient) -> List[Any]:
    return list(client.user_management.list_users(limit=100).auto_paging_iter())


def memberships(client: WorkOSClient, **filters: Any) -> List[Dict[str, Any]]:
    return [m.to_dict() for m in client.organization_membership.list_organization_memberships(
        limit=100, statuses=ALL_STATUSES, **filters).auto_paging_iter()]


def event_count(client: WorkOSClient, *names: str) -> int:
    return sum(1 for _ in client.events.list_events(events=list(names), limit=100).auto_paging_iter())


def state(value: Any) -> str:
    return str(getattr(value, "value", value))


def pending_invitation(client: WorkOSClient) -> Tuple[Any, str, Any]:
    """A new organization, a new address, and the invitation sent to it: (org, address, invitation)."""
    org = client.organizations.create_organization(name=unique("org"))
    invitee = email()
    return org, invitee, client.user_management.send_invitation(email=invitee, organization_id=org.id)


# --- users -----------------------------------------------------------------------------------


@pytest.mark.parametrize("variant", ["same", "upper", "padded"])
def test_duplicate_email_is_user_creation_error(client: WorkOSClient, variant: str) -> None:
    um = client.user_management
    address = email()
    first = um.create_user(email=address, first_name="First")
    before = users(client)
    created_events = event_count(client, "user.created")
    dup = {"same": address, "upper": address.upper(), "padded": f" {address} "}[variant]
    with pytest.raises(BadRequestError) as exc:
        um.create_user(email=dup, first_name="Second")
    err = exc.value
    assert err.status_code == 400
    assert err.code == "user_creation_error", err.raw_body
    assert err.message
    assert err.request_id
    assert users(client) == before
    assert um.get_user(first.id).first_name == "First"
    assert event_count(client, "user.created") == created_events


def test_changing_email_to_a_taken_one_is_refused(client: WorkOSClient) -> None:
    um = client.user_management
    a = um.create_user(email=email())
    b = um.create_user(email=email())
    with pytest.raises(BadRequestError) as exc:
        um.update_user(b.id, email=a.email.upper())
    # The spec's 400 codes for PUT /user_management/users/{id}: `email_not_available`.
    assert exc.value.code == "email_not_available", exc.value.raw_body
    assert um.get_user(b.id).to_dict() == b.to_dict()


@pytest.mark.parametrize("length", [129, 1000, 7, 0])
def test_bad_password_length_is_password_strength_error(client: WorkOSClient, length: int) -> None:
    um = client.user_management
    before = users(client)
    address = email()
    with pytest.raises(BadRequestError) as exc:
        um.create_user(email=address, password=PasswordPlaintext(password="p" * length))
    assert exc.value.code == "password_strength_error", exc.value.raw_body
    assert exc.value.status_code == 400
    assert users(client) == before
    assert list(um.list_users(email=address).auto_paging_iter()) == []


def test_password_limits_themselves_are_accepted(client: WorkOSClient) -> None:
    um = client.user_management
    for length in (8, 128):
        u = um.create_user(email=email(), password=PasswordPlaintext(password="q" * length))
        assert u.id


def test_too_long_password_on_update_changes_nothing(client: WorkOSClient) -> None:
    um = client.user_management
    u = um.create_user(email=email(), first_name="Keep")
    updated_events = event_count(client, "user.updated")
    with pytest.raises(BadRequestError) as exc:
        um.update_user(u.id, first_name="Changed", password=PasswordPlaintext(password="x" * 129))
    assert exc.value.code == "password_strength_error", exc.value.raw_body
    assert um.get_user(u.id).to_dict() == u.to_dict()
    assert event_count(client, "user.updated") == updated_events


def test_missing_user_is_not_found(client: WorkOSClient) -> None:
    um = client.user_management
    missing = missing_id("user")
    for call in (lambda: um.get_user(missing), lambda: um.delete_user(missing),
                 lambda: um.get_user_by_external_id(unique("nobody"))):
        with pytest.raises(NotFoundError) as exc:
            call()
        assert exc.value.code == "entity_not_found"


# --- memberships ---------------------------------------------------------------------------


@pytest.mark.parametrize("role", [RoleSingle(role_slug="no-such-role"),
                                  RoleMultiple(role_slugs=["member", "no-such-role"])],
                         ids=["role_slug", "role_slugs"])
def test_unknown_role_slug_is_invalid_role(client: WorkOSClient, role: Any) -> None:
    org = client.organizations.create_organization(name=unique("org"))
    user = client.user_management.create_user(email=email())
    with pytest.raises(UnprocessableEntityError) as exc:
        client.organization_membership.create_organization_membership(
            user_id=user.id, organization_id=org.id, role=role)
    assert exc.value.status_code == 422
    assert exc.value.code == "invalid_role", exc.value.raw_body
    assert memberships(client, organization_id=org.id) == []
    assert memberships(client, user_id=user.id) == []


def test_unknown_role_slug_on_update_changes_nothing(client: WorkOSClient) -> None:
    org = client.organizations.create_organization(name=unique("org"))
    user = client.user_management.create_user(email=email())
    m = client.organization_membership.create_organization_membership(
        user_id=user.id, organization_id=org.id)
    before = memberships(client, organization_id=org.id)
    with pytest.raises(UnprocessableEntityError) as exc:
        client.organization_membership.update_organization_membership(
            m.id, role=RoleSingle(role_slug="no-such-role"))
    assert exc.value.code == "invalid_role", exc.value.raw_body
    assert memberships(client, organization_id=org.id) == before


def test_another_organizations_role_is_invalid(client: WorkOSClient) -> None:
    org = client.organizations.create_organization(name=unique("org"))
    other = client.organizations.create_organization(name=unique("org"))
    foreign = client.authorization.create_organization_role(other.id, name=unique("Foreign")).slug
    user = client.user_management.create_user(email=email())
    with pytest.raises(UnprocessableEntityError) as exc:
        client.organization_membership.create_organization_membership(
            user_id=user.id, organization_id=org.id, role=RoleSingle(role_slug=foreign))
    assert exc.value.code == "invalid_role", exc.value.raw_body
    assert memberships(client, user_id=user.id) == []


def test_membership_to_a_missing_organization_is_not_found(client: WorkOSClient) -> None:
    user = client.user_management.create_user(email=email())
    created_events = event_count(client, "organization_membership.created")
    with pytest.raises(NotFoundError) as exc:
        client.organization_membership.create_organization_membership(
            user_id=user.id, organization_id=missing_id("org"))
    assert exc.value.status_code == 404
    assert exc.value.code == "entity_not_found"
    assert memberships(client, user_id=user.id) == []
    assert event_count(client, "organization_membership.created") == created_events


def test_membership_for_a_missing_user_is_not_found(client: WorkOSClient) -> None:
    org = client.organizations.create_organization(name=unique("org"))
    with pytest.raises(NotFoundError) as exc:
        client.organization_membership.create_organization_membership(
            user_id=missing_id("user"), organization_id=org.id)
    assert exc.value.code == "entity_not_found"
    assert memberships(client, organization_id=org.id) == []


def test_duplicate_membership_is_a_conflict(client: WorkOSClient) -> None:
    org = client.organizations.create_organization(name=unique("org"))
    user = client.user_management.create_user(email=email())
    client.organization_membership.create_organization_membership(
        user_id=user.id, organization_id=org.id)
    before = memberships(client, organization_id=org.id)
    with pytest.raises(ConflictError) as exc:
        client.organization_membership.create_organization_membership(
            user_id=user.id, organization_id=org.id, role=RoleSingle(role_slug="member"))
    assert exc.value.status_code == 409
    assert exc.value.code == "organization_membership_already_exists", exc.value.raw_body
    assert memberships(client, organization_id=org.id) == before


def test_list_memberships_needs_a_user_or_an_organization(client: WorkOSClient) -> None:
    with pytest.raises(BadRequestError) as exc:
        client.organization_membership.list_organization_memberships()
    assert exc.value.code


def test_missing_membership_is_not_found(client: WorkOSClient) -> None:
    oms = client.organization_membership
    missing = missing_id("om")
    for call in (lambda: oms.get_organization_membership(missing),
                 lambda: oms.delete_organization_membership(missing),
                 lambda: oms.deactivate_organization_membership(missing),
                 lambda: oms.reactivate_organization_membership(missing),
                 lambda: oms.update_organization_membership(missing, role=RoleSingle(role_slug="member"))):
        with pytest.raises(NotFoundError):
            call()


# --- roles and permissions -----------------------------------------------------------------


def test_deleting_an_organization_role_in_use_is_refused(client: WorkOSClient) -> None:
    az = client.authorization
    org = client.organizations.create_organization(name=unique("org"))
    role = az.create_organization_role(org.id, name=unique("Busy"))
    user = client.user_management.create_user(email=email())
    m = client.organization_membership.create_organization_membership(
        user_id=user.id, organization_id=org.id, role=RoleSingle(role_slug=role.slug))
    deleted_events = event_count(client, "organization_role.deleted")
    with pytest.raises(ConflictError) as exc:
        az.delete_organization_role(org.id, role.slug)
    assert exc.value.code == "role_has_assignments", exc.value.raw_body
    assert az.get_organization_role(org.id, role.slug).id == role.id
    assert client.organization_membership.get_organization_membership(m.id).role.slug == role.slug
    assert event_count(client, "organization_role.deleted") == deleted_events

    # An inactive membership still holds the role.
    client.organization_membership.deactivate_organization_membership(m.id)
    with pytest.raises(ConflictError):
        az.delete_organization_role(org.id, role.slug)
    client.organization_membership.update_organization_membership(
        m.id, role=RoleSingle(role_slug="member"))
    az.delete_organization_role(org.id, role.slug)
    with pytest.raises(NotFoundError):
        az.get_organization_role(org.id, role.slug)


def test_duplicate_role_and_permission_slugs_conflict(client: WorkOSClient) -> None:
    az = client.authorization
    slug = unique("dup")
    az.create_environment_role(slug=slug, name="One")
    with pytest.raises(ConflictError):
        az.create_environment_role(slug=slug, name="Two")
    assert az.get_environment_role(slug).name == "One"
    perm = f"{unique('dup')}:read"
    az.create_permission(slug=perm, name="One")
    with pytest.raises(ConflictError):
        az.create_permission(slug=perm, name="Two")
    assert az.get_permission(perm).name == "One"
    org = client.organizations.create_organization(name=unique("org"))
    r = az.create_organization_role(org.id, name="Same")
    with pytest.raises(ConflictError):
        az.create_organization_role(org.id, slug=r.slug, name="Same again")


def test_unknown_permission_on_a_role_changes_nothing(client: WorkOSClient) -> None:
    az = client.authorization
    read = az.create_permission(slug=f"{unique('p')}:read", name="Read").slug
    slug = unique("role")
    az.create_environment_role(slug=slug, name="R")
    az.set_environment_role_permissions(slug, permissions=[read])
    with pytest.raises((UnprocessableEntityError, NotFoundError, BadRequestError)):
        az.set_environment_role_permissions(slug, permissions=[read, "no:such"])
    with pytest.raises((UnprocessableEntityError, NotFoundError, BadRequestError)):
        az.add_environment_role_permission(slug, body_slug="no:such")
    assert az.get_environment_role(slug).permissions == [read]


def test_missing_roles_and_permissions_are_not_found(client: WorkOSClient) -> None:
    az = client.authorization
    org = client.organizations.create_organization(name=unique("org"))
    for call in (lambda: az.get_environment_role(unique("none")),
                 lambda: az.get_permission(f"{unique('none')}:x"),
                 lambda: az.get_organization_role(org.id, f"org-{unique('none')}"),
                 lambda: az.list_organization_roles(missing_id("org")),
                 lambda: az.create_organization_role(missing_id("org"), name="X")):
        with pytest.raises(NotFoundError):
            call()


# --- invitations -----------------------------------------------------------------------------


@pytest.fixture
def sqlite_server(tmp_path: Path) -> Iterator[tuple]:
    """A dev server on a SQLite file, so the test can age an invitation in place."""
    db = tmp_path / "user_management.db"
    server = harness.start_server("--dev", "--database", harness.sqlite_url(db))
    client = harness.sdk(server)
    try:
        yield server, client, db
    finally:
        client.close()
        crashed = server.proc.poll()
        server.stop()
        assert crashed is None, f"vestibule died during the test:\n{server.stderr_text()[-4000:]}"


def test_accepting_an_expired_invitation_is_refused(sqlite_server: tuple) -> None:
    _, client, db = sqlite_server
    um = client.user_management
    org, invitee, inv = pending_invitation(client)
    with sqlite3.connect(db) as conn:
        changed = conn.execute("UPDATE invitations SET expires_at = 0 WHERE id = ?", (inv.id,)).rowcount
    assert changed == 1
    accepted_events = event_count(client, "invitation.accepted")
    before_users = users(client)

    with pytest.raises(BadRequestError) as exc:
        um.accept_invitation(inv.id)
    assert exc.value.status_code == 400
    assert exc.value.code == "invite_not_pending", exc.value.raw_body
    assert users(client) == before_users
    assert list(um.list_users(email=invitee).auto_paging_iter()) == []
    assert memberships(client, organization_id=org.id) == []
    assert event_count(client, "invitation.accepted") == accepted_events
    assert state(um.get_invitation(inv.id).state) == "expired"
    # The spec's 400 codes for resend: invite_expired, invite_revoked, invite_accepted.
    with pytest.raises(BadRequestError) as exc:
        um.resend_invitation(inv.id)
    assert exc.value.code == "invite_expired", exc.value.raw_body


def test_accepting_a_revoked_invitation_is_refused(client: WorkOSClient) -> None:
    um = client.user_management
    org, _, inv = pending_invitation(client)
    revoked = um.revoke_invitation(inv.id)
    before_users = users(client)
    with pytest.raises(BadRequestError) as exc:
        um.accept_invitation(inv.id)
    assert exc.value.code == "invite_not_pending", exc.value.raw_body
    assert users(client) == before_users
    assert memberships(client, organization_id=org.id) == []
    assert um.get_invitation(inv.id).to_dict() == revoked.to_dict()
    with pytest.raises(BadRequestError) as exc:
        um.revoke_invitation(inv.id)
    assert exc.value.code == "invite_not_pending"
    with pytest.raises(BadRequestError) as exc:
        um.resend_invitation(inv.id)
    assert exc.value.code == "invite_revoked", exc.value.raw_body


def test_an_invitation_is_single_use(client: WorkOSClient) -> None:
    um = client.user_management
    org, _, inv = pending_invitation(client)
    accepted = um.accept_invitation(inv.id)
    before = memberships(client, organization_id=org.id)
    assert len(before) == 1
    with pytest.raises(BadRequestError) as exc:
        um.accept_invitation(inv.id)
    assert exc.value.code == "invite_not_pending", exc.value.raw_body
    with pytest.raises(BadRequestError):
        um.revoke_invitation(inv.id)
    assert memberships(client, organization_id=org.id) == before
    assert um.get_invitation(inv.id).to_dict() == accepted.to_dict()


def test_bad_invitations_create_nothing(client: WorkOSClient) -> None:
    um = client.user_management
    org = client.organizations.create_organization(name=unique("org"))
    invitee = email()
    with pytest.raises(NotFoundError):
        um.send_invitation(email=invitee, organization_id=missing_id("org"))
    # Unlike memberships (422), the spec puts invitations' invalid_role under 400.
    with pytest.raises(BadRequestError) as exc:
        um.send_invitation(email=invitee, organization_id=org.id, role_slug="no-such-role")
    assert exc.value.code == "invalid_role", exc.value.raw_body
    for days, code in ((31, "expires_in_days_too_long"), (0, "expires_in_days_too_short")):
        with pytest.raises(BadRequestError) as exc:
            um.send_invitation(email=invitee, organization_id=org.id, expires_in_days=days)
        assert exc.value.code == code, exc.value.raw_body
    assert list(um.list_invitations(email=invitee).auto_paging_iter()) == []
    with pytest.raises(NotFoundError):
        um.find_invitation_by_token(unique("token"))
    with pytest.raises(NotFoundError):
        um.get_invitation(missing_id("invitation"))
    with pytest.raises(NotFoundError):
        um.accept_invitation(missing_id("invitation"))
