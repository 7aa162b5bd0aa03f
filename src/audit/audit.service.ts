import { Injectable } from '@nestjs/common';
import { Page } from '../common/pagination';
import { CustomersRepository } from '../customers/customers.repository';
import { requireAccess } from '../database/access';
import { AuditTargetType, ChangeRecord, Tx, Writes } from '../database/writes';
import { Caller } from '../tree/caller';
import { AuditFilter, AuditRepository, AuditRow } from './audit.repository';
import { AuditEventDto } from './dto/audit.dto';

export type { AuditTargetType };
export { maskSecrets } from '../database/writes';

export interface AuditEvent extends Omit<ChangeRecord, 'before' | 'after' | 'actorId'> {
  actorId: string | null;
  changes?: { before?: Record<string, unknown> | null; after?: Record<string, unknown> | null } | null;
}

export interface AuditQuery extends Omit<AuditFilter, 'subjectPath'> {
  /** Only events about this customer of the caller's subtree (and what it owns). */
  customerId?: string;
}

const toDto = (r: AuditRow): AuditEventDto => ({
  id: r.id,
  at: r.at.toISOString(),
  actor: r.actor_visible,
  action: r.action,
  targetType: r.target_type,
  targetId: r.target_id,
  changes: r.changes,
  requestId: r.actor_hidden ? null : r.request_id,
  clientAddress: r.actor_hidden ? null : r.client_address,
});

/**
 * Reading the audit trail (SPEC §9): events on the caller's subtree, actors above it hidden.
 * Writing it is `Writes.change` (src/database/writes.ts).
 */
@Injectable()
export class AuditService {
  constructor(
    private readonly writes: Writes,
    private readonly events: AuditRepository,
    private readonly customers: CustomersRepository,
  ) {}

  async list(caller: Caller, query: AuditQuery, limit: number, cursor?: string): Promise<Page<AuditEventDto>> {
    const { customerId, ...filter } = query;
    let subjectPath = caller.path;
    if (customerId) {
      subjectPath = (await requireAccess(this.customers, caller, customerId, { what: 'customer' })).path;
    }
    const page = await this.events.page(caller, { ...filter, subjectPath }, limit, cursor);
    return { ...page, items: page.items.map(toDto) };
  }

  /**
   * Transitional: features not yet on the write path (`Writes.change`) record their events
   * through here, which delegates to the one INSERT in `src/database/writes.ts`. Without a
   * transaction (e.g. a failed login), the event is a change of its own.
   */
  async record(manager: Tx | undefined, event: AuditEvent): Promise<void> {
    const { changes, ...rest } = event;
    const record: ChangeRecord = { ...rest, before: changes?.before, after: changes?.after };
    if (manager) await this.writes.record(manager, event.actorId, record);
    else await this.writes.change(event.actorId, async () => ({ result: undefined, audit: record }));
  }
}
