// End to end with real parts: the release binary (two replicas started at the same moment on a
// fresh PostgreSQL schema), a certified OpenID Provider (npm `oidc-provider`, development
// login and consent pages) and Debian's Chromium driven by playwright-core, with every request
// off this machine blocked. Prints one line per check and exits non-zero on the first failure.
//
//   node e2e/run.mjs   (CODEX_BIN: the binary, default target/release/codex-cloud-backend;
//                       CODEX_E2E_DATABASE_URL: a PostgreSQL database, default
//                       postgres://postgres@127.0.0.1:5432/test; CHROMIUM: the browser)

import { spawn, execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, createWriteStream, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Provider from 'oidc-provider';
import { chromium } from 'playwright-core';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const BIN = process.env.CODEX_BIN ?? join(root, 'target/release/codex-cloud-backend');
const DATABASE = process.env.CODEX_E2E_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const SHOTS = join(root, 'target/e2e');
const PASSWORD = 'correct horse battery staple';
const CLIENT_SECRET = randomBytes(24).toString('hex');
const started = Date.now();
const execFileAsync = promisify(execFile);
const work = mkdtempSync(join(tmpdir(), 'codex-e2e-'));
const children = [];
// The page in use, for a screenshot when a check fails.
const lastPages = [];
let passed = 0;

function check(condition, what, detail = '') {
  if (!condition) {
    throw new Error(`FAILED: ${what}${detail ? `\n${detail}` : ''}`);
  }
  passed += 1;
  console.log(`ok ${passed} - ${what}`);
}

function freePort() {
  return new Promise((done, fail) => {
    const server = createServer();
    server.on('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => done(port));
    });
  });
}

const sleep = (ms) => new Promise((done) => setTimeout(done, ms));

// --- A fresh schema of the PostgreSQL database for this run --------------------------------
const schema = `codex_e2e_${randomBytes(6).toString('hex')}`;
execFileSync('psql', [DATABASE, '-qAtc', `CREATE SCHEMA ${schema}`]);
const databaseUrl = new URL(DATABASE);
databaseUrl.searchParams.set('options', `-c search_path=${schema}`);

// --- The certified provider ----------------------------------------------------------------
const opPort = await freePort();
const ISSUER = `http://127.0.0.1:${opPort}`;
const [portA, portB] = [await freePort(), await freePort()];
// Both replicas send the provider back to B: a login begun on A completes on B.
const REDIRECT_URI = `http://127.0.0.1:${portB}/auth/oidc/callback`;
// Where the provider sends the browser after its end-session page.
const POST_LOGOUT_URI = `http://127.0.0.1:${portB}/signed-out`;

function signingJwk() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = privateKey.export({ format: 'jwk' });
  return { ...jwk, kid: randomBytes(8).toString('hex'), alg: 'RS256', use: 'sig' };
}

let providerServer;
async function startProvider(jwk) {
  const provider = new Provider(ISSUER, {
    clients: [{
      client_id: 'codex',
      client_secret: CLIENT_SECRET,
      redirect_uris: [REDIRECT_URI],
      post_logout_redirect_uris: [POST_LOGOUT_URI],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: 'RS256',
      grant_types: ['authorization_code'],
      response_types: ['code'],
    }],
    jwks: { keys: [jwk] },
    cookies: { keys: [randomBytes(32).toString('hex')] },
    features: { devInteractions: { enabled: true } },
    claims: { openid: ['sub'], email: ['email', 'email_verified'] },
    async findAccount(_ctx, id) {
      return {
        accountId: id,
        async claims() {
          return { sub: id, email: `${id}@example.com`, email_verified: true };
        },
      };
    },
  });
  provider.on('server_error', (_ctx, error) => console.error('provider error:', error));
  await new Promise((done, fail) => {
    providerServer = provider.listen(opPort, '127.0.0.1', done);
    providerServer.once('error', fail);
  });
  return jwk.kid;
}

async function stopProvider() {
  providerServer.closeAllConnections?.();
  await new Promise((done) => providerServer.close(done));
}

// --- The backend ---------------------------------------------------------------------------
function backendEnv(port) {
  return {
    PATH: process.env.PATH,
    RUST_LOG: 'info',
    CODEX_DATABASE_URL: databaseUrl.toString(),
    CODEX_BIND: `127.0.0.1:${port}`,
    CODEX_OIDC_ISSUER: ISSUER,
    CODEX_OIDC_CLIENT_ID: 'codex',
    CODEX_OIDC_CLIENT_SECRET: CLIENT_SECRET,
    CODEX_OIDC_REDIRECT_URI: REDIRECT_URI,
    CODEX_OIDC_POST_LOGOUT_REDIRECT_URI: POST_LOGOUT_URI,
  };
}

function cli(...args) {
  return execFileSync(BIN, args, { env: backendEnv(0), cwd: work, encoding: 'utf8' }).trim();
}

function serve(name, port) {
  const log = createWriteStream(join(work, `${name}.log`));
  const child = spawn(BIN, ['serve'], { env: backendEnv(port), cwd: work, stdio: ['ignore', 'ignore', 'pipe'] });
  child.on('error', (error) => console.error(`${name} could not start: ${error.message}`));
  child.stderr.pipe(log);
  children.push(child);
  child.on('exit', (code, signal) => {
    if (code !== null && code !== 0) console.error(`${name} exited with ${code}; log in ${join(work, `${name}.log`)}`);
    void signal;
  });
  return { name, url: (path) => `http://127.0.0.1:${port}${path}`, log: () => readFileSync(join(work, `${name}.log`), 'utf8') };
}

async function ready(replica) {
  for (let i = 0; i < 300; i += 1) {
    try {
      const response = await fetch(replica.url('/readyz'));
      if (response.status === 200) return;
    } catch { /* not listening yet */ }
    await sleep(100);
  }
  throw new Error(`${replica.name} not ready:\n${replica.log()}`);
}

async function api(replica, method, path, { token, body } = {}) {
  const headers = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (body) headers['content-type'] = 'application/json';
  const response = await fetch(replica.url(path), { method, headers, body: body && JSON.stringify(body) });
  const text = await response.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: response.status, json, text };
}

// --- The browser ---------------------------------------------------------------------------
const offMachine = [];
async function newContext(browser) {
  const context = await browser.newContext();
  await context.route('**/*', (route) => {
    const { hostname } = new URL(route.request().url());
    if (hostname === '127.0.0.1' || hostname === 'localhost') return route.continue();
    offMachine.push(route.request().url());
    return route.abort();
  });
  return context;
}

/// Begins a provider login at `begin`, signs in at the provider as `login`, consents, and
/// returns the page where the browser lands and the callback's status.
async function providerLogin(context, begin, login) {
  const page = await context.newPage();
  lastPages.splice(0, lastPages.length, page);
  let callbackStatus = null;
  let callbackUrl = null;
  page.on('response', (response) => {
    if (response.url().startsWith(REDIRECT_URI)) {
      callbackStatus = response.status();
      callbackUrl = new URL(response.url());
    }
  });
  await page.goto(begin);
  await page.waitForSelector('input[name="login"]');
  await page.fill('input[name="login"]', login);
  await page.fill('input[name="password"]', 'any password');
  await Promise.all([page.waitForNavigation(), page.click('button[type="submit"]')]);
  if (!page.url().startsWith(`http://127.0.0.1:${portB}`)) {
    // The consent page: one submit button.
    await Promise.all([page.waitForNavigation(), page.click('button[type="submit"]')]);
  }
  await page.waitForLoadState('load');
  return { page, callbackStatus, callbackUrl };
}

/// A same-origin `fetch` by the browser, as a page of the service makes it (from `/docs`: API
/// answers forbid every load and connection by their Content-Security-Policy).
async function pageFetch(page, method, path) {
  if (!page.url().endsWith('/docs')) {
    await page.goto(new URL('/docs', page.url()).toString());
  }
  return page.evaluate(async ([m, p]) => {
    const response = await fetch(p, { method: m });
    return { status: response.status, body: await response.text() };
  }, [method, path]);
}

async function main() {
  const firstKid = await startProvider(signingJwk());
  check(true, `oidc-provider at ${ISSUER} (first signing key ${firstKid})`);

  // Two replicas at the same moment on the empty schema: migrations and the first signing key
  // race, and both must come up with one key between them.
  const a = serve('replica-a', portA);
  const b = serve('replica-b', portB);
  await Promise.all([ready(a), ready(b)]);
  check(true, `two replicas started at once on the empty PostgreSQL schema ${schema} are ready`);
  const keys = cli('list-signing-keys').split('\n').slice(1).map((line) => line.split(/\s+/)[1]);
  check(keys.length === 1 && keys[0] === 'active', `they share one signing key (${keys.join(', ')})`);

  const alice = cli('create-admin', 'alice@example.com', PASSWORD);
  cli('link-identity', '--issuer', ISSUER, '--subject', 'alice', '--user-id', alice, '--email', 'alice@example.com');
  check(/^[0-9a-f-]{36}$/.test(alice), `link-identity linked the provider's account "alice" to ${alice}`);
  // Asynchronously: the provider answers from this very process.
  let report;
  try {
    const { stdout } = await execFileAsync(BIN, ['oidc-check', '--json'], { env: backendEnv(0), cwd: work });
    report = JSON.parse(stdout);
  } catch (error) {
    throw new Error(`FAILED: oidc-check against oidc-provider\n${error.stdout ?? error}`);
  }
  const counts = report.checks.reduce((c, f) => ({ ...c, [f.outcome]: (c[f.outcome] ?? 0) + 1 }), {});
  check(report.ok && !JSON.stringify(report).includes(CLIENT_SECRET),
    `oidc-check passes against oidc-provider (${JSON.stringify(counts)}) and never shows the secret`);

  // Replicas share every state.
  const login = await api(a, 'POST', '/auth/login', { body: { email: 'alice@example.com', password: PASSWORD } });
  check(login.status === 200, 'password login on A', login.text);
  const token = login.json.access_token;
  check((await api(b, 'GET', '/auth/me', { token })).status === 200, 'a token from A works on B');
  const created = await api(a, 'POST', '/admin/users', { token, body: { email: 'carol@example.com', password: PASSWORD } });
  check(created.status === 201, 'a user created through A', created.text);
  const carol = await api(b, 'POST', '/auth/login', { body: { email: 'carol@example.com', password: PASSWORD } });
  check(carol.status === 200, 'logs in on B', carol.text);
  check((await api(a, 'POST', '/auth/logout', { token })).status === 204, 'logout on A');
  check((await api(a, 'GET', '/auth/me', { token })).status === 401, 'the logged-out token is refused on A at once');
  // B trusts a session it read for under a second.
  const loggedOut = Date.now();
  let onB = 200;
  while (onB === 200 && Date.now() - loggedOut < 1500) {
    onB = (await api(b, 'GET', '/auth/me', { token })).status;
    if (onB === 200) await sleep(20);
  }
  const after = Date.now() - loggedOut;
  check(onB === 401 && after <= 1000, `and on B within a second (${after} ms)`);

  mkdirSync(SHOTS, { recursive: true });
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-quic'],
  });
  try {
    // A linked account: begun on A, completed on B, lands on return_to with the session cookie.
    const context = await newContext(browser);
    const { page, callbackStatus, callbackUrl } = await providerLogin(context, a.url('/auth/oidc/login?return_to=/some/page'), 'alice');
    check(callbackUrl?.searchParams.get('iss') === ISSUER, 'the provider calls back with an RFC 9207 iss');
    check(callbackStatus === 303, `the login begun on A completes at B's callback: 303 (got ${callbackStatus})`, b.log());
    check(page.url() === b.url('/some/page'), `the browser lands on /some/page (${page.url()})`);
    const cookies = await context.cookies();
    check(cookies.some((c) => c.name === 'codex_session' && c.httpOnly), 'with the HttpOnly codex_session cookie');
    await page.screenshot({ path: join(SHOTS, 'oidc-landing.png'), fullPage: true });
    const me = await page.goto(b.url('/auth/me'));
    const meBody = await me.text();
    check(me.status() === 200 && JSON.parse(meBody).id === alice, '/auth/me (the cookie) answers as the linked user', meBody);

    // Logout through the cookie (same origin), then /auth/me is 401.
    const logout = await pageFetch(page, 'POST', '/auth/logout');
    check(logout.status === 204, 'logout from the page', logout.body);
    check((await pageFetch(page, 'GET', '/auth/me')).status === 401, '/auth/me after logout is 401');
    await context.close();

    // An account the provider knows but nobody linked.
    const bobContext = await newContext(browser);
    const bob = await providerLogin(bobContext, a.url('/auth/oidc/login'), 'bob');
    const bobBody = await bob.page.evaluate(() => document.body.innerText);
    check(bob.callbackStatus === 403 && bobBody.includes('identity_not_linked'), 'an unlinked account gets 403 identity_not_linked', bobBody);
    await bobContext.close();

    // The provider rotates its signing key (restarted with a new one): the next login works.
    await stopProvider();
    const secondKid = await startProvider(signingJwk());
    const rotated = await newContext(browser);
    const again = await providerLogin(rotated, b.url('/auth/oidc/login?return_to=/after/rotation'), 'alice');
    check(again.callbackStatus === 303 && again.page.url() === b.url('/after/rotation'),
      `after the provider rotated to key ${secondKid} the next login works`, b.log());
    await rotated.close();

    // An invitation opened in the browser links the provider's account "dave" to the invited
    // user and logs in.
    const admin = (await api(b, 'POST', '/auth/login', { body: { email: 'alice@example.com', password: PASSWORD } })).json.access_token;
    const dave = await api(a, 'POST', '/admin/users', { token: admin, body: { email: 'dave@example.com' } });
    const invitation = await api(a, 'POST', `/admin/users/${dave.json.id}/invitations`, { token: admin });
    check(invitation.status === 201 && invitation.json.url.startsWith(b.url('/auth/oidc/login?invitation=')),
      `an invitation for dave (an identity-only user) on the public origin: ${invitation.json?.url?.replace(/=.*/, '=…')}`, invitation.text);
    const invited = await newContext(browser);
    const daveLogin = await providerLogin(invited, invitation.json.url, 'dave');
    check(daveLogin.callbackStatus === 303 && daveLogin.page.url() === b.url('/'),
      `the invitation link, opened as issued, logs in through the provider and lands on / (${daveLogin.page.url()})`, b.log());
    const daveMe = await pageFetch(daveLogin.page, 'GET', '/auth/me');
    check(daveMe.status === 200 && JSON.parse(daveMe.body).id === dave.json.id, 'as dave, by the session cookie', daveMe.body);
    const spent = await api(a, 'GET', `/admin/users/${dave.json.id}/invitations`, { token: admin });
    check(spent.json?.[0]?.status === 'spent', 'the invitation is spent', spent.text);
    const reopened = await api(a, 'GET', new URL(invitation.json.url).pathname + new URL(invitation.json.url).search);
    check(reopened.status === 400 && reopened.json?.code === 'invalid_invitation', 'and its URL is refused before any redirect', reopened.text);

    // Signed in, dave links a second provider account, "dave-work": the link asks the provider
    // for a fresh login (prompt=login), so it asks who is signing in although dave is signed in
    // there.
    const linked = await providerLogin(invited, b.url('/auth/oidc/link?return_to=/linked'), 'dave-work');
    check(linked.callbackStatus === 303 && linked.page.url() === b.url('/linked'),
      `a signed-in user links a second identity through /auth/oidc/link (${linked.page.url()})`, b.log());
    const own = await pageFetch(linked.page, 'GET', '/auth/identities');
    const subjects = JSON.parse(own.body).map((identity) => identity.subject).sort();
    check(own.status === 200 && subjects.join() === 'dave,dave-work', `GET /auth/identities lists both (${subjects.join(', ')})`, own.body);

    // Provider logout: the Codex session ends and the browser lands on the provider's
    // end-session page, which accepted our id_token_hint; confirming there returns to the
    // registered post-logout URI.
    const logoutPage = linked.page;
    let endSessionRequest = null;
    logoutPage.on('request', (request) => {
      if (request.url().startsWith(`${ISSUER}/session/end`)) endSessionRequest = new URL(request.url());
    });
    await logoutPage.goto(b.url('/auth/oidc/logout'));
    await logoutPage.waitForLoadState('load');
    const endSession = new URL(logoutPage.url());
    const endSessionText = await logoutPage.evaluate(() => document.body.innerText);
    await logoutPage.screenshot({ path: join(SHOTS, 'provider-logout.png'), fullPage: true });
    check(endSession.origin === ISSUER && /sign-out/i.test(endSessionText) && await logoutPage.locator('#op\\.logoutForm').count() === 1,
      `provider logout lands on the provider's end-session page (${endSession.origin}${endSession.pathname})`, endSessionText);
    const hint = endSessionRequest?.searchParams.get('id_token_hint') ?? '';
    const hintPayload = JSON.parse(Buffer.from(hint.split('.')[1] ?? '', 'base64url').toString() || '{}');
    check(hintPayload.sub === 'dave' && hintPayload.aud === 'codex' && endSessionRequest.searchParams.get('post_logout_redirect_uri') === POST_LOGOUT_URI,
      `with the ID token of the login that started the session as id_token_hint (sub ${hintPayload.sub}) and the post-logout URI`, endSessionRequest?.toString());
    const afterLogout = await invited.cookies();
    check(!afterLogout.some((c) => c.name === 'codex_session' && c.value), 'the codex_session cookie is cleared');
    await Promise.all([logoutPage.waitForNavigation(), logoutPage.click('button[name="logout"]')]);
    check(logoutPage.url() === POST_LOGOUT_URI, `confirming there lands on CODEX_OIDC_POST_LOGOUT_REDIRECT_URI (${logoutPage.url()})`);
    const daveAfter = await pageFetch(logoutPage, 'GET', '/auth/me');
    check(daveAfter.status === 401, 'and the Codex session has ended', daveAfter.body);
    await invited.close();

    // Swagger UI: loads with no console error and nothing off the machine, Authorize takes a
    // bearer token, and Try it out on /auth/me shows 200 with the user.
    const fresh = await api(b, 'POST', '/auth/login', { body: { email: 'alice@example.com', password: PASSWORD } });
    const docsContext = await newContext(browser);
    const docs = await docsContext.newPage();
    lastPages.splice(0, lastPages.length, docs);
    const consoleErrors = [];
    docs.on('console', (message) => { if (message.type() === 'error') consoleErrors.push(`${message.text()} ${message.location().url ?? ''}`.trim()); });
    docs.on('pageerror', (error) => consoleErrors.push(String(error)));
    const before = offMachine.length;
    await docs.goto(b.url('/docs'));
    await docs.waitForSelector('.swagger-ui .opblock', { timeout: 20000 });
    await docs.click('button.authorize');
    await docs.fill('input[aria-label="auth-bearer-value"]', fresh.json.access_token);
    await docs.click('form:has(input[aria-label="auth-bearer-value"]) button[type="submit"]');
    await docs.click('.modal-ux button.close-modal');
    await docs.click('#operations-Auth-getCurrentUser .opblock-summary');
    await docs.click('#operations-Auth-getCurrentUser button.try-out__btn');
    await docs.click('#operations-Auth-getCurrentUser button.execute');
    const live = docs.locator('#operations-Auth-getCurrentUser .live-responses-table tbody');
    await live.waitFor({ timeout: 10000 });
    const shown = (await live.locator('.response-col_status').first().innerText()).trim();
    const responseBody = await live.innerText();
    const screenshot = join(SHOTS, 'swagger-ui.png');
    await docs.screenshot({ path: screenshot, fullPage: true });
    check(shown === '200' && responseBody.includes('alice@example.com'), `Swagger UI "Try it out" on /auth/me shows 200 with the user (screenshot ${screenshot})`, responseBody);

    // "Try it out" on every other operation that takes a bearer token: the token goes with the
    // request and the answer shown is the server's, never a refused token (for the link, the
    // provider's URL as JSON: Swagger UI asks for JSON). Path parameters name a user made for
    // this; logout, which ends the token's session, goes last.
    const target = await api(b, 'POST', '/admin/users', { token: fresh.json.access_token, body: { email: 'swagger-target@example.com' } });
    const spec = (await api(b, 'GET', '/openapi.json')).json;
    const last = { logout: 1 };
    const bearerOps = Object.entries(spec.paths)
      .flatMap(([path, ops]) => Object.entries(ops).map(([method, op]) => ({ path, method, op })))
      .filter(({ op }) => (op.security ?? []).some((s) => 'BearerToken' in s) && op.operationId !== 'getCurrentUser')
      .sort((x, y) => (last[x.op.operationId] ?? 0) - (last[y.op.operationId] ?? 0));
    const values = {
      user_id: target.json?.id, session_id: '00000000-0000-4000-8000-000000000000',
      invitation_id: '00000000-0000-4000-8000-000000000000', issuer: 'https://op.example', subject: 'nobody', return_to: '/',
    };
    const answeredUrls = new Set();
    for (const { path, method, op } of bearerOps) {
      const block = `#operations-${op.tags[0]}-${op.operationId}`;
      await docs.click(`${block} .opblock-summary`);
      await docs.click(`${block} button.try-out__btn`);
      for (const parameter of op.parameters ?? []) {
        if (parameter.name in values) await docs.fill(`${block} tr[data-param-name="${parameter.name}"] input`, values[parameter.name]);
      }
      const template = new RegExp(`^${path.replace(/\{[^}]+\}/g, '[^/]+')}$`);
      const answered = docs.waitForResponse((r) => r.request().method() === method.toUpperCase() && template.test(new URL(r.url()).pathname), { timeout: 10000 });
      await docs.click(`${block} button.execute`);
      const response = await answered;
      answeredUrls.add(response.url());
      const sent = response.request().headers().authorization ?? '';
      const status = response.status();
      const live = docs.locator(`${block} .live-responses-table tbody`);
      await live.waitFor({ timeout: 10000 });
      const shownStatus = (await live.locator('.response-col_status').first().innerText()).trim();
      const code = (await response.json().catch(() => ({}))).code ?? '';
      check(shownStatus === String(status), `Swagger UI shows the server's ${status} for ${method.toUpperCase()} ${path}`, shownStatus);
      check(sent === `Bearer ${fresh.json.access_token}` && code !== 'invalid_token',
        `Swagger UI "Try it out" on ${method.toUpperCase()} ${path} sends the bearer token and is answered ${status}${code ? ` ${code}` : ''}`, `${sent.slice(0, 20)}… ${code}`);
    }
    // The browser logs every 4xx it fetches ("Failed to load resource"): those are the answers
    // checked above, not errors of the page.
    const pageErrors = consoleErrors.filter((e) => !(/^Failed to load resource: the server responded with a status of 4\d\d/.test(e) && answeredUrls.has(e.split(' ').pop())));
    check(pageErrors.length === 0, 'Swagger UI logs no console error of its own', pageErrors.join('\n'));
    check(offMachine.length === before, 'Swagger UI requests nothing off this machine', offMachine.slice(before).join('\n'));
    await docsContext.close();
  } catch (error) {
    // The page as it was when the check failed.
    const path = join(SHOTS, 'failure.png');
    for (const page of lastPages) {
      await page.screenshot({ path, fullPage: true }).then(() => console.error(`screenshot ${path}`), () => {});
    }
    throw error;
  } finally {
    await browser.close();
  }
  console.log(`# ${passed} checks passed in ${((Date.now() - started) / 1000).toFixed(1)} s; screenshots in ${SHOTS}`);
}

// Whatever happens, no replica outlives this process.
process.on('exit', () => children.forEach((child) => child.kill('SIGKILL')));

async function stopReplicas() {
  await Promise.all(children.map((child) => new Promise((done) => {
    if (child.exitCode !== null || child.signalCode !== null) return done();
    const timer = setTimeout(() => { child.kill('SIGKILL'); done(); }, 10000);
    child.once('exit', () => { clearTimeout(timer); done(); });
    child.kill('SIGTERM');
  })));
}

let failed = false;
try {
  await main();
} catch (error) {
  failed = true;
  console.error(error.message ?? error);
  console.error(`logs in ${work}`);
} finally {
  await stopReplicas();
  if (providerServer) await stopProvider().catch(() => {});
  try { execFileSync('psql', [DATABASE, '-qAtc', `DROP SCHEMA ${schema} CASCADE`], { stdio: 'ignore' }); } catch { /* best effort */ }
  if (!failed) rmSync(work, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
