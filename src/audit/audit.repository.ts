import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { Cursors, Page } from '../common/pagination';
import { balanceOperationChangesSql, balanceOperationEntryJoin } from '../balances/ledger-audit';
import { Keyset } from '../database/keyset';
import { SqlParams } from '../database/sql';
import { Caller } from '../tree/caller';
import { callerVisibleActorSql, pathUnderCondition } from '../tree/scope';

export interface AuditRow {
  id: string;
  seq: string;
  at: Date;
  actor_visible: string | null;
  /** An actor was recorded but lies above the caller: its request id and address are hidden too. */
  actor_hidden: boolean;
  action: string;
  target_type: string;
  target_id: string | null;
  changes: Record<string, unknown> | null;
  request_id: string | null;
  client_address: string | null;
}

export interface AuditFilter {
  /** Path of the customer whose subtree's events are wanted (the caller's or a visible descendant's). */
  subjectPath: string;
  targetType?: string;
  targetId?: string;
  from?: Date;
  to?: Date;
}

const KEYSET = new Keyset('audit-events', [{ sql: 'e.seq', type: 'bigint' }], 'desc');

/**
 * The read side of audit events (the one INSERT is `Writes.record` in src/database/writes.ts).
 * Events are history: they stay visible when the customers they name are deleted.
 */
@Injectable()
export class AuditRepository {
  constructor(
    private readonly dataSource: DataSource,
    private readonly cursors: Cursors,
  ) {}

  /** Events whose subject lies in the caller's subtree (and under `filter.subjectPath`), newest first. */
  async page(caller: Caller, filter: AuditFilter, limit: number, cursor?: string): Promise<Page<AuditRow>> {
    const params = new SqlParams();
    // Both prefixes: the subject filter is a visible descendant's path, and never widens the caller's view.
    const where = [pathUnderCondition('e.subject_path', caller.path, params)];
    if (filter.subjectPath !== caller.path) where.push(pathUnderCondition('e.subject_path', filter.subjectPath, params));
    if (filter.targetType) where.push(`e.target_type = ${params.add(filter.targetType)}`);
    if (filter.targetId) where.push(`e.target_id = ${params.add(filter.targetId)}`);
    if (filter.from) where.push(`e.at >= ${params.add(filter.from)}`);
    if (filter.to) where.push(`e.at < ${params.add(filter.to)}`);
    const after = await KEYSET.after(this.cursors, cursor, params);
    if (after) where.push(after);
    // The actor is shown only when it lies in the caller's subtree (SPEC §9); where it is hidden,
    // so are the request id and client address that would point at it.
    // An actor is a customer, or an account (self-care: its login, its own changes), shown
    // where its customer lies in the caller's subtree.
    const actor = callerVisibleActorSql('e.actor_id', caller, params);
    // A balance operation's changes are its entry's, rendered for the page's rows only (the page
    // first, then its entries joined: balanceOperationChangesSql).
    const rows: AuditRow[] = await this.dataSource.query(
      `SELECT e.id, e.seq, e.at, e.actor_visible, e.actor_hidden, e.action, e.target_type, e.target_id,
              ${balanceOperationChangesSql('e', 'l')} AS changes, e.request_id, e.client_address,
              ${KEYSET.carried('e')}
         FROM (
           SELECT e.*, ${actor.visible} AS actor_visible, ${actor.hidden} AS actor_hidden, ${KEYSET.select()}
             FROM audit_events e
             ${actor.joins}
            WHERE ${where.join(' AND ')}
            ${KEYSET.orderAndLimit(limit, params)}
         ) e
         ${balanceOperationEntryJoin('e', 'l')}
        ORDER BY e.seq DESC`,
      params.values,
    );
    return KEYSET.page(this.cursors, rows, limit, (r) => r);
  }
}
