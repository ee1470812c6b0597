// Users, organization memberships, roles, permissions and invitations through
// the official Node SDK 11.0.0 against a real `vestibule server --dev` (issue 3).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ConflictException,
  NotFoundException,
  UnprocessableEntityException,
} from '@workos-inc/node';
import { missingId, raw, unique, useDevServer } from './harness.mjs';

const USER_ID = /^user_[0-9A-HJKMNP-TV-Z]{26}$/;
const OM_ID = /^om_[0-9A-HJKMNP-TV-Z]{26}$/;
const INVITATION_ID = /^invitation_[0-9A-HJKMNP-TV-Z]{26}$/;
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const MAIL_WAIT_MS = 10_000;

const PEOPLE_EVENTS = [
  'user.created', 'user.updated', 'user.deleted',
  'organization_membership.created', 'organization_membership.updated',
  'organization_membership.deleted',
  'role.created', 'role.updated',
  'organization_role.created', 'organization_role.updated', 'organization_role.deleted',
  'permission.created', 'permission.updated', 'permission.deleted',
  'invitation.created', 'invitation.accepted', 'invitation.revoked', 'invitation.resent',
];

const dev = useDevServer();

const email = () => `${unique('user')}@example.test`;
const slugs = (roles) => (roles ?? []).map((r) => r.slug);

// autoPagination() returns only the first page when `limit` is given: never pass one here.
async function members(filters) {
  const page = await dev.workos.userManagement.listOrganizationMemberships({ order: 'asc', ...filters });
  return page.autoPagination();
}

async function usersList(filters = {}) {
  const page = await dev.workos.userManagement.listUsers(filters);
  return page.autoPagination();
}

async function allEvents(events = PEOPLE_EVENTS, extra = {}) {
  const out = [];
  let after;
  for (;;) {
    const page = await dev.workos.events.listEvents({ events, limit: 100, ...(after ? { after } : {}), ...extra });
    out.push(...page.data);
    after = page.listMetadata?.after;
    if (!after || page.data.length === 0) return out;
  }
}

/** The dev mailbox, polled with a bounded loop until a message for `to` appears. */
async function mailTo(to, count = 1) {
  const deadline = Date.now() + MAIL_WAIT_MS;
  for (;;) {
    const res = await raw(dev.server, 'GET', `/_dev/emails?to=${encodeURIComponent(to)}`);
    assert.equal(res.status, 200, res.text);
    if (res.json.data.length >= count) return res.json.data;
    if (Date.now() > deadline) assert.fail(`no mail for ${to} within ${MAIL_WAIT_MS} ms`);
  }
}

/** A 4xx as the SDK raises it: the status and WorkOS code, whatever the class. */
function rejectsWith(status, code, Class) {
  return (e) => {
    if (Class) assert.ok(e instanceof Class, `${e?.name}: ${e?.message}`);
    assert.equal(e.status, status, `${e?.name}: ${e?.message}`);
    assert.equal(e.code, code, `${e?.name}: ${e?.message}`);
    assert.ok(e.requestID, 'X-Request-ID must reach the exception');
    return true;
  };
}

describe('users', () => {
  test('create, get, get by external id, update, delete', async () => {
    const um = dev.workos.userManagement;
    const address = email();
    const externalId = unique('ext');
    const user = await um.createUser({
      email: `  ${address.toUpperCase()} `,
      password: 'correct horse battery staple',
      firstName: 'Ada',
      lastName: 'Lovelace',
      emailVerified: true,
      externalId,
      metadata: { tier: 'gold' },
    });
    assert.equal(user.object, 'user');
    assert.match(user.id, USER_ID);
    assert.equal(user.email, address);
    assert.equal(user.firstName, 'Ada');
    assert.equal(user.lastName, 'Lovelace');
    assert.equal(user.emailVerified, true);
    assert.equal(user.externalId, externalId);
    assert.deepEqual(user.metadata, { tier: 'gold' });
    assert.equal(user.lastSignInAt, null);
    assert.match(user.createdAt, TIMESTAMP);

    assert.deepEqual(await um.getUser(user.id), user);
    assert.equal((await um.getUserByExternalId(externalId)).id, user.id);

    const newAddress = email();
    const updated = await um.updateUser({
      userId: user.id,
      email: newAddress,
      firstName: 'Augusta',
      emailVerified: false,
      metadata: { tier: 'silver' },
      password: 'another long passphrase',
    });
    assert.equal(updated.id, user.id);
    assert.equal(updated.email, newAddress);
    assert.equal(updated.firstName, 'Augusta');
    assert.equal(updated.lastName, 'Lovelace');
    assert.equal(updated.emailVerified, false);
    assert.deepEqual(updated.metadata, { tier: 'silver' });
    assert.deepEqual(await um.getUser(user.id), updated);

    await um.deleteUser(user.id);
    await assert.rejects(um.getUser(user.id), rejectsWith(404, 'entity_not_found', NotFoundException));
    await assert.rejects(um.getUserByExternalId(externalId), NotFoundException);
    assert.deepEqual(await usersList({ email: newAddress }), []);
  });

  test('listUsers filters by email and organizationId', async () => {
    const um = dev.workos.userManagement;
    const org = await dev.workos.organizations.createOrganization({ name: unique('org') });
    const users = [];
    for (let i = 0; i < 4; i++) users.push(await um.createUser({ email: email() }));
    for (const u of users.slice(0, 3)) {
      await um.createOrganizationMembership({ userId: u.id, organizationId: org.id });
    }
    assert.deepEqual((await usersList({ email: users[3].email.toUpperCase() })).map((u) => u.id), [users[3].id]);
    const inOrg = await usersList({ organizationId: org.id, order: 'asc' });
    assert.deepEqual(inOrg.map((u) => u.id), users.slice(0, 3).map((u) => u.id));
    const page = await um.listUsers({ organizationId: org.id, order: 'asc', limit: 2 });
    assert.deepEqual(page.data.map((u) => u.id), users.slice(0, 2).map((u) => u.id));
    assert.equal(page.listMetadata.after, users[1].id);
    const rest = await um.listUsers({ organizationId: org.id, order: 'asc', limit: 2, after: page.listMetadata.after });
    assert.deepEqual(rest.data.map((u) => u.id), [users[2].id]);
    assert.equal(rest.listMetadata.after, null);
    assert.deepEqual(await usersList({ organizationId: org.id, email: users[3].email }), []);
  });
});

describe('organization memberships', () => {
  test('create, list, update role, deactivate, reactivate, delete', async () => {
    const um = dev.workos.userManagement;
    const org = await dev.workos.organizations.createOrganization({ name: unique('org') });
    const user = await um.createUser({ email: email() });
    const admin = (await dev.workos.authorization.createEnvironmentRole({ slug: unique('admin'), name: 'Admin' })).slug;

    const m = await um.createOrganizationMembership({ userId: user.id, organizationId: org.id });
    assert.equal(m.object, 'organization_membership');
    assert.match(m.id, OM_ID);
    assert.equal(m.userId, user.id);
    assert.equal(m.organizationId, org.id);
    assert.equal(m.organizationName, org.name);
    assert.equal(m.status, 'active');
    assert.deepEqual(m.role, { slug: 'member' });
    assert.deepEqual(m.roles, [{ slug: 'member' }]);
    assert.equal(m.directoryManaged, false);

    assert.deepEqual(await um.getOrganizationMembership(m.id), m);
    assert.deepEqual((await members({ userId: user.id })).map((x) => x.id), [m.id]);
    assert.deepEqual((await members({ organizationId: org.id })).map((x) => x.id), [m.id]);

    const changed = await um.updateOrganizationMembership(m.id, { roleSlug: admin });
    assert.deepEqual(changed.role, { slug: admin });
    assert.deepEqual(changed.roles, [{ slug: admin }]);

    const inactive = await um.deactivateOrganizationMembership(m.id);
    assert.equal(inactive.status, 'inactive');
    assert.deepEqual(inactive.role, { slug: admin });
    assert.deepEqual(await members({ organizationId: org.id }), [], 'only active by default');
    assert.deepEqual((await members({ organizationId: org.id, statuses: ['inactive'] })).map((x) => x.id), [m.id]);
    assert.deepEqual((await members({ userId: user.id, statuses: ['active', 'inactive'] })).map((x) => x.id), [m.id]);

    const active = await um.reactivateOrganizationMembership(m.id);
    assert.equal(active.status, 'active');
    assert.deepEqual(active.role, { slug: admin }, 'reactivation keeps the role');

    await um.deleteOrganizationMembership(m.id);
    await assert.rejects(um.getOrganizationMembership(m.id), NotFoundException);
    assert.deepEqual(await members({ organizationId: org.id, statuses: ['active', 'inactive', 'pending'] }), []);
  });

  test('several roles through roleSlugs', async () => {
    const org = await dev.workos.organizations.createOrganization({ name: unique('org') });
    const user = await dev.workos.userManagement.createUser({ email: email() });
    const a = (await dev.workos.authorization.createEnvironmentRole({ slug: unique('a'), name: 'A' })).slug;
    const b = (await dev.workos.authorization.createEnvironmentRole({ slug: unique('b'), name: 'B' })).slug;
    const m = await dev.workos.userManagement.createOrganizationMembership({
      userId: user.id, organizationId: org.id, roleSlugs: [a, b],
    });
    assert.deepEqual(slugs(m.roles).sort(), [a, b].sort());
    assert.ok([a, b].includes(m.role.slug));
    const one = await dev.workos.userManagement.updateOrganizationMembership(m.id, { roleSlugs: [b] });
    assert.deepEqual(one.roles, [{ slug: b }]);
    assert.deepEqual(one.role, { slug: b });
  });
});

describe('roles and permissions', () => {
  test('permissions CRUD', async () => {
    const az = dev.workos.authorization;
    const slug = `${unique('posts')}:read`;
    const p = await az.createPermission({ slug, name: 'Read posts', description: 'All posts' });
    assert.equal(p.object, 'permission');
    assert.equal(p.slug, slug);
    assert.equal(p.name, 'Read posts');
    assert.equal(p.description, 'All posts');
    assert.equal(p.system, false);
    assert.deepEqual(await az.getPermission(slug), p);
    const listed = await (await az.listPermissions()).autoPagination();
    assert.ok(listed.some((x) => x.slug === slug));
    const updated = await az.updatePermission(slug, { name: 'Read all posts', description: null });
    assert.equal(updated.name, 'Read all posts');
    assert.equal(updated.description, null);
    await az.deletePermission(slug);
    await assert.rejects(az.getPermission(slug), NotFoundException);
  });

  test('environment roles', async () => {
    const az = dev.workos.authorization;
    const read = (await az.createPermission({ slug: `${unique('d')}:read`, name: 'R' })).slug;
    const write = (await az.createPermission({ slug: `${unique('d')}:write`, name: 'W' })).slug;
    const list = await az.listEnvironmentRoles();
    assert.equal(list.data[0].slug, 'member');
    const slug = unique('editor');
    const role = await az.createEnvironmentRole({ slug, name: 'Editor', description: 'Edits' });
    assert.equal(role.object, 'role');
    assert.equal(role.type, 'EnvironmentRole');
    assert.deepEqual(role.permissions, []);
    assert.deepEqual(await az.getEnvironmentRole(slug), role);
    const renamed = await az.updateEnvironmentRole(slug, { name: 'Editor 2' });
    assert.equal(renamed.name, 'Editor 2');
    assert.equal(renamed.description, 'Edits');
    assert.deepEqual((await az.setEnvironmentRolePermissions(slug, { permissions: [read] })).permissions, [read]);
    const both = await az.addEnvironmentRolePermission(slug, { permissionSlug: write });
    assert.deepEqual([...both.permissions].sort(), [read, write].sort());
    assert.deepEqual((await az.setEnvironmentRolePermissions(slug, { permissions: [] })).permissions, []);
    assert.ok(slugs((await az.listEnvironmentRoles()).data).includes(slug));
  });

  test('organization roles: create, get, list, update, permissions, delete', async () => {
    const az = dev.workos.authorization;
    const org = await dev.workos.organizations.createOrganization({ name: unique('org') });
    const p1 = (await az.createPermission({ slug: `${unique('b')}:manage`, name: 'M' })).slug;
    const p2 = (await az.createPermission({ slug: `${unique('b')}:view`, name: 'V' })).slug;
    const role = await az.createOrganizationRole(org.id, { name: 'Billing Admin' });
    assert.ok(role.slug.startsWith('org-'), role.slug);
    assert.equal(role.type, 'OrganizationRole');
    assert.deepEqual(await az.getOrganizationRole(org.id, role.slug), role);
    const listed = slugs((await az.listOrganizationRoles(org.id)).data);
    assert.ok(listed.includes('member') && listed.includes(role.slug), listed.join());
    const updated = await az.updateOrganizationRole(org.id, role.slug, { name: 'Billing Owner', description: 'Pays' });
    assert.equal(updated.name, 'Billing Owner');
    assert.equal(updated.description, 'Pays');
    assert.deepEqual((await az.setOrganizationRolePermissions(org.id, role.slug, { permissions: [p1] })).permissions, [p1]);
    const added = await az.addOrganizationRolePermission(org.id, role.slug, { permissionSlug: p2 });
    assert.deepEqual([...added.permissions].sort(), [p1, p2].sort());
    await az.removeOrganizationRolePermission(org.id, role.slug, { permissionSlug: p1 });
    assert.deepEqual((await az.getOrganizationRole(org.id, role.slug)).permissions, [p2]);
    await az.deleteOrganizationRole(org.id, role.slug);
    await assert.rejects(az.getOrganizationRole(org.id, role.slug), NotFoundException);
  });

  test('an organization role overrides the environment role of the same slug', async () => {
    const az = dev.workos.authorization;
    const org = await dev.workos.organizations.createOrganization({ name: unique('org') });
    const other = await dev.workos.organizations.createOrganization({ name: unique('org') });
    const read = (await az.createPermission({ slug: `${unique('posts')}:read`, name: 'R' })).slug;
    const del = (await az.createPermission({ slug: `${unique('posts')}:delete`, name: 'D' })).slug;
    const slug = unique('editor');
    await az.createEnvironmentRole({ slug, name: 'Editor' });
    await az.setEnvironmentRolePermissions(slug, { permissions: [read] });
    const user = await dev.workos.userManagement.createUser({ email: email() });
    const here = await dev.workos.userManagement.createOrganizationMembership({ userId: user.id, organizationId: org.id, roleSlug: slug });
    const there = await dev.workos.userManagement.createOrganizationMembership({ userId: user.id, organizationId: other.id, roleSlug: slug });
    const can = async (m, permissionSlug) =>
      (await az.check({ organizationMembershipId: m.id, permissionSlug })).authorized;

    assert.equal(await can(here, read), true);
    assert.equal(await can(here, del), false);

    const override = await az.createOrganizationRole(org.id, { slug, name: 'Editor (org)' });
    assert.equal(override.slug, slug);
    assert.equal(override.type, 'OrganizationRole');
    assert.equal(await can(here, read), false, 'the override has no permissions yet');
    assert.equal(await can(there, read), true, 'other organizations keep the environment role');
    await az.setOrganizationRolePermissions(org.id, slug, { permissions: [del] });
    assert.equal(await can(here, del), true);
    assert.equal(await can(here, read), false);
    assert.equal(await can(there, del), false);
    assert.deepEqual((await az.getEnvironmentRole(slug)).permissions, [read]);
    const orgRoles = (await az.listOrganizationRoles(org.id)).data.filter((r) => r.slug === slug);
    assert.deepEqual(orgRoles.map((r) => r.id), [override.id]);

    // The raw endpoint agrees with the SDK.
    const res = await raw(dev.server, 'POST', `/authorization/organization_memberships/${here.id}/check`, {
      body: { permission_slug: del },
    });
    assert.equal(res.status, 200);
    assert.deepEqual(res.json, { authorized: true });
  });
});

describe('invitations', () => {
  test('send → mail in the dev mailbox → accept → user and membership exist', async () => {
    const um = dev.workos.userManagement;
    const org = await dev.workos.organizations.createOrganization({ name: unique('Invite Org') });
    const inviter = await um.createUser({ email: email() });
    const role = (await dev.workos.authorization.createEnvironmentRole({ slug: unique('guest'), name: 'Guest' })).slug;
    const invitee = email();

    const inv = await um.sendInvitation({
      email: invitee, organizationId: org.id, roleSlug: role, inviterUserId: inviter.id, expiresInDays: 2,
    });
    assert.equal(inv.object, 'invitation');
    assert.match(inv.id, INVITATION_ID);
    assert.equal(inv.state, 'pending');
    assert.equal(inv.organizationId, org.id);
    assert.equal(inv.inviterUserId, inviter.id);
    assert.equal(inv.roleSlug, role);
    assert.equal(inv.acceptedUserId, null);
    assert.ok(inv.acceptInvitationUrl.includes(inv.token));
    const days = (Date.parse(inv.expiresAt) - Date.parse(inv.createdAt)) / 86_400_000;
    assert.ok(Math.abs(days - 2) < 0.01, `expires in ${days} days`);

    const [mail] = await mailTo(invitee);
    assert.equal(mail.to, invitee);
    assert.ok(mail.subject);
    const token = /invitation_token=([A-Za-z0-9_-]+)/.exec(mail.body)?.[1];
    assert.equal(token, inv.token);

    assert.deepEqual(await um.findInvitationByToken(token), inv);
    assert.deepEqual(await um.getInvitation(inv.id), inv);
    const listed = await (await um.listInvitations({ organizationId: org.id })).autoPagination();
    assert.deepEqual(listed.map((i) => i.id), [inv.id]);

    const resent = await um.resendInvitation(inv.id);
    assert.equal(resent.id, inv.id);
    await mailTo(invitee, 2);

    const accepted = await um.acceptInvitation(inv.id);
    assert.equal(accepted.state, 'accepted');
    assert.ok(accepted.acceptedAt);
    const [user] = await usersList({ email: invitee });
    assert.equal(user.id, accepted.acceptedUserId);
    const ms = await members({ userId: user.id });
    assert.equal(ms.length, 1);
    assert.equal(ms[0].organizationId, org.id);
    assert.deepEqual(ms[0].role, { slug: role });
    assert.deepEqual(ms[0].roles, [{ slug: role }]);
    assert.equal(ms[0].status, 'active');

    await assert.rejects(um.acceptInvitation(inv.id), rejectsWith(400, 'invite_not_pending'));
    assert.equal((await members({ organizationId: org.id })).length, 1);
  });

  test('a revoked invitation cannot be accepted', async () => {
    const um = dev.workos.userManagement;
    const org = await dev.workos.organizations.createOrganization({ name: unique('org') });
    const invitee = email();
    const inv = await um.sendInvitation({ email: invitee, organizationId: org.id });
    const revoked = await um.revokeInvitation(inv.id);
    assert.equal(revoked.state, 'revoked');
    assert.ok(revoked.revokedAt);
    await assert.rejects(um.acceptInvitation(inv.id), rejectsWith(400, 'invite_not_pending'));
    assert.deepEqual(await usersList({ email: invitee }), []);
    assert.deepEqual(await members({ organizationId: org.id, statuses: ['active', 'inactive', 'pending'] }), []);
    assert.deepEqual(await um.getInvitation(inv.id), revoked);
  });
});

describe('conflicts and bad input', () => {
  test('a duplicate email is user_creation_error and changes nothing', async () => {
    const um = dev.workos.userManagement;
    const address = email();
    const first = await um.createUser({ email: address, firstName: 'First' });
    const before = await usersList();
    await assert.rejects(um.createUser({ email: address.toUpperCase(), firstName: 'Second' }),
      rejectsWith(400, 'user_creation_error'));
    assert.deepEqual(await usersList(), before);
    assert.equal((await um.getUser(first.id)).firstName, 'First');
  });

  test('a password over 128 characters is password_strength_error', async () => {
    const um = dev.workos.userManagement;
    const before = await usersList();
    for (const length of [129, 600]) {
      const address = email();
      await assert.rejects(um.createUser({ email: address, password: 'p'.repeat(length) }),
        rejectsWith(400, 'password_strength_error'), `length ${length}`);
      assert.deepEqual(await usersList({ email: address }), []);
    }
    assert.deepEqual(await usersList(), before);
    const ok = await um.createUser({ email: email(), password: 'p'.repeat(128) });
    assert.match(ok.id, USER_ID);
  });

  test('an unknown role slug is invalid_role (422) and creates no membership', async () => {
    const org = await dev.workos.organizations.createOrganization({ name: unique('org') });
    const user = await dev.workos.userManagement.createUser({ email: email() });
    await assert.rejects(
      dev.workos.userManagement.createOrganizationMembership({ userId: user.id, organizationId: org.id, roleSlug: 'no-such-role' }),
      rejectsWith(422, 'invalid_role', UnprocessableEntityException),
    );
    assert.deepEqual(await members({ organizationId: org.id, statuses: ['active', 'inactive', 'pending'] }), []);
    const m = await dev.workos.userManagement.createOrganizationMembership({ userId: user.id, organizationId: org.id });
    await assert.rejects(
      dev.workos.userManagement.updateOrganizationMembership(m.id, { roleSlug: 'no-such-role' }),
      rejectsWith(422, 'invalid_role', UnprocessableEntityException),
    );
    assert.deepEqual(await dev.workos.userManagement.getOrganizationMembership(m.id), m);
  });

  test('a membership to a missing organization is a NotFoundException', async () => {
    const user = await dev.workos.userManagement.createUser({ email: email() });
    await assert.rejects(
      dev.workos.userManagement.createOrganizationMembership({ userId: user.id, organizationId: missingId('org') }),
      rejectsWith(404, 'entity_not_found', NotFoundException),
    );
    assert.deepEqual(await members({ userId: user.id, statuses: ['active', 'inactive', 'pending'] }), []);
  });

  test('a duplicate membership is a ConflictException', async () => {
    const org = await dev.workos.organizations.createOrganization({ name: unique('org') });
    const user = await dev.workos.userManagement.createUser({ email: email() });
    await dev.workos.userManagement.createOrganizationMembership({ userId: user.id, organizationId: org.id });
    const before = await members({ organizationId: org.id });
    await assert.rejects(
      dev.workos.userManagement.createOrganizationMembership({ userId: user.id, organizationId: org.id }),
      rejectsWith(409, 'organization_membership_already_exists', ConflictException),
    );
    assert.deepEqual(await members({ organizationId: org.id }), before);
  });

  test('deleting an organization role in use is role_has_assignments', async () => {
    const az = dev.workos.authorization;
    const org = await dev.workos.organizations.createOrganization({ name: unique('org') });
    const role = await az.createOrganizationRole(org.id, { name: unique('Busy') });
    const user = await dev.workos.userManagement.createUser({ email: email() });
    await dev.workos.userManagement.createOrganizationMembership({ userId: user.id, organizationId: org.id, roleSlug: role.slug });
    await assert.rejects(az.deleteOrganizationRole(org.id, role.slug),
      rejectsWith(409, 'role_has_assignments', ConflictException));
    assert.deepEqual(await az.getOrganizationRole(org.id, role.slug), role);
  });
});

describe('events', () => {
  test('every change is visible in GET /events', async () => {
    const um = dev.workos.userManagement;
    const az = dev.workos.authorization;
    const org = await dev.workos.organizations.createOrganization({ name: unique('org') });
    const user = await um.createUser({ email: email() });
    await um.updateUser({ userId: user.id, lastName: 'Evented' });
    const perm = `${unique('ev')}:read`;
    await az.createPermission({ slug: perm, name: 'P' });
    await az.updatePermission(perm, { name: 'P2' });
    const envRole = unique('ev-role');
    await az.createEnvironmentRole({ slug: envRole, name: 'E' });
    await az.updateEnvironmentRole(envRole, { name: 'E2' });
    const orgRole = await az.createOrganizationRole(org.id, { name: unique('OR') });
    await az.updateOrganizationRole(org.id, orgRole.slug, { name: 'OR2' });
    const m = await um.createOrganizationMembership({ userId: user.id, organizationId: org.id });
    await um.updateOrganizationMembership(m.id, { roleSlug: envRole });
    await um.deactivateOrganizationMembership(m.id);
    await um.reactivateOrganizationMembership(m.id);
    await um.deleteOrganizationMembership(m.id);
    await az.deleteOrganizationRole(org.id, orgRole.slug);
    const inv = await um.sendInvitation({ email: email(), organizationId: org.id });
    await um.resendInvitation(inv.id);
    await um.revokeInvitation(inv.id);
    const inv2 = await um.sendInvitation({ email: email(), organizationId: org.id });
    const accepted = await um.acceptInvitation(inv2.id);
    await az.deletePermission(perm);
    await um.deleteUser(user.id);

    const events = await allEvents();
    const subject = (e) => e.data.id ?? e.data.slug;
    const find = (name, id) => events.filter((e) => e.event === name && subject(e) === id);
    assert.equal(find('user.created', user.id).length, 1);
    assert.equal(find('user.updated', user.id).length, 1);
    assert.equal(find('user.deleted', user.id).length, 1);
    assert.equal(find('user.created', accepted.acceptedUserId).length, 1);
    assert.equal(find('organization_membership.created', m.id).length, 1);
    assert.equal(find('organization_membership.updated', m.id).length, 3);
    assert.equal(find('organization_membership.deleted', m.id).length, 1);
    assert.ok(events.some((e) => e.event === 'permission.created' && e.data.slug === perm));
    assert.ok(events.some((e) => e.event === 'permission.updated' && e.data.slug === perm));
    assert.ok(events.some((e) => e.event === 'permission.deleted' && e.data.slug === perm));
    assert.ok(events.some((e) => e.event === 'role.created' && e.data.slug === envRole));
    assert.ok(events.some((e) => e.event === 'role.updated' && e.data.slug === envRole));
    for (const name of ['organization_role.created', 'organization_role.updated', 'organization_role.deleted']) {
      assert.ok(events.some((e) => e.event === name && e.data.slug === orgRole.slug && e.data.organizationId === org.id), name);
    }
    assert.equal(find('invitation.created', inv.id).length, 1);
    assert.equal(find('invitation.resent', inv.id).length, 1);
    assert.equal(find('invitation.revoked', inv.id).length, 1);
    assert.equal(find('invitation.accepted', inv2.id).length, 1);
    assert.equal(find('invitation.accepted', inv2.id)[0].data.acceptedUserId, accepted.acceptedUserId);

    const created = find('organization_membership.created', m.id)[0];
    assert.equal(created.data.userId, user.id);
    assert.equal(created.data.organizationId, org.id);
    const updates = find('organization_membership.updated', m.id);
    assert.deepEqual(updates.map((e) => e.data.status), ['active', 'inactive', 'active']);

    const stamps = events.map((e) => e.createdAt);
    assert.deepEqual(stamps, [...stamps].sort(), 'oldest first');
    const onlyUpdates = await allEvents(['organization_membership.updated'], { organizationId: org.id });
    assert.deepEqual(onlyUpdates.map((e) => e.event), Array(3).fill('organization_membership.updated'));
  });
});
