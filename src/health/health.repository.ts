import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';

/** What readiness asks of the database. */
@Injectable()
export class HealthRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** Whether a trivial statement goes through (false when the database is unreachable). */
  async reachable(): Promise<boolean> {
    try {
      await this.dataSource.query('SELECT 1');
      return true;
    } catch {
      return false;
    }
  }

  /** Whether migrations are pending (this release expects more than the database has). */
  migrationsPending(): Promise<boolean> {
    return this.dataSource.showMigrations();
  }
}
