import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { Cursors, Page } from '../common/pagination';
import { Keyset } from '../database/keyset';
import { likePattern, SqlParams } from '../database/sql';
import { Caller, isAccountCaller } from '../tree/caller';
import { callScope, notVisible, pathUnderCondition } from '../tree/scope';
import { CallRow, ChargeRow } from './call-view';
import type { UsageGroupBy } from './dto/usage.dto';

/** A rated call and the charges of it its viewer may see (at the viewer's depth or below). */
export interface VisibleCall {
  call: CallRow;
  charges: ChargeRow[];
}

/**
 * Which calls a list reads, all within the caller's subtree:
 * - `sold`: the calls sold by `sellerId` (the caller, or a customer found visible): its whole
 *   subtree's (`call_charges_seller`);
 * - `own`: the calls of the own accounts of a customer (the caller or one found visible), `calls_customer`;
 * - `account`: the calls of one account found visible (`calls_account`).
 */
export type CallSource = { kind: 'sold'; sellerId: string } | { kind: 'own'; customerId: string } | { kind: 'account'; accountId: string };

export interface CallListFilter {
  source: CallSource;
  /** connectTime ≥ from, < to. */
  from?: Date;
  to?: Date;
  /** Digits the dialled number starts with (without '+'). */
  numberPrefix?: string;
}

/** One group of a usage report: the sums as text (bigint and numeric never pass through a JS number here). */
export interface UsageRow {
  key: string;
  calls: string;
  seconds: string;
  billed_seconds: string;
  revenue: string;
  cost: string;
}

export interface UsageRange {
  /** The side reported: the customer whose sold rows are summed. */
  sellerId: string;
  /** The time zone of the days. */
  timeZone: string;
  /** Local dates, `YYYY-MM-DD`, both included. */
  from: string;
  to: string;
  groupBy: UsageGroupBy;
}

/** A usage group's key: the column grouped on and its SQL type (for the cursor's comparison). */
interface GroupKey {
  sql: string;
  type: 'uuid' | 'text' | 'date';
}

const CALL_COLUMNS = `c.id, c.call_id, c.account_id, c.customer_id, c.number, c.connect_time, c.duration`;
const CHARGE_COLUMNS = `cc.call_uuid, cc.level, cc.party_kind, cc.party_id, cc.party_depth, cc.seller_id, cc.tariff_id, cc.prefix,
  cc.price::text AS price, cc.billed_seconds, cc.amount::text AS amount, cc.currency, cc.converted_amount::text AS converted_amount,
  cc.charged_currency, cc.ledger_entry_id, cc.revenue::text AS revenue, cc.seller_cost::text AS seller_cost, cc.seller_currency`;

/** Calls are listed newest first; a call's sold row and its `calls` row carry the same time and id. */
const SOLD_KEYSET = new Keyset(
  'calls',
  [
    { sql: 'd.connect_time', type: 'timestamp' },
    { sql: 'd.call_uuid', type: 'uuid' },
  ],
  'desc',
);
const CALLS_KEYSET = new Keyset(
  'calls',
  [
    { sql: 'c.connect_time', type: 'timestamp' },
    { sql: 'c.id', type: 'uuid' },
  ],
  'desc',
);

/** The number filter: the digits, whether the number was posted with '+' or without. */
function numberCondition(column: string, digits: string, params: SqlParams): string {
  return `(${column} LIKE ${params.add(likePattern(digits, 'prefix'))} OR ${column} LIKE ${params.add(likePattern(`+${digits}`, 'prefix'))})`;
}

/**
 * Every SQL text of the call views and usage reports (SPEC §13). A viewer V's calls are the
 * `call_charges` rows it sold (`seller_id` = V: exactly one per call of its subtree, index
 * `call_charges_seller`), also kept under the scope helper's path condition on the call's
 * customer path; the charges shown are read for a whole page at once and only at the
 * viewer's depth or below, so nothing of a level above it is ever read for it.
 */
@Injectable()
export class CallViewsRepository {
  constructor(
    private readonly dataSource: DataSource,
    private readonly cursors: Cursors,
  ) {}

  /** A call of the caller's subtree (or of its own accounts) with the charges it may see, or undefined. */
  async findVisible(caller: Caller, id: string): Promise<VisibleCall | undefined> {
    const params = new SqlParams();
    // An account principal sold nothing: its calls are those of its account (`callScope`).
    const rows: CallRow[] = await this.dataSource.query(
      isAccountCaller(caller)
        ? `SELECT ${CALL_COLUMNS} FROM calls c WHERE c.id = ${params.add(id)} AND ${callScope('c', caller, params)}`
        : `SELECT ${CALL_COLUMNS}
             FROM call_charges d JOIN calls c ON c.id = d.call_uuid
            WHERE d.call_uuid = ${params.add(id)} AND d.seller_id = ${params.add(caller.customerId)}
              AND ${callScope('d', caller, params)}`,
      params.values,
    );
    if (!rows[0]) return undefined;
    const charges = await this.chargesOf(caller, [rows[0].id]);
    return { call: rows[0], charges: charges.get(rows[0].id) ?? [] };
  }

  /** A page of the caller's calls, newest first, each with the charges it may see (two statements per page). */
  async list(caller: Caller, filter: CallListFilter, cursor: string | undefined, limit: number): Promise<Page<VisibleCall>> {
    const params = new SqlParams();
    let sql: string;
    let keyset: Keyset;
    if (filter.source.kind !== 'sold') {
      // calls_account: (account_id, connect_time DESC, id); calls_customer: (customer_id, connect_time DESC, id)
      keyset = CALLS_KEYSET;
      const where = [
        filter.source.kind === 'account' ? `c.account_id = ${params.add(filter.source.accountId)}` : `c.customer_id = ${params.add(filter.source.customerId)}`,
        callScope('c', caller, params),
      ];
      this.common(where, 'c', filter, params);
      const after = await keyset.after(this.cursors, cursor, params);
      if (after) where.push(after);
      sql = `SELECT ${CALL_COLUMNS}, ${keyset.select()} FROM calls c WHERE ${where.join(' AND ')} ${keyset.orderAndLimit(limit, params)}`;
    } else {
      // call_charges_seller: (seller_id, connect_time DESC, call_uuid)
      keyset = SOLD_KEYSET;
      const where = [`d.seller_id = ${params.add(filter.source.sellerId)}`, callScope('d', caller, params)];
      this.common(where, 'd', filter, params);
      const after = await keyset.after(this.cursors, cursor, params);
      if (after) where.push(after);
      sql = `SELECT ${CALL_COLUMNS}, ${keyset.select()}
               FROM call_charges d JOIN calls c ON c.id = d.call_uuid
              WHERE ${where.join(' AND ')} ${keyset.orderAndLimit(limit, params)}`;
    }
    const rows: CallRow[] = await this.dataSource.query(sql, params.values);
    const charges = await this.chargesOf(
      caller,
      rows.slice(0, limit).map((r) => r.id),
    );
    return keyset.page(this.cursors, rows, limit, (call) => ({ call, charges: charges.get(call.id) ?? [] }));
  }

  private common(where: string[], alias: string, filter: CallListFilter, params: SqlParams): void {
    if (filter.from) where.push(`${alias}.connect_time >= ${params.add(filter.from)}::timestamptz`);
    if (filter.to) where.push(`${alias}.connect_time < ${params.add(filter.to)}::timestamptz`);
    if (filter.numberPrefix) where.push(numberCondition(`${alias}.number`, filter.numberPrefix, params));
  }

  /** The charges of these calls at the caller's depth or below (its own, its sold row, its subtree's), in one statement. */
  private async chargesOf(caller: Caller, callIds: string[]): Promise<Map<string, ChargeRow[]>> {
    const byCall = new Map<string, ChargeRow[]>();
    if (!callIds.length) return byCall;
    const rows: (ChargeRow & { call_uuid: string })[] = await this.dataSource.query(
      `SELECT ${CHARGE_COLUMNS} FROM call_charges cc
        WHERE cc.call_uuid = ANY($1::uuid[]) AND cc.party_depth >= $2
        ORDER BY cc.call_uuid, cc.level`,
      [callIds, caller.depth],
    );
    for (const row of rows) {
      const list = byCall.get(row.call_uuid) ?? [];
      list.push(row);
      byCall.set(row.call_uuid, list);
    }
    return byCall;
  }

  /** The caller's time zone and today's date there. */
  async timeZoneOf(caller: Caller): Promise<{ timeZone: string; today: string }> {
    const rows: { time_zone: string; today: string }[] = await this.dataSource.query(
      `SELECT time_zone, to_char((now() AT TIME ZONE time_zone)::date, 'YYYY-MM-DD') AS today FROM customers WHERE id = $1`,
      [caller.customerId],
    );
    // An account principal names no customer row (src/tree/caller.ts): nothing to report on.
    if (!rows[0]) throw notVisible();
    return { timeZone: rows[0].time_zone, today: rows[0].today };
  }

  /**
   * Whether any call the range may hold was rolled up under another time zone than the one
   * asked for (the side changed its zone, or the days are asked in another side's zone): then
   * the rollup cannot answer exactly. Local dates of one instant differ by at most two days
   * between zones (UTC−12 … UTC+14), hence the margin. The distinct zones of the side are
   * walked on the primary key (a few index probes, usually one zone).
   */
  async rolledUpElsewhere(range: UsageRange): Promise<boolean> {
    const rows: { elsewhere: boolean }[] = await this.dataSource.query(
      `WITH RECURSIVE zones AS (
         (SELECT u.time_zone FROM usage_daily u WHERE u.seller_id = $1 ORDER BY u.time_zone LIMIT 1)
         UNION ALL
         SELECT (SELECT u.time_zone FROM usage_daily u WHERE u.seller_id = $1 AND u.time_zone > z.time_zone ORDER BY u.time_zone LIMIT 1)
           FROM zones z WHERE z.time_zone IS NOT NULL)
       SELECT EXISTS (
         SELECT 1 FROM zones z
          WHERE z.time_zone IS NOT NULL AND z.time_zone <> $2
            AND EXISTS (SELECT 1 FROM usage_daily u
                         WHERE u.seller_id = $1 AND u.time_zone = z.time_zone
                           AND u.day BETWEEN $3::date - 2 AND $4::date + 2)) AS elsewhere`,
      [range.sellerId, range.timeZone, range.from, range.to],
    );
    return rows[0].elsewhere;
  }

  /**
   * A page of groups from the daily rollups, in key order: by account from `usage_daily`
   * (within the caller's scope), by customer from `usage_customer_daily`, by day or prefix from
   * `usage_prefix_daily` — these two hold a few rows per seller and day, and need no scope
   * filter: the seller is visible to the caller, and all it sold lies in its own subtree.
   */
  async usageFromRollup(caller: Caller, range: UsageRange, cursor: string | undefined, limit: number): Promise<Page<UsageRow>> {
    const params = new SqlParams();
    const key: Record<UsageGroupBy, GroupKey> = {
      account: { sql: 'u.account_id', type: 'uuid' },
      customer: { sql: 'u.customer_id', type: 'uuid' },
      prefix: { sql: 'u.prefix', type: 'text' },
      day: { sql: 'u.day', type: 'date' },
    };
    const table: Record<UsageGroupBy, string> = {
      account: 'usage_daily u',
      customer: 'usage_customer_daily u',
      prefix: 'usage_prefix_daily u',
      day: 'usage_prefix_daily u',
    };
    const where = [
      `u.seller_id = ${params.add(range.sellerId)}`,
      `u.time_zone = ${params.add(range.timeZone)}`,
      `u.day BETWEEN ${params.add(range.from)}::date AND ${params.add(range.to)}::date`,
    ];
    if (range.groupBy === 'account') where.push(pathUnderCondition('u.customer_path', caller.path, params));
    return this.groups(
      range.groupBy,
      key[range.groupBy],
      `sum(u.calls)::text AS calls, sum(u.seconds)::text AS seconds, sum(u.billed_seconds)::text AS billed_seconds,
       sum(u.revenue)::text AS revenue, sum(u.cost)::text AS cost`,
      table[range.groupBy],
      where,
      params,
      cursor,
      limit,
    );
  }

  /** The same groups summed from the sold rows themselves, days computed in `range.timeZone`: always exact, slower. */
  async usageFromCharges(caller: Caller, range: UsageRange, cursor: string | undefined, limit: number): Promise<Page<UsageRow>> {
    const params = new SqlParams();
    const tz = params.add(range.timeZone);
    const key: Record<UsageGroupBy, GroupKey> = {
      account: { sql: 'd.account_id', type: 'uuid' },
      customer: { sql: 'd.customer_id', type: 'uuid' },
      prefix: { sql: 'd.prefix', type: 'text' },
      day: { sql: `(d.connect_time AT TIME ZONE ${tz})::date`, type: 'date' },
    };
    const where = [
      `d.seller_id = ${params.add(range.sellerId)}`,
      `d.connect_time >= (${params.add(range.from)}::date::timestamp AT TIME ZONE ${tz})`,
      `d.connect_time < ((${params.add(range.to)}::date + 1)::timestamp AT TIME ZONE ${tz})`,
      pathUnderCondition('d.customer_path', caller.path, params),
    ];
    return this.groups(
      range.groupBy,
      key[range.groupBy],
      `count(*)::text AS calls, sum(d.duration)::text AS seconds, sum(d.billed_seconds)::text AS billed_seconds,
       sum(d.revenue)::text AS revenue, sum(d.seller_cost)::text AS cost`,
      'call_charges d',
      where,
      params,
      cursor,
      limit,
    );
  }

  /**
   * Groups in key order, paged on the key (a report is a bounded list of groups, not of
   * rows, so it is keyed here rather than through `Keyset`: the key is grouped on in its own
   * type, so that the rollup's indexes deliver the groups in order). The cursor (issued
   * through `Cursors`, bound to the grouping) holds the last key as text.
   */
  private async groups(
    groupBy: UsageGroupBy,
    key: GroupKey,
    sums: string,
    from: string,
    where: string[],
    params: SqlParams,
    cursor: string | undefined,
    limit: number,
  ): Promise<Page<UsageRow>> {
    const list = `usage:${groupBy}`;
    const after = await this.cursors.decode<[string]>(list, cursor, ['string']);
    if (after) where.push(`${key.sql} > ${params.add(after[0])}::${key.type}`);
    const text = key.type === 'date' ? `to_char(${key.sql}, 'YYYY-MM-DD')` : `${key.sql}::text`;
    const rows: UsageRow[] = await this.dataSource.query(
      `SELECT ${text} AS key, ${sums}
         FROM ${from} WHERE ${where.join(' AND ')}
        GROUP BY ${key.sql} ORDER BY ${key.sql} LIMIT ${params.add(limit + 1)}`,
      params.values,
    );
    return this.cursors.page(list, rows, limit, (row) => row, (row) => [row.key]);
  }
}
