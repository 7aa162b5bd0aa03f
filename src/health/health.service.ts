import { Injectable } from '@nestjs/common';
import { ProblemError } from '../common/problem/problem';
import { HealthRepository } from './health.repository';

const notReady = (detail: string) => new ProblemError(503, 'not-ready', 'Service Unavailable', detail);

/** Readiness: the database answers and its schema is the one this release expects. */
@Injectable()
export class HealthService {
  constructor(private readonly database: HealthRepository) {}

  async assertReady(): Promise<void> {
    if (!(await this.database.reachable())) throw notReady('The database is not reachable.');
    if (await this.database.migrationsPending()) throw notReady('Database migrations are pending.');
  }
}
