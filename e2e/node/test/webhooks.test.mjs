// Webhooks with the official Node SDK: a delivery to a real HTTP server on loopback
// that `workos.webhooks.constructEvent` accepts, and retries after a failing receiver.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { unique, useDevServer } from './harness.mjs';

/** An HTTP server on 127.0.0.1:0 recording POSTs and answering scripted statuses. */
async function startReceiver(script = []) {
  const waiting = [];
  const received = [];
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const status = script.length ? script.shift() : 200;
      const entry = { body: Buffer.concat(chunks).toString('utf8'), signature: req.headers['workos-signature'], status };
      received.push(entry);
      res.writeHead(status).end();
      waiting.splice(0).forEach((wake) => wake());
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${server.address().port}/hook`;
  /** Resolves once `count` requests arrived; rejects after `ms`. */
  const waitFor = (count, ms = 10_000) =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`only ${received.length} of ${count} deliveries arrived`)), ms);
      const check = () => {
        if (received.length >= count) {
          clearTimeout(timer);
          resolve(received.slice(0, count));
        } else {
          waiting.push(check);
        }
      };
      check();
    });
  return { url, received, waitFor, close: () => new Promise((r) => server.close(r)) };
}

const dev = useDevServer();

describe('webhooks', () => {
  test('a delivery is accepted by constructEvent within 2 s', async () => {
    const receiver = await startReceiver();
    try {
      const endpoint = await dev.workos.webhooks.createWebhookEndpoint({ endpointUrl: receiver.url, events: ['organization.created'] });
      assert.match(endpoint.id, /^we_/);
      const org = await dev.workos.organizations.createOrganization({ name: unique() });
      const [delivery] = await receiver.waitFor(1, 2_000);
      const event = await dev.workos.webhooks.constructEvent({ payload: JSON.parse(delivery.body), sigHeader: delivery.signature, secret: endpoint.secret });
      assert.equal(event.event, 'organization.created');
      assert.equal(event.data.id, org.id);
      await assert.rejects(dev.workos.webhooks.constructEvent({ payload: JSON.parse(delivery.body), sigHeader: delivery.signature, secret: 'whsec_wrong' }));
      await dev.workos.webhooks.deleteWebhookEndpoint({ id: endpoint.id });
    } finally {
      await receiver.close();
    }
  });

  test('a receiver answering 500 three times gets exactly one more delivery', async () => {
    const receiver = await startReceiver([500, 500, 500]);
    try {
      const endpoint = await dev.workos.webhooks.createWebhookEndpoint({ endpointUrl: receiver.url, events: ['organization.created'] });
      await dev.workos.organizations.createOrganization({ name: unique() });
      const deliveries = await receiver.waitFor(4);
      assert.deepEqual(deliveries.map((d) => d.status), [500, 500, 500, 200]);
      assert.equal(new Set(deliveries.map((d) => JSON.parse(d.body).id)).size, 1, 'the same event each time');
      await dev.workos.webhooks.deleteWebhookEndpoint({ id: endpoint.id });
    } finally {
      await receiver.close();
    }
  });
});
