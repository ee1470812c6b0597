// OpenID Connect single sign-on (issue 6) against a real OpenID provider: npm's
// `oidc-provider`, run in this process on a loopback port with its development login
// and consent pages. The official Node SDK builds the authorize URL and redeems the
// code; the browser's part (redirects, cookies, the two forms) is done with fetch.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import Provider from 'oidc-provider';
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import { raw, unique, useDevServer } from './harness.mjs';

const REDIRECT_URI = 'http://localhost:8123/callback';
const CLIENT_ID = 'vestibule-rp';
const CLIENT_SECRET = `secret-${unique()}`;

let op;
let opServer;
let connection;

const ACCOUNT = {
  sub: 'user-ada-1',
  email: 'Ada@Example.com',
  email_verified: true,
  given_name: 'Ada',
  family_name: 'Lovelace',
  name: 'Ada Lovelace',
};

async function startProvider(redirectUri) {
  opServer = createServer();
  await new Promise((res) => opServer.listen(0, '127.0.0.1', res));
  const issuer = `http://127.0.0.1:${opServer.address().port}`;
  op = new Provider(issuer, {
    clients: [{
      client_id: CLIENT_ID,
      client_secret: CLIENT_SECRET,
      redirect_uris: [redirectUri],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    }],
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['given_name', 'family_name', 'name'] },
    findAccount: async (_ctx, sub) => ({ accountId: sub, claims: async () => ({ ...ACCOUNT, sub }) }),
    cookies: { keys: [`cookie-key-${unique()}`] },
    pkce: { required: () => true },
  });
  opServer.on('request', op.callback());
  return issuer;
}

/** A tiny browser: a cookie jar per origin, manual redirects, and the provider's forms. */
class Browser {
  constructor() { this.jar = new Map(); }

  cookieHeader(url) {
    const jar = this.jar.get(new URL(url).origin);
    return jar ? [...jar].map(([k, v]) => `${k}=${v}`).join('; ') : '';
  }

  store(url, res) {
    const origin = new URL(url).origin;
    const jar = this.jar.get(origin) ?? new Map();
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const i = pair.indexOf('=');
      jar.set(pair.slice(0, i).trim(), pair.slice(i + 1));
    }
    this.jar.set(origin, jar);
  }

  async request(url, init = {}) {
    const headers = { ...(init.headers ?? {}), cookie: this.cookieHeader(url) };
    const res = await fetch(url, { ...init, headers, redirect: 'manual' });
    this.store(url, res);
    return res;
  }

  /**
   * Follows redirects and submits each form the provider shows (login, then consent)
   * until a redirect leaves for `stopPrefix`; returns that URL.
   */
  async run(url, stopPrefix) {
    for (let i = 0; i < 20; i++) {
      if (url.startsWith(stopPrefix)) return url;
      const res = await this.request(url);
      if (res.status >= 300 && res.status < 400) {
        url = new URL(res.headers.get('location'), url).toString();
        continue;
      }
      const html = await res.text();
      assert.equal(res.status, 200, html.slice(0, 500));
      const form = html.match(/<form[^>]*action="([^"]+)"[^>]*>([\s\S]*?)<\/form>/i);
      assert.ok(form, `no form on ${url}: ${html.slice(0, 300)}`);
      const fields = new URLSearchParams();
      for (const input of form[2].matchAll(/<input[^>]*>/gi)) {
        const name = input[0].match(/name="([^"]+)"/)?.[1];
        if (!name) continue;
        const value = input[0].match(/value="([^"]*)"/)?.[1] ?? '';
        fields.set(name, name === 'login' ? ACCOUNT.sub : name === 'password' ? 'any' : value);
      }
      const action = new URL(form[1].replaceAll('&amp;', '&'), url).toString();
      const post = await this.request(action, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: fields.toString(),
      });
      assert.ok(post.status >= 300 && post.status < 400, `form post answered ${post.status}`);
      url = new URL(post.headers.get('location'), action).toString();
    }
    throw new Error('too many steps at the provider');
  }
}

/** A new organization and its GenericOIDC connection to `issuer` (CLIENT_ID, CLIENT_SECRET): the raw create answer. */
async function createOidcConnection(orgName, name, issuer) {
  const org = await raw(dev.server, 'POST', '/organizations', { body: { name: unique(orgName) } });
  assert.equal(org.status, 201, org.text);
  const created = await raw(dev.server, 'POST', '/connections', {
    body: {
      organization_id: org.json.id,
      connection_type: 'GenericOIDC',
      name,
      oidc: { issuer, client_id: CLIENT_ID, client_secret: CLIENT_SECRET },
    },
  });
  assert.equal(created.status, 201, created.text);
  return created;
}

const dev = useDevServer(async () => {
  // The provider must know our redirect URI, and we its issuer: create the connection
  // first, start the provider for its redirect URI, then point the connection at it.
  const created = await createOidcConnection('oidc-org', 'Test OP', 'https://op.invalid');
  const issuer = await startProvider(created.json.oidc.redirect_uri);
  const patched = await raw(dev.server, 'PATCH', `/connections/${created.json.id}`, { body: { oidc: { issuer } } });
  assert.equal(patched.status, 200, patched.text);
  connection = patched.json;
});

after(async () => {
  await new Promise((res) => (opServer ? opServer.close(res) : res()));
});

async function signIn(state) {
  const url = dev.workos.sso.getAuthorizationUrl({ connection: connection.id, redirectUri: REDIRECT_URI, state, clientId: 'client_test_default' });
  const browser = new Browser();
  const first = await browser.request(url);
  assert.equal(first.status, 302, await first.text());
  const toProvider = first.headers.get('location');
  assert.ok(toProvider.startsWith(connection.oidc.issuer), toProvider);
  const authorize = new URL(toProvider);
  for (const p of ['state', 'nonce', 'code_challenge']) assert.ok(authorize.searchParams.get(p), `${p} is sent`);
  assert.equal(authorize.searchParams.get('code_challenge_method'), 'S256');
  const callback = await browser.run(toProvider, connection.oidc.redirect_uri);
  const back = await browser.request(callback);
  assert.equal(back.status, 302, await back.text());
  return new URL(back.headers.get('location'));
}

describe('OIDC connection with a real provider', () => {
  test('connection shows its redirect URI and hides its secret', () => {
    assert.equal(connection.state, 'active');
    assert.match(connection.oidc.redirect_uri, /\/sso\/oidc\/[A-Za-z0-9]+\/callback$/);
    assert.ok(!JSON.stringify(connection).includes(CLIENT_SECRET));
  });

  test('authorize → provider login → callback → getProfileAndToken → getProfile', async () => {
    const landed = await signIn('node-state-1');
    assert.equal(`${landed.origin}${landed.pathname}`, REDIRECT_URI);
    assert.equal(landed.searchParams.get('state'), 'node-state-1');
    assert.equal(landed.searchParams.get('error'), null, landed.searchParams.get('error_description'));
    const code = landed.searchParams.get('code');
    const { profile, accessToken, oauthTokens } = await dev.workos.sso.getProfileAndToken({ code, clientId: 'client_test_default' });
    assert.match(profile.id, /^prof_/);
    assert.equal(profile.idpId, ACCOUNT.sub);
    assert.equal(profile.email, 'ada@example.com');
    assert.equal(profile.firstName, 'Ada');
    assert.equal(profile.lastName, 'Lovelace');
    assert.equal(profile.connectionId, connection.id);
    assert.equal(profile.connectionType, 'GenericOIDC');
    assert.equal(profile.rawAttributes.given_name, 'Ada');
    assert.ok(oauthTokens?.accessToken, 'the provider access token is passed on');
    const again = await dev.workos.sso.getProfile({ accessToken });
    assert.equal(again.id, profile.id);

    // The access token verifies against the JWKS at the URL the SDK builds, fetched
    // without credentials the way applications do it (jose's remote key set).
    const jwksUrl = dev.workos.userManagement.getJwksUrl('client_test_default');
    assert.equal(jwksUrl, `${dev.server.baseUrl}/sso/jwks/client_test_default`);
    const jwks = createRemoteJWKSet(new URL(jwksUrl));
    const { payload, protectedHeader } = await jwtVerify(accessToken, jwks, {
      algorithms: ['RS256'],
      audience: 'client_test_default',
      issuer: `${dev.server.baseUrl}/user_management/client_test_default`,
    });
    assert.equal(payload.sub, profile.id);
    assert.match(protectedHeader.kid, /^key_/);
    // A changed claim breaks the signature.
    const [head, , sig] = accessToken.split('.');
    const forgedBody = Buffer.from(JSON.stringify({ ...decodeJwt(accessToken), sub: 'prof_forged' })).toString('base64url');
    await assert.rejects(jwtVerify(`${head}.${forgedBody}.${sig}`, jwks), { code: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' });
  });

  test('a state that was never issued is refused without a code', async () => {
    const res = await fetch(`${connection.oidc.redirect_uri}?code=forged&state=never-issued`, { redirect: 'manual' });
    assert.equal(res.status, 400);
    assert.equal(res.headers.get('location'), null);
    const attempts = await raw(dev.server, 'GET', `/connections/${connection.id}/login_attempts`);
    assert.equal(attempts.json.data[0].reason, 'unknown or expired state');
  });

  test('a replayed callback (state already used) is refused', async () => {
    const browser = new Browser();
    const url = dev.workos.sso.getAuthorizationUrl({ connection: connection.id, redirectUri: REDIRECT_URI, state: 's', clientId: 'client_test_default' });
    const first = await browser.request(url);
    const callback = await browser.run(first.headers.get('location'), connection.oidc.redirect_uri);
    const ok = await browser.request(callback);
    assert.equal(ok.status, 302);
    assert.ok(new URL(ok.headers.get('location')).searchParams.get('code'));
    const replay = await browser.request(callback);
    assert.equal(replay.status, 400);
  });
});

describe('OIDC provider URLs follow the outbound target policy', () => {
  test('an issuer on a link-local address (cloud metadata) is never fetched', async () => {
    const created = await createOidcConnection('oidc-ssrf', 'Metadata service', 'http://169.254.169.254/latest');
    const url = dev.workos.sso.getAuthorizationUrl({ connection: created.json.id, redirectUri: REDIRECT_URI, state: 's', clientId: 'client_test_default' });
    const started = Date.now();
    const res = await fetch(url, { redirect: 'manual' });
    assert.equal(res.status, 302, await res.text());
    const back = new URL(res.headers.get('location'));
    assert.equal(`${back.origin}${back.pathname}`, REDIRECT_URI);
    assert.equal(back.searchParams.get('error'), 'connection_invalid');
    // Refused by the policy, not by a connection attempt timing out.
    assert.ok(Date.now() - started < 5000, 'answered without trying to connect');
    const attempts = await raw(dev.server, 'GET', `/connections/${created.json.id}/login_attempts`);
    assert.equal(attempts.status, 200, attempts.text);
    const reason = attempts.json.data[0].reason;
    assert.match(reason, /169\.254\.169\.254.*not allowed.*private or reserved/, reason);
  });
});
