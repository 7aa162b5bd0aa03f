import { Actor, createCustomer, expectProblem, login, loginRoot, uniqueName } from './setup/factories';
import { startSecondInstance, startTestApp, TestApp } from './setup/test-app';

/**
 * The seed's picture: Root → A, B; A → C; C → D. Nobody sees above or beside itself.
 */
describe('the customer tree (seed picture)', () => {
  let t: TestApp;
  let root: Actor, a: Actor, b: Actor, c: Actor, d: Actor;

  beforeAll(async () => {
    t = await startTestApp();
    root = await loginRoot(t);
    a = await createCustomer(t, root, { name: 'A' });
    b = await createCustomer(t, root, { name: 'B' });
    c = await createCustomer(t, a, { name: 'C' });
    d = await createCustomer(t, c, { name: 'D' });
  });
  afterAll(() => t.close());

  it("shows D its own record with no parent", async () => {
    const res = await d.get('/v1/me').expect(200);
    expect(res.body).toMatchObject({ id: d.id, name: 'D', parentId: null, status: 'active', balance: '0.00' });
    expect(res.body.permissions).toContain('customers.create');
    expect(res.body.permissions).not.toContain('system.write');
    expect(res.body).not.toHaveProperty('webPasswordHash');
    expect(res.body).not.toHaveProperty('path');
    const self = await d.get(`/v1/customers/${d.id}`).expect(200);
    expect(self.body.parentId).toBeNull();
  });

  it('answers D with the same 404 for A, B, C, the root and an id that does not exist', async () => {
    const missing = await d.get('/v1/customers/00000000-0000-4000-8000-000000000000').expect(404);
    for (const other of [a, b, c, root]) {
      const res = await d.get(`/v1/customers/${other.id}`).expect(404);
      expectProblem(res, 404);
      expect({ ...res.body, instance: undefined }).toEqual({ ...missing.body, instance: undefined });
      await d.patch(`/v1/customers/${other.id}`, { name: 'x' }).expect(404);
      await d.delete(`/v1/customers/${other.id}`).expect(404);
      await d.get(`/v1/customers?parentId=${other.id}`).expect(404);
    }
  });

  it('shows nothing above D in any list', async () => {
    const children = await d.get('/v1/customers').expect(200);
    expect(children.body).toEqual({ items: [], nextCursor: null });
    const subtree = await d.get('/v1/customers?scope=subtree').expect(200);
    expect(subtree.body.items).toEqual([]);
  });

  it('shows A its subtree with relative depths', async () => {
    const res = await a.get('/v1/customers?scope=subtree').expect(200);
    const byName = Object.fromEntries(res.body.items.map((i: { name: string; depth: number }) => [i.name, i.depth]));
    expect(byName).toEqual({ C: 1, D: 2 });
    const children = await a.get('/v1/customers').expect(200);
    expect(children.body.items.map((i: { name: string }) => i.name)).toEqual(['C']);
    const cChildren = await a.get(`/v1/customers?parentId=${c.id}`).expect(200);
    expect(cChildren.body.items.map((i: { name: string }) => i.name)).toEqual(['D']);
    const dRecord = await a.get(`/v1/customers/${d.id}`).expect(200);
    expect(dRecord.body.parentId).toBe(c.id);
  });

  it('shows B none of A’s subtree', async () => {
    for (const other of [a, c, d]) await b.get(`/v1/customers/${other.id}`).expect(404);
    const res = await b.get('/v1/customers?scope=subtree').expect(200);
    expect(res.body.items).toEqual([]);
  });

  it('shows the root everything', async () => {
    const res = await root.get('/v1/customers?scope=subtree').expect(200);
    const byName = Object.fromEntries(res.body.items.map((i: { name: string; depth: number }) => [i.name, i.depth]));
    expect(byName).toEqual({ A: 1, B: 1, C: 2, D: 3 });
  });
});

/**
 * A plain subtree page says its prefix as a range (`path >= '/1/712345/' AND path <
 * '/1/7123450'`, src/tree/scope.ts) so that its named statement's plan can walk the path index;
 * the range must end exactly where the prefix does, where a sibling's node id begins with the
 * same digits.
 */
describe('subtree pages of customers whose node ids share leading digits', () => {
  let t: TestApp;
  afterAll(() => t.close());

  it("keeps '/…/712345/' to its own subtree, apart from '/…/7123450/', for itself and for an ancestor", async () => {
    t = await startTestApp();
    const root = await loginRoot(t);
    const a = await createCustomer(t, root, { name: uniqueName('A') });
    const c = await createCustomer(t, a, { name: uniqueName('C') });
    const b = await createCustomer(t, root, { name: uniqueName('B') });
    const e = await createCustomer(t, b, { name: uniqueName('E') });
    const k = 700_000 + Math.floor(Math.random() * 90_000);
    const [{ path: rootPath }] = await t.dataSource.query(`SELECT path FROM customers WHERE id = $1`, [root.id]);
    const paths = new Map([
      [a.id, `${rootPath}${k}/`],
      [c.id, `${rootPath}${k}/${k * 10 + 1}/`],
      [b.id, `${rootPath}${k * 10}/`],
      [e.id, `${rootPath}${k * 10}/${k * 100}/`],
    ]);
    for (const [id, path] of paths) await t.dataSource.query(`UPDATE customers SET path = $2 WHERE id = $1`, [id, path]);
    // Asked of a second instance on the database: no caller cached there with the paths before.
    const second = await startSecondInstance(t);
    const there: TestApp = { ...t, http: second.http };
    const names = (res: { body: { items: Array<{ id: string }> } }) => res.body.items.map((i) => i.id);
    const rootAgain = await loginRoot(there);
    for (const [holder, only] of [
      [a, c],
      [b, e],
    ]) {
      const self = await login(there, holder.login, holder.password);
      expect(names(await self.get('/v1/customers?scope=subtree').expect(200))).toEqual([only.id]);
      const paged = await self.get('/v1/customers?scope=subtree&limit=1').expect(200);
      expect(paged.body).toMatchObject({ items: [{ id: only.id }], nextCursor: null });
      expect(names(await rootAgain.get(`/v1/customers?scope=subtree&parentId=${holder.id}`).expect(200))).toEqual([only.id]);
    }
    await second.close();
  });
});
