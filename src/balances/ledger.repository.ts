import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { ClaimRef, completeClaimSql, FreshKey, freshKeySql } from '../common/idempotency/idempotency.repository';
import { formatMoneySql, MONEY_LIMIT } from '../common/money';
import { Keyset } from '../database/keyset';
import { returnedRows, sqlState, SqlParams } from '../database/sql';
import { auditInsertSql, Tx } from '../database/writes';
import { Caller } from '../tree/caller';
import { subtreeCondition, pathUnderCondition } from '../tree/scope';

export type HolderKind = 'customer' | 'account';

export interface LedgerRow {
  id: string;
  seq: string;
  action: string;
  amount: string;
  currency: string;
  exchange_rate: string;
  converted_amount: string;
  balance_after: string;
  notes: string | null;
  /** actor_id when the actor lies in the viewer's subtree, else null. */
  visible_actor: string | null;
  idempotency_key: string | null;
  created_at: Date;
}

export type StoredLedgerRow = Omit<LedgerRow, 'visible_actor'>;

/** One posting as the ledger applies it: money already in exact decimal text. */
export interface PostingRow {
  kind: HolderKind;
  holderId: string;
  action: string;
  /** As posted, in `currency`. */
  amount: string;
  /** The posted currency; null: the holder's base currency. */
  currency: string | null;
  /** The base currency `delta` is in; null: whatever the holder's is (only with `currency` null or equal to it). */
  expectedBase: string | null;
  exchangeRate: string;
  /** Signed change of the balance, in the holder's base currency. */
  delta: string;
  /** Refuse when available credit would fall below zero. */
  checkCredit: boolean;
  notes: string | null;
  actorId: string;
  idempotencyKey: string | null;
}

/** An applied posting: its entry and the path its audit event is scoped by. */
export interface AppliedRow {
  entry: StoredLedgerRow;
  subjectPath: string;
  baseCurrency: string;
}

/** Why a posting was not applied, read after the fact (a fresh snapshot). */
export interface RefusalFacts {
  baseCurrency: string;
  /** Balance plus credit limit now. */
  available: string;
  /** The balance after the posting would not fit NUMERIC(38,8). */
  outOfRange: boolean;
}

const LEDGER_COLUMNS = `e.id, e.seq, e.action, e.amount, e.currency, e.exchange_rate, e.converted_amount, e.balance_after,
  e.notes, e.idempotency_key, e.created_at`;

/**
 * A holder within the caller's reach, as `h`: a customer strictly below the caller, or an
 * account of the caller or of a customer below it. `base` and `subjectPath` name its base
 * currency and the path its audit events are scoped by.
 */
function holderScope(kind: HolderKind, caller: Caller, id: string, params: SqlParams) {
  return kind === 'customer'
    ? {
        table: 'customers h',
        joined: '',
        where: `h.id = ${params.add(id)} AND ${subtreeCondition('h', caller, params, 'descendants')}`,
        base: 'h.base_currency',
        subjectPath: 'h.path',
      }
    : {
        table: 'accounts h',
        joined: 'customers c',
        where: `h.id = ${params.add(id)} AND h.deleted_at IS NULL AND c.id = h.customer_id AND ${subtreeCondition('c', caller, params, 'self-and-descendants')}`,
        base: 'c.base_currency',
        subjectPath: 'c.path',
      };
}

/** THE ledger INSERT (entries are immutable: the only write the ledger accepts), from `source` rows. */
function ledgerInsert(source: string, values: string): string {
  return `INSERT INTO ledger_entries AS e (customer_id, account_id, action, amount, currency, exchange_rate, converted_amount,
                                      balance_after, notes, actor_id, idempotency_key)
          SELECT ${values} FROM ${source}
          RETURNING ${LEDGER_COLUMNS}`;
}

/**
 * The opening balance of a holder just created with it (its first ledger entry, so that the
 * balance equals the sum of the entries). Unscoped: the creator's transaction checked access.
 */
export async function unscopedAppendOpening(tx: Tx, kind: HolderKind, holderId: string, amount: string, currency: string, actorId: string): Promise<void> {
  const params = new SqlParams();
  const holder = [params.add(kind === 'customer' ? holderId : null), params.add(kind === 'account' ? holderId : null)];
  const a = params.add(amount);
  await tx.query(
    ledgerInsert(
      '(VALUES (1)) AS opening',
      `${holder[0]}::uuid, ${holder[1]}::uuid, 'opening_balance', ${a}::numeric, ${params.add(currency)}::text, 1, ${a}::numeric, ${a}::numeric,
       NULL, ${params.add(actorId)}::uuid, NULL`,
    ),
    params.values,
  );
}

type PostingResult = Array<StoredLedgerRow & { subject_path: string; base_currency: string }>;

/**
 * THE posting statement: the holder's conditional balance update (`h`), its ledger entry
 * (`e`), then whatever `more` adds (CTEs reading `e` and `h`, each prefixed with a comma).
 */
function postingSql(params: SqlParams, caller: Caller, posting: PostingRow, more: (extra: string) => string, guard?: string): string {
  const h = holderScope(posting.kind, caller, posting.holderId, params);
  const delta = params.add(posting.delta);
  const currency = params.add(posting.currency);
  return `WITH h AS (
      UPDATE ${h.table} SET balance = h.balance + ${delta}::numeric, version = h.version + 1, updated_at = now()
      ${h.joined ? `FROM ${h.joined}` : ''}
      WHERE ${h.where}
        AND ${h.base} = COALESCE(${params.add(posting.expectedBase)}::text, ${currency}::text, ${h.base})
        AND (NOT ${params.add(posting.checkCredit)}::boolean OR h.balance + h.credit_limit + ${delta}::numeric >= 0)
        AND abs(h.balance + ${delta}::numeric) < ${params.add(MONEY_LIMIT.toFixed())}::numeric
        ${guard ? `AND ${guard}` : ''}
      RETURNING h.id, h.balance, ${h.base} AS base_currency, ${h.subjectPath} AS subject_path
    ), e AS (
      ${ledgerInsert(
        'h',
        `${posting.kind === 'customer' ? 'h.id' : 'NULL'}, ${posting.kind === 'account' ? 'h.id' : 'NULL'}, ${params.add(posting.action)},
         ${params.add(posting.amount)}::numeric, COALESCE(${currency}::text, h.base_currency), ${params.add(posting.exchangeRate)}::numeric,
         ${delta}::numeric, h.balance, ${params.add(posting.notes)}::varchar, ${params.add(posting.actorId)}::uuid,
         ${params.add(posting.idempotencyKey)}::varchar`,
      )}
    )${more('')}
    SELECT e.*, h.subject_path, h.base_currency FROM e, h`;
}

function applied(result: unknown): AppliedRow | undefined {
  const rows = returnedRows<PostingResult[number]>(result);
  if (!rows.length) return undefined;
  const { subject_path, base_currency, ...entry } = rows[0];
  return { entry, subjectPath: subject_path, baseCurrency: base_currency };
}

/**
 * Every SQL text about the ledger: THE posting (balance update and ledger entry in one
 * statement), the facts of a refusal, the ledger list (and, above, opening entries).
 */
@Injectable()
export class LedgerRepository {
  constructor(private readonly dataSource: DataSource) {}

  /**
   * Applies one posting to a holder within the caller's reach, in one statement: the
   * conditional balance update (base currency as expected, credit, NUMERIC(38,8) range) and
   * its ledger entry, and, given `completes`, the answer of that idempotency claim (the
   * entry, rebuilt from its id on replay). Undefined when nothing was written (see
   * `refusalFacts` for why; the claim is then still open).
   */
  async post(tx: Tx, caller: Caller, posting: PostingRow, completes?: ClaimRef): Promise<AppliedRow | undefined> {
    const params = new SqlParams();
    const sql = postingSql(params, caller, posting, (extra) =>
      completes
        ? `, k AS (${completeClaimSql(params, completes, { status: '201', body: 'NULL', headers: `'{}'::jsonb`, ledgerEntryId: 'e.id' }, 'e')})${extra}`
        : extra,
    );
    return applied(await tx.query(sql, params.values));
  }

  /**
   * The same posting as a statement of its own (no transaction: the common case of an
   * operation in one round trip), which also claims the fresh key `fresh` completed and
   * writes the audit event (`after` plus the entry's currency and the balance after).
   * Undefined when it wrote nothing, or when a concurrent request took the key or the
   * statement met a deadlock: the transactional posting then gives the exact answer.
   */
  async postAlone(caller: Caller, posting: PostingRow, fresh: FreshKey, audit: { action: string; after: Record<string, string> }): Promise<AppliedRow | undefined> {
    const params = new SqlParams();
    const key = freshKeySql(params, fresh, 'e.id', 'e');
    const event = auditInsertSql(
      params,
      {
        actorId: `${params.add(posting.actorId)}::uuid`,
        action: `${params.add(audit.action)}::varchar`,
        targetType: `'balance-operation'`,
        targetId: 'e.id::text',
        subjectPath: 'h.subject_path',
        changes: `jsonb_build_object('after', ${params.add(JSON.stringify(audit.after))}::jsonb
                    || jsonb_build_object('currency', e.currency, 'balanceAfter', ${formatMoneySql('h.balance')}))`,
      },
      'e, h',
    );
    const sql = postingSql(params, caller, posting, (extra) => `, k AS (${key.insert}), a AS (${event})${extra}`, key.unused);
    try {
      return applied(await this.dataSource.query(sql, params.values));
    } catch (error) {
      const code = sqlState(error);
      if (code === '23505' || code === '40P01' || code === '40001') return undefined;
      throw error;
    }
  }

  /** Why `post` wrote nothing, read now: undefined when the holder is not within reach. */
  async refusalFacts(tx: Tx, caller: Caller, kind: HolderKind, holderId: string, delta: string): Promise<RefusalFacts | undefined> {
    const params = new SqlParams();
    const h = holderScope(kind, caller, holderId, params);
    const rows: Array<{ base_currency: string; available: string; out_of_range: boolean }> = await tx.query(
      `SELECT ${h.base} AS base_currency, h.balance + h.credit_limit AS available,
              abs(h.balance + ${params.add(delta)}::numeric) >= ${params.add(MONEY_LIMIT.toFixed())}::numeric AS out_of_range
         FROM ${h.table}${h.joined ? `, ${h.joined}` : ''}
        WHERE ${h.where}`,
      params.values,
    );
    if (!rows.length) return undefined;
    return { baseCurrency: rows[0].base_currency, available: rows[0].available, outOfRange: rows[0].out_of_range };
  }

  /** One entry by id, whoever may see it (a replay of a posting that stored only the entry's id). */
  async unscopedEntry(tx: Tx, entryId: string): Promise<StoredLedgerRow | undefined> {
    const rows: StoredLedgerRow[] = await tx.query(`SELECT ${LEDGER_COLUMNS} FROM ledger_entries e WHERE e.id = $1`, [entryId]);
    return rows[0];
  }

  /**
   * A page of a holder's ledger, newest first (the caller's access to the holder was checked).
   * An actor above the viewer is shown as null (SPEC §6, §1).
   */
  async list(
    caller: Caller,
    keyset: Keyset,
    kind: HolderKind,
    holderId: string,
    filter: { action?: string; from?: Date; to?: Date; after?: string },
    limit: number,
    params: SqlParams,
  ): Promise<Array<LedgerRow & Record<string, unknown>>> {
    const where = [`e.${kind === 'customer' ? 'customer_id' : 'account_id'} = ${params.add(holderId)}`];
    if (filter.action) where.push(`e.action = ${params.add(filter.action)}`);
    if (filter.from) where.push(`e.created_at >= ${params.add(filter.from)}`);
    if (filter.to) where.push(`e.created_at < ${params.add(filter.to)}`);
    if (filter.after) where.push(filter.after);
    return this.dataSource.query(
      `SELECT ${LEDGER_COLUMNS}, a.id AS visible_actor, ${keyset.select()}
         FROM ledger_entries e
         LEFT JOIN customers a ON a.id = e.actor_id AND ${pathUnderCondition('a.path', caller.path, params)}
        WHERE ${where.join(' AND ')}
        ${keyset.orderAndLimit(limit, params)}`,
      params.values,
    );
  }
}
