import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { currentRequest } from '../common/request-context';

export type AuditTargetType = 'customer' | 'tariff' | 'rate' | 'exchange-rate' | 'api-key' | 'balance-operation' | 'session' | 'account' | 'permissions' | 'system-settings' | 'routing-group';

export interface AuditEvent {
  actorId: string | null;
  action: string;
  targetType: AuditTargetType;
  targetId: string | null;
  /** Path of the customer the target belongs to: the event is visible from there upwards. */
  subjectPath: string;
  changes?: { before?: Record<string, unknown> | null; after?: Record<string, unknown> | null } | null;
}

const SECRET_FIELDS = /password|secret|apikey|api_key|token|hash/i;

/** Replaces secret values (passwords, key secrets, hashes) by "***" at any depth. */
export function maskSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(maskSecrets);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, SECRET_FIELDS.test(k) ? '***' : maskSecrets(v)]),
    );
  }
  return value;
}

/** Writes audit events, always inside the transaction of the change they describe. */
@Injectable()
export class AuditService {
  constructor(private readonly dataSource: DataSource) {}

  async record(manager: EntityManager | undefined, event: AuditEvent): Promise<void> {
    const request = currentRequest();
    await (manager ?? this.dataSource.manager).query(
      `INSERT INTO audit_events (actor_id, action, target_type, target_id, subject_path, changes, request_id, client_address)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [
        event.actorId,
        event.action,
        event.targetType,
        event.targetId,
        event.subjectPath,
        event.changes ? JSON.stringify(maskSecrets(event.changes)) : null,
        request?.requestId ?? null,
        request?.clientAddress ?? null,
      ],
    );
  }
}
