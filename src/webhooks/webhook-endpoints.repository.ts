import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { Cursors, Page } from '../common/pagination';
import { FindOptions, Visible } from '../database/access';
import { Keyset } from '../database/keyset';
import { returnedRows, SqlParams } from '../database/sql';
import type { Tx } from '../database/writes';
import { Caller } from '../tree/caller';
import { subtreeCondition } from '../tree/scope';

export interface WebhookEndpointRow {
  id: string;
  owner_id: string;
  /** Path of the owner (never sent to clients): audit events are scoped by it. */
  owner_path: string;
  url: string;
  event_types: string[];
  description: string;
  status: 'enabled' | 'disabled';
  disabled_reason: string | null;
  failing_since: Date | null;
  version: number;
  created_at: Date;
  updated_at: Date;
}

export interface NewWebhookEndpoint {
  ownerId: string;
  url: string;
  eventTypes: string[];
  description: string;
  secret: string;
}

export interface WebhookEndpointPatch {
  url?: string;
  eventTypes?: string[];
  description?: string;
  status?: 'enabled' | 'disabled';
  disabledReason?: string | null;
}

/** Selected from `webhook_endpoints w JOIN customers o ON o.id = w.owner_id`. */
const COLUMNS = `w.id, w.owner_id, o.path AS owner_path, w.url, w.event_types, w.description, w.status, w.disabled_reason,
  w.failing_since, w.version, w.created_at, w.updated_at`;

/** Oldest first; the id breaks ties. */
const LIST = new Keyset('webhook-endpoints', [
  { sql: 'w.created_at', type: 'timestamp' },
  { sql: 'w.id', type: 'uuid' },
]);

/**
 * Webhook endpoints. An endpoint is visible exactly when its owner lies in the caller's
 * subtree, the caller itself included: every query joins the owner through the scope helper.
 * The signing secret is never selected here except by the delivery worker's own read.
 */
@Injectable()
export class WebhookEndpointsRepository implements Visible<WebhookEndpointRow> {
  constructor(
    private readonly dataSource: DataSource,
    private readonly cursors: Cursors,
  ) {}

  async findVisible(caller: Caller, id: string, options: FindOptions = {}): Promise<WebhookEndpointRow | undefined> {
    const params = new SqlParams();
    const rows: WebhookEndpointRow[] = await (options.tx ?? this.dataSource.manager).query(
      `SELECT ${COLUMNS} FROM webhook_endpoints w JOIN customers o ON o.id = w.owner_id
        WHERE w.id = ${params.add(id)} AND w.deleted_at IS NULL AND ${subtreeCondition('o', caller, params, 'self-and-descendants')}
        ${options.lock ? `${options.lock} OF w` : ''}`,
      params.values,
    );
    return rows[0];
  }

  async list(caller: Caller, filter: { ownerId?: string }, cursor: string | undefined, limit: number): Promise<Page<WebhookEndpointRow>> {
    const params = new SqlParams();
    const where = ['w.deleted_at IS NULL', subtreeCondition('o', caller, params, 'self-and-descendants')];
    if (filter.ownerId) where.push(`w.owner_id = ${params.add(filter.ownerId)}`);
    const after = await LIST.after(this.cursors, cursor, params);
    if (after) where.push(after);
    const rows: WebhookEndpointRow[] = await this.dataSource.query(
      `SELECT ${COLUMNS}, ${LIST.select()} FROM webhook_endpoints w JOIN customers o ON o.id = w.owner_id
        WHERE ${where.join(' AND ')} ${LIST.orderAndLimit(limit, params)}`,
      params.values,
    );
    return LIST.page(this.cursors, rows, limit, (row) => row);
  }

  /** Creates an endpoint for a visible owner (undefined when the owner is not visible). */
  async insert(caller: Caller, tx: Tx, endpoint: NewWebhookEndpoint): Promise<WebhookEndpointRow | undefined> {
    const params = new SqlParams();
    const rows: WebhookEndpointRow[] = await tx.query(
      `WITH o AS (
         SELECT o.id, o.path FROM customers o
          WHERE o.id = ${params.add(endpoint.ownerId)} AND ${subtreeCondition('o', caller, params, 'self-and-descendants')}
       ), w AS (
         -- Created now, not at the transaction's start: the caller took the dispatcher's lock
         -- (unscopedHoldDispatchLock) in between, and no pass may have moved past an event of its time.
         INSERT INTO webhook_endpoints (owner_id, url, event_types, description, secret, created_at, updated_at)
         SELECT o.id, ${params.add(endpoint.url)}, ${params.add(endpoint.eventTypes)}::text[], ${params.add(endpoint.description)}, ${params.add(endpoint.secret)},
                clock_timestamp(), clock_timestamp()
           FROM o
         RETURNING *
       )
       SELECT ${COLUMNS} FROM w JOIN o ON o.id = w.owner_id`,
      params.values,
    );
    return rows[0];
  }

  /** Applies a patch to a visible endpoint; enabling it clears its failure record. Bumps its version. */
  async update(caller: Caller, tx: Tx, id: string, patch: WebhookEndpointPatch): Promise<WebhookEndpointRow | undefined> {
    const params = new SqlParams();
    const status = params.add(patch.status ?? null);
    const result: unknown = await tx.query(
      `UPDATE webhook_endpoints w SET url = COALESCE(${params.add(patch.url ?? null)}, w.url),
              event_types = COALESCE(${params.add(patch.eventTypes ?? null)}::text[], w.event_types),
              description = COALESCE(${params.add(patch.description ?? null)}, w.description),
              status = COALESCE(${status}, w.status),
              disabled_reason = CASE WHEN ${status} IS NULL THEN w.disabled_reason ELSE ${params.add(patch.disabledReason ?? null)} END,
              failing_since = CASE WHEN ${status} = 'enabled' THEN NULL ELSE w.failing_since END,
              version = w.version + 1, updated_at = now()
         FROM customers o
        WHERE w.id = ${params.add(id)} AND w.deleted_at IS NULL AND o.id = w.owner_id
          AND ${subtreeCondition('o', caller, params, 'self-and-descendants')}
        RETURNING ${COLUMNS}`,
      params.values,
    );
    return returnedRows<WebhookEndpointRow>(result)[0];
  }

  /** Deletes a visible endpoint (kept, marked deleted, with its deliveries' history); nothing more is sent to it. */
  async delete(caller: Caller, tx: Tx, id: string): Promise<void> {
    const params = new SqlParams();
    await tx.query(
      `UPDATE webhook_endpoints w SET deleted_at = now(), version = w.version + 1
         FROM customers o
        WHERE w.id = ${params.add(id)} AND w.deleted_at IS NULL AND o.id = w.owner_id
          AND ${subtreeCondition('o', caller, params, 'self-and-descendants')}`,
      params.values,
    );
  }

  /**
   * Disables an endpoint whose deliveries have failed since before `failingBefore` (the worker's
   * decision; no caller). Returns the endpoint before and after, or undefined when it was not
   * enabled or has succeeded since.
   */
  async unscopedDisableFailing(tx: Tx, id: string, failingBefore: Date, reason: string): Promise<{ before: WebhookEndpointRow; after: WebhookEndpointRow } | undefined> {
    const before: WebhookEndpointRow[] = await tx.query(
      `SELECT ${COLUMNS} FROM webhook_endpoints w JOIN customers o ON o.id = w.owner_id
        WHERE w.id = $1 AND w.deleted_at IS NULL AND w.status = 'enabled' AND w.failing_since <= $2
        FOR UPDATE OF w`,
      [id, failingBefore],
    );
    if (!before[0]) return undefined;
    const after: WebhookEndpointRow[] = await tx.query(
      `WITH w AS (
         UPDATE webhook_endpoints SET status = 'disabled', disabled_reason = $2, version = version + 1, updated_at = now()
          WHERE id = $1 RETURNING *
       )
       SELECT ${COLUMNS} FROM w JOIN customers o ON o.id = w.owner_id`,
      [id, reason],
    );
    return { before: before[0], after: after[0] };
  }
}
