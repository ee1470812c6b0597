// Start and stop a real `vestibule server --dev` for the Node SDK suite.
// Port 0 always; the port comes from the one line the server prints on stdout.
import { spawn } from 'node:child_process';
import { after, before } from 'node:test';
import { createSocket } from 'node:dgram';
import { existsSync, mkdtempSync, readFileSync, openSync, closeSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { randomBytes, randomUUID } from 'node:crypto';
import { WorkOS } from '@workos-inc/node';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, '..', '..', '..');

export const DEV_API_KEY = 'sk_test_default';
export const DEV_CLIENT_ID = 'client_test_default';
const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 10_000;
const LISTENING = /^vestibule listening on (http:\/\/127\.0\.0\.1:(\d+))\s*$/;

export function vestibuleBin() {
  const bin = process.env.VESTIBULE_BIN || join(repoRoot, 'target', 'debug', 'vestibule');
  if (!existsSync(bin)) {
    throw new Error(`vestibule binary not found at ${bin}: run \`cargo build --bin vestibule\` or set VESTIBULE_BIN`);
  }
  return bin;
}

/**
 * A tiny DNS server on 127.0.0.1 (UDP, port 0): TXT records from `records`,
 * NXDOMAIN for any other name. Servers started with it verify domains
 * without leaving the machine.
 */
export async function startFakeDns() {
  const records = new Map();
  const sock = createSocket('udp4');
  sock.on('message', (msg, rinfo) => {
    try {
      if (msg.length < 12 || (msg.readUInt16BE(2) & 0x8000) || msg.readUInt16BE(4) !== 1) return;
      let off = 12;
      const labels = [];
      while (msg[off] !== 0) {
        labels.push(msg.subarray(off + 1, off + 1 + msg[off]).toString('ascii'));
        off += 1 + msg[off];
      }
      off += 1;
      const qtype = msg.readUInt16BE(off);
      const question = msg.subarray(12, off + 4);
      const values = records.get(labels.join('.').toLowerCase());
      const answers = [];
      if (values && qtype === 16) {
        for (const v of values) {
          const data = Buffer.from(v);
          const rdata = Buffer.concat([Buffer.from([data.length]), data]);
          const rr = Buffer.alloc(12);
          rr.writeUInt16BE(0xc00c, 0);
          rr.writeUInt16BE(16, 2);
          rr.writeUInt16BE(1, 4);
          rr.writeUInt32BE(0, 6);
          rr.writeUInt16BE(rdata.length, 10);
          answers.push(rr, rdata);
        }
      }
      const header = Buffer.alloc(12);
      header.writeUInt16BE(msg.readUInt16BE(0), 0);
      header.writeUInt16BE(0x8000 | 0x0400 | 0x0080 | (msg.readUInt16BE(2) & 0x0100) | (values ? 0 : 3), 2);
      header.writeUInt16BE(1, 4);
      header.writeUInt16BE(answers.length / 2, 6);
      sock.send(Buffer.concat([header, question, ...answers]), rinfo.port, rinfo.address);
    } catch {
      // A malformed query gets no answer.
    }
  });
  await new Promise((res) => sock.bind(0, '127.0.0.1', res));
  return {
    addr: `127.0.0.1:${sock.address().port}`,
    setTxt(name, ...values) { records.set(name.toLowerCase(), values); },
    close() { return new Promise((res) => sock.close(res)); },
  };
}

/** Runs `vestibule server ...args --addr 127.0.0.1:0`; resolves once it listens. */
export async function startServer(...args) {
  const logDir = mkdtempSync(join(tmpdir(), 'vestibule-node-e2e-'));
  const stderrPath = join(logDir, 'stderr.log');
  const stderrFd = openSync(stderrPath, 'w');
  const child = spawn(vestibuleBin(), ['server', ...args, '--addr', '127.0.0.1:0'], {
    stdio: ['ignore', 'pipe', stderrFd],
    env: { ...process.env, RUST_BACKTRACE: '1' },
  });
  closeSync(stderrFd);
  const stderr = () => { try { return readFileSync(stderrPath, 'utf8'); } catch { return ''; } };
  const exited = new Promise((res) => child.once('exit', (code, signal) => res({ code, signal })));
  const lines = [];
  const rl = createInterface({ input: child.stdout });
  const listening = new Promise((res, rej) => {
    const timer = setTimeout(() => {
      rej(new Error(`vestibule did not listen within ${START_TIMEOUT_MS} ms; stdout: ${JSON.stringify(lines)}\n${stderr()}`));
    }, START_TIMEOUT_MS);
    rl.on('line', (line) => {
      lines.push(line);
      const m = LISTENING.exec(line);
      if (m) { clearTimeout(timer); res({ baseUrl: m[1], port: Number(m[2]) }); }
    });
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      rej(new Error(`vestibule exited (${code ?? signal}) before listening; stdout: ${JSON.stringify(lines)}\n${stderr()}`));
    });
  });
  let addr;
  try {
    addr = await listening;
  } catch (e) {
    child.kill('SIGKILL');
    throw e;
  }
  let stopped = false;
  return {
    ...addr,
    stdoutLines: lines,
    stderr,
    /** SIGTERM, then SIGKILL after a bounded wait. Throws if it had died on its own. */
    async stop() {
      const diedEarly = child.exitCode !== null || child.signalCode !== null;
      if (!stopped) {
        stopped = true;
        if (!diedEarly) {
          child.kill('SIGTERM');
          let timer;
          const timeout = new Promise((res) => { timer = setTimeout(() => res('timeout'), STOP_TIMEOUT_MS); });
          const outcome = await Promise.race([exited, timeout]);
          clearTimeout(timer);
          if (outcome === 'timeout') {
            child.kill('SIGKILL');
            await exited;
          }
        }
      }
      rl.close();
      const log = stderr();
      rmSync(logDir, { recursive: true, force: true });
      if (diedEarly) throw new Error(`vestibule died during the tests:\n${log.slice(-4000)}`);
    },
  };
}

export function sdk(server, apiKey = DEV_API_KEY) {
  return new WorkOS(apiKey, {
    apiHostname: '127.0.0.1',
    port: server.port,
    https: false,
    clientId: DEV_CLIENT_ID,
    // Default retries kept on purpose: with them the SDK sends an
    // Idempotency-Key on every POST, as it does for real users.
  });
}

/**
 * One `vestibule server --dev` for the calling test file: started in a `before`
 * hook, stopped in an `after` hook. The returned handle's `server` and `workos`
 * (the SDK pointed at it) are set once it listens. `setup(dev)`, when given, runs
 * in that same hook right after: Node runs a file's top-level `before` hooks
 * concurrently, so setup that needs the server cannot be a hook of its own.
 */
export function useDevServer(setup) {
  const dev = { server: undefined, workos: undefined };
  before(async () => {
    dev.server = await startServer('--dev');
    dev.workos = sdk(dev.server);
    await setup?.(dev);
  });
  after(async () => {
    await dev.server?.stop();
  });
  return dev;
}

/** Raw fetch against the server (for checks the SDK cannot express). */
export async function raw(server, method, path, { body, headers = {}, apiKey = DEV_API_KEY } = {}) {
  const res = await fetch(server.baseUrl + path, {
    method,
    headers: {
      ...(apiKey ? { Authorization: `Bearer ${apiKey}` } : {}),
      ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
      ...headers,
    },
    body: body === undefined ? undefined : (typeof body === 'string' ? body : JSON.stringify(body)),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: text ? JSON.parse(text) : null };
}

export const unique = (prefix = 'e2e') => `${prefix}-${randomUUID().slice(0, 12)}`;
export const uniqueDomain = () => `${randomUUID().slice(0, 12)}.vestibule-e2e.test`;

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
/** A well-formed id (prefix + ULID of now) that no server has minted. */
export function missingId(prefix) {
  let ms = Date.now();
  let head = '';
  for (let i = 0; i < 10; i++) { head = CROCKFORD[ms % 32] + head; ms = Math.floor(ms / 32); }
  const tail = [...randomBytes(16)].map((b) => CROCKFORD[b % 32]).join('');
  return `${prefix}_${head}${tail}`;
}
