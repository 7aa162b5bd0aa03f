import { decodeCursor, encodeCursor } from './pagination';

describe('cursors', () => {
  it('round-trip', () => {
    const values = ['2026-11-25T20:21:45.123456Z', '0b5f3c1e-7d1a-4c1e-9a53-0f6c1f0d9e2a'];
    expect(decodeCursor(encodeCursor(values), ['timestamp', 'uuid'])).toEqual(values);
    expect(decodeCursor(undefined, ['string'])).toBeUndefined();
  });

  it.each([
    ['not base64 JSON', 'garbage'],
    ['the wrong length', encodeCursor(['2026-11-25T20:21:45Z'])],
    ['a value that is no timestamp', encodeCursor(['yesterday', '0b5f3c1e-7d1a-4c1e-9a53-0f6c1f0d9e2a'])],
    ['a date that does not exist', encodeCursor(['2026-02-30T00:00:00Z', '0b5f3c1e-7d1a-4c1e-9a53-0f6c1f0d9e2a'])],
    ['a value that is no UUID', encodeCursor(['2026-11-25T20:21:45Z', "x' OR 1=1"])],
    ['a number where a string belongs', encodeCursor([1, 2])],
  ])('rejects %s with a 400 naming the cursor', (_name, cursor) => {
    expect(() => decodeCursor(cursor, ['timestamp', 'uuid'])).toThrow(
      expect.objectContaining({ status: 400, members: { errors: [{ parameter: 'cursor', detail: expect.any(String) }] } }),
    );
  });
});
