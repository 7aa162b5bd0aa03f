import { DataSource, MigrationExecutor } from 'typeorm';
import { MIGRATIONS } from '../../migrations';

export function createDataSource(url: string, poolSize = 10): DataSource {
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
    extra: { max: poolSize, application_name: 'canopy' },
  });
}

/** Any constant will do; it only has to be the same for every instance. */
const MIGRATION_LOCK_KEY = 7_302_415_001;

/**
 * Runs pending migrations; returns the names applied. Several instances may start at once
 * on one database: a session-level advisory lock lets one migrate while the others wait and
 * then find nothing pending (without it the loser fails on a duplicate CREATE). The lock
 * goes with its session, so an instance killed mid-migration does not leave it held. The
 * migrations run on the lock's connection, so a pool of one connection is enough.
 */
export async function migrate(dataSource: DataSource): Promise<string[]> {
  const lock = dataSource.createQueryRunner();
  await lock.connect();
  try {
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
    await lock.release();
  }
}
