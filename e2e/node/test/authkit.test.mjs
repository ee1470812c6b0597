// AuthKit sign-in through the official Node SDK 11.0.0 against a real
// `vestibule server --dev`: password, refresh, sealed sessions, organizations,
// sessions and logout, magic auth, the email-verification and MFA steps, lockout.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { WorkOS, AuthenticationException, GenericServerException, OauthException, RateLimitExceededException } from '@workos-inc/node';
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import { DEV_API_KEY, DEV_CLIENT_ID, raw, unique, useDevServer } from './harness.mjs';

const SESSION_ID = /^session_[0-9A-HJKMNP-TV-Z]{26}$/;
const PASSWORD = 'correct horse battery staple';
const COOKIE_PASSWORD = 'a-cookie-password-of-at-least-32-characters!';
const RETURN_ORIGIN = 'http://localhost:8123';

const dev = useDevServer(async (d) => {
  const res = await raw(d.server, 'POST', '/user_management/redirect_uris', { body: { uri: `${RETURN_ORIGIN}/callback` } });
  assert.ok(res.status === 201 || res.status === 200, res.text);
});
const um = () => dev.workos.userManagement;
/** The SDK pointed at the dev server, with extra options. */
const sdkAt = (options) => new WorkOS(DEV_API_KEY, {
  apiHostname: '127.0.0.1', port: dev.server.port, https: false, clientId: DEV_CLIENT_ID, ...options,
});
const email = () => `${unique('authkit')}@example.test`;

async function newUser(extra = {}) {
  const address = email();
  const user = await um().createUser({ email: address, password: PASSWORD, emailVerified: true, ...extra });
  return { ...user, address };
}

const signIn = (address, extra = {}) => um().authenticateWithPassword({ email: address, password: PASSWORD, ...extra });
const sealed = { session: { sealSession: true, cookiePassword: COOKIE_PASSWORD } };

/** The refresh_token grant, raw: status and body. */
const refreshRaw = (refreshToken, extra = {}) => raw(dev.server, 'POST', '/user_management/authenticate', {
  apiKey: null,
  body: { grant_type: 'refresh_token', client_id: DEV_CLIENT_ID, client_secret: DEV_API_KEY, refresh_token: refreshToken, ...extra },
});

async function assertRefreshRefused(refreshToken) {
  const res = await refreshRaw(refreshToken);
  assert.equal(res.status, 400, res.text);
  assert.equal(res.json.error, 'invalid_grant', res.text);
  await assert.rejects(um().authenticateWithRefreshToken({ refreshToken }), (e) => {
    assert.ok(e instanceof OauthException, `${e?.name}: ${e?.message}`);
    assert.equal(e.status, 400);
    assert.equal(e.error, 'invalid_grant');
    return true;
  });
}

/** A step (403) as the SDK raises it. */
function step(code) {
  return (e) => {
    assert.ok(e instanceof AuthenticationException, `${e?.name}: ${e?.message}`);
    assert.equal(e.status, 403);
    assert.equal(e.code, code);
    assert.ok(e.pendingAuthenticationToken, 'pending_authentication_token');
    return true;
  };
}

async function caught(promise) {
  try { await promise; } catch (e) { return e; }
  assert.fail('expected a rejection');
}

function refusedWith(status, code) {
  return (e) => {
    assert.ok(e instanceof GenericServerException, `${e?.name}: ${e?.message}`);
    assert.equal(e.status, status, e.message);
    assert.equal(e.code, code, e.message);
    return true;
  };
}

// --- TOTP (RFC 6238: SHA-1, 6 digits, 30 s) --------------------------------------------
function base32Decode(s) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  const out = [];
  for (const ch of s.replace(/=+$/, '').toUpperCase()) {
    const i = alphabet.indexOf(ch);
    if (i < 0) throw new Error(`not base32: ${ch}`);
    value = ((value << 5) | i) & 0xffff;
    bits += 5;
    if (bits >= 8) { out.push((value >>> (bits - 8)) & 0xff); bits -= 8; }
  }
  return Buffer.from(out);
}
const timeStep = () => Math.floor(Date.now() / 30_000);
function totp(secret, t = timeStep()) {
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(t));
  const h = createHmac('sha1', base32Decode(secret)).update(msg).digest();
  const o = h[h.length - 1] & 0xf;
  return String((h.readUInt32BE(o) & 0x7fffffff) % 1_000_000).padStart(6, '0');
}

describe('password sign-in and sealed sessions', () => {
  test('access token is an RS256 JWT verified at getJwksUrl', async () => {
    const user = await newUser();
    const auth = await signIn(user.address);
    assert.equal(auth.user.id, user.id);
    assert.equal(auth.authenticationMethod, 'Password');
    assert.equal(auth.organizationId, undefined);
    assert.ok(auth.user.lastSignInAt, 'last_sign_in_at set on sign-in');
    assert.match(auth.refreshToken, /^[A-Za-z0-9]{20,}$/);
    const header = decodeProtectedHeader(auth.accessToken);
    assert.equal(header.alg, 'RS256');
    assert.ok(header.kid, 'kid');
    const jwksUrl = um().getJwksUrl(DEV_CLIENT_ID);
    assert.equal(jwksUrl, `${dev.server.baseUrl}/sso/jwks/${DEV_CLIENT_ID}`);
    const { payload } = await jwtVerify(auth.accessToken, createRemoteJWKSet(new URL(jwksUrl)));
    assert.equal(payload.sub, user.id);
    assert.match(payload.sid, SESSION_ID);
    assert.ok(payload.jti);
    assert.equal(payload.exp - payload.iat, 300);
    assert.ok(Math.abs(payload.iat - Date.now() / 1000) < 60);
    assert.ok(payload.auth_time <= payload.iat);
    assert.equal(payload.iss, `${dev.server.baseUrl}/user_management/${DEV_CLIENT_ID}`);
    assert.equal(payload.org_id, undefined);
  });

  test('sealed session: authenticate, authenticateWithSessionCookie, refresh; old refresh token refused', async () => {
    const user = await newUser();
    const auth = await signIn(user.address, sealed);
    assert.ok(auth.sealedSession, 'sealedSession');
    const sid = decodeJwt(auth.accessToken).sid;

    const session = um().loadSealedSession({ sessionData: auth.sealedSession, cookiePassword: COOKIE_PASSWORD });
    const who = await session.authenticate();
    assert.equal(who.authenticated, true, JSON.stringify(who));
    assert.equal(who.sessionId, sid);
    assert.equal(who.user.id, user.id);
    assert.equal(who.authenticationMethod, 'Password');
    assert.equal(who.accessToken, auth.accessToken);

    const cookie = await um().authenticateWithSessionCookie({ sessionData: auth.sealedSession, cookiePassword: COOKIE_PASSWORD });
    assert.equal(cookie.authenticated, true, JSON.stringify(cookie));
    assert.equal(cookie.sessionId, sid);
    assert.equal(cookie.user.id, user.id);

    // The SDK configured with the server's issuer checks `iss` too.
    const strict = sdkAt({ issuer: `${dev.server.baseUrl}/user_management/${DEV_CLIENT_ID}` });
    const strictCookie = await strict.userManagement.authenticateWithSessionCookie({ sessionData: auth.sealedSession, cookiePassword: COOKIE_PASSWORD });
    assert.equal(strictCookie.authenticated, true, JSON.stringify(strictCookie));

    const refreshed = await session.refresh();
    assert.equal(refreshed.authenticated, true, JSON.stringify(refreshed));
    assert.equal(refreshed.sessionId, sid, 'refresh keeps the session');
    assert.equal(refreshed.user.id, user.id);
    assert.equal(refreshed.authenticationMethod, 'Password');
    assert.ok(refreshed.sealedSession && refreshed.sealedSession !== auth.sealedSession);
    assert.notEqual(refreshed.session.refreshToken, auth.refreshToken);
    assert.notEqual(refreshed.session.accessToken, auth.accessToken);
    const again = await um().loadSealedSession({ sessionData: refreshed.sealedSession, cookiePassword: COOKIE_PASSWORD }).authenticate();
    assert.equal(again.authenticated, true);
    assert.equal(again.sessionId, sid);

    await assertRefreshRefused(auth.refreshToken);
    // The SDK's own view of a spent token: a terminal refresh failure.
    const stale = um().loadSealedSession({ sessionData: auth.sealedSession, cookiePassword: COOKIE_PASSWORD });
    assert.deepEqual(await stale.refresh(), { authenticated: false, reason: 'invalid_grant', retryable: false });
  });

  test('wrong password, unknown email: 400 invalid_credentials; form bodies accepted', async () => {
    const user = await newUser();
    await assert.rejects(um().authenticateWithPassword({ email: user.address, password: 'wrong' }), refusedWith(400, 'invalid_credentials'));
    await assert.rejects(um().authenticateWithPassword({ email: email(), password: PASSWORD }), refusedWith(400, 'invalid_credentials'));
    const res = await fetch(`${dev.server.baseUrl}/user_management/authenticate`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'password', client_id: DEV_CLIENT_ID, client_secret: DEV_API_KEY, email: user.address, password: PASSWORD }),
    });
    const body = await res.json();
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.equal(body.user.id, user.id);
  });

  test('lockout: after 10 failures a right password gets 429 with Retry-After', async () => {
    const user = await newUser();
    for (let i = 0; i < 10; i++) {
      await assert.rejects(um().authenticateWithPassword({ email: user.address, password: `wrong-${i}` }), refusedWith(400, 'invalid_credentials'));
    }
    // The SDK retries a 429 (sleeping Retry-After, capped at 60 s, three times): not here.
    const noRetry = sdkAt({ maxRetries: 0 });
    const e = await caught(noRetry.userManagement.authenticateWithPassword({ email: user.address, password: PASSWORD }));
    assert.ok(e instanceof RateLimitExceededException, `${e?.name}: ${e?.message}`);
    assert.equal(e.status, 429);
    assert.ok(e.retryAfter > 0 && e.retryAfter <= 15 * 60, `retryAfter ${e.retryAfter}`);
    const res = await raw(dev.server, 'POST', '/user_management/authenticate', {
      apiKey: null,
      body: { grant_type: 'password', client_id: DEV_CLIENT_ID, client_secret: DEV_API_KEY, email: user.address, password: PASSWORD },
    });
    assert.equal(res.status, 429, res.text);
    assert.ok(Number(res.headers.get('retry-after')) > 0, res.headers.get('retry-after'));
    // Another address is not locked.
    assert.ok((await signIn((await newUser()).address)).accessToken);
  });
});

describe('organizations', () => {
  test('single membership: signed in to it, role and permissions in the access token', async () => {
    const az = dev.workos.authorization;
    const org = await dev.workos.organizations.createOrganization({ name: unique('org') });
    const perm = (await az.createPermission({ slug: `${unique('posts')}:read`, name: 'Read' })).slug;
    const role = unique('reader');
    await az.createEnvironmentRole({ slug: role, name: 'Reader' });
    await az.setEnvironmentRolePermissions(role, { permissions: [perm] });
    const user = await newUser();
    await um().createOrganizationMembership({ userId: user.id, organizationId: org.id, roleSlug: role });

    const auth = await signIn(user.address, sealed);
    assert.equal(auth.organizationId, org.id);
    const claims = decodeJwt(auth.accessToken);
    assert.equal(claims.org_id, org.id);
    assert.equal(claims.role, role);
    assert.deepEqual(claims.roles, [role]);
    assert.deepEqual(claims.permissions, [perm]);

    const who = await um().loadSealedSession({ sessionData: auth.sealedSession, cookiePassword: COOKIE_PASSWORD }).authenticate();
    assert.equal(who.organizationId, org.id);
    assert.equal(who.role, role);
    assert.deepEqual(who.permissions, [perm]);

    const refreshed = await um().authenticateWithRefreshToken({ refreshToken: auth.refreshToken });
    assert.equal(refreshed.organizationId, org.id);
    assert.equal(decodeJwt(refreshed.accessToken).role, role);
  });

  test('two memberships: organization selection, then refresh into the other one', async () => {
    const a = await dev.workos.organizations.createOrganization({ name: unique('org-a') });
    const b = await dev.workos.organizations.createOrganization({ name: unique('org-b') });
    const outsider = await dev.workos.organizations.createOrganization({ name: unique('org-c') });
    const user = await newUser();
    await um().createOrganizationMembership({ userId: user.id, organizationId: a.id });
    await um().createOrganizationMembership({ userId: user.id, organizationId: b.id });

    const e = await caught(signIn(user.address));
    step('organization_selection_required')(e);
    assert.deepEqual(e.rawData.organizations.map((o) => o.id).sort(), [a.id, b.id].sort());
    assert.equal(e.rawData.user.id, user.id);

    const auth = await um().authenticateWithOrganizationSelection({ pendingAuthenticationToken: e.pendingAuthenticationToken, organizationId: a.id });
    assert.equal(auth.organizationId, a.id);
    assert.equal(decodeJwt(auth.accessToken).org_id, a.id);
    assert.equal(decodeJwt(auth.accessToken).role, 'member');
    await assert.rejects(
      um().authenticateWithOrganizationSelection({ pendingAuthenticationToken: e.pendingAuthenticationToken, organizationId: a.id }),
      refusedWith(400, 'invalid_pending_authentication_token'), 'a pending token is single use');

    // Not a member: refused, and the refresh token is not spent.
    const refused = await refreshRaw(auth.refreshToken, { organization_id: outsider.id });
    assert.equal(refused.status, 400, refused.text);
    assert.equal(refused.json.code, 'invalid_organization_id', refused.text);

    const moved = await um().authenticateWithRefreshToken({ refreshToken: auth.refreshToken, organizationId: b.id });
    assert.equal(moved.organizationId, b.id);
    const claims = decodeJwt(moved.accessToken);
    assert.equal(claims.org_id, b.id);
    assert.equal(claims.sid, decodeJwt(auth.accessToken).sid);
    assert.deepEqual(claims.roles, ['member']);
    assert.ok(Array.isArray(claims.permissions));
  });
});

describe('sessions and logout', () => {
  test('listSessions, revokeSession: the revoked session refuses its refresh token', async () => {
    const user = await newUser();
    const first = await signIn(user.address, { userAgent: 'e2e-agent/1', ipAddress: '203.0.113.7' });
    const second = await signIn(user.address);
    const [sid1, sid2] = [first, second].map((a) => decodeJwt(a.accessToken).sid);

    const sessions = await (await um().listSessions(user.id)).autoPagination();
    assert.deepEqual(sessions.map((s) => s.id).sort(), [sid1, sid2].sort());
    const s1 = sessions.find((s) => s.id === sid1);
    assert.equal(s1.object, 'session');
    assert.equal(s1.userId, user.id);
    assert.equal(s1.status, 'active');
    assert.equal(s1.authMethod, 'password');
    assert.equal(s1.userAgent, 'e2e-agent/1');
    assert.equal(s1.ipAddress, '203.0.113.7');
    assert.ok(s1.expiresAt && s1.createdAt);

    assert.equal(await um().revokeSession({ sessionId: sid1 }), undefined);
    await assertRefreshRefused(first.refreshToken);
    const after = await (await um().listSessions(user.id)).autoPagination();
    assert.equal(after.find((s) => s.id === sid1).status, 'revoked');
    assert.ok(after.find((s) => s.id === sid1).endedAt, 'ended_at');
    assert.equal(after.find((s) => s.id === sid2).status, 'active');
    // The other session is untouched.
    const still = await um().authenticateWithRefreshToken({ refreshToken: second.refreshToken });
    assert.equal(decodeJwt(still.accessToken).sid, sid2);
  });

  test('getLogoutUrl: 302 to a registered origin ends the session; a foreign return_to is refused', async () => {
    const user = await newUser();
    const auth = await signIn(user.address, sealed);
    const session = um().loadSealedSession({ sessionData: auth.sealedSession, cookiePassword: COOKIE_PASSWORD });

    const foreign = await session.getLogoutUrl({ returnTo: 'https://evil.example/after' });
    const bad = await fetch(foreign, { redirect: 'manual' });
    assert.equal(bad.status, 422, await bad.text());
    // A refused logout leaves the session open.
    const next = await um().authenticateWithRefreshToken({ refreshToken: auth.refreshToken });

    const returnTo = `${RETURN_ORIGIN}/signed-out?x=1`;
    const url = await session.getLogoutUrl({ returnTo });
    const parsed = new URL(url);
    assert.equal(parsed.pathname, '/user_management/sessions/logout');
    assert.equal(parsed.searchParams.get('session_id'), decodeJwt(auth.accessToken).sid);
    const res = await fetch(url, { redirect: 'manual' });
    assert.equal(res.status, 302, await res.text());
    assert.equal(res.headers.get('location'), returnTo);
    await assertRefreshRefused(next.refreshToken);
  });
});

describe('magic auth', () => {
  test('createMagicAuth then authenticateWithMagicAuth once; the code is single use', async () => {
    const address = email();
    const magic = await um().createMagicAuth({ email: address });
    assert.equal(magic.object, 'magic_auth');
    assert.equal(magic.email, address);
    assert.match(magic.code, /^\d{6}$/);
    assert.ok(magic.userId, 'a user is created for a new address');
    assert.deepEqual((await um().getMagicAuth(magic.id)).id, magic.id);

    const wrong = magic.code === '000000' ? '111111' : '000000';
    await assert.rejects(um().authenticateWithMagicAuth({ email: address, code: wrong }), refusedWith(400, 'invalid_one_time_code'));

    const auth = await um().authenticateWithMagicAuth({ email: address, code: magic.code });
    assert.equal(auth.user.id, magic.userId);
    assert.equal(auth.user.email, address);
    assert.equal(auth.user.emailVerified, true, 'the code proves the address');
    assert.equal(auth.authenticationMethod, 'MagicAuth');
    const [s] = (await um().listSessions(magic.userId)).data;
    assert.equal(s.authMethod, 'magic_code');

    await assert.rejects(um().authenticateWithMagicAuth({ email: address, code: magic.code }), refusedWith(400, 'one_time_code_previously_used'));
  });
});

describe('steps', () => {
  test('email_verification_required, then authenticateWithEmailVerification', async () => {
    const user = await newUser({ emailVerified: false });
    const e = await caught(signIn(user.address));
    step('email_verification_required')(e);
    assert.equal(e.rawData.email, user.address);
    const verification = await um().getEmailVerification(e.rawData.email_verification_id);
    assert.equal(verification.userId, user.id);
    assert.match(verification.code, /^\d{6}$/);
    const auth = await um().authenticateWithEmailVerification({ pendingAuthenticationToken: e.pendingAuthenticationToken, code: verification.code });
    assert.equal(auth.user.id, user.id);
    assert.equal(auth.user.emailVerified, true);
    assert.equal(auth.authenticationMethod, 'Password');
    assert.equal((await um().getUser(user.id)).emailVerified, true);
    // Verified now: a plain password sign-in.
    assert.equal((await signIn(user.address)).user.id, user.id);
  });

  test('TOTP: enroll, mfa_challenge, wrong code refused, right code accepted once', async () => {
    const user = await newUser();
    const { authenticationFactor: factor, authenticationChallenge: enrollChallenge } =
      await dev.workos.multiFactorAuth.createUserAuthFactor({ userId: user.id, type: 'totp' });
    assert.equal(factor.type, 'totp');
    assert.equal(factor.userId, user.id);
    assert.match(factor.totp.secret, /^[A-Z2-7]+=*$/);
    assert.ok(factor.totp.uri.startsWith('otpauth://totp/'), factor.totp.uri);
    assert.equal(new URL(factor.totp.uri).searchParams.get('secret'), factor.totp.secret.replace(/=+$/, ''));
    assert.match(factor.totp.qrCode, /^data:image\//);
    assert.equal(enrollChallenge.authenticationFactorId, factor.id);
    const listed = await (await dev.workos.multiFactorAuth.listUserAuthFactors({ userId: user.id })).autoPagination();
    assert.deepEqual(listed.map((f) => f.id), [factor.id]);

    const e = await caught(signIn(user.address));
    step('mfa_challenge')(e);
    assert.deepEqual(e.rawData.authentication_factors.map((f) => f.id), [factor.id]);
    assert.equal(e.rawData.authentication_factors[0].totp.secret, undefined, 'the secret is shown once');

    const challenge = await dev.workos.multiFactorAuth.challengeFactor({ authenticationFactorId: factor.id });
    assert.equal(challenge.authenticationFactorId, factor.id);
    const base = { pendingAuthenticationToken: e.pendingAuthenticationToken, authenticationChallengeId: challenge.id };

    const t = timeStep();
    const valid = new Set([t - 1, t, t + 1].map((s) => totp(factor.totp.secret, s)));
    let wrong = '123456';
    while (valid.has(wrong)) wrong = String((Number(wrong) + 1) % 1e6).padStart(6, '0');
    await assert.rejects(um().authenticateWithTotp({ ...base, code: wrong }), refusedWith(400, 'invalid_one_time_code'));

    const code = totp(factor.totp.secret);
    const auth = await um().authenticateWithTotp({ ...base, code });
    assert.equal(auth.user.id, user.id);
    assert.equal(auth.authenticationMethod, 'Password');
    assert.match(decodeJwt(auth.accessToken).sid, SESSION_ID);

    // The same code (same time step) does not work twice, neither through a second
    // sign-in nor through the standalone MFA API.
    const e2 = await caught(signIn(user.address));
    step('mfa_challenge')(e2);
    const c2 = await dev.workos.multiFactorAuth.challengeFactor({ authenticationFactorId: factor.id });
    await assert.rejects(
      um().authenticateWithTotp({ pendingAuthenticationToken: e2.pendingAuthenticationToken, authenticationChallengeId: c2.id, code }),
      refusedWith(400, 'invalid_one_time_code'));
    const replay = await dev.workos.multiFactorAuth.verifyChallenge({ authenticationChallengeId: enrollChallenge.id, code });
    assert.equal(replay.valid, false);
    assert.equal(replay.challenge.id, enrollChallenge.id);
  });
});
