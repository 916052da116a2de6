// The user flow through openapi-fetch, typed by the types openapi-typescript generated from the
// served document (generated/ts/schema.d.ts).
//
// Usage (after tsc -p tsconfig.json): node generated/ts/out/ts_client_flow.js <base_url> <admin_email> <admin_password>
//
// login -> GET /auth/me with the bearer token -> logout -> GET /auth/me answers 401 -> a fresh
// login -> GET /admin/users, POST /admin/users, GET /admin/users/{user_id} -> logout. Each step
// asserts the status and the typed result; the first failed step ends the run with exit code 1.
import { randomUUID } from "node:crypto";
import createClient from "openapi-fetch";
import type { components, paths } from "./generated/ts/schema.js";

type UserView = components["schemas"]["UserView"];

const [baseUrl, adminEmail, adminPassword] = process.argv.slice(2);
if (!baseUrl || !adminEmail || !adminPassword) {
  console.error("usage: node ts_client_flow.js <base_url> <admin_email> <admin_password>");
  process.exit(2);
}

const client = createClient<paths>({ baseUrl });
let steps = 0;

function fail(message: string): never {
  console.error(`FAIL ${message}`);
  process.exit(1);
}

function expectStatus(name: string, response: Response, status: number, body: unknown): void {
  if (response.status !== status) {
    fail(`${name}: expected ${status}, got ${response.status}: ${JSON.stringify(body).slice(0, 300)}`);
  }
  steps += 1;
  console.log(`ok   ${name}: ${response.status}`);
}

function check(condition: boolean, message: string): void {
  if (!condition) fail(message);
}

function bearer(token: string): { Authorization: string } {
  return { Authorization: `Bearer ${token}` };
}

async function logIn(name: string): Promise<string> {
  const { data, error, response } = await client.POST("/auth/login", {
    body: { email: adminEmail!, password: adminPassword! },
  });
  expectStatus(name, response, 200, data ?? error);
  if (!data) fail(`${name}: no token in the answer`);
  check(data.token_type.toLowerCase() === "bearer", `${name}: token_type ${data.token_type}`);
  check(data.expires_in > 0, `${name}: expires_in ${data.expires_in}`);
  check(data.access_token.length > 0, `${name}: an empty access token`);
  return data.access_token;
}

async function main(): Promise<void> {
  const token = await logIn("POST /auth/login");

  const me = await client.GET("/auth/me", { headers: bearer(token) });
  expectStatus("GET /auth/me", me.response, 200, me.data ?? me.error);
  if (!me.data) fail("GET /auth/me: no body");
  check(me.data.email.toLowerCase() === adminEmail!.toLowerCase(), `GET /auth/me: email ${me.data.email}`);
  check(me.data.is_admin, "GET /auth/me: not an administrator");

  const out = await client.POST("/auth/logout", { headers: bearer(token) });
  expectStatus("POST /auth/logout", out.response, 204, out.error);

  const after = await client.GET("/auth/me", { headers: bearer(token) });
  expectStatus("GET /auth/me after logout", after.response, 401, after.data ?? after.error);
  // Typed by the document's 401 answer of GET /auth/me, whatever its schema is named.
  const problem = after.error;
  if (!problem) fail("GET /auth/me after logout: no problem document");
  check(problem.status === 401, `GET /auth/me after logout: status ${problem.status}`);
  check(problem.code === "invalid_token", `GET /auth/me after logout: code ${problem.code}`);

  const admin = bearer(await logIn("POST /auth/login (again)"));
  const users = await client.GET("/admin/users", { headers: admin, params: { query: { limit: 500 } } });
  expectStatus("GET /admin/users", users.response, 200, users.data ?? users.error);
  const listed: UserView[] | undefined = users.data;
  if (!listed) fail("GET /admin/users: no body");
  check(
    listed.some((user) => user.email.toLowerCase() === adminEmail!.toLowerCase()),
    "GET /admin/users: the administrator is not listed",
  );

  const email = `ts-client-${randomUUID().slice(0, 12)}@example.com`;
  const created = await client.POST("/admin/users", {
    headers: admin,
    // openapi-typescript makes a property with a default required, is_admin included.
    body: { email, password: `ts client ${randomUUID()}`, is_admin: false },
  });
  expectStatus("POST /admin/users", created.response, 201, created.data ?? created.error);
  if (!created.data) fail("POST /admin/users: no body");
  check(created.data.email === email && !created.data.is_admin, `POST /admin/users: ${JSON.stringify(created.data)}`);

  const fetched = await client.GET("/admin/users/{user_id}", {
    headers: admin,
    params: { path: { user_id: created.data.id } },
  });
  expectStatus("GET /admin/users/{user_id}", fetched.response, 200, fetched.data ?? fetched.error);
  check(fetched.data?.id === created.data.id, `GET /admin/users/{user_id}: ${JSON.stringify(fetched.data)}`);

  const again = await client.POST("/auth/logout", { headers: admin });
  expectStatus("POST /auth/logout (again)", again.response, 204, again.error);

  console.log(`typescript client flow: ${steps} steps passed`);
}

main().catch((error: unknown) => fail(`unexpected error: ${String(error)}`));
