import { Actor, createCustomer, expectProblem, loginRoot } from './setup/factories';
import { startTestApp, TestApp } from './setup/test-app';

/** Cursor pagination of customer lists: every item once, and cursors are checked, not trusted. */
describe('customer list cursors', () => {
  let t: TestApp;
  let root: Actor, a: Actor, b: Actor;
  const cursorOf = (values: unknown[]) => Buffer.from(JSON.stringify(values)).toString('base64url');

  beforeAll(async () => {
    t = await startTestApp();
    root = await loginRoot(t);
    a = await createCustomer(t, root);
    b = await createCustomer(t, root);
    for (let i = 0; i < 3; i++) await createCustomer(t, a);
  });
  afterAll(() => t.close());

  it('pages through a subtree one item at a time', async () => {
    const seen: string[] = [];
    let url = '/v1/customers?scope=subtree&limit=1';
    for (;;) {
      const res = await a.get(url).expect(200);
      seen.push(...res.body.items.map((i: { id: string }) => i.id));
      if (!res.body.nextCursor) break;
      url = `/v1/customers?scope=subtree&limit=1&cursor=${res.body.nextCursor}`;
    }
    expect(seen).toHaveLength(3);
    expect(new Set(seen).size).toBe(3);
  });

  it('answers 400 for a cursor that names no id, or a customer outside the caller’s subtree', async () => {
    for (const cursor of [cursorOf(['not-a-uuid']), cursorOf(["' OR 1=1 --"]), cursorOf([b.id]), cursorOf([root.id]), 'garbage']) {
      const res = await a.get(`/v1/customers?scope=subtree&cursor=${encodeURIComponent(cursor)}`);
      expect(res.status).toBe(400);
      expectProblem(res, 400);
      expect(res.body.errors).toEqual([{ parameter: 'cursor', detail: 'cursor is not a cursor this list issued' }]);
    }
  });
});
