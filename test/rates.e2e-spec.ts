import { get } from 'node:http';
import { createCanopyClient } from '../openapi/client';
import { Actor, createCustomer, createTariff, expectProblem, loginRoot } from './setup/factories';
import { startTestApp, TestApp } from './setup/test-app';

const HEADER = 'prefix,price,firstInterval,nextInterval,connectFee,effectiveFrom';
const MISSING = '00000000-0000-4000-8000-000000000000';

/**
 * Rates of a tariff: CRUD, whole decks as CSV, and the longest-prefix lookup.
 * Root → A (owns the tariff under test) → C; Root → B beside A.
 */
describe('rates', () => {
  let t: TestApp;
  let root: Actor, a: Actor, b: Actor, c: Actor;
  let tariffId: string;

  const rates = (id = tariffId) => `/v1/tariffs/${id}/rates`;
  const putDeck = (actor: Actor, csv: string, query = '', id = tariffId) =>
    t.http().put(`${rates(id)}${query}`).set('Authorization', `Bearer ${actor.token}`).set('Content-Type', 'text/csv').send(csv);
  const exportDeck = async (actor: Actor, id = tariffId): Promise<string> => {
    const res = await t.http().get(rates(id)).set('Authorization', `Bearer ${actor.token}`).set('Accept', 'text/csv').expect(200);
    expect(res.headers['content-type']).toMatch(/^text\/csv/);
    return res.text;
  };

  /** Starts a CSV download and hangs up as soon as the first bytes arrive. */
  const abortedExport = (id: string) =>
    new Promise<void>((resolve, reject) => {
      const req = get(`${t.baseUrl}${rates(id)}`, { headers: { Authorization: `Bearer ${a.token}`, Accept: 'text/csv' } }, (res) => {
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', (error: NodeJS.ErrnoException) => (error.code === 'ECONNRESET' ? resolve() : reject(error)));
    });

  beforeAll(async () => {
    t = await startTestApp();
    root = await loginRoot(t);
    a = await createCustomer(t, root, { name: 'A' });
    b = await createCustomer(t, root, { name: 'B' });
    c = await createCustomer(t, a, { name: 'C' });
    tariffId = await createTariff(a);
  });
  afterAll(() => t.close());

  describe('one rate at a time', () => {
    let id: string;

    it('creates a rate with defaults, money as strings, an ETag and a Location', async () => {
      const res = await a.post(rates(), { prefix: '3531', price: '0.0125' }).expect(201);
      id = res.body.id;
      expect(res.body).toEqual({
        id: expect.any(String),
        tariffId,
        prefix: '3531',
        price: '0.0125',
        firstInterval: 1,
        nextInterval: 1,
        connectFee: '0.00',
        effectiveFrom: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
        createdAt: expect.any(String),
        updatedAt: expect.any(String),
        version: 1,
      });
      expect(Date.parse(res.body.effectiveFrom)).toBeLessThanOrEqual(Date.now());
      expect(res.headers.etag).toBe('"1"');
      expect(res.headers.location).toBe(`/v1/tariffs/${tariffId}/rates/${id}`);
      const got = await a.get(`${rates()}/${id}`).expect(200);
      expect(got.body).toEqual(res.body);
    });

    it('refuses a second rate for the same prefix and effectiveFrom with a 409', async () => {
      const body = { prefix: '3532', price: '0.5', effectiveFrom: '2024-06-01T00:00:00+02:00' };
      const first = await a.post(rates(), body).expect(201);
      expect(first.body.effectiveFrom).toBe('2024-05-31T22:00:00.000Z');
      const again = await a.post(rates(), { ...body, price: '0.6', effectiveFrom: '2024-05-31T22:00:00.000Z' }).expect(409);
      expectProblem(again, 409);
      expect(again.body.type).toBe('https://canopy.dev/problems/rate-exists');
      const moved = await a.patch(`${rates()}/${id}`, { prefix: '3532', effectiveFrom: '2024-05-31T22:00:00Z' }).expect(409);
      expect(moved.body.type).toBe('https://canopy.dev/problems/rate-exists');
    });

    it('changes a rate under If-Match, and refuses a stale one with 412', async () => {
      const res = await a
        .patch(`${rates()}/${id}`, { price: '0.02', connectFee: '0.1', firstInterval: 60, nextInterval: 6 })
        .set('If-Match', '"1"')
        .expect(200);
      expect(res.body).toMatchObject({ price: '0.02', connectFee: '0.10', firstInterval: 60, nextInterval: 6, version: 2 });
      expect(res.headers.etag).toBe('"2"');
      const stale = await a.patch(`${rates()}/${id}`, { price: '0.03' }).set('If-Match', '"1"').expect(412);
      expectProblem(stale, 412);
    });

    it('answers bad fields with a 400 naming each', async () => {
      const cases: Array<[Record<string, unknown>, string]> = [
        [{ prefix: '44a', price: '1' }, '/prefix'],
        [{ prefix: '', price: '1' }, '/prefix'],
        [{ prefix: '1'.repeat(33), price: '1' }, '/prefix'],
        [{ prefix: '44', price: '0.123456789' }, '/price'],
        [{ prefix: '44', price: 0.5 }, '/price'],
        [{ prefix: '44', price: '-1' }, '/price'],
        [{ prefix: '44', price: '1', connectFee: 1 }, '/connectFee'],
        [{ prefix: '44', price: '1', firstInterval: 0 }, '/firstInterval'],
        [{ prefix: '44', price: '1', nextInterval: 1.5 }, '/nextInterval'],
        [{ prefix: '44', price: '1', effectiveFrom: '2025-02-30T00:00:00Z' }, '/effectiveFrom'],
        [{ prefix: '44', price: '1', effectiveFrom: '2025-01-01' }, '/effectiveFrom'],
        [{ prefix: '44', price: '1', effectiveFrom: '2025-01-01T00:00:00.123456Z' }, '/effectiveFrom'],
        [{ prefix: '44', price: '1', tariffId }, '/tariffId'],
      ];
      for (const [body, pointer] of cases) {
        const res = await a.post(rates(), body).expect(400);
        expectProblem(res, 400);
        expect(res.body.errors.map((e: { pointer: string }) => e.pointer)).toContain(pointer);
      }
      const asNumber = await a.post(rates(), { prefix: '44', price: 0.5 }).expect(400);
      expect(asNumber.body.errors).toEqual([{ pointer: '/price', detail: expect.stringMatching(/^price .*decimal string.*not a number/) }]);
      const nulled = await a.patch(`${rates()}/${id}`, { price: null }).expect(400);
      expect(nulled.body.errors[0].pointer).toBe('/price');
      await a.get(`${rates()}/not-a-uuid`).expect(400);
    });

    it('deletes a rate', async () => {
      await a.delete(`${rates()}/${id}`).set('If-Match', '"1"').expect(412);
      await a.delete(`${rates()}/${id}`).expect(204);
      const gone = await a.get(`${rates()}/${id}`).expect(404);
      expectProblem(gone, 404);
      await a.delete(`${rates()}/${id}`).expect(404);
    });
  });

  describe('listing', () => {
    let listTariff: string;
    beforeAll(async () => {
      listTariff = await createTariff(a);
      const deck = [HEADER, '44,1,,,,2024-01-01T00:00:00Z', '44,2,,,,2023-01-01T00:00:00Z', '441,3,,,,2024-01-01T00:00:00Z', '4,4,,,,2024-01-01T00:00:00Z', '45,5,,,,2024-01-01T00:00:00Z'];
      await putDeck(a, deck.join('\n'), '', listTariff).expect(200);
    });

    it('pages through the rates sorted by prefix then effectiveFrom', async () => {
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const res: { body: { items: Array<{ prefix: string; price: string }>; nextCursor: string | null } } = await a
          .get(`${rates(listTariff)}?limit=2${cursor ? `&cursor=${cursor}` : ''}`)
          .expect(200);
        expect(res.body.items.length).toBeLessThanOrEqual(2);
        seen.push(...res.body.items.map((r) => `${r.prefix}:${r.price}`));
        cursor = res.body.nextCursor;
      } while (cursor);
      expect(seen).toEqual(['4:4.00', '44:2.00', '44:1.00', '441:3.00', '45:5.00']);
    });

    it('filters by prefix: starts with', async () => {
      const res = await a.get(`${rates(listTariff)}?prefix=44`).expect(200);
      expect(res.body.items.map((r: { prefix: string }) => r.prefix)).toEqual(['44', '44', '441']);
      const bad = await a.get(`${rates(listTariff)}?prefix=4x`).expect(400);
      expect(bad.body.errors[0].parameter).toBe('prefix');
      const csv = await t.http().get(`${rates(listTariff)}?prefix=441`).set('Authorization', `Bearer ${a.token}`).set('Accept', 'text/csv').expect(200);
      expect(csv.text).toBe(`${HEADER}\n441,3.00,1,1,0.00,2024-01-01T00:00:00.000Z\n`);
    });

    it('answers JSON unless CSV is asked for', async () => {
      for (const accept of ['application/json', '*/*', 'application/json, text/csv', 'text/csv;q=0.5, application/json']) {
        const res = await t.http().get(rates(listTariff)).set('Authorization', `Bearer ${a.token}`).set('Accept', accept).expect(200);
        expect(res.headers['content-type']).toMatch(/^application\/json/);
      }
      const csv = await t.http().get(rates(listTariff)).set('Authorization', `Bearer ${a.token}`).set('Accept', 'text/csv, */*;q=0.1').expect(200);
      expect(csv.headers['content-type']).toMatch(/^text\/csv/);
    });
  });

  describe('rate decks as CSV', () => {
    let deckTariff: string;
    beforeAll(async () => {
      deckTariff = await createTariff(a);
    });

    const good = [
      HEADER,
      '44,0.02,1,1,0,2025-01-01T00:00:00Z',
      '4420,0.015,60,60,0.05,2025-01-01T00:00:00Z',
      '1,0.01,30,6,0,2024-06-01T12:00:00.5+02:00',
    ].join('\n');

    it('loads a deck (replace) and exports it in canonical form', async () => {
      const res = await putDeck(a, good, '', deckTariff).expect(200);
      expect(res.body).toEqual({ mode: 'replace', rows: 3, inserted: 3, updated: 0, unchanged: 0, deleted: 0, total: 3 });
      expect(await exportDeck(a, deckTariff)).toBe(
        [
          HEADER,
          '1,0.01,30,6,0.00,2024-06-01T10:00:00.500Z',
          '44,0.02,1,1,0.00,2025-01-01T00:00:00.000Z',
          '4420,0.015,60,60,0.05,2025-01-01T00:00:00.000Z',
          '',
        ].join('\n'),
      );
    });

    it('refuses a deck with one bad row in the middle, naming the row, and leaves the old deck untouched', async () => {
      const before = await exportDeck(a, deckTariff);
      const rows = [HEADER];
      for (let i = 0; i < 40; i++) rows.push(`${500 + i},0.1,1,1,0,2025-01-01T00:00:00Z`);
      rows[17] = '516,0.123456789,1,1,0,2025-01-01T00:00:00Z'; // line 18 of the file
      const res = await putDeck(a, rows.join('\n'), '', deckTariff).expect(400);
      expectProblem(res, 400);
      expect(res.body).toMatchObject({ type: 'https://canopy.dev/problems/invalid-rate-deck', errorCount: 1 });
      expect(res.body.errors).toEqual([{ row: 18, pointer: '/rows/18/price', detail: expect.stringContaining('price') }]);
      expect(await exportDeck(a, deckTariff)).toBe(before);
      const merged = await putDeck(a, rows.join('\n'), '?mode=merge', deckTariff).expect(400);
      expect(merged.body.errors[0].row).toBe(18);
      expect(await exportDeck(a, deckTariff)).toBe(before);
    });

    it('lists every bad row with its reasons, at most 100 of them', async () => {
      const deck = [
        HEADER,
        '44,0.1,1,1,0,2025-01-01T00:00:00Z',
        '4x,0.1,0,1,0,2025-01-01T00:00:00Z',
        '',
        '45,0.1,1,1,0',
        '44,0.2,1,1,0,2025-01-01T00:00:00.000Z',
        '46,0.1,1,1,-1,yesterday',
      ].join('\r\n');
      const res = await putDeck(a, deck, '', deckTariff).expect(400);
      expect(res.body.errors).toEqual([
        { row: 3, pointer: '/rows/3/prefix', detail: expect.any(String) },
        { row: 3, pointer: '/rows/3/firstInterval', detail: expect.any(String) },
        { row: 5, pointer: '/rows/5', detail: 'expected 6 fields, found 5' },
        { row: 6, pointer: '/rows/6/effectiveFrom', detail: 'duplicates row 2: one rate per prefix and effectiveFrom' },
        { row: 7, pointer: '/rows/7/connectFee', detail: expect.any(String) },
        { row: 7, pointer: '/rows/7/effectiveFrom', detail: expect.any(String) },
      ]);
      expect(res.body.errorCount).toBe(6);

      const many = [HEADER, ...Array.from({ length: 150 }, (_, i) => `${i},free,1,1,0,`)].join('\n');
      const capped = await putDeck(a, many, '', deckTariff).expect(400);
      expect(capped.body.errors).toHaveLength(100);
      expect(capped.body.errorCount).toBe(150);
      expect(capped.body.detail).toMatch(/150 error/);
    });

    it('refuses a wrong header, an empty body and malformed CSV with a 400', async () => {
      for (const header of ['prefix,price,firstInterval,nextInterval,connectFee', 'prefix,rate,firstInterval,nextInterval,connectFee,effectiveFrom', '44,0.1,1,1,0,2025-01-01T00:00:00Z']) {
        const res = await putDeck(a, `${header}\n44,0.1,1,1,0,2025-01-01T00:00:00Z\n`, '', deckTariff).expect(400);
        expectProblem(res, 400);
        expect(res.body.errors).toEqual([{ row: 1, pointer: '/rows/1', detail: expect.stringContaining(HEADER) }]);
      }
      const empty = await putDeck(a, '', '', deckTariff).expect(400);
      expect(empty.body.errors[0].row).toBe(1);
      const malformed = await putDeck(a, `${HEADER}\n44,"0.1,1,1,0,2025-01-01T00:00:00Z\n`, '', deckTariff).expect(400);
      expect(malformed.body.errors[0].detail).toMatch(/^malformed CSV/);
      const mode = await putDeck(a, good, '?mode=upsert', deckTariff).expect(400);
      expect(mode.body.errors[0].parameter).toBe('mode');
    });

    it('refuses anything but text/csv with a 415', async () => {
      const res = await a.put(rates(deckTariff), { prefix: '44' }).expect(415);
      expectProblem(res, 415);
    });

    it('export → import → export is byte-identical', async () => {
      const messy = [
        '\ufeff' + HEADER,
        ' 7 , 0.10 , , , ,2024-03-01T00:00:00+01:00',
        '"7","0.2","60","60","0.000","2024-04-01T00:00:00.000Z"',
        '8,12.345678,1,1,1.5,2030-01-01T00:00:00Z',
        '9,0,1,1,0,',
      ].join('\r\n');
      await putDeck(a, messy, '', deckTariff).expect(200);
      const first = await exportDeck(a, deckTariff);
      expect(first.split('\n').slice(0, 4)).toEqual([
        HEADER,
        '7,0.10,1,1,0.00,2024-02-29T23:00:00.000Z',
        '7,0.20,60,60,0.00,2024-04-01T00:00:00.000Z',
        '8,12.345678,1,1,1.50,2030-01-01T00:00:00.000Z',
      ]);
      const replaced = await putDeck(a, first, '', deckTariff).expect(200);
      expect(replaced.body).toMatchObject({ inserted: 4, deleted: 4, total: 4 });
      expect(await exportDeck(a, deckTariff)).toBe(first);
      const merged = await putDeck(a, first, '?mode=merge', deckTariff).expect(200);
      expect(merged.body).toEqual({ mode: 'merge', rows: 4, inserted: 0, updated: 0, unchanged: 4, deleted: 0, total: 4 });
      expect(await exportDeck(a, deckTariff)).toBe(first);
    });

    it('merges: upserts on (prefix, effectiveFrom) and keeps the rest', async () => {
      await putDeck(a, good, '', deckTariff).expect(200);
      const deck = [HEADER, '44,0.03,1,1,0,2025-01-01T00:00:00Z', '4420,0.015,60,60,0.05,2025-01-01T00:00:00Z', '49,0.5,1,1,0,2025-01-01T00:00:00Z'].join('\n');
      const res = await putDeck(a, deck, '?mode=merge', deckTariff).expect(200);
      expect(res.body).toEqual({ mode: 'merge', rows: 3, inserted: 1, updated: 1, unchanged: 1, deleted: 0, total: 4 });
      const list = await a.get(rates(deckTariff)).expect(200);
      expect(list.body.items.map((r: { prefix: string; price: string; version: number }) => `${r.prefix}:${r.price}:v${r.version}`)).toEqual([
        '1:0.01:v1',
        '44:0.03:v2',
        '4420:0.015:v1',
        '49:0.50:v1',
      ]);
    });

    it('loads tens of thousands of rows in batches', async () => {
      const rows = [HEADER];
      for (let i = 0; i < 25000; i++) rows.push(`${1000000 + i},0.0${i % 97},60,6,0,2025-01-01T00:00:00Z`);
      const res = await putDeck(a, rows.join('\n'), '', deckTariff).expect(200);
      expect(res.body).toMatchObject({ rows: 25000, inserted: 25000, total: 25000 });
      const csv = await exportDeck(a, deckTariff);
      expect(csv.split('\n')).toHaveLength(25002);
      expect(Buffer.byteLength(csv)).toBeGreaterThan(1024 * 1024); // over the limit of every other body
      // Clients that hang up mid-download give their database connection back.
      for (let i = 0; i < 11; i++) await abortedExport(deckTariff); // the pool holds 10
      expect(await exportDeck(a, deckTariff)).toBe(csv);
      const again = await putDeck(a, csv, '?mode=merge', deckTariff).expect(200);
      expect(again.body).toMatchObject({ inserted: 0, updated: 0, unchanged: 25000, total: 25000 });
    });

    it('answers a CSV over 20 MiB with a 413 problem, and keeps 1 MiB for every other body', async () => {
      const line = '123456789012,0.12345678,60,60,0.12345678,2025-01-01T00:00:00.000Z\n';
      const big = HEADER + '\n' + line.repeat(Math.ceil((20 * 1024 * 1024) / line.length) + 10);
      const res = await putDeck(a, big, '', deckTariff);
      expect(res.status).toBe(413);
      expectProblem(res, 413);
      const elsewhere = await t
        .http()
        .post(rates(deckTariff))
        .set('Authorization', `Bearer ${a.token}`)
        .set('Content-Type', 'text/csv')
        .send(line.repeat(Math.ceil((1024 * 1024) / line.length) + 10));
      expect(elsewhere.status).toBe(413);
    });

    it('writes one audit event per upload, with its counts and not its rows; a refused deck writes none', async () => {
      const id = await createTariff(a);
      const deckEvents = async () => {
        const res = await root.get(`/v1/audit-events?targetType=rate&targetId=${id}&limit=200`).expect(200);
        return (res.body.items as Array<{ action: string; actor: string | null; changes: unknown }>).filter((e) => e.action.startsWith('rate-deck.'));
      };
      await putDeck(a, good, '', id).expect(200);
      await putDeck(a, [HEADER, '44,0.03,1,1,0,2025-01-01T00:00:00Z', '49,0.5,1,1,0,2025-01-01T00:00:00Z'].join('\n'), '?mode=merge', id).expect(200);
      await putDeck(a, [HEADER, '44,free,1,1,0,'].join('\n'), '?mode=merge', id).expect(400);
      const events = await deckEvents();
      expect(events).toEqual([
        {
          ...events[0],
          action: 'rate-deck.merge',
          actor: a.id,
          changes: { before: null, after: { tariffId: id, mode: 'merge', rows: 2, inserted: 1, updated: 1, unchanged: 0, deleted: 0, total: 4 } },
        },
        {
          ...events[1],
          action: 'rate-deck.replace',
          actor: a.id,
          changes: { before: null, after: { tariffId: id, mode: 'replace', rows: 3, inserted: 3, updated: 0, unchanged: 0, deleted: 0, total: 3 } },
        },
      ]);
    });

    it('deletes the rates with their tariff', async () => {
      const id = await createTariff(a);
      await putDeck(a, good, '', id).expect(200);
      await a.delete(`/v1/tariffs/${id}`).expect(204);
      const left = await t.dataSource.query(`SELECT count(*)::int AS n FROM rates WHERE tariff_id = $1`, [id]);
      expect(left[0].n).toBe(0);
    });
  });

  describe('lookup', () => {
    let lookupTariff: string;
    const lookup = (number: string) => a.get(`${rates(lookupTariff)}/lookup?number=${encodeURIComponent(number)}`);

    beforeAll(async () => {
      lookupTariff = await createTariff(a);
      const deck = [
        HEADER,
        '4,0.10,1,1,0,2020-01-01T00:00:00Z',
        '44,0.20,1,1,0,2020-01-01T00:00:00Z',
        '4420,0.30,1,1,0,2020-01-01T00:00:00Z',
        '4420,0.35,1,1,0,2021-01-01T00:00:00Z',
        '4420,0.99,1,1,0,2099-01-01T00:00:00Z',
        '4471,0.50,1,1,0,2099-01-01T00:00:00Z',
      ];
      await putDeck(a, deck.join('\n'), '', lookupTariff).expect(200);
    });

    it('picks the longest prefix in effect, and of its rates the latest already in effect', async () => {
      const res = await lookup('+442071234567').expect(200);
      expect(res.body).toMatchObject({ prefix: '4420', price: '0.35', effectiveFrom: '2021-01-01T00:00:00.000Z' });
      expect((await lookup('4420').expect(200)).body.price).toBe('0.35');
      expect((await lookup('44123').expect(200)).body).toMatchObject({ prefix: '44', price: '0.20' });
      // 4471's only rate is future-dated: 44 still applies.
      expect((await lookup('447123456').expect(200)).body).toMatchObject({ prefix: '44', price: '0.20' });
      expect((await lookup('49').expect(200)).body).toMatchObject({ prefix: '4', price: '0.10' });
    });

    it('answers a number no rate covers with a no-rate 404', async () => {
      const res = await lookup('+15551234').expect(404);
      expectProblem(res, 404);
      expect(res.body).toMatchObject({ type: 'https://canopy.dev/problems/no-rate', title: 'No rate' });
      const empty = await createTariff(a);
      const none = await a.get(`${rates(empty)}/lookup?number=44`).expect(404);
      expect(none.body.type).toBe('https://canopy.dev/problems/no-rate');
    });

    it('works through the generated client', async () => {
      const client = createCanopyClient(t.baseUrl, a.token);
      const created = await client.POST('/v1/tariffs/{id}/rates', {
        params: { path: { id: lookupTariff } },
        body: { prefix: '3', price: '0.07', effectiveFrom: '2020-01-01T00:00:00Z' },
      });
      expect(created.response.status).toBe(201);
      const { data, response } = await client.GET('/v1/tariffs/{id}/rates/lookup', {
        params: { path: { id: lookupTariff }, query: { number: '+390612345' } },
      });
      expect(response.status).toBe(200);
      expect(data).toMatchObject({ id: created.data?.id, prefix: '3', price: '0.07' });
    });

    it('validates the number', async () => {
      for (const number of ['', 'abc', '+', '44-20', '1'.repeat(33), '++44']) {
        const res = await lookup(number).expect(400);
        expect(res.body.errors[0].parameter).toBe('number');
      }
      const missing = await a.get(`${rates(lookupTariff)}/lookup`).expect(400);
      expect(missing.body.errors[0].parameter).toBe('number');
    });
  });

  describe('scope and rights', () => {
    it('answers B, and A’s child C, with the same 404 as for a tariff that does not exist', async () => {
      const missing = await b.get(rates(MISSING)).expect(404);
      for (const outsider of [b, c]) {
        const reads = [
          await outsider.get(rates()),
          await t.http().get(rates()).set('Authorization', `Bearer ${outsider.token}`).set('Accept', 'text/csv'),
          await outsider.get(`${rates()}/lookup?number=44`),
          await outsider.post(rates(), { prefix: '44', price: '1' }),
          await putDeck(outsider, `${HEADER}\n`),
        ];
        for (const res of reads) {
          expect(res.status).toBe(404);
          expectProblem(res, 404);
          expect({ ...res.body, instance: undefined }).toEqual({ ...missing.body, instance: undefined });
        }
      }
      const rate = await a.post(rates(), { prefix: '999', price: '1' }).expect(201);
      await b.get(`${rates()}/${rate.body.id}`).expect(404);
      await b.patch(`${rates()}/${rate.body.id}`, { price: '0' }).expect(404);
      await b.delete(`${rates()}/${rate.body.id}`).expect(404);
      // The rate is reachable only through its own tariff.
      const other = await createTariff(a);
      await a.get(`${rates(other)}/${rate.body.id}`).expect(404);
      expect((await a.get(`${rates()}/${rate.body.id}`).expect(200)).body.price).toBe('1.00');
    });

    it('lets the root see and change rates anywhere below it', async () => {
      await root.get(rates()).expect(200);
      await root.post(rates(), { prefix: '998', price: '1' }).expect(201);
    });

    it('answers a caller without tariffs.manage with a 403 naming it, and still lets it read', async () => {
      const key = await a.post('/v1/api-keys', { name: 'read-only', permissions: ['customers.create'] }).expect(201);
      const token = (await t.http().post('/v1/auth/token').send({ apiKey: key.body.apiKey }).expect(200)).body.accessToken;
      const as = { Authorization: `Bearer ${token}` };
      const existing = (await a.get(rates()).expect(200)).body.items[0];
      const writes = [
        await t.http().post(rates()).set(as).send({ prefix: '44', price: '1' }),
        await t.http().put(rates()).set(as).set('Content-Type', 'text/csv').send(`${HEADER}\n`),
        await t.http().patch(`${rates()}/${existing.id}`).set(as).send({ price: '2' }),
        await t.http().delete(`${rates()}/${existing.id}`).set(as),
      ];
      for (const res of writes) {
        expect(res.status).toBe(403);
        expectProblem(res, 403);
        expect(res.body.permission).toBe('tariffs.manage');
        expect(res.body.detail).toContain('tariffs.manage');
      }
      await t.http().get(rates()).set(as).expect(200);
      await t.http().get(`${rates()}/lookup?number=999`).set(as).expect(200);
    });
  });
});
