import { JwtSecret } from '../auth/jwt-secret';
import { Cursors } from './pagination';

const cursorsWith = (secret: string) => new Cursors({ get: () => Promise.resolve(secret) } as unknown as JwtSecret);
const rejected = expect.objectContaining({ status: 400, members: { errors: [{ parameter: 'cursor', detail: expect.any(String) }] } });

describe('cursors', () => {
  const cursors = cursorsWith('a-secret-of-at-least-thirty-two-characters');
  const values = ['2026-11-25T20:21:45.123456Z', '0b5f3c1e-7d1a-4c1e-9a53-0f6c1f0d9e2a'];

  it('round-trip, and reveal nothing of their values', async () => {
    const cursor = await cursors.encode('accounts', values);
    expect(await cursors.decode('accounts', cursor, ['timestamp', 'uuid'])).toEqual(values);
    expect(await cursors.decode('accounts', undefined, ['string'])).toBeUndefined();
    expect(Buffer.from(cursor, 'base64url').toString('latin1')).not.toContain('2026');
    expect(await cursors.encode('accounts', values)).not.toBe(cursor);
  });

  it('never reuse an IV, across more cursors than one batch of random bytes holds', async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 2500; i++) {
      const cursor = await cursors.encode('accounts', values);
      seen.add(Buffer.from(cursor, 'base64url').subarray(1, 13).toString('hex'));
      if (i % 500 === 0) expect(await cursors.decode('accounts', cursor, ['timestamp', 'uuid'])).toEqual(values);
    }
    expect(seen.size).toBe(2500);
  });

  it('are read by another instance with the same secret', async () => {
    const cursor = await cursors.encode('ledger', ['42']);
    expect(await cursorsWith('a-secret-of-at-least-thirty-two-characters').decode('ledger', cursor, ['bigint'])).toEqual(['42']);
    await expect(cursorsWith('another-secret-of-at-least-thirty-two-chars').decode('ledger', cursor, ['bigint'])).rejects.toThrow(rejected);
  });

  it('reject a cursor of another list, a flipped bit, a truncated one, garbage and the old unsigned format', async () => {
    const cursor = await cursors.encode('accounts', values);
    const raw = Buffer.from(cursor, 'base64url');
    const flipped = Buffer.from(raw);
    flipped[20] ^= 1;
    for (const bad of [
      await cursors.encode('tariffs', values),
      flipped.toString('base64url'),
      raw.subarray(0, raw.length - 1).toString('base64url'),
      'garbage',
      cursor + '=',
      Buffer.from(JSON.stringify(values)).toString('base64url'),
    ]) {
      await expect(cursors.decode('accounts', bad, ['timestamp', 'uuid'])).rejects.toThrow(rejected);
    }
  });

  it('check the shape even of an authentic cursor', async () => {
    await expect(cursors.decode('ledger', await cursors.encode('ledger', ['9223372036854775808']), ['bigint'])).rejects.toThrow(rejected);
    await expect(cursors.decode('x', await cursors.encode('x', ['2026-02-30T00:00:00Z']), ['timestamp'])).rejects.toThrow(rejected);
  });

  it('page an in-memory list by its key', async () => {
    const items = ['a', 'b', 'c', 'd', 'e'];
    const first = await cursors.pageOf('letters', items, (x) => x, 2);
    expect(first.items).toEqual(['a', 'b']);
    const second = await cursors.pageOf('letters', items, (x) => x, 2, first.nextCursor!);
    expect(second.items).toEqual(['c', 'd']);
    const last = await cursors.pageOf('letters', items, (x) => x, 2, second.nextCursor!);
    expect(last).toEqual({ items: ['e'], nextCursor: null });
  });
});
