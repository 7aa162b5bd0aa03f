import { createCanopyClient } from '../openapi/client';
import { startTestApp, TestApp } from './setup/test-app';

/** Every item of a public list, walking its pages (SPEC §11: every list pages). */
async function all<T>(t: TestApp, path: string): Promise<T[]> {
  const items: T[] = [];
  let cursor: string | null = null;
  do {
    const res = await fetch(`${t.baseUrl}${path}?limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    expect(res.status).toBe(200);
    const page = (await res.json()) as { items: T[]; nextCursor: string | null };
    items.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor);
  return items;
}

describe('reference data (through the generated client)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  it('lists ISO 4217 currencies with minor units, without authentication', async () => {
    const client = createCanopyClient(t.baseUrl);
    const { data, response } = await client.GET('/v1/currencies', { params: { query: { limit: 10 } } });
    expect(response.status).toBe(200);
    expect(data!.items).toHaveLength(10);
    expect(data!.nextCursor).toEqual(expect.any(String));
    const items = await all<{ code: string; minorUnits: number | null }>(t, '/v1/currencies');
    expect(new Set(items.map((c) => c.code)).size).toBe(items.length);
    const byCode = new Map(items.map((c) => [c.code, c]));
    expect(byCode.get('USD')).toEqual({ code: 'USD', name: 'US Dollar', numericCode: '840', minorUnits: 2 });
    expect(byCode.get('JPY')?.minorUnits).toBe(0);
    expect(byCode.get('BHD')?.minorUnits).toBe(3);
    expect(items.length).toBeGreaterThan(150);
  });

  it('lists IANA time zones with their current offsets', async () => {
    const { data } = await createCanopyClient(t.baseUrl).GET('/v1/time-zones');
    expect(data!.items).toHaveLength(50);
    const zones = await all<{ name: string; utcOffset: string }>(t, '/v1/time-zones');
    const names = zones.map((z) => z.name);
    expect(names.length).toBeGreaterThan(300);
    expect(new Set(names).size).toBe(names.length);
    expect(names).toContain('Europe/Paris');
    expect(names).toContain('UTC');
    expect(zones.find((z) => z.name === 'Asia/Tokyo')?.utcOffset).toBe('+09:00');
    expect(zones.find((z) => z.name === 'UTC')?.utcOffset).toBe('+00:00');
  });

  it('lists the supported languages as BCP 47 codes with names', async () => {
    const { data } = await createCanopyClient(t.baseUrl).GET('/v1/languages');
    expect(data!.items).toContainEqual({ code: 'en', name: 'English', nativeName: 'English' });
    expect(data!.items.find((l) => l.code === 'pt-BR')?.name).toBe('Brazilian Portuguese');
  });
});
