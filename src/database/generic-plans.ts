import { Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { Pool, QueryResultRow } from 'pg';
import { DataSource } from 'typeorm';
import { Metrics } from '../metrics/metrics';
import type { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver';
import { sessionOptions } from './data-source';
import { statementName } from './prepared';
import { shapedQuery } from './shaped-query';

/**
 * Reads whose SQL is written for one plan whatever the values, run as named prepared statements
 * on a small pool of their own whose connections plan them ONCE (`plan_cache_mode =
 * force_generic_plan`), instead of again on every execution.
 *
 * Why a pool of their own: PostgreSQL's `auto` mode keeps planning a statement for its values
 * as long as the generic plan's estimate is above the custom plans' (a subtree page: the same
 * walk of the path index either way, estimated at 516 against 196), and planning was about half
 * of a subtree page's PostgreSQL time (pgbench, the page's statement: 0.85 ms a page planned
 * each time, 0.46 ms with its generic plan). The setting cannot go on the main pool: it applies
 * to unnamed statements too, where a path prefix given as `LIKE $1` then loses its index (a
 * full run once showed subtree pages at p99 2,982 ms from that).
 *
 * So only statements that say so come here, and each must have one right plan: conditions an
 * index can take with parameters (equalities, ranges: `PathForm` 'range' for path prefixes,
 * src/tree/scope.ts), no filter whose best index depends on its value. Outside a transaction.
 * The pool copies the main pool's settings (address, time bounds, type parsers); it opens its
 * first connection on its first query and is closed with the application.
 */
@Injectable()
export class GenericPlans implements OnApplicationShutdown {
  private readonly log = new Logger('GenericPlans');
  private pool?: Pool;

  constructor(
    private readonly dataSource: DataSource,
    metrics: Metrics,
  ) {
    metrics.watchPool('generic-plans', () => this.pool);
  }

  async query<T extends QueryResultRow>(text: string, values: unknown[]): Promise<T[]> {
    const name = statementName(text);
    if (!name) return (await this.connections().query<T>(text, values)).rows;
    return shapedQuery<T>(this.connections(), name, text, values, name);
  }

  private connections(): Pool {
    if (!this.pool) {
      const main = (this.dataSource.driver as PostgresDriver).master as Pool & { options: { max?: number } };
      this.pool = new Pool({
        ...main.options,
        max: Math.max(2, Math.ceil((main.options.max ?? 10) / 2)),
        application_name: 'canopy-generic-plans',
        options: `${sessionOptions()} -c plan_cache_mode=force_generic_plan`,
      });
      // A connection lost while idle (a restarted database) is dropped by the pool; the next query opens another.
      this.pool.on('error', (error) => this.log.warn(`an idle connection failed: ${error.message}`));
    }
    return this.pool;
  }

  async onApplicationShutdown(): Promise<void> {
    const pool = this.pool;
    this.pool = undefined;
    await pool?.end().catch(() => undefined);
  }
}
