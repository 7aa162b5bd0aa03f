import type { DataSource } from 'typeorm';
import type { ConnectionCounts } from '../metrics/metrics';

/**
 * The database handle as the wiring sees it (main.ts opens it, app.factory/app.module hand it
 * to DatabaseModule): outside src/database/ it is passed along, never queried.
 */
export type { DataSource };

/** The live counters of the data source's pg pool; undefined before it is initialized (the OpenAPI export). */
export function poolStats(dataSource: DataSource): ConnectionCounts | undefined {
  return dataSource.isInitialized ? (dataSource.driver as unknown as { master: ConnectionCounts }).master : undefined;
}
