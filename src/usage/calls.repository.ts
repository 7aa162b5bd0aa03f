import { Injectable } from '@nestjs/common';
import { preparedQuery } from '../database/prepared';
import { arrayLiteral, SqlParams } from '../database/sql';
import type { Tx } from '../database/writes';
import { CallRow, ChargeRow } from './call-view';

/** A call claimed by a posting: the row written before it is rated. */
export interface CallClaim {
  id: string;
  callId: string;
  accountId: string;
  customerId: string;
  customerPath: string;
  number: string;
  connectTime: Date;
  duration: number;
}

/** One charge row as the posting writes it (see the migration `Usage1764300000000`), with the seller's time zone for the daily rollup. */
export interface ChargeDraft {
  callUuid: string;
  level: number;
  partyKind: 'account' | 'customer';
  partyId: string;
  partyDepth: number;
  sellerId: string;
  tariffId: string;
  prefix: string;
  price: string;
  billedSeconds: number;
  amount: string;
  currency: string;
  exchangeRate: string;
  convertedAmount: string;
  chargedCurrency: string;
  ledgerEntryId: string | null;
  revenue: string;
  sellerCost: string;
  sellerCurrency: string;
  sellerTimeZone: string;
  accountId: string;
  customerId: string;
  customerPath: string;
  number: string;
  connectTime: Date;
  duration: number;
}

const arr = (params: SqlParams, values: unknown[], type: string) => `${params.add(arrayLiteral(values, type))}::${type}[]`;

/**
 * The calls a poster posted and their charges (`calls`, `call_charges`, `usage_daily`), as
 * the usage posting writes and replays them. Unscoped: every statement is keyed by the
 * poster (the idempotency key) or by calls the posting itself decided.
 */
@Injectable()
export class CallsRepository {
  /**
   * Claims the calls of a poster, in one statement in callId order (so that two batches
   * sharing calls take the unique index's locks in one order and cannot deadlock): a call
   * already claimed (committed, or by a concurrent transaction, which it waits for) is not
   * claimed again. The callIds claimed now.
   */
  async claim(tx: Tx, posterId: string, claims: CallClaim[]): Promise<Set<string>> {
    if (!claims.length) return new Set();
    const params = new SqlParams();
    const rows: Array<{ call_id: string }> = await preparedQuery(
      tx,
      `INSERT INTO calls (id, poster_id, call_id, account_id, customer_id, customer_path, number, connect_time, duration)
       SELECT c.id, ${params.add(posterId)}::uuid, c.call_id, c.account_id, c.customer_id, c.customer_path, c.number, c.connect_time, c.duration
         FROM unnest(${arr(params, claims.map((c) => c.id), 'uuid')}, ${arr(params, claims.map((c) => c.callId), 'varchar')},
                     ${arr(params, claims.map((c) => c.accountId), 'uuid')}, ${arr(params, claims.map((c) => c.customerId), 'uuid')},
                     ${arr(params, claims.map((c) => c.customerPath), 'text')}, ${arr(params, claims.map((c) => c.number), 'varchar')},
                     ${arr(params, claims.map((c) => c.connectTime.toISOString()), 'timestamptz')}, ${arr(params, claims.map((c) => c.duration), 'int')})
              AS c(id, call_id, account_id, customer_id, customer_path, number, connect_time, duration)
        ORDER BY c.call_id COLLATE "C"
       ON CONFLICT ON CONSTRAINT calls_poster_call_id DO NOTHING
       RETURNING call_id`,
      params.values,
    );
    return new Set(rows.map((r) => r.call_id));
  }

  /** Drops claims of calls refused in this transaction: a refused call leaves nothing behind. */
  async dropClaims(tx: Tx, posterId: string, callIds: string[]): Promise<void> {
    if (!callIds.length) return;
    await preparedQuery(tx, `DELETE FROM calls WHERE poster_id = $1 AND call_id = ANY ($2::varchar[])`, [posterId, callIds]);
  }

  /** Calls the poster posted before, by its callIds, each with all its charge rows. */
  async unscopedPosted(tx: Tx, posterId: string, callIds: string[]): Promise<Map<string, { call: CallRow; charges: ChargeRow[] }>> {
    const found = new Map<string, { call: CallRow; charges: ChargeRow[] }>();
    if (!callIds.length) return found;
    const calls: CallRow[] = await preparedQuery(
      tx,
      `SELECT id, call_id, account_id, customer_id, number, connect_time, duration FROM calls WHERE poster_id = $1 AND call_id = ANY ($2::varchar[])`,
      [posterId, callIds],
    );
    const byUuid = new Map<string, { call: CallRow; charges: ChargeRow[] }>();
    for (const call of calls) {
      const entry = { call, charges: [] as ChargeRow[] };
      found.set(call.call_id, entry);
      byUuid.set(call.id, entry);
    }
    if (!calls.length) return found;
    const charges: Array<ChargeRow & { call_uuid: string }> = await preparedQuery(
      tx,
      `SELECT call_uuid, level, party_kind, party_id, party_depth, seller_id, tariff_id, prefix, price, billed_seconds, amount, currency,
              converted_amount, charged_currency, ledger_entry_id, revenue, seller_cost, seller_currency
         FROM call_charges WHERE call_uuid = ANY ($1::uuid[]) ORDER BY call_uuid, level`,
      [calls.map((c) => c.id)],
    );
    for (const charge of charges) byUuid.get(charge.call_uuid)?.charges.push(charge);
    return found;
  }

  /** The charge rows of rated calls, in one statement whatever their number. */
  async writeCharges(tx: Tx, charges: ChargeDraft[]): Promise<void> {
    if (!charges.length) return;
    const params = new SqlParams();
    const col = this.columns(params, charges);
    await preparedQuery(
      tx,
      `INSERT INTO call_charges (call_uuid, level, party_kind, party_id, party_depth, seller_id, tariff_id, prefix, price, billed_seconds,
                                 amount, currency, exchange_rate, converted_amount, charged_currency, ledger_entry_id, revenue, seller_cost,
                                 seller_currency, account_id, customer_id, customer_path, number, connect_time, duration)
       SELECT * FROM unnest(${col('callUuid', 'uuid')}, ${col('level', 'int')}, ${col('partyKind', 'text')}, ${col('partyId', 'uuid')},
                            ${col('partyDepth', 'int')}, ${col('sellerId', 'uuid')}, ${col('tariffId', 'uuid')}, ${col('prefix', 'text')},
                            ${col('price', 'numeric')}, ${col('billedSeconds', 'int')}, ${col('amount', 'numeric')}, ${col('currency', 'text')},
                            ${col('exchangeRate', 'numeric')}, ${col('convertedAmount', 'numeric')}, ${col('chargedCurrency', 'text')},
                            ${col('ledgerEntryId', 'uuid')}, ${col('revenue', 'numeric')}, ${col('sellerCost', 'numeric')}, ${col('sellerCurrency', 'text')},
                            ${col('accountId', 'uuid')}, ${col('customerId', 'uuid')}, ${col('customerPath', 'text')}, ${col('number', 'text')},
                            ${col('connectTime', 'timestamptz', (d) => (d as Date).toISOString())}, ${col('duration', 'int')})`,
      params.values,
    );
  }

  /**
   * Adds charge rows to the sellers' daily rollups in one statement: `usage_daily` (seller,
   * local day in the seller's time zone, account, prefix) and the two smaller ones the usage
   * report reads for other groupings, `usage_prefix_daily` (seller, day, prefix) and
   * `usage_customer_daily` (seller, day, customer). Rows are upserted in key order, so that
   * concurrent postings lock them in one order; the posting runs it after the charged holders
   * are locked (a key inserted by a transaction still in flight would otherwise make it wait
   * for that whole transaction).
   */
  async addToDaily(tx: Tx, charges: ChargeDraft[]): Promise<void> {
    if (!charges.length) return;
    const params = new SqlParams();
    const col = this.columns(params, charges);
    const add = (table: string) =>
      `SET calls = ${table}.calls + excluded.calls, seconds = ${table}.seconds + excluded.seconds, billed_seconds = ${table}.billed_seconds + excluded.billed_seconds,
           revenue = ${table}.revenue + excluded.revenue, cost = ${table}.cost + excluded.cost`;
    const sums = 'count(*), sum(duration), sum(billed_seconds), sum(revenue), sum(seller_cost)';
    await preparedQuery(
      tx,
      `WITH s AS MATERIALIZED (
         SELECT seller_id, seller_tz, (connect_time AT TIME ZONE seller_tz)::date AS day, account_id, customer_id, customer_path, prefix,
                duration, billed_seconds, revenue, seller_cost
           FROM unnest(${col('sellerId', 'uuid')}, ${col('sellerTimeZone', 'text')}, ${col('connectTime', 'timestamptz', (d) => (d as Date).toISOString())},
                       ${col('accountId', 'uuid')}, ${col('customerId', 'uuid')}, ${col('customerPath', 'text')}, ${col('prefix', 'text')},
                       ${col('duration', 'int')}, ${col('billedSeconds', 'int')}, ${col('revenue', 'numeric')}, ${col('sellerCost', 'numeric')})
                AS s(seller_id, seller_tz, connect_time, account_id, customer_id, customer_path, prefix, duration, billed_seconds, revenue, seller_cost)
       ), by_prefix AS (
         INSERT INTO usage_prefix_daily AS p (seller_id, time_zone, day, prefix, calls, seconds, billed_seconds, revenue, cost)
         SELECT seller_id, seller_tz, day, prefix, ${sums} FROM s GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
         ON CONFLICT (seller_id, time_zone, day, prefix) DO UPDATE ${add('p')}
       ), by_customer AS (
         INSERT INTO usage_customer_daily AS c (seller_id, time_zone, day, customer_id, calls, seconds, billed_seconds, revenue, cost)
         SELECT seller_id, seller_tz, day, customer_id, ${sums} FROM s GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
         ON CONFLICT (seller_id, time_zone, day, customer_id) DO UPDATE ${add('c')}
       )
       INSERT INTO usage_daily AS u (seller_id, time_zone, day, account_id, customer_id, customer_path, prefix, calls, seconds, billed_seconds, revenue, cost)
       SELECT seller_id, seller_tz, day, account_id, min(customer_id::text)::uuid, min(customer_path), prefix, ${sums}
         FROM s GROUP BY seller_id, seller_tz, day, account_id, prefix
        ORDER BY 1, 2, 3, 4, 7
       ON CONFLICT (seller_id, time_zone, day, account_id, prefix) DO UPDATE ${add('u')}`,
      params.values,
    );
  }

  /** A column of the charges as an array parameter. */
  private columns(params: SqlParams, charges: ChargeDraft[]) {
    return <K extends keyof ChargeDraft>(key: K, type: string, map: (v: ChargeDraft[K]) => unknown = (v) => v) =>
      arr(
        params,
        charges.map((c) => map(c[key])),
        type,
      );
  }
}
