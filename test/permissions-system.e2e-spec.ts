import { Actor, createCustomer, createTariff, expectProblem, loginRoot, uniqueName } from './setup/factories';
import { startTestApp, TestApp } from './setup/test-app';

const DEFAULTS = [
  'customers.create',
  'customers.update',
  'customers.delete',
  'accounts.create',
  'accounts.update',
  'accounts.delete',
  'tariffs.manage',
  'exchange-rates.manage',
  'balances.operate',
  'permissions.grant',
  'api-keys.manage',
  'webhooks.manage',
];

describe('permissions and system-wide settings', () => {
  let t: TestApp;
  let root: Actor, a: Actor, c: Actor, d: Actor;

  beforeAll(async () => {
    t = await startTestApp();
    root = await loginRoot(t);
    a = await createCustomer(t, root, { name: 'A' });
    c = await createCustomer(t, a, { name: 'C' });
    d = await createCustomer(t, c, { name: 'D' });
  });
  afterAll(() => t.close());

  it('lists the catalogue', async () => {
    const res = await a.get('/v1/permissions').expect(200);
    expect(res.body.items.map((p: { name: string }) => p.name)).toEqual([...DEFAULTS, 'system.read', 'system.write', 'usage.post']);
    expect(res.body.items.every((p: { description: string }) => p.description.length > 0)).toBe(true);
  });

  it('gives new customers the default set and the root everything', async () => {
    const me = await a.get('/v1/me').expect(200);
    expect(me.body.permissions).toEqual(DEFAULTS);
    const rootMe = await root.get('/v1/me').expect(200);
    expect(rootMe.body.permissions).toEqual([...DEFAULTS, 'system.read', 'system.write', 'usage.post']);
    const perms = await a.get(`/v1/customers/${c.id}/permissions`).expect(200);
    expect(perms.body).toEqual({ customerId: c.id, permissions: DEFAULTS, effective: DEFAULTS });
  });

  it('lets the root delegate system.write to A, and A change settings while C cannot', async () => {
    await a.patch('/v1/system/settings', { maxDepth: 10 }).expect(403);
    const denied = await a.get('/v1/system/settings').expect(403);
    expect(denied.body).toMatchObject({ status: 403, permission: 'system.read' });
    await root.put(`/v1/customers/${a.id}/permissions`, { permissions: [...DEFAULTS, 'system.read', 'system.write'] }).expect(200);
    const settings = await a.get('/v1/system/settings').expect(200);
    expect(settings.body).toMatchObject({ maxDepth: 16, defaultTimeZone: null, defaultPermissions: DEFAULTS });
    const changed = await a.patch('/v1/system/settings', { defaultTimeZone: 'Europe/Paris' }).set('If-Match', settings.headers.etag).expect(200);
    expect(changed.body.defaultTimeZone).toBe('Europe/Paris');
    await a.patch('/v1/system/settings', { defaultTimeZone: 'UTC' }).set('If-Match', settings.headers.etag).expect(412);
    const cDenied = await c.patch('/v1/system/settings', { maxDepth: 5 }).expect(403);
    expectProblem(cDenied, 403);
    expect(cDenied.body.permission).toBe('system.write');
    // New customers take the default time zone unless given one.
    const e = await createCustomer(t, d);
    expect((await e.get('/v1/me').expect(200)).body.timeZone).toBe('Europe/Paris');
    await root.patch('/v1/system/settings', { defaultTimeZone: null }).expect(200);
  });

  it('refuses to grant beyond the granter’s own rights', async () => {
    const res = await c.put(`/v1/customers/${d.id}/permissions`, { permissions: ['customers.create', 'system.read'] }).expect(403);
    expect(res.body).toMatchObject({ status: 403, permission: 'system.read' });
    await c.put(`/v1/customers/${c.id}/permissions`, { permissions: [] }).expect(403);
    await d.put(`/v1/customers/${c.id}/permissions`, { permissions: [] }).expect(404);
    const bad = await a.put(`/v1/customers/${c.id}/permissions`, { permissions: ['everything'] }).expect(400);
    expect(bad.body.errors[0]).toMatchObject({ pointer: '/permissions', detail: expect.stringContaining('/v1/permissions') });
  });

  it('removes a right revoked at A from C and D at once, without writing to them', async () => {
    const before = await t.dataSource.query(`SELECT id, version, permissions, updated_at FROM customers WHERE id = ANY($1) ORDER BY id`, [[c.id, d.id]]);
    await root.put(`/v1/customers/${a.id}/permissions`, { permissions: DEFAULTS.filter((p) => p !== 'customers.create') }).expect(200);
    for (const who of [c, d]) {
      const me = await who.get('/v1/me').expect(200);
      expect(me.body.permissions).not.toContain('customers.create');
      const tariffId = await createTariff(who);
      const res = await who.post('/v1/customers', { name: uniqueName(), tariffId, webLogin: uniqueName(), webPassword: 'password-1' }).expect(403);
      expect(res.body.permission).toBe('customers.create');
    }
    const after = await t.dataSource.query(`SELECT id, version, permissions, updated_at FROM customers WHERE id = ANY($1) ORDER BY id`, [[c.id, d.id]]);
    expect(after).toEqual(before);
    const view = await a.get(`/v1/customers/${c.id}/permissions`).expect(200);
    expect(view.body.permissions).toContain('customers.create');
    expect(view.body.effective).not.toContain('customers.create');
    await root.put(`/v1/customers/${a.id}/permissions`, { permissions: DEFAULTS }).expect(200);
    expect((await d.get('/v1/me').expect(200)).body.permissions).toContain('customers.create');
  });

  it('takes from API keys what their creator loses', async () => {
    const key = await c.post('/v1/api-keys', { name: 'all' }).expect(201);
    const token = await t.http().post('/v1/auth/token').send({ apiKey: key.body.apiKey }).expect(200);
    const asKey = () => t.http().get('/v1/me').set('Authorization', `Bearer ${token.body.accessToken}`);
    expect((await asKey().expect(200)).body.permissions).toContain('tariffs.manage');
    await a.put(`/v1/customers/${c.id}/permissions`, { permissions: DEFAULTS.filter((p) => p !== 'tariffs.manage') }).expect(200);
    expect((await asKey().expect(200)).body.permissions).not.toContain('tariffs.manage');
    await a.put(`/v1/customers/${c.id}/permissions`, { permissions: DEFAULTS }).expect(200);
  });

  it('enforces maxDepth from the settings', async () => {
    await root.patch('/v1/system/settings', { maxDepth: 4 }).expect(200);
    const res = await d.post('/v1/customers', { name: 'too deep', tariffId: await createTariff(d), webLogin: uniqueName(), webPassword: 'password-1' }).expect(422);
    expect(res.body).toMatchObject({ type: 'https://canopy.dev/problems/max-depth-exceeded', maxDepth: 4 });
    await root.patch('/v1/system/settings', { maxDepth: 16 }).expect(200);
    const bad = await root.patch('/v1/system/settings', { maxDepth: 1, defaultLanguage: 'xx', extra: 1 }).expect(400);
    expect(bad.body.errors.map((e: { pointer: string }) => e.pointer).sort()).toEqual(['/defaultLanguage', '/extra', '/maxDepth']);
  });

  it('manages routing groups behind system.*, refusing to delete one in use', async () => {
    await a.post('/v1/routing-groups', { name: 'x', policy: 'priority' }).expect(403); // A's system.* grants were replaced
    const created = await root.post('/v1/routing-groups', { name: 'gold', policy: 'least-cost', description: 'cheapest first' }).expect(201);
    await root.post('/v1/routing-groups', { name: 'gold', policy: 'weighted' }).expect(409);
    await root.post('/v1/routing-groups', { name: 'bad', policy: 'random' }).expect(400);
    const cDenied = await c.get('/v1/routing-groups').expect(403);
    expect(cDenied.body.permission).toBe('system.read');
    await c.post('/v1/routing-groups', { name: 'y', policy: 'priority' }).expect(403);
    await root.post('/v1/routing-groups', { name: 'silver', policy: 'priority' }).expect(201);
    const listed = await root.get('/v1/routing-groups?limit=1').expect(200);
    expect(listed.body.items).toHaveLength(1);
    expect(listed.body.nextCursor).not.toBeNull();
    const patched = await root.patch(`/v1/routing-groups/${created.body.id}`, { policy: 'weighted' }).expect(200);
    expect(patched.body).toMatchObject({ name: 'gold', policy: 'weighted', version: 2 });
    const user = await createCustomer(t, root, { routingGroupId: created.body.id });
    expect((await root.get(`/v1/customers/${user.id}`).expect(200)).body.routingGroupId).toBe(created.body.id);
    const bad = await root.post('/v1/customers', { name: uniqueName(), tariffId: await createTariff(root), webLogin: uniqueName(), webPassword: 'password-1', routingGroupId: '00000000-0000-4000-8000-000000000000' }).expect(400);
    expect(bad.body.errors[0].pointer).toBe('/routingGroupId');
    const inUse = await root.delete(`/v1/routing-groups/${created.body.id}`).expect(409);
    expect(inUse.body).toMatchObject({ customers: 1, accounts: 0 });
    await root.patch(`/v1/customers/${user.id}`, { routingGroupId: null }).expect(200);
    await root.delete(`/v1/routing-groups/${created.body.id}`).expect(204);
    await root.get(`/v1/routing-groups/${created.body.id}`).expect(404);
  });
});
