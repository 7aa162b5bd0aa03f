import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { SqlParams } from '../database/sql';

/** What a statement is computed from: one holder's ledger over one month of its local time. */
export interface StatementFigures {
  /** The month, `YYYY-MM` (the one asked for, or the current one in the holder's zone). */
  month: string;
  /** The month's first instant and the next month's first, in the holder's time zone. */
  from: Date;
  to: Date;
  /** balance_after of the last entry before `from` / before `to`; null when there is none. */
  opening: string | null;
  closing: string | null;
  /** Σ converted_amount per action of the entries in [from, to) (actions without entries absent). */
  totals: Record<string, string>;
  /** Usage charges (ledger entries with a call charge) in [from, to): how many, and their calls' seconds. */
  calls: number;
  seconds: number;
}

/**
 * The figures of a statement (SPEC §13), in one statement. The month's bounds are computed
 * by PostgreSQL in the holder's zone (`local midnight AT TIME ZONE tz`), so daylight-saving
 * changes inside or at the edge of the month are PostgreSQL's tz database's business, not
 * offset arithmetic here. Unscoped: the statements service has found the holder visible.
 * Entries are read through `ledger_entries_{customer,account}_time` (created_at, seq): the
 * month is one range, each bound's last entry one backward step.
 */
@Injectable()
export class StatementsRepository {
  constructor(private readonly dataSource: DataSource) {}

  async unscopedFigures(kind: 'customer' | 'account', holderId: string, timeZone: string, month: string | undefined): Promise<StatementFigures> {
    const params = new SqlParams();
    const column = kind === 'customer' ? 'customer_id' : 'account_id';
    const id = params.add(holderId);
    const tz = params.add(timeZone);
    const lastBefore = (bound: string) =>
      `(SELECT x.balance_after::text FROM ledger_entries x
         WHERE x.${column} = ${id}::uuid AND x.created_at < ${bound}
         ORDER BY x.created_at DESC, x.seq DESC LIMIT 1)`;
    const rows: Array<{
      month: string;
      t_from: Date;
      t_to: Date;
      opening: string | null;
      closing: string | null;
      totals: Record<string, string> | null;
      calls: string;
      seconds: string;
    }> = await this.dataSource.query(
      `WITH m AS (
         SELECT s.start, s.start AT TIME ZONE ${tz}::text AS t_from, (s.start + interval '1 month') AT TIME ZONE ${tz}::text AS t_to
           FROM (SELECT COALESCE(${params.add(month ? `${month}-01` : null)}::timestamp,
                                 date_trunc('month', now() AT TIME ZONE ${tz}::text)) AS start) s
       ),
       e AS MATERIALIZED (
         SELECT x.id, x.action, x.converted_amount FROM ledger_entries x, m
          WHERE x.${column} = ${id}::uuid AND x.created_at >= m.t_from AND x.created_at < m.t_to
       )
       SELECT to_char(m.start, 'YYYY-MM') AS month, m.t_from, m.t_to,
              ${lastBefore('m.t_from')} AS opening,
              ${lastBefore('m.t_to')} AS closing,
              (SELECT json_object_agg(t.action, t.total)
                 FROM (SELECT e.action, sum(e.converted_amount)::text AS total FROM e GROUP BY e.action) t) AS totals,
              u.calls, u.seconds
         FROM m CROSS JOIN LATERAL (
           SELECT count(*) AS calls, COALESCE(sum(c.duration), 0) AS seconds
             FROM e JOIN call_charges c ON c.ledger_entry_id = e.id WHERE e.action = 'usage'
         ) u`,
      params.values,
    );
    const row = rows[0];
    return {
      month: row.month,
      from: row.t_from,
      to: row.t_to,
      opening: row.opening,
      closing: row.closing,
      totals: row.totals ?? {},
      calls: Number(row.calls),
      seconds: Number(row.seconds),
    };
  }
}
