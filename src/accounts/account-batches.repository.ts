import { Injectable } from '@nestjs/common';
import { arrayLiteral, likePattern, SqlParams } from '../database/sql';
import { auditInsertSql, Tx } from '../database/writes';
import { Caller } from '../tree/caller';
import { subtreeCondition } from '../tree/scope';
import { ACCOUNT_SETTINGS_COLUMNS, AccountSettings, accountSettingsValues } from './accounts.repository';

/** The accounts of one batch: one username, web password hash and PIN each, the settings shared. */
export interface NewAccountBatch extends AccountSettings {
  usernames: string[];
  webPasswordHashes: string[];
  /** Each account's VoIP password (stored as POST /v1/accounts stores `voipPassword`). */
  voipPasswords: string[];
}

export interface CreatedCard {
  id: string;
  username: string;
}

/** Second key of the batch's advisory lock (first: hash of the prefix); "cards" in ASCII. */
const PREFIX_LOCK_CLASS = 0x63617264;

/**
 * The SQL of account batches (prepaid cards): numbering by prefix, and the set-based INSERT
 * of thousands of accounts with one `account.create` audit event each. The opening ledger
 * entries are written by the balances door (`appendOpeningBalances`), not here.
 */
@Injectable()
export class AccountBatchesRepository {
  /**
   * Serializes batches with the same prefix until the transaction ends, so that two of them
   * cannot pick the same numbers. Usernames are global, hence unscoped.
   */
  async unscopedLockPrefix(prefix: string, tx: Tx): Promise<void> {
    await tx.query('SELECT pg_advisory_xact_lock($1::int, hashtext($2::text))', [PREFIX_LOCK_CLASS, prefix]);
  }

  /**
   * The highest sequence number after `prefix` among live usernames (prefix + digits only),
   * as decimal text; null when there is none. Unscoped: usernames are unique over the tree.
   */
  async unscopedHighestNumber(prefix: string, tx: Tx): Promise<string | null> {
    const rows: Array<{ highest: string | null }> = await tx.query(
      `SELECT max(substr(username, $2::int + 1)::numeric)::text AS highest
         FROM accounts
        WHERE deleted_at IS NULL AND username LIKE $1 AND substr(username, $2::int + 1) ~ '^[0-9]+$'`,
      [likePattern(prefix, 'prefix'), prefix.length],
    );
    return rows[0]?.highest ?? null;
  }

  /** The first of `usernames` (in their order) that a live account already uses, or null. Unscoped, as above. */
  async unscopedFirstTaken(usernames: readonly string[], tx: Tx): Promise<string | null> {
    const rows: Array<{ username: string }> = await tx.query(
      `SELECT u.username
         FROM unnest($1::text[]) WITH ORDINALITY AS u(username, ord)
        WHERE EXISTS (SELECT 1 FROM accounts a WHERE a.username = u.username AND a.deleted_at IS NULL)
        ORDER BY u.ord LIMIT 1`,
      [arrayLiteral(usernames, 'text')],
    );
    return rows[0]?.username ?? null;
  }

  /**
   * Inserts the batch's accounts for a customer the caller sees, in username order (their
   * `created_at` one microsecond apart, so that lists oldest first show them in that order),
   * each with its `account.create` audit event (`auditAfter` + its username: never a secret),
   * in one statement. A username already taken is skipped (ON CONFLICT DO NOTHING): the
   * caller compares what came back with what it asked for. Empty when the customer is not visible.
   */
  async insertBatch(caller: Caller, customerId: string, batch: NewAccountBatch, auditAfter: Record<string, unknown>, tx: Tx): Promise<CreatedCard[]> {
    const params = new SqlParams();
    const text = (values: readonly string[]) => `${params.add(arrayLiteral(values, 'text'))}::text[]`;
    const event = auditInsertSql(
      params,
      {
        actorId: `${params.add(caller.customerId)}::uuid`,
        action: `'account.create'::varchar`,
        targetType: `'account'::varchar`,
        targetId: 'n.id::text',
        subjectPath: 'o.path',
        changes: `jsonb_build_object('after', ${params.add(JSON.stringify(auditAfter))}::jsonb || jsonb_build_object('username', n.username))`,
      },
      'n JOIN customers o ON o.id = n.customer_id ORDER BY n.created_at',
    );
    const rows: CreatedCard[] = await tx.query(
      `WITH n AS (
         INSERT INTO accounts (customer_id, username, web_password_hash, voip_password, ${ACCOUNT_SETTINGS_COLUMNS}, created_at, updated_at)
         SELECT o.id, u.username, u.hash, u.voip, ${accountSettingsValues(batch, params)},
                now() + (u.ord - 1) * interval '1 microsecond', now() + (u.ord - 1) * interval '1 microsecond'
           FROM customers o,
                unnest(${text(batch.usernames)}, ${text(batch.webPasswordHashes)}, ${text(batch.voipPasswords)}) WITH ORDINALITY AS u(username, hash, voip, ord)
          WHERE o.id = ${params.add(customerId)} AND ${subtreeCondition('o', caller, params, 'self-and-descendants')}
          ORDER BY u.ord
         ON CONFLICT (username) WHERE deleted_at IS NULL DO NOTHING
         RETURNING id, username, customer_id, created_at
       ), a AS (${event})
       SELECT id, username FROM n ORDER BY created_at`,
      params.values,
    );
    return rows;
  }
}
