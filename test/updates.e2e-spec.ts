import { Actor, createCustomer, createTariff, loginRoot } from './setup/factories';
import { startTestApp, TestApp } from './setup/test-app';

/**
 * Every PATCH that writes with UPDATE ... RETURNING answers the changed record (these were
 * 500s: TypeORM returns [rows, rowCount] for an UPDATE, and the rows were read as a row).
 */
describe('PATCH answers the updated record', () => {
  let t: TestApp;
  let root: Actor, a: Actor;

  beforeAll(async () => {
    t = await startTestApp();
    root = await loginRoot(t);
    a = await createCustomer(t, root, { name: 'A' });
  });
  afterAll(() => t.close());

  it('PATCH /v1/customers/{id}', async () => {
    const res = await root.patch(`/v1/customers/${a.id}`, { name: 'A2', creditLimit: '10.00' }).expect(200);
    expect(res.body).toMatchObject({ id: a.id, name: 'A2', creditLimit: '10.00', availableCredit: '10.00', version: 2 });
    expect(res.headers.etag).toBe('"2"');
  });

  it('PATCH /v1/me', async () => {
    const res = await a.patch('/v1/me', { timeZone: 'Europe/Paris' }).expect(200);
    expect(res.body).toMatchObject({ id: a.id, timeZone: 'Europe/Paris', parentId: null });
  });

  it('PATCH /v1/tariffs/{id}', async () => {
    const tariffId = await createTariff(a);
    const res = await a.patch(`/v1/tariffs/${tariffId}`, { description: 'weekday rates' }).expect(200);
    expect(res.body).toMatchObject({ id: tariffId, description: 'weekday rates', version: 2 });
  });
});
