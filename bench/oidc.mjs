// The provider figures of bench/run.sh: a local OpenID Provider stand-in (discovery, authorize,
// token and JWKS endpoints; real RS256 ID tokens signed with node:crypto) and a client that
// drives the backend through it. Node 20, no packages.
//
//   node bench/oidc.mjs provider <port>                 serve the stand-in until killed
//   node bench/oidc.mjs measure <backend> <provider> <server pid> <healthz req/s> <logins>
//   node bench/oidc.mjs server-time <backend> <provider> <server log> <logins>
//
// `measure` prints one JSON line: P4 (JWKS fetches for 100 concurrent callbacks on a cold
// cache, and for 100 ID tokens under an unknown kid), P5 as this client sees it (p50 of the
// callback's round trip less the token endpoint's time), P9 (sequential provider logins per
// second, and server CPU per login). `server-time` prints P5 by the server's own clock: the p50
// of each callback's `elapsed_ms` in the server's access log (JSON lines, `RUST_LOG=info`),
// found by its `x-request-id`, less the token endpoint's time. That still counts the token
// request's trip over loopback and through the stand-in's HTTP server: an upper bound of the
// time inside the server's middleware stack.
import { Agent, createServer, request } from 'node:http';
import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';

const CLIENT_ID = 'bench';
const CLIENT_SECRET = 'bench-secret';
const SUBJECT = 'bench-user';
const b64url = (data) => Buffer.from(data).toString('base64url');

function newKey() {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const kid = randomBytes(8).toString('hex');
  return { kid, privateKey, jwk: { ...publicKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' } };
}

function provider(port) {
  const issuer = `http://127.0.0.1:${port}`;
  let key = newKey();
  const codes = new Map();
  const stats = { jwks: 0, tokenMs: new Map() };
  const server = createServer((req, res) => {
    const url = new URL(req.url, issuer);
    const json = (status, body) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (url.pathname === '/.well-known/openid-configuration') {
      return json(200, {
        issuer,
        authorization_endpoint: `${issuer}/authorize`,
        token_endpoint: `${issuer}/token`,
        jwks_uri: `${issuer}/jwks`,
        response_types_supported: ['code'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: ['RS256'],
        token_endpoint_auth_methods_supported: ['client_secret_basic'],
        code_challenge_methods_supported: ['S256'],
      });
    }
    if (url.pathname === '/jwks') {
      stats.jwks += 1;
      return json(200, { keys: [key.jwk] });
    }
    if (url.pathname === '/authorize') {
      const code = randomBytes(16).toString('hex');
      codes.set(code, url.searchParams.get('nonce'));
      const back = new URL(url.searchParams.get('redirect_uri'));
      back.searchParams.set('code', code);
      back.searchParams.set('state', url.searchParams.get('state'));
      res.writeHead(302, { location: back.toString() });
      return res.end();
    }
    if (url.pathname === '/token' && req.method === 'POST') {
      const started = process.hrtime.bigint();
      let body = '';
      req.on('data', (chunk) => { body += chunk; });
      req.on('end', () => {
        const form = new URLSearchParams(body);
        const code = form.get('code');
        const basic = Buffer.from((req.headers.authorization ?? '').replace(/^Basic /, ''), 'base64').toString();
        if (basic !== `${CLIENT_ID}:${CLIENT_SECRET}` || !codes.has(code)) {
          return json(400, { error: codes.has(code) ? 'invalid_client' : 'invalid_grant' });
        }
        const nonce = codes.get(code);
        codes.delete(code);
        const now = Math.floor(Date.now() / 1000);
        const header = b64url(JSON.stringify({ alg: 'RS256', typ: 'JWT', kid: key.kid }));
        const claims = b64url(JSON.stringify({ iss: issuer, sub: SUBJECT, aud: CLIENT_ID, iat: now, exp: now + 300, nonce }));
        const signature = sign('sha256', Buffer.from(`${header}.${claims}`), key.privateKey).toString('base64url');
        json(200, { access_token: randomBytes(16).toString('hex'), token_type: 'Bearer', expires_in: 300, id_token: `${header}.${claims}.${signature}` });
        stats.tokenMs.set(code, Number(process.hrtime.bigint() - started) / 1e6);
      });
      return undefined;
    }
    if (url.pathname === '/stats') return json(200, { jwks: stats.jwks });
    if (url.pathname === '/rotate' && req.method === 'POST') {
      key = newKey();
      stats.jwks = 0;
      return json(200, { kid: key.kid });
    }
    if (url.pathname === '/reset' && req.method === 'POST') {
      stats.jwks = 0;
      return json(200, {});
    }
    if (url.pathname.startsWith('/token-ms/')) {
      return json(200, { ms: stats.tokenMs.get(url.pathname.slice('/token-ms/'.length)) ?? null });
    }
    return json(404, { error: 'not_found' });
  });
  server.keepAliveTimeout = 60000;
  server.listen(port, '127.0.0.1');
}

// The client speaks plain node:http over kept-alive connections, lean as wrk is for the
// baseline: `fetch` (undici) costs 0.3-0.5 ms more per request (3 000 sequential `GET /healthz`:
// 0.72-1.04 ms each with `fetch`, 0.40-0.52 ms with node:http, on the machine of the run at
// 7b1abc5 in docs/BENCHMARKS.md), time P9 would count as the server's.
const agent = new Agent({ keepAlive: true, maxSockets: 256 });

/// One request, its body read whole: `{ status, headers, body }`; redirects are not followed.
function call(url, { method = 'GET', headers = {} } = {}) {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers, agent }, (res) => {
      const chunks = [];
      res.on('data', (chunk) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}
const callJson = async (url, options) => JSON.parse((await call(url, options)).body);

/// Begins a login at the backend and approves it at the stand-in: the callback URL and the
/// state cookie.
async function begun(backend) {
  const begin = await call(`${backend}/auth/oidc/login`);
  const cookie = (begin.headers['set-cookie'] ?? []).find((c) => c.startsWith('codex_oidc_state='));
  if (begin.status !== 302 || !cookie) throw new Error(`login answered ${begin.status}: ${begin.body}`);
  const authorize = await call(begin.headers.location);
  if (authorize.status !== 302) throw new Error(`the stand-in's authorize answered ${authorize.status}`);
  return { callback: authorize.headers.location, cookie: cookie.split(';')[0] };
}

/// Completes a begun login: the callback's response and its round trip in ms.
async function completed({ callback: url, cookie }) {
  const started = process.hrtime.bigint();
  const response = await call(url, { headers: { cookie } });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (response.status !== 200) throw new Error(`callback answered ${response.status}`);
  return { response, ms };
}
const callback = async (login) => (await completed(login)).ms;

const cpuSeconds = (pid) => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in clock ticks
};

async function measure(backend, providerUrl, pid, healthz, logins) {
  const post = (path) => callJson(`${providerUrl}${path}`, { method: 'POST' });
  const jwks = async () => (await callJson(`${providerUrl}/stats`)).jwks;
  // P4: 100 callbacks at once on a cold key cache (no login has run yet).
  await post('/reset');
  let ready = await Promise.all(Array.from({ length: 100 }, () => begun(backend)));
  await Promise.all(ready.map(callback));
  const cold = await jwks();
  // …and 100 ID tokens signed by a key the backend has not seen.
  await post('/rotate');
  ready = await Promise.all(Array.from({ length: 100 }, () => begun(backend)));
  await Promise.all(ready.map(callback));
  const unknownKid = await jwks();
  // P5 and P9: sequential logins, each begin → authorize → callback.
  const timed = [];
  const cpuBefore = cpuSeconds(pid);
  const started = process.hrtime.bigint();
  for (let i = 0; i < logins; i += 1) {
    const login = await begun(backend);
    timed.push([new URL(login.callback).searchParams.get('code'), await callback(login)]);
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const cpu = cpuSeconds(pid) - cpuBefore;
  // The token endpoint's own time, asked for after the timed loop.
  const serverMs = [];
  for (const [code, ms] of timed) {
    serverMs.push(ms - (await callJson(`${providerUrl}/token-ms/${code}`)).ms);
  }
  serverMs.sort((a, b) => a - b);
  console.log(JSON.stringify({
    p4_cold: cold,
    p4_unknown_kid: unknownKid,
    p5_p50_ms: serverMs[Math.floor(serverMs.length / 2)],
    p9_logins_per_s: logins / seconds,
    p9_ratio: logins / seconds / healthz,
    p9_cpu_ms: (cpu * 1000) / logins,
  }));
}

async function serverTime(backend, providerUrl, logFile, logins) {
  const timed = [];
  for (let i = 0; i < logins; i += 1) {
    const login = await begun(backend);
    const { response } = await completed(login);
    timed.push([new URL(login.callback).searchParams.get('code'), response.headers['x-request-id']]);
  }
  // The access log is written before the response leaves, so every line is there now.
  const elapsed = new Map();
  for (const line of readFileSync(logFile, 'utf8').split('\n')) {
    let entry;
    try { entry = JSON.parse(line); } catch { continue; }
    if (entry.fields?.message === 'request' && entry.span?.route === '/auth/oidc/callback') {
      elapsed.set(entry.span.request_id, entry.fields.elapsed_ms);
    }
  }
  const serverMs = [];
  for (const [code, id] of timed) {
    if (!elapsed.has(id)) throw new Error(`no access-log line for request ${id}`);
    const { ms } = await callJson(`${providerUrl}/token-ms/${code}`);
    if (typeof ms !== 'number') throw new Error(`no token endpoint time for code ${code}`);
    serverMs.push(elapsed.get(id) - ms);
  }
  serverMs.sort((a, b) => a - b);
  console.log(JSON.stringify({ p5_server_p50_ms: serverMs[Math.floor(serverMs.length / 2)] }));
}

const [mode, ...args] = process.argv.slice(2);
if (mode === 'provider') provider(Number(args[0]));
else if (mode === 'measure') await measure(args[0], args[1], Number(args[2]), Number(args[3]), Number(args[4]));
else if (mode === 'server-time') await serverTime(args[0], args[1], args[2], Number(args[3]));
else { console.error('usage: oidc.mjs provider <port> | measure <backend> <provider> <pid> <healthz> <logins> | server-time <backend> <provider> <log> <logins>'); process.exit(2); }
