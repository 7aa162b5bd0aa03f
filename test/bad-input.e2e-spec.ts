import { Actor, createCustomer, createTariff, expectProblem, loginRoot, uniqueName } from './setup/factories';
import { startTestApp, TestApp } from './setup/test-app';

/**
 * Bad input on every endpoint of the identity and tree API, table-driven: each bad body
 * field, query parameter and path id is a 400 problem naming it (never a 500, never a
 * silent success).
 */

type Method = 'get' | 'post' | 'patch' | 'delete';

interface BodyEndpoint {
  name: string;
  method: Method;
  url: () => string;
  /** Who calls (undefined: no Authorization header). */
  as: () => Actor | undefined;
  /** A body that passes validation (whatever the business outcome). */
  valid: () => Record<string, unknown>;
  /** Invalid values, each named by its JSON pointer. */
  bad: Array<[pointer: string, value: unknown]>;
}

const long = (n: number) => 'x'.repeat(n);
const VALIDATION = 'https://canopy.dev/problems/validation-error';

let t: TestApp;
let root: Actor;
let child: Actor;
let tariffId: string;
let customerId: string;

const send = (method: Method, url: string, actor: Actor | undefined) => {
  const req = t.http()[method](url);
  return actor ? req.set('Authorization', `Bearer ${actor.token}`) : req;
};

/** The 400 problem, with every error naming `where` (a pointer or a parameter). */
function expectNamed(res: { status: number; headers: Record<string, string>; body: Record<string, unknown> }, where: { pointer: string } | { parameter: string }) {
  if (res.status !== 400) throw new Error(`expected 400, got ${res.status}: ${JSON.stringify(res.body)}`);
  expectProblem(res, 400);
  expect(res.body.type).toBe(VALIDATION);
  const errors = res.body.errors as Array<{ pointer?: string; parameter?: string; detail: string }>;
  expect(errors.length).toBeGreaterThan(0);
  for (const error of errors) {
    expect(error).toEqual({ ...where, detail: expect.any(String) });
    expect(error.detail.length).toBeGreaterThan(0);
  }
}

const endpoints: BodyEndpoint[] = [
  {
    name: 'POST /v1/auth/login',
    method: 'post',
    url: () => '/v1/auth/login',
    as: () => undefined,
    valid: () => ({ login: 'nobody', password: 'whatever' }),
    bad: [
      ['/login', 123],
      ['/login', null],
      ['/login', ''],
      ['/login', long(65)],
      ['/login', ['root']],
      ['/login', { $ne: '' }],
      ['/password', 123],
      ['/password', null],
      ['/password', ''],
      ['/password', long(257)],
      ['/password', true],
    ],
  },
  {
    name: 'POST /v1/auth/refresh',
    method: 'post',
    url: () => '/v1/auth/refresh',
    as: () => undefined,
    valid: () => ({ refreshToken: 'rt_unknown' }),
    bad: [
      ['/refreshToken', 123],
      ['/refreshToken', null],
      ['/refreshToken', ''],
      ['/refreshToken', long(257)],
      ['/refreshToken', ['rt_x']],
    ],
  },
  {
    name: 'POST /v1/auth/logout',
    method: 'post',
    url: () => '/v1/auth/logout',
    as: () => child,
    valid: () => ({ refreshToken: 'rt_unknown' }),
    bad: [
      ['/refreshToken', 123],
      ['/refreshToken', long(257)],
      ['/refreshToken', ['rt_x']],
    ],
  },
  {
    name: 'POST /v1/auth/token',
    method: 'post',
    url: () => '/v1/auth/token',
    as: () => undefined,
    valid: () => ({ apiKey: 'cnp_unknown' }),
    bad: [
      ['/apiKey', 123],
      ['/apiKey', null],
      ['/apiKey', ''],
      ['/apiKey', long(257)],
      ['/apiKey', { key: 'x' }],
    ],
  },
  {
    name: 'POST /v1/api-keys',
    method: 'post',
    url: () => '/v1/api-keys',
    as: () => child,
    valid: () => ({ name: uniqueName('key'), permissions: ['tariffs.manage'], expiresAt: new Date(Date.now() + 86_400_000).toISOString() }),
    bad: [
      ['/name', null],
      ['/name', 1],
      ['/name', ''],
      ['/name', long(129)],
      ['/permissions', 'tariffs.manage'],
      ['/permissions', [1]],
      ['/permissions', ['no-such-right']],
      ['/permissions', Array(64).fill('tariffs.manage')],
      ['/permissions', { 0: 'tariffs.manage' }],
      ['/expiresAt', 'tomorrow'],
      ['/expiresAt', '2030-13-01T00:00:00Z'],
      ['/expiresAt', 4102444800000],
      ['/expiresAt', {}],
      ['/expiresAt', '2020-01-01T00:00:00Z'],
    ],
  },
  {
    name: 'PATCH /v1/me',
    method: 'patch',
    url: () => '/v1/me',
    as: () => child,
    valid: () => ({ timeZone: 'Europe/Paris', language: 'fr' }),
    bad: [
      ['/currentPassword', 1],
      ['/currentPassword', long(257)],
      ['/newPassword', 12345678],
      ['/timeZone', 1],
      ['/timeZone', 'Nowhere/City'],
      ['/timeZone', long(65)],
      ['/timeZone', '../../etc/passwd'],
      ['/language', 1],
      ['/language', 'klingon'],
      ['/language', long(17)],
    ],
  },
  {
    name: 'POST /v1/customers',
    method: 'post',
    url: () => '/v1/customers',
    as: () => root,
    valid: () => ({ name: uniqueName('c'), tariffId, webLogin: uniqueName('login'), webPassword: 'password-123' }),
    bad: [
      ['/name', 1],
      ['/name', null],
      ['/name', ''],
      ['/name', long(129)],
      ['/tariffId', 'nope'],
      ['/tariffId', 1],
      ['/tariffId', null],
      ['/parentId', 'nope'],
      ['/parentId', 1],
      ['/webLogin', ''],
      ['/webLogin', long(65)],
      ['/webLogin', 1],
      ['/webLogin', 'white space'],
      ['/webPassword', 'short'],
      ['/webPassword', long(257)],
      ['/webPassword', 12345678],
      ['/timeZone', 'Nowhere/City'],
      ['/language', 'xx'],
      ['/baseCurrency', 'ABC'],
      ['/baseCurrency', 840],
      ['/balance', 5],
      ['/balance', '1.123456789'],
      ['/balance', 'NaN'],
      ['/balance', '1e5'],
      ['/creditLimit', '-5'],
      ['/creditLimit', 5],
      ['/creditLimit', '99999999999999999999999'],
      ['/status', 'deleted'],
      ['/status', true],
    ],
  },
  {
    name: 'PATCH /v1/customers/{id}',
    method: 'patch',
    url: () => `/v1/customers/${customerId}`,
    as: () => root,
    valid: () => ({ language: 'de' }),
    bad: [
      ['/name', 1],
      ['/name', ''],
      ['/name', long(129)],
      ['/tariffId', 'nope'],
      ['/webLogin', 'white space'],
      ['/webLogin', long(65)],
      ['/webPassword', 'short'],
      ['/webPassword', long(257)],
      ['/creditLimit', 1],
      ['/creditLimit', '-1'],
      ['/creditLimit', '1.123456789'],
      ['/status', 'deleted'],
      ['/timeZone', 'x'],
      ['/language', 'x'],
      ['/balance', '10.00'],
      ['/balance', 10],
    ],
  },
  {
    name: 'POST /v1/tariffs',
    method: 'post',
    url: () => '/v1/tariffs',
    as: () => root,
    valid: () => ({ name: uniqueName('t'), currency: 'USD' }),
    bad: [
      ['/name', 1],
      ['/name', null],
      ['/name', ''],
      ['/name', long(129)],
      ['/currency', 'usd'],
      ['/currency', 'ABC'],
      ['/currency', null],
      ['/ownerId', 'nope'],
      ['/description', long(1025)],
      ['/description', 1],
      ['/connectFee', 0.5],
      ['/connectFee', '-1'],
      ['/connectFee', '0.123456789'],
      ['/freeSeconds', -1],
      ['/freeSeconds', 86401],
      ['/freeSeconds', 1.5],
      ['/freeSeconds', '10'],
    ],
  },
  {
    name: 'PATCH /v1/tariffs/{id}',
    method: 'patch',
    url: () => `/v1/tariffs/${tariffId}`,
    as: () => root,
    valid: () => ({ description: 'ok' }),
    bad: [
      ['/name', 1],
      ['/name', ''],
      ['/name', long(129)],
      ['/description', long(1025)],
      ['/connectFee', 0.5],
      ['/connectFee', '0.123456789'],
      ['/freeSeconds', -1],
      ['/freeSeconds', '10'],
      ['/currency', 'EUR'],
      ['/ownerId', '00000000-0000-4000-8000-000000000000'],
    ],
  },
];

describe('bad input', () => {
  beforeAll(async () => {
    t = await startTestApp();
    root = await loginRoot(t);
    child = await createCustomer(t, root);
    tariffId = await createTariff(root);
    customerId = (await createCustomer(t, root, { tariffId })).id;
  });
  afterAll(() => t.close());

  describe.each(endpoints)('$name', (endpoint) => {
    it('accepts the valid body (the control)', async () => {
      const res = await send(endpoint.method, endpoint.url(), endpoint.as()).send(endpoint.valid());
      expect(res.status).not.toBe(400);
      expect(res.status).toBeLessThan(500);
    });

    it('names an unknown field', async () => {
      const res = await send(endpoint.method, endpoint.url(), endpoint.as()).send({ ...endpoint.valid(), isAdmin: true });
      expectNamed(res, { pointer: '/isAdmin' });
    });

    it.each([
      ['an array', []],
      ['a string', 'text'],
      ['a number', 42],
      ['null', null],
    ])('answers a body that is %s with 400', async (_name, body) => {
      const res = await send(endpoint.method, endpoint.url(), endpoint.as())
        .set('content-type', 'application/json')
        .send(JSON.stringify(body));
      expectProblem(res, 400);
    });

    it.each(endpoint.bad)('names %s when it is %j', async (pointer, value) => {
      const res = await send(endpoint.method, endpoint.url(), endpoint.as()).send({ ...endpoint.valid(), [pointer.slice(1)]: value });
      expectNamed(res, { pointer });
    });
  });

  it.each([
    ['POST /v1/customers', '/v1/customers', () => ({ name: 'a\u0000b', tariffId, webLogin: uniqueName('l'), webPassword: 'password-123' }), '/name'],
    ['POST /v1/tariffs', '/v1/tariffs', () => ({ name: 'a\u0000b', currency: 'USD' }), '/name'],
    ['POST /v1/api-keys', '/v1/api-keys', () => ({ name: 'a\u0000b' }), '/name'],
    ['POST /v1/auth/login', '/v1/auth/login', () => ({ login: 'root\u0000', password: 'root-password' }), '/login'],
  ])('answers a NUL character in a string on %s with 400, not 500', async (_name, url, body, pointer) => {
    const res = await send('post', url, url === '/v1/auth/login' ? undefined : root).send(body());
    expectNamed(res, { pointer });
  });

  it('names the element of an array that holds a NUL character', async () => {
    const res = await send('post', '/v1/api-keys', root).send({ name: 'k', permissions: ['tariffs.manage', 'x\u0000'] });
    expectNamed(res, { pointer: '/permissions/1' });
  });

  it.each([
    ['arrays', (depth: number) => `{"name":${'['.repeat(depth)}${']'.repeat(depth)},"currency":"USD"}`, '/name'],
    ['objects', (depth: number) => `{"name":"x","currency":"USD","extra":${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}}`, '/extra'],
  ])('answers a body of deeply nested %s with 400, not a stack overflow', async (_name, build, pointer) => {
    for (const depth of [100, 100_000]) {
      const res = await send('post', '/v1/tariffs', root).set('content-type', 'application/json').send(build(depth));
      expectNamed(res, { pointer });
    }
  });

  it.each([
    ['__proto__', '{"name":"x","currency":"USD","__proto__":{"isAdmin":true}}'],
    ['constructor.prototype', '{"name":"x","currency":"USD","constructor":{"prototype":{"isAdmin":true}}}'],
  ])('refuses %s poisoning with a 400 problem', async (_name, raw) => {
    const res = await send('post', '/v1/tariffs', root).set('content-type', 'application/json').send(raw);
    expectProblem(res, 400);
  });

  it('answers a body that is not JSON with a 415 problem', async () => {
    const res = await send('post', '/v1/tariffs', root).set('content-type', 'text/plain').send('name=x');
    expectProblem(res, 415);
  });

  describe('path ids', () => {
    const routes: Array<[Method, string]> = [
      ['get', '/v1/customers/'],
      ['patch', '/v1/customers/'],
      ['delete', '/v1/customers/'],
      ['get', '/v1/tariffs/'],
      ['patch', '/v1/tariffs/'],
      ['delete', '/v1/tariffs/'],
      ['delete', '/v1/api-keys/'],
    ];
    const badIds = ['not-a-uuid', '123', "1' OR '1'='1", '00000000-0000-4000-8000-00000000000g', '00000000000040008000000000000000', long(100)];
    const cases = routes.flatMap(([method, prefix]) => badIds.map((id) => [method, prefix, id] as const));

    it.each(cases)('%s %s%s is a 400 naming id', async (method, prefix, id) => {
      const res = await send(method, prefix + encodeURIComponent(id), root).send(method === 'patch' ? {} : undefined);
      expectNamed(res, { parameter: 'id' });
    });

    it.each(routes)('%s %s<an id too long for the router> is a 414 problem', async (method, prefix) => {
      const res = await send(method, prefix + long(200), root).send(method === 'patch' ? {} : undefined);
      expectProblem(res, 414);
      expect(res.headers['x-request-id']).toBeDefined();
    });

    it.each(routes)('%s %s<bad percent-encoding> is a 400 problem', async (method, prefix) => {
      const res = await send(method, prefix + '%zz', root).send(method === 'patch' ? {} : undefined);
      expectProblem(res, 400);
    });

    it.each(routes)('%s %s<unknown uuid> is a 404 (upper case accepted)', async (method, prefix) => {
      const res = await send(method, prefix + 'AAAAAAAA-AAAA-4AAA-8AAA-AAAAAAAAAAAA', root).send(method === 'patch' ? {} : undefined);
      expectProblem(res, 404);
    });
  });

  describe('query parameters', () => {
    const lists = ['/v1/customers', '/v1/tariffs', '/v1/api-keys'];
    const cases: Array<[string, string, string]> = [];
    for (const list of lists) {
      for (const limit of ['0', '201', 'abc', '1.5', '-1', '', '1e2', '0x10']) cases.push([list, `limit=${limit}`, 'limit']);
      cases.push([list, 'limit=1&limit=2', 'limit']);
      cases.push([list, `cursor=${long(513)}`, 'cursor']);
      cases.push([list, 'cursor=not-a-cursor', 'cursor']);
      cases.push([list, 'isAdmin=true', 'isAdmin']);
    }
    cases.push(['/v1/customers', 'scope=everything', 'scope']);
    cases.push(['/v1/customers', 'parentId=nope', 'parentId']);
    cases.push(['/v1/customers', `q=${long(129)}`, 'q']);
    cases.push(['/v1/customers', 'q=a&q=b', 'q']);
    cases.push(['/v1/tariffs', 'ownerId=nope', 'ownerId']);

    it.each(cases)('GET %s?%s is a 400 naming %s', async (list, query, parameter) => {
      const res = await send('get', `${list}?${query}`, root);
      expectNamed(res, { parameter });
    });

    it.each(lists)('GET %s accepts limit=1 and limit=200', async (list) => {
      for (const limit of [1, 200]) {
        const res = await send('get', `${list}?limit=${limit}`, root).expect(200);
        expect(res.body.items.length).toBeLessThanOrEqual(limit);
      }
    });

    it('answers a NUL character in ?q= with 400, not 500', async () => {
      const res = await send('get', '/v1/customers?q=a%00b', root);
      expectNamed(res, { parameter: 'q' });
    });
  });
});
