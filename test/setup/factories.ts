import { randomBytes } from 'node:crypto';
import type { TestApp } from './test-app';

export const ROOT = { login: 'root', password: 'root-password' };

/** An authenticated caller in tests: its id and a supertest wrapper with its token. */
export interface Actor {
  id: string;
  login: string;
  password: string;
  token: string;
  refreshToken: string;
  get(url: string): ReturnType<ReturnType<TestApp['http']>['get']>;
  post(url: string, body?: object): ReturnType<ReturnType<TestApp['http']>['post']>;
  patch(url: string, body?: object): ReturnType<ReturnType<TestApp['http']>['patch']>;
  put(url: string, body?: object): ReturnType<ReturnType<TestApp['http']>['put']>;
  delete(url: string): ReturnType<ReturnType<TestApp['http']>['delete']>;
}

/** Requests that carry a bearer token. */
export type Authorized = Pick<Actor, 'get' | 'post' | 'patch' | 'put' | 'delete'>;

/** Requests to `t` with `token` as the bearer (a JSON body, `{}` when none is given). */
export function authorized(t: TestApp, token: string): Authorized {
  const auth = <R extends { set(k: string, v: string): R }>(r: R) => r.set('Authorization', `Bearer ${token}`);
  return {
    get: (url) => auth(t.http().get(url)),
    post: (url, body) => auth(t.http().post(url)).send(body ?? {}),
    patch: (url, body) => auth(t.http().patch(url)).send(body ?? {}),
    put: (url, body) => auth(t.http().put(url)).send(body ?? {}),
    delete: (url) => auth(t.http().delete(url)),
  };
}

export const uniqueName = (prefix = 'c') => `${prefix}-${randomBytes(4).toString('hex')}`;

export async function login(t: TestApp, loginName: string, password: string): Promise<Actor> {
  const res = await t.http().post('/v1/auth/login').send({ login: loginName, password });
  if (res.status !== 200) throw new Error(`login ${loginName} failed: ${res.status} ${JSON.stringify(res.body)}`);
  const token: string = res.body.accessToken;
  const requests = authorized(t, token);
  const me = await requests.get('/v1/me');
  return { id: me.body.id, login: loginName, password, token, refreshToken: res.body.refreshToken, ...requests };
}

export const loginRoot = (t: TestApp) => login(t, ROOT.login, ROOT.password);

export async function createTariff(owner: Actor, body: Record<string, unknown> = {}): Promise<string> {
  const res = await owner.post('/v1/tariffs', { name: uniqueName('tariff'), currency: 'USD', ...body });
  if (res.status !== 201) throw new Error(`tariff: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.id;
}

/** Creates a sub-customer of `parent` (with a tariff of the parent's) and logs in as it. */
export async function createCustomer(
  t: TestApp,
  parent: Actor,
  body: Record<string, unknown> = {},
): Promise<Actor> {
  const tariffId = (body.tariffId as string | undefined) ?? (await createTariff(parent));
  const webLogin = (body.webLogin as string | undefined) ?? uniqueName('login');
  const webPassword = (body.webPassword as string | undefined) ?? 'password-123';
  const res = await parent.post('/v1/customers', { name: uniqueName('customer'), tariffId, webLogin, webPassword, ...body });
  if (res.status !== 201) throw new Error(`customer: ${res.status} ${JSON.stringify(res.body)}`);
  return login(t, webLogin, webPassword);
}

export function expectProblem(res: { status: number; headers: Record<string, string>; body: Record<string, unknown> }, status: number) {
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(res.body.status).toBe(status);
  expect(typeof res.body.type).toBe('string');
  expect(typeof res.body.title).toBe('string');
}

/** A 400 problem naming `pointer` among its errors (a body field refused). */
export function expectBadField(res: { status: number; headers: Record<string, string>; body: Record<string, unknown> }, pointer: string) {
  expect(res.status).toBe(400);
  expectProblem(res, 400);
  expect((res.body.errors as Array<{ pointer: string }>).map((e) => e.pointer)).toContain(pointer);
}

/** The body of POST /v1/customers for a new customer on `tariffId`: a unique name and login, the tests' password, then `body`. */
export const customerBody = (tariffId: string, body: Record<string, unknown> = {}) => ({
  name: uniqueName('n'),
  tariffId,
  webLogin: uniqueName('l'),
  webPassword: 'password-123',
  ...body,
});

/** An actor for an API key of `owner` restricted to `permissions`. */
export async function restrictedActor(t: TestApp, owner: Actor, permissions: string[]): Promise<Actor> {
  const key = await owner.post('/v1/api-keys', { name: uniqueName('key'), permissions }).expect(201);
  const token = await t.http().post('/v1/auth/token').send({ apiKey: key.body.apiKey }).expect(200);
  return { ...owner, token: token.body.accessToken, ...authorized(t, token.body.accessToken) };
}

/** Creates an account of `customer` (by `actor`, the customer itself or above), on a new tariff of the customer's unless `tariffId` is given. */
export async function createAccount<T = { id: string; tariffId: string }>(actor: Actor, customer: Actor, body: Record<string, unknown> = {}): Promise<T> {
  const tariffId = (body.tariffId as string | undefined) ?? (await createTariff(customer));
  const res = await actor.post('/v1/accounts', {
    customerId: customer.id,
    username: uniqueName('sip'),
    webPassword: 'web-password-1',
    voipPassword: 'voip-password-1',
    tariffId,
    ...body,
  });
  if (res.status !== 201) throw new Error(`account: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

/**
 * `count` children of the root written straight into SQL, for tests that need many holders
 * (the API creates one a request): USD, no opening balance, no credit limit, not able to log
 * in, named `${tag}-N`. Their ids, in order.
 */
export async function seedRootChildren(t: TestApp, count: number, tag: string): Promise<string[]> {
  const rows: Array<{ id: string }> = await t.dataSource.query(
    `WITH r AS (SELECT id, path FROM customers WHERE depth = 0),
          s AS (SELECT nextval(pg_get_serial_sequence('customers', 'node_id')) AS n, g FROM generate_series(1, $1::int) g)
     INSERT INTO customers (node_id, parent_id, path, depth, name, time_zone, language, web_login, web_password_hash,
                            base_currency, opening_balance, credit_limit, permissions)
     OVERRIDING SYSTEM VALUE
     SELECT s.n, r.id, r.path || s.n || '/', 1, $2 || '-' || s.g, 'UTC', 'en', $2 || '-' || s.g, 'not-a-login', 'USD', 0, 0, '{}'
       FROM r, s ORDER BY s.g
     RETURNING id`,
    [count, tag],
  );
  return rows.map((r) => r.id);
}
