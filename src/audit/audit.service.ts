import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { AuditTargetType, ChangeRecord, Writes } from '../database/writes';

export type { AuditTargetType };
export { maskSecrets } from '../database/writes';

export interface AuditEvent extends Omit<ChangeRecord, 'before' | 'after' | 'actorId'> {
  actorId: string | null;
  changes?: { before?: Record<string, unknown> | null; after?: Record<string, unknown> | null } | null;
}

/**
 * Transitional: features not yet on the write path (`Writes.change`) record their events
 * through here, which delegates to the one INSERT in `src/database/writes.ts`.
 */
@Injectable()
export class AuditService {
  constructor(
    private readonly writes: Writes,
    private readonly dataSource: DataSource,
  ) {}

  async record(manager: EntityManager | undefined, event: AuditEvent): Promise<void> {
    const { changes, ...rest } = event;
    await this.writes.record(manager ?? this.dataSource.manager, event.actorId, { ...rest, before: changes?.before, after: changes?.after });
  }
}
