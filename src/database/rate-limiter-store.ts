import { Injectable } from '@nestjs/common';
import { RateLimiterPostgres } from 'rate-limiter-flexible';
import { DataSource } from 'typeorm';

export interface PostgresLimiterOptions {
  /** Created by a migration (rate-limiter-flexible must not create tables at run time). */
  tableName: string;
  keyPrefix: string;
  points: number;
  duration: number;
}

/**
 * rate-limiter-flexible's PostgreSQL store on the app's own pool, for counts that must hold
 * across instances (login failures). The one place that hands the pool to it.
 */
@Injectable()
export class PostgresRateLimiters {
  constructor(private readonly dataSource: DataSource) {}

  create(options: PostgresLimiterOptions): RateLimiterPostgres {
    return new RateLimiterPostgres({
      storeClient: (this.dataSource.driver as unknown as { master: unknown }).master,
      storeType: 'pool',
      tableCreated: true,
      ...options,
    });
  }
}
