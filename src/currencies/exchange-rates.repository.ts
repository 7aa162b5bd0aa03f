import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { Cursors, Page } from '../common/pagination';
import type { FindOptions } from '../database/access';
import { Keyset } from '../database/keyset';
import { returnedRows, SqlParams } from '../database/sql';
import type { Tx } from '../database/writes';
import { Caller } from '../tree/caller';
import { subtreeCondition } from '../tree/scope';

export interface RateRow {
  currency: string;
  rate: string;
  version: number;
  updated_at: Date;
}

export interface RateChangeRow {
  id: string;
  currency: string;
  /** null: the rate was deleted. */
  rate: string | null;
  at: Date;
}

/** A customer's base currency and the rates of its table (value of 1 unit in that base). */
export interface TableRows {
  baseCurrency: string;
  rates: Map<string, string>;
}

const RATE_COLUMNS = `r.currency, r.rate, r.version, r.updated_at`;

const ratesKeyset = (ownerId: string) => new Keyset(`exchange-rates:${ownerId}`, [{ sql: 'r.currency', type: 'string' }]);
const historyKeyset = (ownerId: string, currency: string) =>
  new Keyset(`exchange-rate-history:${ownerId}:${currency}`, [{ sql: 'h.id', type: 'bigint' }], 'desc');

/**
 * Every SQL text about exchange-rate tables and their history. A table belongs to a customer
 * (its owner); scoped methods join the owner and keep it inside the caller's subtree.
 */
@Injectable()
export class ExchangeRatesRepository {
  constructor(
    private readonly dataSource: DataSource,
    private readonly cursors: Cursors,
  ) {}

  private db(tx?: Tx): Tx {
    return tx ?? this.dataSource.manager;
  }

  /**
   * The table of a customer, whoever asks: a posting converts with the table of the target's
   * parent, which may lie above the caller. Undefined when there is no such customer.
   */
  async unscopedTableOf(customerId: string, tx?: Tx): Promise<TableRows | undefined> {
    const rows: Array<{ base_currency: string; currency: string | null; rate: string | null }> = await this.db(tx).query(
      `SELECT c.base_currency, r.currency, r.rate
         FROM customers c LEFT JOIN exchange_rates r ON r.customer_id = c.id
        WHERE c.id = $1`,
      [customerId],
    );
    if (!rows.length) return undefined;
    const rates = new Map<string, string>();
    for (const row of rows) if (row.currency && row.rate) rates.set(row.currency, row.rate);
    return { baseCurrency: rows[0].base_currency, rates };
  }

  /** The tables of several customers in one query (postings preload what they convert with), by customer id. */
  async unscopedTablesOf(customerIds: string[], tx?: Tx): Promise<Map<string, TableRows>> {
    const rows: Array<{ id: string; base_currency: string; currency: string | null; rate: string | null }> = await this.db(tx).query(
      `SELECT c.id, c.base_currency, r.currency, r.rate
         FROM customers c LEFT JOIN exchange_rates r ON r.customer_id = c.id
        WHERE c.id = ANY ($1::uuid[])`,
      [customerIds],
    );
    const tables = new Map<string, TableRows>();
    for (const row of rows) {
      const table = tables.get(row.id) ?? { baseCurrency: row.base_currency, rates: new Map<string, string>() };
      if (row.currency && row.rate) table.rates.set(row.currency, row.rate);
      tables.set(row.id, table);
    }
    return tables;
  }

  /** The rate of `currency` in the table of `ownerId` when that owner is in the caller's subtree. */
  async findVisible(caller: Caller, ownerId: string, currency: string, options: FindOptions = {}): Promise<RateRow | undefined> {
    const params = new SqlParams();
    const rows: RateRow[] = await this.db(options.tx).query(
      `SELECT ${RATE_COLUMNS} FROM exchange_rates r JOIN customers c ON c.id = r.customer_id
        WHERE r.customer_id = ${params.add(ownerId)} AND r.currency = ${params.add(currency)}
          AND ${subtreeCondition('c', caller, params, 'self-and-descendants')}
        ${options.lock ? `${options.lock} OF r` : ''}`,
      params.values,
    );
    return rows[0];
  }

  async page(caller: Caller, ownerId: string, limit: number, cursor?: string): Promise<Page<RateRow>> {
    const keyset = ratesKeyset(ownerId);
    const params = new SqlParams();
    const where = [`r.customer_id = ${params.add(ownerId)}`, subtreeCondition('c', caller, params, 'self-and-descendants')];
    const after = await keyset.after(this.cursors, cursor, params);
    if (after) where.push(after);
    const rows: RateRow[] = await this.dataSource.query(
      `SELECT ${RATE_COLUMNS}, ${keyset.select()} FROM exchange_rates r JOIN customers c ON c.id = r.customer_id
        WHERE ${where.join(' AND ')}
        ${keyset.orderAndLimit(limit, params)}`,
      params.values,
    );
    return keyset.page(this.cursors, rows, limit, (r) => r);
  }

  async historyPage(caller: Caller, ownerId: string, currency: string, limit: number, cursor?: string): Promise<Page<RateChangeRow>> {
    const keyset = historyKeyset(ownerId, currency);
    const params = new SqlParams();
    const where = [
      `h.customer_id = ${params.add(ownerId)}`,
      `h.currency = ${params.add(currency)}`,
      subtreeCondition('c', caller, params, 'self-and-descendants'),
    ];
    const after = await keyset.after(this.cursors, cursor, params);
    if (after) where.push(after);
    const rows: RateChangeRow[] = await this.dataSource.query(
      `SELECT h.id, h.currency, h.rate, h.at, ${keyset.select()}
         FROM exchange_rate_history h JOIN customers c ON c.id = h.customer_id
        WHERE ${where.join(' AND ')}
        ${keyset.orderAndLimit(limit, params)}`,
      params.values,
    );
    return keyset.page(this.cursors, rows, limit, (r) => r);
  }

  /**
   * Sets the rate (insert or replace) in a table of the caller's subtree and appends it to the
   * history, the caller as actor. Undefined when the owner is not in the caller's subtree.
   */
  async set(caller: Caller, tx: Tx, ownerId: string, currency: string, rate: string): Promise<RateRow | undefined> {
    const params = new SqlParams();
    const rows: RateRow[] = await tx.query(
      `INSERT INTO exchange_rates AS r (customer_id, currency, rate)
       SELECT c.id, ${params.add(currency)}, ${params.add(rate)}::numeric FROM customers c
        WHERE c.id = ${params.add(ownerId)} AND ${subtreeCondition('c', caller, params, 'self-and-descendants')}
       ON CONFLICT (customer_id, currency)
       DO UPDATE SET rate = EXCLUDED.rate, version = r.version + 1, updated_at = now()
       RETURNING ${RATE_COLUMNS}`,
      params.values,
    );
    if (rows.length) await this.appendHistory(caller, tx, ownerId, currency, rate);
    return rows[0];
  }

  /** Deletes the rate from a table of the caller's subtree (kept in the history); the rate it had, if any. */
  async delete(caller: Caller, tx: Tx, ownerId: string, currency: string): Promise<string | undefined> {
    const params = new SqlParams();
    const rows = returnedRows<{ rate: string }>(
      await tx.query(
        `DELETE FROM exchange_rates r USING customers c
          WHERE r.customer_id = ${params.add(ownerId)} AND r.currency = ${params.add(currency)}
            AND c.id = r.customer_id AND ${subtreeCondition('c', caller, params, 'self-and-descendants')}
          RETURNING r.rate`,
        params.values,
      ),
    );
    if (rows.length) await this.appendHistory(caller, tx, ownerId, currency, null);
    return rows[0]?.rate;
  }

  /** The one INSERT into the history: every set and every delete, the caller as actor. */
  private async appendHistory(caller: Caller, tx: Tx, ownerId: string, currency: string, rate: string | null): Promise<void> {
    await tx.query(`INSERT INTO exchange_rate_history (customer_id, currency, rate, actor_id) VALUES ($1, $2, $3, $4)`, [
      ownerId,
      currency,
      rate,
      caller.customerId,
    ]);
  }
}
