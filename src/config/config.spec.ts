import { ConfigError, loadConfig } from './config';

describe('loadConfig', () => {
  it('applies defaults', () => {
    const config = loadConfig({});
    expect(config.PORT).toBe(3000);
    expect(config.BASE_CURRENCY).toBe('USD');
    expect(config.ROOT_LOGIN).toBe('root');
    expect(config.DATABASE_URL).toBeUndefined();
  });

  it('bounds the database by default, and refuses a bound of zero', () => {
    const config = loadConfig({});
    expect([config.DB_POOL_TIMEOUT_MS, config.DB_STATEMENT_TIMEOUT_MS, config.DB_IDLE_IN_TRANSACTION_TIMEOUT_MS]).toEqual([5000, 30000, 60000]);
    expect(() => loadConfig({ DB_STATEMENT_TIMEOUT_MS: '0' })).toThrow(/DB_STATEMENT_TIMEOUT_MS/);
  });

  it('names every bad variable', () => {
    try {
      loadConfig({ PORT: 'eighty', BASE_CURRENCY: 'XXY', JWT_SECRET: 'short', DATABASE_URL: 'mysql://x' });
      throw new Error('expected a ConfigError');
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      const message = (error as ConfigError).message;
      for (const name of ['PORT', 'BASE_CURRENCY', 'JWT_SECRET', 'DATABASE_URL']) expect(message).toContain(name);
    }
  });

  it('bounds the heap growth at 50 % by default; 0 leaves V8 its own, beyond 300 is refused', () => {
    expect(loadConfig({}).HEAP_GROWING_PERCENT).toBe(50);
    expect(loadConfig({ HEAP_GROWING_PERCENT: '0' }).HEAP_GROWING_PERCENT).toBe(0);
    expect(() => loadConfig({ HEAP_GROWING_PERCENT: '301' })).toThrow(/HEAP_GROWING_PERCENT/);
  });

  it('takes METRICS_PORT only apart from PORT', () => {
    expect(loadConfig({ METRICS_PORT: '9464' }).METRICS_PORT).toBe(9464);
    expect(loadConfig({}).METRICS_PORT).toBeUndefined();
    expect(() => loadConfig({ PORT: '3000', METRICS_PORT: '3000' })).toThrow(/METRICS_PORT: must differ from PORT/);
    expect(() => loadConfig({ METRICS_PORT: '70000' })).toThrow(/METRICS_PORT/);
  });

  it('keeps events 30 days by default; 0 keeps them all; a retention shorter than the webhook retries is refused', () => {
    expect(loadConfig({}).EVENTS_RETENTION_DAYS).toBe(30);
    expect(loadConfig({ EVENTS_RETENTION_DAYS: '0' }).EVENTS_RETENTION_DAYS).toBe(0);
    expect(loadConfig({ EVENTS_RETENTION_DAYS: '3' }).EVENTS_RETENTION_DAYS).toBe(3);
    expect(() => loadConfig({ EVENTS_RETENTION_DAYS: '2' })).toThrow(/EVENTS_RETENTION_DAYS: must cover WEBHOOK_RETRY_HOURS/);
    expect(loadConfig({ EVENTS_RETENTION_DAYS: '2', WEBHOOK_RETRY_HOURS: '48' }).EVENTS_RETENTION_DAYS).toBe(2);
    expect(() => loadConfig({ EVENTS_RETENTION_DAYS: '-1' })).toThrow(/EVENTS_RETENTION_DAYS/);
  });

  it('treats empty strings as unset', () => {
    expect(loadConfig({ DATABASE_URL: '', PORT: '' }).PORT).toBe(3000);
  });
});
