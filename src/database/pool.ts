import type { DataSource } from 'typeorm';

/**
 * The database handle as the wiring sees it (main.ts opens it, app.factory/app.module hand it
 * to DatabaseModule): outside src/database/ it is passed along, never queried.
 */
export type { DataSource };

/** The pool's connection counts, for the `canopy_db_pool_connections` gauge. */
export interface PoolStats {
  totalCount: number;
  idleCount: number;
  waitingCount: number;
}

/** The live counters of the data source's pg pool; undefined before it is initialized (the OpenAPI export). */
export function poolStats(dataSource: DataSource): PoolStats | undefined {
  return dataSource.isInitialized ? (dataSource.driver as unknown as { master: PoolStats }).master : undefined;
}
