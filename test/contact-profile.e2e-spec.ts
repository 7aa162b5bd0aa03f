import { Actor, customerBody, expectBadField, expectProblem, uniqueName } from './setup/factories';
import { resellerWithTariff } from './setup/lists';
import { startTestApp, TestApp } from './setup/test-app';

const PROFILE = {
  companyName: 'Acme Telecom GmbH',
  email: 'billing@acme.example',
  phone: '+4930123456789',
  address: { line1: 'Friedrichstraße 1', line2: '3. OG', city: 'Berlin', region: 'BE', postalCode: '10117', country: 'DE' },
  taxId: 'DE123456789',
};

/** The customers' contact and billing profile (SPEC §15): written, shown, validated, cleared. */
describe('contact profile', () => {
  let t: TestApp;
  let reseller: Actor;
  let tariff: string;

  const newCustomer = (body: Record<string, unknown>) =>
    reseller.post('/v1/customers', customerBody(tariff, body));
  const count = async () => (await reseller.get('/v1/customers?limit=200').expect(200)).body.items.length as number;

  beforeAll(async () => {
    t = await startTestApp();
    ({ reseller, tariff } = await resellerWithTariff(t));
  });
  afterAll(() => t.close());

  it('is written on create and shown on the customer, in lists and on the customer’s own /v1/me', async () => {
    const login = uniqueName('l');
    const res = await newCustomer({ ...PROFILE, webLogin: login }).expect(201);
    expect(res.body).toMatchObject(PROFILE);
    expect((await reseller.get(`/v1/customers/${res.body.id}`).expect(200)).body).toMatchObject(PROFILE);
    const listed = (await reseller.get('/v1/customers?limit=200').expect(200)).body.items.find((c: { id: string }) => c.id === res.body.id);
    expect(listed).toMatchObject(PROFILE);
    const self = await t.http().post('/v1/auth/login').send({ login, password: 'password-123' }).expect(200);
    const me = await t.http().get('/v1/me').set('Authorization', `Bearer ${self.body.accessToken}`).expect(200);
    expect(me.body).toMatchObject(PROFILE);
  });

  it('is all null when not given; an address without optional lines shows them as null; the country is stored in capitals', async () => {
    const plain = await newCustomer({}).expect(201);
    expect(plain.body).toMatchObject({ companyName: null, email: null, phone: null, address: null, taxId: null });
    const partial = await newCustomer({ address: { country: 'fr', city: ' Lyon ' } }).expect(201);
    expect(partial.body.address).toEqual({ line1: null, line2: null, city: 'Lyon', region: null, postalCode: null, country: 'FR' });
  });

  it('changes with PATCH field by field; null clears a field; the address is replaced whole', async () => {
    const created = await newCustomer(PROFILE).expect(201);
    const url = `/v1/customers/${created.body.id}`;
    const renamed = await reseller.patch(url, { companyName: 'Acme AG', address: { line1: 'Bahnhofstrasse 1', city: 'Zürich', country: 'CH' } }).expect(200);
    expect(renamed.body).toMatchObject({
      companyName: 'Acme AG',
      email: PROFILE.email,
      phone: PROFILE.phone,
      taxId: PROFILE.taxId,
      address: { line1: 'Bahnhofstrasse 1', line2: null, city: 'Zürich', region: null, postalCode: null, country: 'CH' },
    });
    const cleared = await reseller.patch(url, { companyName: null, email: null, phone: null, address: null, taxId: null }).expect(200);
    expect(cleared.body).toMatchObject({ companyName: null, email: null, phone: null, address: null, taxId: null });
    expect((await reseller.get(url).expect(200)).body).toMatchObject({ companyName: null, address: null });
  });

  it('refuses invalid values with a 400 naming the pointer, and writes nothing', async () => {
    const before = await count();
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ email: 'not-an-email' }, '/email'],
      [{ email: `${'a'.repeat(250)}@x.example` }, '/email'],
      [{ email: 42 }, '/email'],
      [{ phone: '030 1234567' }, '/phone'],
      [{ phone: '+1 415 555 0123' }, '/phone'],
      [{ phone: '+999123' }, '/phone'],
      [{ phone: '+1234567890123456' }, '/phone'],
      [{ address: { line1: 'x' } }, '/address/country'],
      [{ address: { country: 'XX' } }, '/address/country'],
      [{ address: { country: 'DEU' } }, '/address/country'],
      [{ address: { country: 'DE', line1: 'x'.repeat(129) } }, '/address/line1'],
      [{ address: { country: 'DE', postalCode: '1'.repeat(33) } }, '/address/postalCode'],
      [{ address: { country: 'DE', city: '   ' } }, '/address/city'],
      [{ address: { country: 'DE', planet: 'Earth' } }, '/address/planet'],
      [{ address: 'Berlin' }, '/address'],
      [{ companyName: 'x'.repeat(257) }, '/companyName'],
      [{ companyName: '' }, '/companyName'],
      [{ taxId: 'x'.repeat(65) }, '/taxId'],
      [{ taxId: 'DE 123<script>' }, '/taxId'],
    ];
    for (const [body, pointer] of cases) {
      expectBadField(await newCustomer(body), pointer);
    }
    expect(await count()).toBe(before);

    const created = await newCustomer(PROFILE).expect(201);
    const res = await reseller.patch(`/v1/customers/${created.body.id}`, { email: 'nope', address: { country: 'ZZ' } });
    expect(res.status).toBe(400);
    expect(res.body.errors.map((e: { pointer: string }) => e.pointer).sort()).toEqual(['/address/country', '/email']);
    expect((await reseller.get(`/v1/customers/${created.body.id}`).expect(200)).body).toMatchObject(PROFILE);
  });

  it('is not writable through PATCH /v1/me (the parent keeps the billing profile)', async () => {
    const res = await reseller.patch('/v1/me', { companyName: 'Mine' });
    expect(res.status).toBe(400);
    expectProblem(res, 400);
  });
});
