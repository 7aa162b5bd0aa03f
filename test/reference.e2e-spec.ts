import { createCanopyClient } from '../openapi/client';
import { startTestApp, TestApp } from './setup/test-app';

describe('reference data (through the generated client)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  it('lists ISO 4217 currencies with minor units, without authentication', async () => {
    const client = createCanopyClient(t.baseUrl);
    const { data, response } = await client.GET('/v1/currencies');
    expect(response.status).toBe(200);
    expect(data!.nextCursor).toBeNull();
    const byCode = new Map(data!.items.map((c) => [c.code, c]));
    expect(byCode.get('USD')).toEqual({ code: 'USD', name: 'US Dollar', numericCode: '840', minorUnits: 2 });
    expect(byCode.get('JPY')?.minorUnits).toBe(0);
    expect(byCode.get('BHD')?.minorUnits).toBe(3);
    expect(data!.items.length).toBeGreaterThan(150);
  });

  it('lists IANA time zones with their current offsets', async () => {
    const { data } = await createCanopyClient(t.baseUrl).GET('/v1/time-zones');
    const names = data!.items.map((z) => z.name);
    expect(names).toContain('Europe/Paris');
    expect(names).toContain('UTC');
    expect(data!.items.find((z) => z.name === 'Asia/Tokyo')?.utcOffset).toBe('+09:00');
    expect(data!.items.find((z) => z.name === 'UTC')?.utcOffset).toBe('+00:00');
  });

  it('lists the supported languages as BCP 47 codes with names', async () => {
    const { data } = await createCanopyClient(t.baseUrl).GET('/v1/languages');
    expect(data!.items).toContainEqual({ code: 'en', name: 'English', nativeName: 'English' });
    expect(data!.items.find((l) => l.code === 'pt-BR')?.name).toBe('Brazilian Portuguese');
  });
});
