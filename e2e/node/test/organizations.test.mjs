// Organizations, domains, errors and events through the official Node SDK 11.0.0.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  NotFoundException,
  UnauthorizedException,
  UnprocessableEntityException,
  ConflictException,
} from '@workos-inc/node';
import {
  missingId, raw, sdk, startFakeDns, startServer, unique, uniqueDomain,
} from './harness.mjs';

const ORG_ID = /^org_[0-9A-HJKMNP-TV-Z]{26}$/;
const DOMAIN_ID = /^org_domain_[0-9A-HJKMNP-TV-Z]{26}$/;
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

let dns;
let server;
let workos;

before(async () => {
  dns = await startFakeDns();
  // A zero verification period makes a DNS miss fail at once, so both outcomes are testable.
  server = await startServer('--dev', '--dns-resolver', dns.addr, '--domain-verification-period', '0');
  workos = sdk(server);
});
after(async () => {
  await server?.stop();
  await dns?.close();
});

const domainStates = (org) =>
  Object.fromEntries(org.domains.map((d) => [d.domain, d.state]));

/** For assert.rejects: a ConflictException with the WorkOS code `code`. */
const conflict = (code) => (e) => {
  assert.ok(e instanceof ConflictException, e);
  assert.equal(e.code, code);
  return true;
};

describe('organizations', () => {
  test('create, get, get by external id, update, delete', async () => {
    const verified = uniqueDomain();
    const pending = uniqueDomain();
    const externalId = unique('ext');
    const org = await workos.organizations.createOrganization({
      name: 'Node Corp',
      domainData: [
        { domain: verified, state: 'verified' },
        { domain: pending, state: 'pending' },
      ],
      metadata: { tier: 'diamond' },
      externalId,
    });
    assert.equal(org.object, 'organization');
    assert.match(org.id, ORG_ID);
    assert.equal(org.name, 'Node Corp');
    assert.deepEqual(org.metadata, { tier: 'diamond' });
    assert.equal(org.externalId, externalId);
    assert.deepEqual(domainStates(org), { [verified]: 'verified', [pending]: 'pending' });
    for (const d of org.domains) {
      assert.match(d.id, DOMAIN_ID);
      assert.equal(d.organizationId, org.id);
    }
    assert.match(org.createdAt, TIMESTAMP);
    assert.equal(org.updatedAt, org.createdAt);

    assert.deepEqual(await workos.organizations.getOrganization(org.id), org);
    assert.deepEqual(await workos.organizations.getOrganizationByExternalId(externalId), org);

    const updated = await workos.organizations.updateOrganization({
      organization: org.id,
      name: 'Node Corp 2',
      metadata: { tier: 'gold' },
    });
    assert.equal(updated.id, org.id);
    assert.equal(updated.name, 'Node Corp 2');
    assert.deepEqual(updated.metadata, { tier: 'gold' });
    assert.equal(updated.externalId, externalId);
    assert.deepEqual(domainStates(updated), domainStates(org));
    assert.equal(updated.createdAt, org.createdAt);
    assert.ok(updated.updatedAt >= org.updatedAt);
    assert.deepEqual(await workos.organizations.getOrganization(org.id), updated);

    await workos.organizations.deleteOrganization(org.id);
    await assert.rejects(workos.organizations.getOrganization(org.id), (e) => {
      assert.ok(e instanceof NotFoundException, e);
      assert.equal(e.status, 404);
      assert.equal(e.code, 'entity_not_found');
      assert.equal(e.message, `Organization not found: '${org.id}'.`);
      assert.ok(e.requestID, 'X-Request-ID must reach the exception');
      return true;
    });
    await assert.rejects(
      workos.organizations.getOrganizationByExternalId(externalId),
      NotFoundException,
    );
  });

  test('a bare organization has empty defaults', async () => {
    const org = await workos.organizations.createOrganization({ name: 'Bare' });
    assert.deepEqual(org.domains, []);
    assert.deepEqual(org.metadata, {});
    assert.equal(org.externalId, null);
  });

  test('listOrganizations filters by domains', async () => {
    const d1 = uniqueDomain();
    const o1 = await workos.organizations.createOrganization({
      name: unique(), domainData: [{ domain: d1, state: 'pending' }],
    });
    await workos.organizations.createOrganization({
      name: unique(), domainData: [{ domain: uniqueDomain(), state: 'pending' }],
    });
    const page = await workos.organizations.listOrganizations({ domains: [d1] });
    assert.deepEqual(page.data.map((o) => o.id), [o1.id]);
  });
  test('an Idempotency-Key replays the create; reuse with another body conflicts', async () => {
    const idempotencyKey = unique('idem');
    const name = unique('org');
    const first = await workos.organizations.createOrganization({ name }, { idempotencyKey });
    const again = await workos.organizations.createOrganization({ name }, { idempotencyKey });
    assert.deepEqual(again, first);
    const all = (await workos.organizations.listOrganizations({ limit: 100 })).data;
    assert.deepEqual(all.filter((o) => o.name === name).map((o) => o.id), [first.id]);
    await assert.rejects(
      workos.organizations.createOrganization({ name: unique('other') }, { idempotencyKey }),
      conflict('idempotency_error'),
    );
  });
});

describe('organization domains', () => {
  test('create, get, verify, delete', async () => {
    const org = await workos.organizations.createOrganization({ name: unique() });
    const domain = uniqueDomain();
    const created = await workos.organizationDomains.createOrganizationDomain({
      domain, organizationId: org.id,
    });
    assert.match(created.id, DOMAIN_ID);
    assert.equal(created.object, 'organization_domain');
    assert.equal(created.domain, domain);
    assert.equal(created.organizationId, org.id);
    assert.equal(created.state, 'pending');
    assert.equal(created.verificationStrategy, 'dns');
    assert.ok(created.verificationToken);

    assert.deepEqual(await workos.organizationDomains.getOrganizationDomain(created.id), created);
    const withDomain = await workos.organizations.getOrganization(org.id);
    assert.deepEqual(withDomain.domains.map((d) => d.id), [created.id]);

    // No TXT record yet: verification fails; with it, it succeeds.
    const failed = await workos.organizationDomains.verifyOrganizationDomain(created.id);
    assert.equal(failed.id, created.id);
    assert.equal(failed.state, 'failed');
    dns.setTxt(`${created.verificationPrefix}.${domain}`, created.verificationToken);
    const verified = await workos.organizationDomains.verifyOrganizationDomain(created.id);
    assert.equal(verified.id, created.id);
    assert.equal(verified.state, 'verified');
    assert.equal((await workos.organizationDomains.getOrganizationDomain(created.id)).state, 'verified');

    await workos.organizationDomains.deleteOrganizationDomain(created.id);
    await assert.rejects(
      workos.organizationDomains.getOrganizationDomain(created.id),
      NotFoundException,
    );
    assert.deepEqual((await workos.organizations.getOrganization(org.id)).domains, []);
  });

  test('a taken domain is a ConflictException', async () => {
    const domain = uniqueDomain();
    const a = await workos.organizations.createOrganization({ name: unique() });
    const b = await workos.organizations.createOrganization({ name: unique() });
    await workos.organizationDomains.createOrganizationDomain({ domain, organizationId: a.id });
    await assert.rejects(
      workos.organizationDomains.createOrganizationDomain({ domain, organizationId: b.id }),
      conflict('domain_already_exists'),
    );
  });
});

describe('errors', () => {
  test('a missing organization is a NotFoundException', async () => {
    const id = missingId('org');
    await assert.rejects(workos.organizations.getOrganization(id), (e) => {
      assert.ok(e instanceof NotFoundException, e);
      assert.equal(e.code, 'entity_not_found');
      assert.equal(e.message, `Organization not found: '${id}'.`);
      return true;
    });
    await assert.rejects(
      workos.organizations.updateOrganization({ organization: id, name: 'x' }),
      NotFoundException,
    );
    await assert.rejects(workos.organizations.deleteOrganization(id), NotFoundException);
  });

  test('a wrong API key is an UnauthorizedException and changes nothing', async () => {
    const before = await workos.organizations.listOrganizations({ limit: 100 });
    for (const key of ['sk_test_wrong', 'sk_test_defaultx', 'nonsense']) {
      const bad = sdk(server, key);
      for (const call of [
        () => bad.organizations.listOrganizations(),
        () => bad.organizations.createOrganization({ name: 'never' }),
        () => bad.organizations.getOrganization(before.data[0]?.id ?? missingId('org')),
        () => bad.events.listEvents({ events: ['organization.created'] }),
      ]) {
        await assert.rejects(call(), (e) => {
          assert.ok(e instanceof UnauthorizedException, e);
          assert.equal(e.status, 401);
          assert.ok(e.requestID);
          return true;
        });
      }
    }
    const afterList = await workos.organizations.listOrganizations({ limit: 100 });
    assert.deepEqual(afterList.data.map((o) => o.id), before.data.map((o) => o.id));
  });

  test('invalid input is an UnprocessableEntityException naming the field', async () => {
    const countBefore = (await workos.organizations.listOrganizations({ limit: 100 })).data.length;
    await assert.rejects(workos.organizations.createOrganization({}), (e) => {
      assert.ok(e instanceof UnprocessableEntityException, e);
      assert.equal(e.status, 422);
      assert.equal(e.code, 'invalid_request_parameters');
      // The SDK rebuilds the message from errors[].code.
      assert.match(e.message, /requirement.*\n\trequired\n/s);
      return true;
    });
    await assert.rejects(
      workos.organizations.createOrganization({ name: 42, metadata: 'nope' }),
      UnprocessableEntityException,
    );
    const countAfter = (await workos.organizations.listOrganizations({ limit: 100 })).data.length;
    assert.equal(countAfter, countBefore);
    const r = await raw(server, 'POST', '/organizations', { body: {} });
    assert.equal(r.status, 422);
    assert.deepEqual(r.json, {
      message: 'Validation failed.',
      code: 'invalid_request_parameters',
      errors: [{ field: 'name', code: 'required' }],
    });
  });

  test('unknown routes answer JSON 404, which the SDK maps to NotFoundException', async () => {
    const r = await raw(server, 'GET', '/definitely/not/a/route');
    assert.equal(r.status, 404);
    assert.match(r.headers.get('content-type'), /application\/json/);
    assert.equal(typeof r.json.message, 'string');
    assert.equal(typeof r.json.code, 'string');
    assert.ok(r.headers.get('x-request-id'));
  });
});

describe('events', () => {
  test('each change is listed, oldest first, with typed data', async () => {
    const org = await workos.organizations.createOrganization({ name: 'Evented' });
    await workos.organizations.updateOrganization({ organization: org.id, name: 'Evented 2' });
    const domain = await workos.organizationDomains.createOrganizationDomain({
      domain: uniqueDomain(), organizationId: org.id,
    });
    await workos.organizationDomains.deleteOrganizationDomain(domain.id);
    await workos.organizations.deleteOrganization(org.id);

    const types = [
      'organization.created', 'organization.updated', 'organization.deleted',
      'organization_domain.created', 'organization_domain.deleted',
    ];
    const list = await workos.events.listEvents({ events: types, organizationId: org.id, limit: 100 });
    assert.equal(list.object, 'list');
    const core = list.data
      .filter((e) => e.event !== 'organization.updated')
      .map((e) => [e.event, e.data.id]);
    assert.deepEqual(core, [
      ['organization.created', org.id],
      ['organization_domain.created', domain.id],
      ['organization_domain.deleted', domain.id],
      ['organization.deleted', org.id],
    ]);
    const updated = list.data.find((e) => e.event === 'organization.updated');
    assert.ok(updated, 'the rename must emit organization.updated');
    assert.equal(updated.data.name, 'Evented 2');
    const created = list.data[0];
    assert.equal(created.data.name, 'Evented');
    assert.deepEqual(created.data.domains, []);
    for (const e of list.data) {
      assert.match(e.id, /^event_/);
      assert.match(e.createdAt, TIMESTAMP);
    }
    const stamps = list.data.map((e) => e.createdAt);
    assert.deepEqual(stamps, [...stamps].sort());
    assert.equal(list.listMetadata.after, list.data.at(-1).id);

    const onlyDeleted = await workos.events.listEvents({
      events: ['organization.deleted'], organizationId: org.id,
    });
    assert.deepEqual(onlyDeleted.data.map((e) => e.data.id), [org.id]);

    const tail = await workos.events.listEvents({
      events: types, organizationId: org.id, after: list.data[1].id,
    });
    assert.deepEqual(tail.data.map((e) => e.id), list.data.slice(2).map((e) => e.id));
  });
});

describe('domain verification events', () => {
  test('verified and verification_failed carry the documented payloads', async () => {
    const org = await workos.organizations.createOrganization({ name: unique() });
    const failing = await workos.organizationDomains.createOrganizationDomain({
      domain: uniqueDomain(), organizationId: org.id,
    });
    const passing = await workos.organizationDomains.createOrganizationDomain({
      domain: uniqueDomain(), organizationId: org.id,
    });
    dns.setTxt(`${passing.verificationPrefix}.${passing.domain}`, passing.verificationToken);
    assert.equal((await workos.organizationDomains.verifyOrganizationDomain(failing.id)).state, 'failed');
    assert.equal((await workos.organizationDomains.verifyOrganizationDomain(passing.id)).state, 'verified');

    const list = await workos.events.listEvents({
      events: ['organization_domain.verified', 'organization_domain.verification_failed'],
      organizationId: org.id,
    });
    assert.deepEqual(list.data.map((e) => e.event), [
      'organization_domain.verification_failed', 'organization_domain.verified',
    ]);
    const [failed, verified] = list.data;
    assert.ok(failed.data.reason, 'verification_failed needs a reason');
    assert.equal(failed.data.organizationDomain.id, failing.id);
    assert.equal(failed.data.organizationDomain.state, 'failed');
    assert.equal(verified.data.id, passing.id);
    assert.equal(verified.data.state, 'verified');
  });
});
