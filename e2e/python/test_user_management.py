"""Users, organization memberships, roles, permissions and invitations through the
official Python SDK against a real server (issue 3)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any, List

import pytest
from workos import NotFoundError, WorkOSClient
from workos.common.models.invitation_accepted import InvitationAccepted
from workos.common.models.invitation_created import InvitationCreated
from workos.common.models.invitation_resent import InvitationResent
from workos.common.models.invitation_revoked import InvitationRevoked
from workos.common.models.organization_membership_created import OrganizationMembershipCreated
from workos.common.models.organization_membership_deleted import OrganizationMembershipDeleted
from workos.common.models.organization_membership_updated import OrganizationMembershipUpdated
from workos.common.models.organization_role_created import OrganizationRoleCreated
from workos.common.models.organization_role_deleted import OrganizationRoleDeleted
from workos.common.models.organization_role_updated import OrganizationRoleUpdated
from workos.common.models.permission_created import PermissionCreated
from workos.common.models.permission_deleted import PermissionDeleted
from workos.common.models.permission_updated import PermissionUpdated
from workos.common.models.role_created import RoleCreated
from workos.common.models.role_updated import RoleUpdated
from workos.common.models.user_created import UserCreated
from workos.common.models.user_deleted import UserDeleted
from workos.common.models.user_updated import UserUpdated
from workos.organization_membership import RoleMultiple, RoleSingle
from workos.user_management import PasswordPlaintext

from harness import Api, unique
from smtpsink import SmtpSink

USER_ID = re.compile(r"^user_[0-9A-HJKMNP-TV-Z]{26}$")
MEMBERSHIP_ID = re.compile(r"^om_[0-9A-HJKMNP-TV-Z]{26}$")
INVITATION_ID = re.compile(r"^invitation_[0-9A-HJKMNP-TV-Z]{26}$")

PEOPLE_EVENTS = [
    "user.created", "user.updated", "user.deleted",
    "organization_membership.created", "organization_membership.updated",
    "organization_membership.deleted",
    "role.created", "role.updated",
    "organization_role.created", "organization_role.updated", "organization_role.deleted",
    "permission.created", "permission.updated", "permission.deleted",
    "invitation.created", "invitation.accepted", "invitation.revoked", "invitation.resent",
]


def email() -> str:
    return f"{unique('user')}@example.test"


def state(value: Any) -> str:
    """An SDK enum (or plain string) as its wire value."""
    return str(getattr(value, "value", value))


def slugs(roles: List[Any]) -> List[str]:
    return [r.slug for r in roles]


def members(client: WorkOSClient, **filters: Any) -> List[Any]:
    return list(client.organization_membership.list_organization_memberships(
        limit=100, order="asc", **filters).auto_paging_iter())


def check(api: Api, membership_id: str, permission: str) -> bool:
    r = api.post(f"/authorization/organization_memberships/{membership_id}/check",
                 json={"permission_slug": permission})
    assert r.status_code == 200, r.text
    return r.json()["authorized"]


def all_events(client: WorkOSClient, events: List[str] = PEOPLE_EVENTS, **kw: Any) -> List[Any]:
    return list(client.events.list_events(events=events, limit=100, **kw).auto_paging_iter())


# --- users ---------------------------------------------------------------------------------


def test_user_crud(client: WorkOSClient) -> None:
    um = client.user_management
    address = email()
    external_id = unique("ext")
    created = um.create_user(
        email=f"  {address.upper()} ",
        first_name="Ada",
        last_name="Lovelace",
        email_verified=True,
        metadata={"tier": "gold"},
        external_id=external_id,
        password=PasswordPlaintext(password="correct horse battery staple"),
    )
    assert created.object == "user"
    assert USER_ID.match(created.id)
    assert created.email == address, "emails are trimmed and lower-cased"
    assert (created.first_name, created.last_name) == ("Ada", "Lovelace")
    assert created.email_verified is True
    assert created.metadata == {"tier": "gold"}
    assert created.external_id == external_id
    assert created.last_sign_in_at is None
    assert created.created_at == created.updated_at
    assert not hasattr(created, "password") and "password" not in created.to_dict()

    fetched = um.get_user(created.id)
    assert fetched.id == created.id and fetched.email == address
    assert um.get_user_by_external_id(external_id).id == created.id

    new_address = email()
    updated = um.update_user(
        created.id,
        email=new_address,
        first_name="Augusta",
        email_verified=False,
        metadata={"tier": "silver"},
        external_id=None,
        password=PasswordPlaintext(password="another long passphrase"),
    )
    assert updated.id == created.id
    assert updated.email == new_address
    assert updated.first_name == "Augusta" and updated.last_name == "Lovelace"
    assert updated.email_verified is False
    assert updated.metadata == {"tier": "silver"}
    assert updated.external_id is None
    assert updated.updated_at >= created.updated_at
    assert um.get_user(created.id).to_dict() == updated.to_dict()
    with pytest.raises(NotFoundError):
        um.get_user_by_external_id(external_id)

    um.delete_user(created.id)
    with pytest.raises(NotFoundError) as exc:
        um.get_user(created.id)
    assert exc.value.code == "entity_not_found"
    with pytest.raises(NotFoundError):
        um.delete_user(created.id)
    assert list(um.list_users(email=new_address).auto_paging_iter()) == []


def test_list_users_filters(client: WorkOSClient) -> None:
    um = client.user_management
    org = client.organizations.create_organization(name=unique("org"))
    other = client.organizations.create_organization(name=unique("org"))
    users = [um.create_user(email=email()) for _ in range(5)]
    for u in users[:3]:
        client.organization_membership.create_organization_membership(
            user_id=u.id, organization_id=org.id)
    client.organization_membership.create_organization_membership(
        user_id=users[4].id, organization_id=other.id)

    by_email = list(um.list_users(email=users[1].email.upper()).auto_paging_iter())
    assert [u.id for u in by_email] == [users[1].id]

    in_org = list(um.list_users(organization_id=org.id, limit=2, order="asc").auto_paging_iter())
    assert [u.id for u in in_org] == [u.id for u in users[:3]]
    page = um.list_users(organization_id=org.id, limit=2, order="asc")
    assert [u.id for u in page.data] == [u.id for u in users[:2]]
    assert page.list_metadata.after == users[1].id

    newest_first = list(um.list_users(organization_id=org.id).auto_paging_iter())
    assert [u.id for u in newest_first] == [u.id for u in reversed(users[:3])]

    both = list(um.list_users(organization_id=other.id, email=users[4].email).auto_paging_iter())
    assert [u.id for u in both] == [users[4].id]
    assert list(um.list_users(organization_id=other.id, email=users[0].email).auto_paging_iter()) == []

    everyone = {u.id for u in um.list_users(limit=100).auto_paging_iter()}
    assert {u.id for u in users} <= everyone


# --- memberships ---------------------------------------------------------------------------


def test_membership_lifecycle(client: WorkOSClient) -> None:
    oms = client.organization_membership
    org = client.organizations.create_organization(name=unique("org"))
    user = client.user_management.create_user(email=email(), first_name="Mem")
    client.authorization.create_environment_role(slug=unique("admin"), name="Admin")
    admin = client.authorization.list_environment_roles().data[-1].slug

    m = oms.create_organization_membership(user_id=user.id, organization_id=org.id)
    assert m.object == "organization_membership"
    assert MEMBERSHIP_ID.match(m.id)
    assert (m.user_id, m.organization_id) == (user.id, org.id)
    assert m.organization_name == org.name
    assert state(m.status) == "active"
    assert m.role.slug == "member", "the default role is `member`"
    assert slugs(m.roles) == ["member"]
    assert m.user.id == user.id and m.user.email == user.email
    assert m.directory_managed is False

    got = oms.get_organization_membership(m.id)
    assert got.to_dict() == m.to_dict()
    assert [x.id for x in members(client, user_id=user.id)] == [m.id]
    assert [x.id for x in members(client, organization_id=org.id)] == [m.id]
    assert [x.id for x in members(client, user_id=user.id, organization_id=org.id)] == [m.id]

    changed = oms.update_organization_membership(m.id, role=RoleSingle(role_slug=admin))
    assert changed.role.slug == admin and slugs(changed.roles) == [admin]
    assert oms.get_organization_membership(m.id).role.slug == admin

    inactive = oms.deactivate_organization_membership(m.id)
    assert state(inactive.status) == "inactive"
    assert inactive.role.slug == admin
    assert members(client, organization_id=org.id) == [], "lists show only active by default"
    assert [x.id for x in members(client, organization_id=org.id, statuses=["inactive"])] == [m.id]
    assert [x.id for x in members(client, user_id=user.id,
                                  statuses=["active", "inactive"])] == [m.id]
    assert members(client, organization_id=org.id, statuses=["active"]) == []
    again = oms.deactivate_organization_membership(m.id)
    assert state(again.status) == "inactive"

    active = oms.reactivate_organization_membership(m.id)
    assert state(active.status) == "active"
    assert active.role.slug == admin, "reactivation keeps the role"
    assert [x.id for x in members(client, organization_id=org.id)] == [m.id]

    oms.delete_organization_membership(m.id)
    with pytest.raises(NotFoundError):
        oms.get_organization_membership(m.id)
    assert members(client, organization_id=org.id, statuses=["active", "inactive", "pending"]) == []
    # The user survives its membership.
    assert client.user_management.get_user(user.id).id == user.id


def test_membership_with_several_roles(client: WorkOSClient) -> None:
    az = client.authorization
    org = client.organizations.create_organization(name=unique("org"))
    user = client.user_management.create_user(email=email())
    a = az.create_environment_role(slug=unique("role-a"), name="A").slug
    b = az.create_environment_role(slug=unique("role-b"), name="B").slug
    m = client.organization_membership.create_organization_membership(
        user_id=user.id, organization_id=org.id, role=RoleMultiple(role_slugs=[a, b]))
    assert sorted(slugs(m.roles)) == sorted([a, b])
    assert m.role.slug in (a, b)
    one = client.organization_membership.update_organization_membership(
        m.id, role=RoleMultiple(role_slugs=[b]))
    assert slugs(one.roles) == [b] and one.role.slug == b


def test_deleting_a_user_removes_its_memberships(client: WorkOSClient) -> None:
    org = client.organizations.create_organization(name=unique("org"))
    user = client.user_management.create_user(email=email())
    m = client.organization_membership.create_organization_membership(
        user_id=user.id, organization_id=org.id)
    client.user_management.delete_user(user.id)
    with pytest.raises(NotFoundError):
        client.organization_membership.get_organization_membership(m.id)
    assert members(client, organization_id=org.id) == []


# --- roles and permissions -----------------------------------------------------------------


def test_permissions_crud(client: WorkOSClient) -> None:
    az = client.authorization
    slug = f"{unique('posts')}:read"
    p = az.create_permission(slug=slug, name="Read posts", description="Read every post")
    assert p.object == "permission" and p.slug == slug
    assert (p.name, p.description, p.system) == ("Read posts", "Read every post", False)
    assert p.resource_type_slug == "organization"

    got = az.get_permission(slug)
    assert got.id == p.id and got.name == "Read posts"
    listed = list(az.list_permissions(limit=100).auto_paging_iter())
    assert slug in [x.slug for x in listed]

    updated = az.update_permission(slug, name="Read all posts", description=None)
    assert updated.name == "Read all posts" and updated.description is None
    assert az.get_permission(slug).name == "Read all posts"

    az.delete_permission(slug)
    with pytest.raises(NotFoundError):
        az.get_permission(slug)
    assert slug not in [x.slug for x in az.list_permissions(limit=100).auto_paging_iter()]


def test_environment_roles(client: WorkOSClient) -> None:
    az = client.authorization
    read = az.create_permission(slug=f"{unique('docs')}:read", name="Read").slug
    write = az.create_permission(slug=f"{unique('docs')}:write", name="Write").slug

    initial = az.list_environment_roles()
    assert initial.object == "list"
    assert initial.data[0].slug == "member", "every environment starts with `member`"
    member = az.get_environment_role("member")
    assert state(member.type) == "EnvironmentRole"

    slug = unique("editor")
    role = az.create_environment_role(slug=slug, name="Editor", description="Edits")
    assert role.object == "role" and role.slug == slug
    assert (role.name, role.description, role.permissions) == ("Editor", "Edits", [])
    assert state(role.type) == "EnvironmentRole"
    assert az.get_environment_role(slug).id == role.id
    assert slug in slugs(az.list_environment_roles().data)

    renamed = az.update_environment_role(slug, name="Editor 2", description=None)
    assert (renamed.name, renamed.description) == ("Editor 2", None)

    with_read = az.set_environment_role_permissions(slug, permissions=[read])
    assert with_read.permissions == [read]
    both = az.add_environment_role_permission(slug, body_slug=write)
    assert sorted(both.permissions) == sorted([read, write])
    same = az.add_environment_role_permission(slug, body_slug=write)
    assert sorted(same.permissions) == sorted([read, write]), "adding twice is a no-op"
    only_write = az.set_environment_role_permissions(slug, permissions=[write])
    assert only_write.permissions == [write]
    assert az.get_environment_role(slug).permissions == [write]
    cleared = az.set_environment_role_permissions(slug, permissions=[])
    assert cleared.permissions == []


def test_organization_roles(client: WorkOSClient) -> None:
    az = client.authorization
    org = client.organizations.create_organization(name=unique("org"))
    perm = az.create_permission(slug=f"{unique('billing')}:manage", name="Billing").slug
    perm2 = az.create_permission(slug=f"{unique('billing')}:view", name="Billing view").slug

    role = az.create_organization_role(org.id, name="Billing Admin", description="Pays")
    assert role.slug.startswith("org-"), role.slug
    assert state(role.type) == "OrganizationRole"
    assert (role.name, role.description, role.permissions) == ("Billing Admin", "Pays", [])

    explicit = az.create_organization_role(org.id, slug=f"org-{unique('x')}", name="Explicit")
    listed = az.list_organization_roles(org.id)
    listed_slugs = slugs(listed.data)
    assert "member" in listed_slugs, "environment roles apply to every organization"
    assert role.slug in listed_slugs and explicit.slug in listed_slugs

    assert az.get_organization_role(org.id, role.slug).id == role.id
    assert az.get_organization_role(org.id, "member").slug == "member"

    updated = az.update_organization_role(org.id, role.slug, name="Billing Owner")
    assert updated.name == "Billing Owner" and updated.description == "Pays"

    assert az.set_organization_role_permissions(org.id, role.slug, permissions=[perm]).permissions == [perm]
    added = az.add_organization_role_permission(org.id, role.slug, body_slug=perm2)
    assert sorted(added.permissions) == sorted([perm, perm2])
    az.remove_organization_role_permission(org.id, role.slug, perm)
    assert az.get_organization_role(org.id, role.slug).permissions == [perm2]

    # Another organization does not see this organization's roles.
    other = client.organizations.create_organization(name=unique("org"))
    assert role.slug not in slugs(az.list_organization_roles(other.id).data)
    with pytest.raises(NotFoundError):
        az.get_organization_role(other.id, role.slug)

    az.delete_organization_role(org.id, explicit.slug)
    with pytest.raises(NotFoundError):
        az.get_organization_role(org.id, explicit.slug)
    assert explicit.slug not in slugs(az.list_organization_roles(org.id).data)


def test_organization_role_overrides_environment_role(client: WorkOSClient, api: Api) -> None:
    az = client.authorization
    org = client.organizations.create_organization(name=unique("org"))
    other = client.organizations.create_organization(name=unique("org"))
    read = az.create_permission(slug=f"{unique('posts')}:read", name="Read").slug
    delete = az.create_permission(slug=f"{unique('posts')}:delete", name="Delete").slug
    slug = unique("editor")
    az.create_environment_role(slug=slug, name="Editor")
    az.set_environment_role_permissions(slug, permissions=[read])

    user = client.user_management.create_user(email=email())
    here = client.organization_membership.create_organization_membership(
        user_id=user.id, organization_id=org.id, role=RoleSingle(role_slug=slug))
    there = client.organization_membership.create_organization_membership(
        user_id=user.id, organization_id=other.id, role=RoleSingle(role_slug=slug))
    assert check(api, here.id, read) and check(api, there.id, read)
    assert not check(api, here.id, delete)

    # Same slug, scoped to `org`: it replaces the environment role there only.
    override = az.create_organization_role(org.id, slug=slug, name="Editor (org)")
    assert override.slug == slug
    assert state(override.type) == "OrganizationRole"
    got = az.get_organization_role(org.id, slug)
    assert got.id == override.id and got.name == "Editor (org)"
    assert [r.id for r in az.list_organization_roles(org.id).data if r.slug == slug] == [override.id]
    assert not check(api, here.id, read), "the override has no permissions yet"
    assert check(api, there.id, read), "other organizations keep the environment role"

    az.set_organization_role_permissions(org.id, slug, permissions=[delete])
    assert check(api, here.id, delete) and not check(api, here.id, read)
    assert not check(api, there.id, delete)
    # The environment role itself is untouched.
    assert az.get_environment_role(slug).permissions == [read]

    # Deleting the override is refused while it is assigned; after reassignment
    # the environment role applies again.
    client.organization_membership.update_organization_membership(
        here.id, role=RoleSingle(role_slug="member"))
    az.delete_organization_role(org.id, slug)
    client.organization_membership.update_organization_membership(
        here.id, role=RoleSingle(role_slug=slug))
    assert check(api, here.id, read) and not check(api, here.id, delete)


def test_effective_permissions_are_the_union_of_roles(client: WorkOSClient, api: Api) -> None:
    az = client.authorization
    org = client.organizations.create_organization(name=unique("org"))
    p1 = az.create_permission(slug=f"{unique('a')}:one", name="One").slug
    p2 = az.create_permission(slug=f"{unique('a')}:two", name="Two").slug
    r1 = az.create_environment_role(slug=unique("r1"), name="R1").slug
    az.set_environment_role_permissions(r1, permissions=[p1])
    r2 = az.create_organization_role(org.id, name=unique("R2")).slug
    az.set_organization_role_permissions(org.id, r2, permissions=[p2])
    user = client.user_management.create_user(email=email())
    m = client.organization_membership.create_organization_membership(
        user_id=user.id, organization_id=org.id, role=RoleMultiple(role_slugs=[r1, r2]))
    assert check(api, m.id, p1) and check(api, m.id, p2)
    client.organization_membership.update_organization_membership(m.id, role=RoleSingle(role_slug=r2))
    assert not check(api, m.id, p1) and check(api, m.id, p2)


# --- invitations (real SMTP) ---------------------------------------------------------------


def test_invitation_mail_accept_creates_user_and_membership(
    mail_client: WorkOSClient, smtp: SmtpSink
) -> None:
    client = mail_client
    um = client.user_management
    org = client.organizations.create_organization(name=unique("Invite Org"))
    inviter = um.create_user(email=email(), first_name="Inviter")
    role = client.authorization.create_environment_role(slug=unique("guest"), name="Guest").slug
    invitee = email()
    before = datetime.now(timezone.utc)

    inv = um.send_invitation(email=invitee, organization_id=org.id, role_slug=role,
                             inviter_user_id=inviter.id, expires_in_days=3)
    assert inv.object == "invitation" and INVITATION_ID.match(inv.id)
    assert inv.email == invitee
    assert state(inv.state) == "pending"
    assert (inv.organization_id, inv.inviter_user_id, inv.role_slug) == (org.id, inviter.id, role)
    assert inv.accepted_at is None and inv.revoked_at is None and inv.accepted_user_id is None
    assert inv.token and inv.token in inv.accept_invitation_url
    expected_expiry = before + timedelta(days=3)
    assert abs((inv.expires_at - expected_expiry).total_seconds()) < 60

    mail = smtp.next_to(invitee)
    assert [r.lower() for r in mail.rcpt_tos] == [invitee]
    assert org.name in mail.subject or org.name in mail.body
    assert inv.accept_invitation_url in mail.body
    token = re.search(r"invitation_token=([A-Za-z0-9_\-]+)", mail.body).group(1)  # type: ignore[union-attr]
    assert token == inv.token

    by_token = um.find_invitation_by_token(token)
    assert by_token.id == inv.id
    assert um.get_invitation(inv.id).to_dict() == by_token.to_dict()
    listed = list(um.list_invitations(organization_id=org.id).auto_paging_iter())
    assert [i.id for i in listed] == [inv.id]
    assert [i.id for i in um.list_invitations(email=invitee).auto_paging_iter()] == [inv.id]
    assert list(um.list_users(email=invitee).auto_paging_iter()) == [], "no user before accepting"

    accepted = um.accept_invitation(inv.id)
    assert accepted.id == inv.id
    assert state(accepted.state) == "accepted"
    assert accepted.accepted_at is not None
    users = list(um.list_users(email=invitee).auto_paging_iter())
    assert [u.id for u in users] == [accepted.accepted_user_id]
    ms = members(client, user_id=accepted.accepted_user_id)
    assert len(ms) == 1
    assert ms[0].organization_id == org.id
    assert ms[0].role.slug == role and slugs(ms[0].roles) == [role]
    assert state(ms[0].status) == "active"
    assert um.get_invitation(inv.id).accepted_user_id == accepted.accepted_user_id


def test_invitation_for_an_existing_user_reuses_it(mail_client: WorkOSClient, smtp: SmtpSink) -> None:
    um = mail_client.user_management
    org = mail_client.organizations.create_organization(name=unique("org"))
    existing = um.create_user(email=email())
    inv = um.send_invitation(email=existing.email, organization_id=org.id)
    smtp.next_to(existing.email)
    accepted = um.accept_invitation(inv.id)
    assert accepted.accepted_user_id == existing.id
    ms = members(mail_client, organization_id=org.id)
    assert [(m.user_id, m.role.slug) for m in ms] == [(existing.id, "member")]


def test_invitation_resend_and_revoke(mail_client: WorkOSClient, smtp: SmtpSink) -> None:
    um = mail_client.user_management
    org = mail_client.organizations.create_organization(name=unique("org"))
    invitee = email()
    inv = um.send_invitation(email=invitee, organization_id=org.id)
    first = smtp.next_to(invitee)
    resent = um.resend_invitation(inv.id)
    assert resent.id == inv.id
    assert state(resent.state) == "pending"
    second = smtp.next_to(invitee)
    assert resent.token in second.body
    assert first.body and second.body

    revoked = um.revoke_invitation(inv.id)
    assert state(revoked.state) == "revoked"
    assert revoked.revoked_at is not None
    assert state(um.get_invitation(inv.id).state) == "revoked"


def test_invitation_without_organization(mail_client: WorkOSClient, smtp: SmtpSink) -> None:
    um = mail_client.user_management
    invitee = email()
    inv = um.send_invitation(email=invitee)
    assert inv.organization_id is None and inv.role_slug is None
    assert inv.token in smtp.next_to(invitee).body
    accepted = um.accept_invitation(inv.id)
    user = um.get_user(accepted.accepted_user_id)
    assert user.email == invitee
    assert members(mail_client, user_id=user.id) == []


# --- events --------------------------------------------------------------------------------


def test_every_change_is_an_event(fresh_client: WorkOSClient) -> None:
    client = fresh_client
    um, az, oms = client.user_management, client.authorization, client.organization_membership
    org = client.organizations.create_organization(name="Evented People")

    user = um.create_user(email=email(), first_name="Ev")
    um.update_user(user.id, last_name="Ent")
    perm = az.create_permission(slug="posts:read", name="Read posts")
    az.update_permission("posts:read", name="Read all posts")
    role = az.create_environment_role(slug="editor", name="Editor")
    az.update_environment_role("editor", name="Editor 2")
    az.set_environment_role_permissions("editor", permissions=["posts:read"])
    org_role = az.create_organization_role(org.id, name="Auditor")
    az.update_organization_role(org.id, org_role.slug, name="Auditor 2")
    m = oms.create_organization_membership(user_id=user.id, organization_id=org.id)
    oms.update_organization_membership(m.id, role=RoleSingle(role_slug="editor"))
    oms.deactivate_organization_membership(m.id)
    oms.reactivate_organization_membership(m.id)
    oms.delete_organization_membership(m.id)
    az.delete_organization_role(org.id, org_role.slug)
    inv = um.send_invitation(email=email(), organization_id=org.id)
    um.resend_invitation(inv.id)
    um.revoke_invitation(inv.id)
    inv2 = um.send_invitation(email=email(), organization_id=org.id)
    accepted = um.accept_invitation(inv2.id)
    az.set_environment_role_permissions("editor", permissions=[])
    az.delete_permission("posts:read")
    um.delete_user(user.id)

    events = all_events(client)
    assert len({e.id for e in events}) == len(events)
    assert [e.created_at for e in events] == sorted(e.created_at for e in events)
    seen = [e.event for e in events]
    for name in PEOPLE_EVENTS:
        assert name in seen, f"{name} missing from {seen}"

    def subjects(name: str) -> List[str]:
        return [getattr(e.data, "id", None) or e.data.slug for e in events if e.event == name]

    assert subjects("user.created") == [user.id, accepted.accepted_user_id]
    assert subjects("user.updated") == [user.id]
    assert subjects("user.deleted") == [user.id]
    assert subjects("organization_membership.created")[0] == m.id
    assert subjects("organization_membership.updated") == [m.id] * 3, \
        "role change, deactivate and reactivate each emit organization_membership.updated"
    assert subjects("organization_membership.deleted") == [m.id]
    assert subjects("permission.created") == [perm.id]
    assert subjects("permission.updated") == [perm.id]
    assert subjects("permission.deleted") == [perm.id]
    assert subjects("invitation.created") == [inv.id, inv2.id]
    assert subjects("invitation.resent") == [inv.id]
    assert subjects("invitation.revoked") == [inv.id]
    assert subjects("invitation.accepted") == [inv2.id]

    by_type = {}
    for e in events:
        by_type.setdefault(e.event, []).append(e)
    assert isinstance(by_type["user.created"][0], UserCreated)
    assert by_type["user.created"][0].data.email == user.email
    assert isinstance(by_type["user.updated"][0], UserUpdated)
    assert by_type["user.updated"][0].data.last_name == "Ent"
    assert isinstance(by_type["user.deleted"][0], UserDeleted)
    mc = by_type["organization_membership.created"][0]
    assert isinstance(mc, OrganizationMembershipCreated)
    assert (mc.data.user_id, mc.data.organization_id, mc.data.role.slug) == (user.id, org.id, "member")
    mu = by_type["organization_membership.updated"]
    assert all(isinstance(e, OrganizationMembershipUpdated) for e in mu)
    assert [e.data.role.slug for e in mu] == ["editor"] * 3
    assert [state(e.data.status) for e in mu] == [
        "active", "inactive", "active"]
    assert isinstance(by_type["organization_membership.deleted"][0], OrganizationMembershipDeleted)
    rc = by_type["role.created"]
    assert all(isinstance(e, RoleCreated) for e in rc)
    assert "editor" in [e.data.slug for e in rc]
    ru = [e for e in by_type["role.updated"] if e.data.slug == "editor"]
    assert ru and all(isinstance(e, RoleUpdated) for e in ru)
    assert ["posts:read"] in [e.data.permissions for e in ru], "permission changes emit role.updated"
    orc = by_type["organization_role.created"][0]
    assert isinstance(orc, OrganizationRoleCreated)
    assert (orc.data.organization_id, orc.data.slug) == (org.id, org_role.slug)
    oru = by_type["organization_role.updated"][0]
    assert isinstance(oru, OrganizationRoleUpdated) and oru.data.name == "Auditor 2"
    assert isinstance(by_type["organization_role.deleted"][0], OrganizationRoleDeleted)
    assert isinstance(by_type["permission.created"][0], PermissionCreated)
    assert isinstance(by_type["permission.updated"][0], PermissionUpdated)
    assert by_type["permission.updated"][0].data.name == "Read all posts"
    assert isinstance(by_type["permission.deleted"][0], PermissionDeleted)
    assert isinstance(by_type["invitation.created"][0], InvitationCreated)
    assert isinstance(by_type["invitation.resent"][0], InvitationResent)
    assert isinstance(by_type["invitation.revoked"][0], InvitationRevoked)
    ia = by_type["invitation.accepted"][0]
    assert isinstance(ia, InvitationAccepted)
    assert ia.data.accepted_user_id == accepted.accepted_user_id
    assert role.slug == "editor"

    # The type filter returns only what was asked, oldest first.
    only = all_events(client, events=["organization_membership.updated"])
    assert [e.data.id for e in only] == [m.id] * 3
    # Membership, role and invitation events belong to the organization.
    scoped = {e.event for e in all_events(client, organization_id=org.id)}
    assert {"organization_membership.created", "organization_role.created",
            "invitation.created"} <= scoped
