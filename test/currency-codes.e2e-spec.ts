import { Actor, createCustomer, loginRoot } from './setup/factories';
import { startTestApp, TestApp } from './setup/test-app';

describe('currency codes are varchar(3) checked by the database', () => {
  let t: TestApp;
  let root: Actor;

  beforeAll(async () => {
    t = await startTestApp();
    root = await loginRoot(t);
  });
  afterAll(() => t.close());

  it('stores every currency column as the domain currency_code (varchar(3)), never char(3)', async () => {
    const columns: Array<{ table_name: string; column_name: string; data_type: string; domain_name: string | null }> = await t.dataSource.query(
      `SELECT table_name, column_name, data_type, domain_name FROM information_schema.columns
        WHERE table_schema = current_schema() AND column_name LIKE '%currency%' ORDER BY table_name, column_name`,
    );
    expect(columns.map((c) => `${c.table_name}.${c.column_name}`)).toEqual([
      'call_charges.charged_currency',
      'call_charges.currency',
      'call_charges.seller_currency',
      'customers.base_currency',
      'exchange_rate_history.currency',
      'exchange_rates.currency',
      'ledger_entries.currency',
      'system_settings.default_base_currency',
      'tariffs.currency',
    ]);
    for (const c of columns) expect(c).toMatchObject({ data_type: 'character varying', domain_name: 'currency_code' });
  });

  it('refuses anything but three capital letters with the named constraint', async () => {
    for (const bad of ['usd', 'US', 'U$D']) {
      await expect(t.dataSource.query(`UPDATE system_settings SET default_base_currency = $1`, [bad])).rejects.toMatchObject({
        driverError: expect.objectContaining({ code: '23514', constraint: 'currency_code_iso' }),
      });
    }
    // NULL stays allowed where the column is nullable.
    await t.dataSource.query(`UPDATE system_settings SET default_base_currency = NULL`);
  });

  it('answers codes exactly as stored, through tables, tariffs, customers and ledgers', async () => {
    const a = await createCustomer(t, root, { name: 'Codes', baseCurrency: 'EUR', balance: '5' });
    await a.put('/v1/exchange-rates/GBP', { rate: '1.17' }).expect(200);
    const rates = await a.get('/v1/exchange-rates').expect(200);
    expect(rates.body.items).toEqual([expect.objectContaining({ currency: 'GBP', baseCurrency: 'EUR' })]);
    const me = await a.get('/v1/me').expect(200);
    expect(me.body.baseCurrency).toBe('EUR');
    const stored: Array<{ currency: string }> = await t.dataSource.query(`SELECT currency FROM exchange_rates WHERE customer_id = $1`, [a.id]);
    expect(stored).toEqual([{ currency: 'GBP' }]);
  });
});
