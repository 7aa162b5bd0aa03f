import { createHash } from 'node:crypto';
import type { Pool, PoolClient, QueryResultRow } from 'pg';
import { DataSource, EntityManager } from 'typeorm';
import { shapedQuery } from './shaped-query';
import { pipelineOf } from './transactions';
import type { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver';
import type { PostgresQueryRunner } from 'typeorm/driver/postgres/PostgresQueryRunner';

/** At most this many statement texts get a name; beyond that they run unnamed (as before). */
const MAX_NAMED = 256;
const names = new Map<string, string>();

/** The name of a statement text's named prepared statement (undefined past MAX_NAMED: it then runs unnamed). */
export function statementName(text: string): string | undefined {
  let name = names.get(text);
  if (name === undefined && names.size < MAX_NAMED) {
    name = `canopy_${createHash('sha1').update(text).digest('hex').slice(0, 20)}`;
    names.set(text, name);
  }
  return name;
}

/**
 * Runs a statement of the hot path (the posting, its lock, the claim of a group's keys) as a
 * NAMED prepared statement: PostgreSQL parses it once per connection, and after five runs
 * keeps a generic plan when it costs no more than the custom ones (`plan_cache_mode` left at
 * `auto`: forcing generic plans would also reach TypeORM's unnamed statements, whose path-prefix
 * conditions need custom plans to use their index). These statements carry their sets as arrays,
 * so their text does not change with the number of postings, and their plans are index lookups
 * by id whatever the values. Parsing and planning them was most of the database's time for a
 * small group. Returns the rows (RETURNING or SELECT).
 */
export async function preparedQuery<T extends QueryResultRow>(
  runner: EntityManager | DataSource,
  text: string,
  values: unknown[],
  options: { commit?: boolean } = {},
): Promise<T[]> {
  const name = statementName(text);
  let connections: Pool | PoolClient;
  let pipelined: { begin: boolean; commit: boolean } | undefined;
  if (runner instanceof DataSource) {
    connections = (runner.driver as PostgresDriver).master as Pool;
  } else {
    const queryRunner = runner.queryRunner as PostgresQueryRunner | undefined;
    if (!queryRunner) return runner.query(text, values);
    connections = (await queryRunner.connect()) as PoolClient;
    // In a pipelined transaction: BEGIN with its first statement, COMMIT with the one asking for it.
    pipelined = pipelineOf(connections)?.next(options.commit === true);
  }
  if (options.commit && !pipelined) throw new Error('only a statement of a pipelined transaction commits it');
  if (!name) {
    if (pipelined?.begin) await connections.query('BEGIN');
    const rows = (await connections.query<T>(text, values)).rows;
    if (pipelined?.commit) await connections.query('COMMIT');
    return rows;
  }
  return shapedQuery<T>(connections, name, text, values, name, pipelined);
}

/**
 * A read straight on the pool, as an UNNAMED statement (planned for its values, so a path
 * prefix uses its index): the same SQL as `dataSource.query`, without TypeORM's query runner
 * around it (created, connected, broadcast to subscribers and released per query), which cost
 * about as much Node CPU as node-postgres itself on the hot reads. Outside a transaction only.
 */
export async function poolQuery<T extends QueryResultRow>(dataSource: DataSource, text: string, values: unknown[]): Promise<T[]> {
  const pool = (dataSource.driver as PostgresDriver).master as Pool;
  const key = statementName(text);
  if (!key) return (await pool.query<T>(text, values)).rows;
  return shapedQuery<T>(pool, key, text, values);
}
