import { retryDelayMs } from './webhook-runtime';

describe('webhook retry schedule (exponential backoff, full jitter)', () => {
  it('draws each wait uniformly below base·2^(n−1), capped', () => {
    expect(retryDelayMs(1, 5000, 3_600_000, () => 0.999999)).toBe(4999);
    expect(retryDelayMs(2, 5000, 3_600_000, () => 0.999999)).toBe(9999);
    expect(retryDelayMs(5, 5000, 3_600_000, () => 0.5)).toBe(40000);
    expect(retryDelayMs(30, 5000, 3_600_000, () => 0.999999)).toBe(3_599_996);
    expect(retryDelayMs(3, 5000, 3_600_000, () => 0)).toBe(0);
  });

  it('keeps the average wait growing to half an hour, so 72 hours hold well over a hundred attempts', () => {
    let elapsed = 0;
    let attempts = 0;
    while (elapsed < 72 * 3_600_000) elapsed += retryDelayMs(++attempts, 5000, 3_600_000, () => 0.5);
    expect(attempts).toBeGreaterThan(100);
    // The first day alone is covered by retries (the schedule reaches its cap within 10 attempts).
    expect(retryDelayMs(10, 5000, 3_600_000, () => 0.999999)).toBeGreaterThan(2_500_000);
  });
});
