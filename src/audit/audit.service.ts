import { Injectable } from '@nestjs/common';
import { Page } from '../common/pagination';
import { CustomersRepository } from '../customers/customers.repository';
import { requireAccess } from '../database/access';
import { Caller } from '../tree/caller';
import { AuditFilter, AuditRepository, AuditRow } from './audit.repository';
import { AuditEventDto } from './dto/audit.dto';
import { isoTime } from '../common/iso-time';

export interface AuditQuery extends Omit<AuditFilter, 'subjectPath'> {
  /** Only events about this customer of the caller's subtree (and what it owns). */
  customerId?: string;
}

const toDto = (r: AuditRow): AuditEventDto => ({
  id: r.id,
  at: isoTime(r.at),
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
}
