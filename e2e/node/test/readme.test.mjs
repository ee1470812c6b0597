// README.md's Node snippet, run as a newcomer pastes it: saved as an ES module beside
// this suite's node_modules and run with its Node against a fresh `--dev` server (only
// the port differs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { useDevServer } from './harness.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const readme = readFileSync(resolve(here, '..', '..', '..', 'README.md'), 'utf8');
const dev = useDevServer();

test('the Node snippet of the README runs', async () => {
  const section = readme.split('## Pointing an SDK at it')[1].split('\n## ')[0];
  const blocks = [...section.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1]);
  assert.equal(blocks.length, 1);
  const script = join(here, '..', `readme-${process.pid}.mjs`);
  writeFileSync(script, blocks[0].replace('port: 4100', `port: ${dev.server.port}`));
  try {
    const { stdout } = await promisify(execFile)(process.execPath, [script], { timeout: 60_000 });
    assert.match(stdout.trim(), /^org_[0-9A-Z]{26}$/);
  } finally {
    rmSync(script, { force: true });
  }
});
