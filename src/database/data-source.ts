import { DataSource, MigrationExecutor } from 'typeorm';
import { MIGRATIONS } from '../../migrations';
import { canopyTypes } from './types';

/** Time bounds on the database (README, Configuration); 0 leaves a PostgreSQL timeout unset. */
export interface DatabaseBounds {
  /** How long a request may wait for a pooled connection before it is a 503. */
  poolTimeoutMs: number;
  /** PostgreSQL `statement_timeout` of every connection. */
  statementTimeoutMs: number;
  /** PostgreSQL `idle_in_transaction_session_timeout` of every connection. */
  idleInTransactionTimeoutMs: number;
}

export const DEFAULT_DATABASE_BOUNDS: DatabaseBounds = { poolTimeoutMs: 5000, statementTimeoutMs: 30000, idleInTransactionTimeoutMs: 60000 };

export function boundsFromConfig(config: {
  DB_POOL_TIMEOUT_MS: number;
  DB_STATEMENT_TIMEOUT_MS: number;
  DB_IDLE_IN_TRANSACTION_TIMEOUT_MS: number;
}): DatabaseBounds {
  return {
    poolTimeoutMs: config.DB_POOL_TIMEOUT_MS,
    statementTimeoutMs: config.DB_STATEMENT_TIMEOUT_MS,
    idleInTransactionTimeoutMs: config.DB_IDLE_IN_TRANSACTION_TIMEOUT_MS,
  };
}

/**
 * Planner settings of every Canopy session. `random_page_cost` 1.1 instead of PostgreSQL's 4
 * (which prices a random read as a seek on a spinning disk): Canopy's working set is in memory
 * or on SSD, and at 4 the planner read a 1,000-row balance table whole rather than probe its
 * index for the few holders of a posting (bench/RESULTS.md). PGOPTIONS in the environment comes
 * after, so it overrides these.
 */
export function sessionOptions(): string {
  return ['-c random_page_cost=1.1', process.env.PGOPTIONS].filter(Boolean).join(' ');
}

/**
 * The pool. Every wait is bounded: for a connection (`connectionTimeoutMillis`, also when
 * one has to be opened), for a statement (`statement_timeout`) and for a transaction left
 * idle (`idle_in_transaction_session_timeout`, which PostgreSQL enforces by closing the
 * session; the pool then drops that connection). Past a bound a request is a 503.
 */
export function createDataSource(url: string, poolSize = 10, bounds: DatabaseBounds = DEFAULT_DATABASE_BOUNDS): DataSource {
  return new DataSource({
    type: 'postgres',
    url,
    // No entities: repositories write their SQL by hand (see README, "Design").
    entities: [],
    migrations: MIGRATIONS,
    migrationsTableName: 'migrations',
    migrationsTransactionMode: 'each',
    synchronize: false,
    logging: false,
    extra: {
      max: poolSize,
      application_name: 'canopy',
      options: sessionOptions(),
      // timestamptz read by character codes (src/database/types.ts); every other type as node-postgres reads it.
      types: canopyTypes,
      connectionTimeoutMillis: bounds.poolTimeoutMs,
      statement_timeout: bounds.statementTimeoutMs,
      idle_in_transaction_session_timeout: bounds.idleInTransactionTimeoutMs,
    },
  });
}

/** Any constant will do; it only has to be the same for every instance. */
const MIGRATION_LOCK_KEY = 7_302_415_001;

/**
 * Runs pending migrations; returns the names applied. Several instances may start at once
 * on one database: a session-level advisory lock lets one migrate while the others wait and
 * then find nothing pending (without it the loser fails on a duplicate CREATE). The lock
 * goes with its session, so an instance killed mid-migration does not leave it held. The
 * migrations run on the lock's connection, so a pool of one connection is enough. Waiting
 * for the lock and the migrations themselves are not bound by the statement timeout (a
 * migration of a large table may take long); the connection gets its default back after.
 */
export async function migrate(dataSource: DataSource): Promise<string[]> {
  const lock = dataSource.createQueryRunner();
  await lock.connect();
  try {
    await lock.query('SET statement_timeout = 0');
    await lock.query('SET idle_in_transaction_session_timeout = 0');
    await lock.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    try {
      const executor = new MigrationExecutor(dataSource, lock);
      executor.transaction = 'each';
      const applied = await executor.executePendingMigrations();
      return applied.map((m) => m.name);
    } finally {
      await lock.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
    }
  } finally {
    try {
      // Back to the bounds the connection was opened with, before the pool hands it out again.
      await lock.query('RESET statement_timeout; RESET idle_in_transaction_session_timeout');
    } finally {
      await lock.release();
    }
  }
}
