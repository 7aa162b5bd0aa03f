import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { currentRequest } from '../common/request-context';
import { CALLERS_CHANGED_SETTING, CallerChanges } from './notifications';
import { SqlParams } from './sql';
import { inTransaction, pipelinedTransaction } from './transactions';

/** A transaction handed to repositories by the write path. Services pass it on, never query it. */
export type Tx = EntityManager;

export type AuditTargetType =
  | 'customer'
  | 'tariff'
  | 'rate'
  | 'exchange-rate'
  | 'api-key'
  | 'balance-operation'
  | 'session'
  | 'account'
  | 'permissions'
  | 'system-settings'
  | 'routing-group'
  | 'call'
  | 'webhook-endpoint';

/** What a change did, as its audit event records it (SPEC §9). */
export interface ChangeRecord {
  action: string;
  targetType: AuditTargetType;
  targetId: string | null;
  /** Path of the customer the target belongs to: the event is visible from there upwards. */
  subjectPath: string;
  before?: Record<string, unknown> | null;
  after?: Record<string, unknown> | null;
  /** Who made the change; the caller of `change()` when absent (null: nobody, e.g. a failed login). */
  actorId?: string | null;
}

/** The result of a change and the audit record(s) of what it did. */
export interface Changed<T> {
  result: T;
  audit: ChangeRecord | ChangeRecord[];
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

/**
 * THE write path (formance's `runTx`/`forgeLog` shape): every change runs in one transaction
 * (retried on serialization failures and deadlocks) whose work returns what it changed, and
 * the audit event is written here from that record, secrets masked, in the same transaction.
 * A change cannot be written without saying what it did; the event outbox hangs here too.
 */
@Injectable()
export class Writes {
  constructor(
    private readonly dataSource: DataSource,
    private readonly callerChanges: CallerChanges,
  ) {}

  /**
   * The audit INSERT also returns the callers the transaction changed (listed by the triggers
   * of migration 1764200000000): once committed, this instance's cached callers are evicted
   * before the answer leaves, so the very next request sees the change. (Other instances hear
   * it through NOTIFY.) A change with no audit record changed nothing a caller holds.
   */
  async change<T>(actorId: string | null, work: (tx: Tx) => Promise<Changed<T>>): Promise<T> {
    let callersChanged: string | null = null;
    const result = await inTransaction(this.dataSource, async (tx) => {
      callersChanged = null;
      const { result, audit } = await work(tx);
      for (const record of Array.isArray(audit) ? audit : [audit]) callersChanged = await this.record(tx, actorId, record);
      return result;
    });
    this.callerChanges.committed(callersChanged);
    return result;
  }

  /** A transaction that changes nothing audited (a consistent read, or work audited by its caller's change). */
  async unauditedTransaction<T>(work: (tx: Tx) => Promise<T>): Promise<T> {
    return inTransaction(this.dataSource, work);
  }

  /**
   * `unauditedTransaction` with its BEGIN sent along with its first statement and its COMMIT
   * along with the statement written `preparedQuery(tx, …, { commit: true })` (transactions.ts):
   * the group commit of postings.
   */
  async pipelinedTransaction<T>(work: (tx: Tx) => Promise<T>): Promise<T> {
    return pipelinedTransaction(this.dataSource, work);
  }

  /**
   * The one INSERT into audit_events (also used by postings, which write in their own statement).
   * Returns the transaction's `canopy.callers_changed` so far (null: none).
   */
  async record(tx: Tx, actorId: string | null, record: ChangeRecord): Promise<string | null> {
    const changes = record.before === undefined && record.after === undefined ? null : { before: record.before, after: record.after };
    const params = new SqlParams();
    const rows: Array<{ callers_changed: string | null }> = await tx.query(
      `${auditInsertSql(params, {
        actorId: `${params.add(record.actorId === undefined ? actorId : record.actorId)}::uuid`,
        action: `${params.add(record.action)}::varchar`,
        targetType: `${params.add(record.targetType)}::varchar`,
        targetId: `${params.add(record.targetId)}::text`,
        subjectPath: `${params.add(record.subjectPath)}::text`,
        changes: `${params.add(changes ? JSON.stringify(maskSecrets(changes)) : null)}::jsonb`,
      })} RETURNING current_setting('${CALLERS_CHANGED_SETTING}', true) AS callers_changed`,
      params.values,
    );
    return rows[0]?.callers_changed || null;
  }
}

/**
 * THE audit INSERT, each column an SQL expression over `source` (none: one row). `record()`
 * runs it with parameters; a posting runs it as a CTE of its one statement, its changes built
 * there (they hold no secrets). The request id and client address are the current request's.
 */
export function auditInsertSql(
  params: SqlParams,
  columns: {
    /** The event's id (default: the column's, a random UUID). */
    id?: string;
    actorId: string;
    action: string;
    targetType: string;
    targetId: string;
    subjectPath: string;
    changes: string;
    /** Per-row request id and client address (a set of postings from several requests); the current request's when absent. */
    requestId?: string;
    clientAddress?: string;
  },
  source = '',
): string {
  const request = columns.requestId === undefined ? currentRequest() : undefined;
  const requestId = columns.requestId ?? `${params.add(request?.requestId ?? null)}::varchar`;
  const clientAddress = columns.clientAddress ?? `${params.add(request?.clientAddress ?? null)}::varchar`;
  return `INSERT INTO audit_events (${columns.id ? 'id, ' : ''}actor_id, action, target_type, target_id, subject_path, changes, request_id, client_address)
          SELECT ${columns.id ? `${columns.id}, ` : ''}${columns.actorId}, ${columns.action}, ${columns.targetType}, ${columns.targetId}, ${columns.subjectPath}, ${columns.changes},
                 ${requestId}, ${clientAddress}
          ${source ? `FROM ${source}` : ''}`;
}
