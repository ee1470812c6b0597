// Audit logs with the official Node SDK: createEvent (with a reused idempotency key),
// a schema and the typed rejection of a violating event, createExport polled with
// getExport until ready, and the CSV behind its signed url fetched with no API key.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { BadRequestException, ConflictException, NotFoundException } from '@workos-inc/node';
import { missingId, unique, useDevServer } from './harness.mjs';

// The columns of an export's CSV, in order (crates/core/src/audit_logs.rs, CSV_COLUMNS).
const CSV_COLUMNS = ['id', 'occurred_at', 'action', 'version', 'actor_id', 'actor_type', 'actor_name',
  'targets', 'location', 'user_agent', 'metadata'];
const EXPORT_WAIT_MS = 20_000;
const POLL_MS = 50;
const HOUR = 60 * 60 * 1000;

const dev = useDevServer();

/** RFC 4180: quoted fields may hold commas, doubled quotes and newlines. */
function parseCsv(text) {
  const rows = [];
  let row = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; i++; }
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') { row.push(field); field = ''; }
    else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(field); rows.push(row); row = []; field = '';
    } else field += c;
  }
  if (field !== '' || row.length) { row.push(field); rows.push(row); }
  const [header, ...records] = rows;
  assert.deepEqual(header, CSV_COLUMNS);
  return records.map((r) => Object.fromEntries(header.map((h, i) => [h, r[i]])));
}

/** Polls getExport until the export leaves pending, bounded by EXPORT_WAIT_MS. */
async function waitReady(created) {
  assert.equal(created.object, 'audit_log_export');
  assert.match(created.id, /^audit_log_export_/);
  assert.equal(created.state, 'pending');
  const deadline = Date.now() + EXPORT_WAIT_MS;
  for (;;) {
    const x = await dev.workos.auditLogs.getExport(created.id);
    assert.equal(x.id, created.id);
    if (x.state !== 'pending') return x;
    if (Date.now() > deadline) assert.fail(`export ${created.id} still pending after ${EXPORT_WAIT_MS} ms`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

/** Creates an export, waits for it, and downloads its CSV rows from the signed url. */
async function exportRows(options) {
  const x = await waitReady(await dev.workos.auditLogs.createExport(options));
  assert.equal(x.state, 'ready');
  assert.ok(x.url.startsWith(`${dev.server.baseUrl}/audit_logs/exports/${x.id}/download?`), x.url);
  const res = await fetch(x.url); // the link is the credential: no API key
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /^text\/csv/);
  return parseCsv(await res.text());
}

const event = (action, actor, at, extra = {}) => ({
  action,
  occurredAt: at,
  actor: { id: actor, type: 'user', name: `Name of ${actor}` },
  targets: [{ id: 'doc_1', type: 'doc', metadata: { size: 3 } }],
  context: { location: '192.0.2.1', userAgent: 'node-e2e' },
  metadata: { reason: 'a, "quoted"\nvalue' },
  ...extra,
});

describe('audit logs', () => {
  test('an export holds exactly the events in range matching the actions filter', async () => {
    const org = await dev.workos.organizations.createOrganization({ name: unique('audit') });
    const other = await dev.workos.organizations.createOrganization({ name: unique('audit-other') });
    const base = Math.floor(Date.now() / 1000) * 1000 - 30 * HOUR;
    const sent = [];
    for (let i = 0; i < 12; i++) {
      const action = ['doc.read', 'doc.written', 'doc.deleted'][i % 3];
      const at = new Date(base + 2 * i * HOUR);
      await dev.workos.auditLogs.createEvent(org.id, event(action, `user_${i % 4}`, at));
      sent.push([at.toISOString(), action, `user_${i % 4}`]);
    }
    await dev.workos.auditLogs.createEvent(other.id, event('doc.read', 'user_0', new Date(base + 5 * HOUR)));

    const rangeStart = new Date(base + 3 * HOUR);
    const rangeEnd = new Date(base + 19 * HOUR);
    const rows = await exportRows({ organizationId: org.id, rangeStart, rangeEnd, actions: ['doc.read', 'doc.deleted'] });
    const want = sent.filter(([at, action]) =>
      at >= rangeStart.toISOString() && at <= rangeEnd.toISOString() && action !== 'doc.written');
    assert.equal(want.length, 6);
    assert.deepEqual(rows.map((r) => [r.occurred_at, r.action, r.actor_id]), want);
    for (const r of rows) {
      assert.match(r.id, /^audit_log_event_/);
      assert.deepEqual([r.version, r.actor_type, r.actor_name], ['', 'user', `Name of ${r.actor_id}`]);
      assert.deepEqual([r.location, r.user_agent], ['192.0.2.1', 'node-e2e']);
      assert.deepEqual(JSON.parse(r.targets), [{ id: 'doc_1', type: 'doc', metadata: { size: 3 } }]);
      assert.deepEqual(JSON.parse(r.metadata), { reason: 'a, "quoted"\nvalue' });
    }
  });

  test('the same idempotency key and body store one event', async () => {
    const org = await dev.workos.organizations.createOrganization({ name: unique('audit-idem') });
    const at = new Date(Date.now() - 10 * 60 * 1000);
    await dev.workos.auditLogs.createEvent(org.id, event('doc.read', 'user_a', at)); // the SDK's own key
    const key = unique('idem');
    const same = event('doc.read', 'user_b', new Date(at.getTime() + 1000));
    await dev.workos.auditLogs.createEvent(org.id, same, { idempotencyKey: key });
    await dev.workos.auditLogs.createEvent(org.id, same, { idempotencyKey: key });
    await dev.workos.auditLogs.createEvent(org.id, same, { idempotencyKey: unique('idem') });
    await assert.rejects(
      dev.workos.auditLogs.createEvent(org.id, event('doc.read', 'user_c', at), { idempotencyKey: key }),
      (e) => e instanceof ConflictException && e.code === 'idempotency_error',
    );
    const rows = await exportRows({
      organizationId: org.id, rangeStart: new Date(at.getTime() - HOUR), rangeEnd: new Date(Date.now() + 60_000),
    });
    assert.deepEqual(rows.map((r) => r.actor_id), ['user_a', 'user_b', 'user_b']);
    assert.notEqual(rows[1].id, rows[2].id);
  });

  test('a schema rejects a violating event with BadRequestException', async () => {
    const org = await dev.workos.organizations.createOrganization({ name: unique('audit-schema') });
    const action = `invoice.${unique('paid').replaceAll('-', '_')}`;
    const schema = await dev.workos.auditLogs.createSchema({
      action,
      actor: { metadata: { role: 'string' } },
      targets: [{ type: 'invoice', metadata: { cost: 'number' } }],
      metadata: { reason: 'string' },
    });
    assert.deepEqual([schema.object, schema.version], ['audit_log_schema', 1]);
    assert.deepEqual(schema.targets, [{ type: 'invoice', metadata: { cost: 'number' } }]);
    assert.deepEqual(schema.actor, { metadata: { role: 'string' } });

    const at = new Date(Date.now() - 5 * 60 * 1000);
    const bad = {
      action,
      occurredAt: at,
      actor: { id: 'user_1', type: 'user', metadata: { role: 5 } },
      targets: [{ id: 'inv_1', type: 'receipt' }],
      context: { location: '192.0.2.1' },
      metadata: { reason: 7 },
    };
    await assert.rejects(dev.workos.auditLogs.createEvent(org.id, bad), (e) => {
      assert.ok(e instanceof BadRequestException, `${e?.name}: ${e?.message}`);
      assert.equal(e.status, 400);
      assert.equal(e.code, 'invalid_audit_log_event');
      assert.equal(e.message, 'Invalid Audit Log event.');
      assert.deepEqual(e.errors.map((x) => x.instancePath).sort(), ['/actor/metadata/role', '/metadata/reason', '/targets/0/type']);
      return true;
    });
    await dev.workos.auditLogs.createEvent(org.id, {
      ...bad,
      actor: { id: 'user_1', type: 'user', metadata: { role: 'admin' } },
      targets: [{ id: 'inv_1', type: 'invoice', metadata: { cost: 12.5 } }],
      metadata: { reason: 'paid' },
    });
    const schemas = await dev.workos.auditLogs.listSchemas(action);
    assert.deepEqual(schemas.data.map((s) => s.version), [1]);
    await assert.rejects(dev.workos.auditLogs.createEvent(missingId('org'), event(action, 'user_1', at)), NotFoundException);

    const rows = await exportRows({
      organizationId: org.id, rangeStart: new Date(at.getTime() - HOUR), rangeEnd: new Date(Date.now() + 60_000),
    });
    assert.deepEqual(rows.map((r) => [r.action, r.version, r.actor_id]), [[action, '1', 'user_1']]);
  });
});
