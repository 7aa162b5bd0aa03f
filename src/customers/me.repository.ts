import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { FindOptions } from '../database/access';
import { returnedRows, SqlParams } from '../database/sql';
import type { Tx } from '../database/writes';
import { AccountCaller } from '../tree/caller';
import { accountScope } from '../tree/scope';

/** An account principal's own record, as `GET /v1/me` shows it (nothing of its customer but its currency and path). */
export interface OwnAccountRow {
  id: string;
  username: string;
  time_zone: string;
  language: string;
  balance: string;
  credit_limit: string;
  status: string;
  version: number;
  created_at: Date;
  updated_at: Date;
  /** The customer's base currency: the account's money is in it. */
  currency: string;
  /** Of the owning customer (never sent): the audit event's subject. */
  customer_path: string;
}

/** From `accounts a`, its balance row `ab` (version and time as in accounts.repository.ts) and its customer `c`. */
const COLUMNS = `a.id, a.username, a.time_zone, a.language, ab.balance::text AS balance, a.credit_limit::text AS credit_limit, a.status,
  a.version + ab.version AS version, a.created_at, GREATEST(a.updated_at, ab.updated_at) AS updated_at, c.base_currency AS currency, c.path AS customer_path`;

/**
 * Self-care of an account principal (SPEC §2): its own record, and the three things it may
 * change of it. Every statement is scoped by `accountScope`, which lets an account principal
 * reach its own row and nothing else.
 */
@Injectable()
export class MeRepository {
  constructor(private readonly dataSource: DataSource) {}

  async findOwnAccount(caller: AccountCaller, options: FindOptions = {}): Promise<OwnAccountRow | undefined> {
    const params = new SqlParams();
    const rows: OwnAccountRow[] = await (options.tx ?? this.dataSource.manager).query(
      `SELECT ${COLUMNS} FROM accounts a JOIN account_balances ab ON ab.account_id = a.id JOIN customers c ON c.id = a.customer_id
        WHERE a.id = ${params.add(caller.accountId)} AND a.deleted_at IS NULL AND ${accountScope('a', 'c', caller, params)}
        ${options.lock ? `${options.lock} OF a` : ''}`,
      params.values,
    );
    return rows[0];
  }

  async ownAccountPasswordHash(caller: AccountCaller): Promise<string | undefined> {
    const rows: Array<{ web_password_hash: string }> = await this.dataSource.query(
      `SELECT web_password_hash FROM accounts WHERE id = $1 AND deleted_at IS NULL`,
      [caller.accountId],
    );
    return rows[0]?.web_password_hash;
  }

  /**
   * Its password (a new hash: the trigger of migration 1764500400000 bumps its auth epoch,
   * which ends its sessions), time zone and language; version + 1.
   */
  async updateOwnAccount(caller: AccountCaller, changes: { passwordHash?: string; timeZone?: string; language?: string }, tx: Tx): Promise<OwnAccountRow | undefined> {
    const params = new SqlParams();
    const sets = ['version = a.version + 1', 'updated_at = now()'];
    if (changes.passwordHash !== undefined) sets.push(`web_password_hash = ${params.add(changes.passwordHash)}`);
    if (changes.timeZone !== undefined) sets.push(`time_zone = ${params.add(changes.timeZone)}`);
    if (changes.language !== undefined) sets.push(`language = ${params.add(changes.language)}`);
    const rows = returnedRows<OwnAccountRow>(
      await tx.query(
      `UPDATE accounts a SET ${sets.join(', ')} FROM customers c, account_balances ab
        WHERE c.id = a.customer_id AND ab.account_id = a.id AND a.id = ${params.add(caller.accountId)} AND a.deleted_at IS NULL AND ${accountScope('a', 'c', caller, params)}
        RETURNING ${COLUMNS}`,
      params.values,
    ),
    );
    return rows[0];
  }
}
