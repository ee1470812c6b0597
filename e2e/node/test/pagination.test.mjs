// Pagination over 250 organizations with the Node SDK, including autoPagination().
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { useDevServer } from './harness.mjs';

const TOTAL = 250;
let created; // ids in creation order
const dev = useDevServer(async ({ workos }) => {
  created = [];
  for (let i = 0; i < TOTAL; i++) {
    const org = await workos.organizations.createOrganization({ name: `Paged ${i}` });
    created.push(org.id);
  }
  assert.equal(new Set(created).size, TOTAL);
});

test('ids sort in creation order', () => {
  assert.deepEqual([...created].sort(), created);
});

// autoPagination() pages with limit 100 and sleeps 350 ms between pages:
// 3 pages here, so about 0.7 s per call.
test('autoPagination ascending returns each organization once, in order', async () => {
  const list = await dev.workos.organizations.listOrganizations({ order: 'asc' });
  assert.equal(list.data.length, 10);
  const all = await list.autoPagination();
  assert.equal(all.length, TOTAL);
  assert.deepEqual(all.map((o) => o.id), created);
});

test('autoPagination with the default order returns newest first', async () => {
  const list = await dev.workos.organizations.listOrganizations();
  const all = await list.autoPagination();
  assert.deepEqual(all.map((o) => o.id), [...created].reverse());
});

test('autoPagination with a limit returns only the first page', async () => {
  const list = await dev.workos.organizations.listOrganizations({ limit: 5, order: 'asc' });
  const all = await list.autoPagination();
  assert.deepEqual(all.map((o) => o.id), created.slice(0, 5));
});

for (const [order, expected] of [['asc', () => created], ['desc', () => [...created].reverse()]]) {
  test(`manual paging with after, order=${order}, limit=100`, async () => {
    const seen = [];
    let cursor;
    let pages = 0;
    do {
      const page = await dev.workos.organizations.listOrganizations({ order, limit: 100, after: cursor });
      pages++;
      seen.push(...page.data.map((o) => o.id));
      if (pages === 1) assert.equal(page.listMetadata.before, null);
      cursor = page.listMetadata.after;
      if (cursor) assert.equal(cursor, page.data.at(-1).id);
    } while (cursor && pages < 10);
    assert.equal(pages, 3);
    assert.deepEqual(seen, expected());
  });
}

test('before pages backwards', async () => {
  const page = await dev.workos.organizations.listOrganizations({
    order: 'asc', limit: 10, before: created[50],
  });
  assert.deepEqual(page.data.map((o) => o.id), created.slice(40, 50));
});
