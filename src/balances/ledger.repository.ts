import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { ClaimRef, completeClaimsSql, CompletedKey, completedKeySql, FreshKeys, freshKeysSql } from '../common/idempotency/idempotency.repository';
import { newRowId } from '../common/ids';
import { MONEY_LIMIT } from '../common/money';
import { Keyset } from '../database/keyset';
import { arrayLiteral, sqlState, SqlParams } from '../database/sql';
import { preparedQuery } from '../database/prepared';
import { auditInsertSql, Tx } from '../database/writes';
import { lowCrossingSql } from '../events/ledger-events';
import { Caller } from '../tree/caller';
import { callerVisibleActorSql, subtreeCondition, subtreeConditionOf } from '../tree/scope';

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
  external_reference: string | null;
  metadata: Record<string, string>;
  created_at: Date;
}

export type StoredLedgerRow = Omit<LedgerRow, 'visible_actor'>;

/** A holder as the posting locks it: what deciding a posting needs. */
export interface LockedHolder {
  kind: HolderKind;
  id: string;
  baseCurrency: string;
  balance: string;
  creditLimit: string;
  /** The customer whose exchange-rate table converts money posted to it (a customer's parent, an account's customer). */
  billingCustomerId: string;
  /** Path of the customer the holder is, or belongs to: its scope, and its audit events'. */
  subjectPath: string;
}

/**
 * One entry of a posting statement, decided: money as exact decimal text, `prefix` the sum
 * of the deltas of this statement's entries on the same holder up to and including this one
 * (balance after = balance before the statement + prefix).
 */
export interface EntryRow {
  id: string;
  kind: HolderKind;
  holderId: string;
  action: string;
  amount: string;
  /** Null: the holder's base currency. */
  currency: string | null;
  exchangeRate: string;
  delta: string;
  prefix: string;
  notes: string | null;
  actorId: string;
  idempotencyKey: string | null;
  /** The operation's external reference (unique per holder: a duplicate fails the statement on its index). */
  externalReference: string | null;
  /** The operation's metadata as JSON text; null: none (`{}`). */
  metadata: string | null;
  /**
   * Whether the statement writes the entry's own audit event (usage entries: one event per
   * request instead). Its changes are not stored: they are the entry's, rendered when the audit
   * log is read (`balanceOperationChangesSql`).
   */
  audited: boolean;
  requestId: string | null;
  clientAddress: string | null;
}

/**
 * What the statement may assume of a holder, and checks again (so that it can also run alone,
 * with no lock taken before): the sum of its entries' deltas, the lowest running sum of a
 * credit-checked entry (balance + creditLimit + that ≥ 0), the lowest and highest running sums
 * (the balance stays within NUMERIC(38,8)), the base currency expected (null: any), and the
 * caller whose reach it must lie in (null: checked under lock before the statement).
 */
export interface HolderChange {
  kind: HolderKind;
  id: string;
  total: string;
  minChecked: string | null;
  low: string;
  high: string;
  expectedBase: string | null;
  reach: { path: string; depth: number } | null;
  entries: number;
}

/** A claim answered by the statement: its response (an entry by id, or a stored body). */
export interface ClaimAnswer {
  claim: ClaimRef;
  status: number;
  body: unknown;
  ledgerEntryId: string | null;
}

const LEDGER_COLUMNS = `e.id, e.seq, e.action, e.amount, e.currency, e.exchange_rate, e.converted_amount, e.balance_after,
  e.notes, e.idempotency_key, e.external_reference, e.metadata, e.created_at`;

/** THE ledger INSERT (entries are immutable: the only write the ledger accepts), from `source` rows. */
function ledgerInsert(source: string, values: string): string {
  return `INSERT INTO ledger_entries AS e (customer_id, account_id, action, amount, currency, exchange_rate, converted_amount,
                                      balance_after, notes, actor_id, idempotency_key, low_balance_threshold)
          SELECT ${values} FROM ${source}
          RETURNING ${LEDGER_COLUMNS}`;
}

/**
 * An opening entry's `low_balance_threshold` (its holder's threshold if the opening amount
 * `amount` lies below it: a crossing from zero), the holder by id expression `holderId`.
 */
function openingLowSql(kind: HolderKind, holderId: string, amount: string): string {
  const threshold = `(SELECT t.low_balance_threshold FROM ${kind === 'customer' ? 'customers' : 'accounts'} t WHERE t.id = ${holderId})`;
  return lowCrossingSql(amount, amount, threshold);
}

/**
 * The opening balance of a holder just created with it (its first ledger entry, so that the
 * balance equals the sum of the entries). Unscoped: the creator's transaction checked access.
 */
export async function unscopedAppendOpening(tx: Tx, kind: HolderKind, holderId: string, amount: string, currency: string, actorId: string): Promise<void> {
  const params = new SqlParams();
  const holder = [params.add(kind === 'customer' ? holderId : null), params.add(kind === 'account' ? holderId : null)];
  const a = params.add(amount);
  const id = kind === 'customer' ? holder[0] : holder[1];
  await tx.query(
    ledgerInsert(
      '(VALUES (1)) AS opening',
      `${holder[0]}::uuid, ${holder[1]}::uuid, 'opening_balance', ${a}::numeric, ${params.add(currency)}::text, 1, ${a}::numeric, ${a}::numeric,
       NULL, ${params.add(actorId)}::uuid, NULL, ${openingLowSql(kind, `${id}::uuid`, `${a}::numeric`)}`,
    ),
    params.values,
  );
}

/**
 * The opening balances of many holders of one kind just created together with the same
 * amount (a batch of prepaid cards, `POST /v1/customers/{id}/account-batches`): their first
 * ledger entries in one set-based INSERT, in the order given. Unscoped, as
 * `unscopedAppendOpening`: the creator's transaction checked access and created the holders.
 */
export async function unscopedAppendOpenings(
  tx: Tx,
  kind: HolderKind,
  holderIds: readonly string[],
  amount: string,
  currency: string,
  actorId: string,
): Promise<void> {
  if (holderIds.length === 0) return;
  const params = new SqlParams();
  const ids = `${params.add(arrayLiteral(holderIds, 'uuid'))}::uuid[]`;
  const holder = kind === 'customer' ? ['o.holder_id', 'NULL::uuid'] : ['NULL::uuid', 'o.holder_id'];
  const a = params.add(amount);
  // Counted, not returned: thousands of rows need not travel back.
  await tx.query(
    `WITH written AS (${ledgerInsert(
      `(SELECT h.holder_id FROM unnest(${ids}) WITH ORDINALITY AS h(holder_id, ord) ORDER BY h.ord) AS o`,
      `${holder[0]}, ${holder[1]}, 'opening_balance', ${a}::numeric, ${params.add(currency)}::text, 1, ${a}::numeric, ${a}::numeric,
       NULL, ${params.add(actorId)}::uuid, NULL, ${openingLowSql(kind, 'o.holder_id', `${a}::numeric`)}`,
    )}) SELECT count(*) FROM written`,
    params.values,
  );
}

/**
 * The longest a posting statement run alone (no transaction, no lock before it) waits for a
 * lock (a holder's row, a key another transaction is inserting): past it the statement fails
 * and the postings take the transactional path, so that one held key or row never holds up a
 * whole group.
 */
const ONE_STATEMENT_LOCK_TIMEOUT = '500ms';

/**
 * The error a batch written by THE posting statement alone raises when a holder did not pass
 * its check (`canopy_all_or_none`, migration 1765000000000-AllOrNone): nothing is written and
 * the batch takes its transaction.
 */
const ALL_OR_NONE_FAILED = 'CB001';

/** Why a posting statement run alone wrote nothing and the exact path decides: a unique key taken (23505), a lock timeout (55P03), a deadlock (40P01), a serialization failure (40001), a batch not all passing. */
const EXACT_PATH_DECIDES = new Set(['23505', '55P03', '40P01', '40001', ALL_OR_NONE_FAILED]);

const array = (params: SqlParams, values: unknown[], type: string) => `${params.add(arrayLiteral(values, type))}::${type}[]`;

/**
 * A column of the request an entry comes from (its actor, key, request id, client address):
 * for entries all from one request (a batch), one value repeated by PostgreSQL (`array_fill`)
 * instead of a thousand copies sent, parsed and kept; else one value per entry. Only these
 * columns, so that the statement has two texts (prepared once each) rather than one per
 * pattern of equal values.
 */
function requestColumn(params: SqlParams, entries: EntryRow[], oneRequest: boolean, value: (e: EntryRow) => string | null, type: string): string {
  if (!oneRequest) return array(params, entries.map(value), type);
  return `array_fill(${params.add(entries.length ? value(entries[0]) : null)}::${type}, ARRAY[${params.add(entries.length)}::int])`;
}

/** Whether every entry comes from the same request (the same actor, key, request id and client address). */
function fromOneRequest(entries: EntryRow[]): boolean {
  const first = entries[0];
  return entries.every(
    (e) => e.actorId === first.actorId && e.idempotencyKey === first.idempotencyKey && e.requestId === first.requestId && e.clientAddress === first.clientAddress,
  );
}

/**
 * THE posting statement, for one entry or thousands: each holder's balance update (`hc`,
 * `ha`), guarded as HolderChange says, the ledger entries in order (`e`, balance after each,
 * and the holder's low-balance threshold on an entry that crosses it downwards: its
 * `balance.low` event, which the relay writes), their audit events (`a`), fresh keys claimed (`f`) and claims answered (`k`). Entries are
 * written only for holders updated. Holders were locked in id order before (the transaction),
 * or the statement runs alone (every entry on a fresh key, `freshKeys`; no lock before it, a
 * holder any of whose keys is known is left alone, `used`; its waits bounded by
 * ONE_STATEMENT_LOCK_TIMEOUT). A whole batch alone (`batchKey`, its one key claimed answered)
 * first locks its balance rows in the order the transaction does (`lc`, `la`: concurrent
 * batches on the same holders queue instead of deadlocking), and is written only if every
 * holder passed (`ok`), else undone.
 */
function postingSql(
  params: SqlParams,
  holders: HolderChange[],
  entries: EntryRow[],
  answers: ClaimAnswer[],
  freshKeys: FreshKeys | null,
  returning: 'entries' | 'ids',
  batchKey: CompletedKey | null = null,
): string {
  const limit = `${params.add(MONEY_LIMIT.toFixed())}::numeric`;
  const oneRequest = fromOneRequest(entries);
  // Alone (fresh keys), no lock was taken before: no wait of the statement may exceed
  // ONE_STATEMENT_LOCK_TIMEOUT (t, a volatile CTE read with v, before any row is updated).
  const timeout = freshKeys ? `t AS (SELECT set_config('lock_timeout', ${params.add(ONE_STATEMENT_LOCK_TIMEOUT)}, true) AS applied),
    ` : '';
  const hv = `unnest(${array(params, holders.map((h) => h.id), 'uuid')}, ${array(params, holders.map((h) => h.kind === 'account'), 'bool')},
      ${array(params, holders.map((h) => h.total), 'numeric')}, ${array(params, holders.map((h) => h.minChecked), 'numeric')},
      ${array(params, holders.map((h) => h.low), 'numeric')}, ${array(params, holders.map((h) => h.high), 'numeric')},
      ${array(params, holders.map((h) => h.expectedBase), 'text')}, ${array(params, holders.map((h) => h.reach?.path ?? null), 'text')},
      ${array(params, holders.map((h) => h.reach?.depth ?? null), 'int')}, ${array(params, holders.map((h) => h.entries), 'int')})
      AS v(id, is_account, total, min_checked, low, high, base, reach_path, reach_depth, n)`;
  const p = `unnest(${array(params, entries.map((e) => e.id), 'uuid')}, ${array(params, entries.map((e) => e.holderId), 'uuid')},
      ${array(params, entries.map((e) => e.kind === 'account'), 'bool')}, ${array(params, entries.map((e) => e.action), 'text')},
      ${array(params, entries.map((e) => e.amount), 'numeric')}, ${array(params, entries.map((e) => e.currency), 'text')},
      ${array(params, entries.map((e) => e.exchangeRate), 'numeric')}, ${array(params, entries.map((e) => e.delta), 'numeric')},
      ${array(params, entries.map((e) => e.prefix), 'numeric')}, ${array(params, entries.map((e) => e.notes), 'text')},
      ${requestColumn(params, entries, oneRequest, (e) => e.actorId, 'uuid')}, ${requestColumn(params, entries, oneRequest, (e) => e.idempotencyKey, 'text')},
      ${requestColumn(params, entries, oneRequest, (e) => e.requestId, 'text')},
      ${requestColumn(params, entries, oneRequest, (e) => e.clientAddress, 'text')}, ${array(params, entries.map((e) => e.audited), 'bool')},
      ${array(params, entries.map((e) => e.externalReference), 'text')}, ${array(params, entries.map((e) => e.metadata), 'text')},
      ${array(params, entries.map((e) => (e.audited ? newRowId() : null)), 'uuid')}${
        freshKeys ? `, ${array(params, freshKeys.fingerprints, 'text')}` : ''
      })
      WITH ORDINALITY AS p(id, holder_id, is_account, action, amount, currency, rate, delta, prefix, notes, actor_id, key,
                           request_id, client_address, audited, reference, metadata, audit_id, ${freshKeys ? 'fingerprint, ' : ''}ord)`;
  const answered = () => `unnest(${array(params, answers.map((a) => a.claim.callerId), 'uuid')}, ${array(params, answers.map((a) => a.claim.key), 'text')},
      ${array(params, answers.map((a) => a.claim.token), 'uuid')}, ${array(params, answers.map((a) => a.status), 'int')},
      ${array(params, answers.map((a) => (a.body === null ? null : JSON.stringify(a.body))), 'text')}, ${array(params, answers.map((a) => a.ledgerEntryId), 'uuid')})
      AS r(caller_id, key, token, status, body, entry_id)`;
  const fresh =
    freshKeys &&
    freshKeysSql(
      { callerId: 'p.actor_id', key: 'p.key', fingerprint: 'p.fingerprint', ledgerEntryId: 'p.id', holder: 'p.holder_id', ttlHours: `${params.add(freshKeys.ttlHours)}::int` },
      'p',
      'p JOIN h ON h.id = p.holder_id',
    );
  // b: the holder's balance row, updated (its balance, credit limit and deletion, as changed by a
  // transaction this statement waited for); c: the customer the holder is or belongs to (its
  // path and base currency, which never change); the holder's threshold is read from its
  // customer or account row (ac), as the PATCH that changes it left it.
  const guard = (c: string, mode: 'descendants' | 'self-and-descendants') => `
         AND b.deleted_at IS NULL
         AND (v.reach_path IS NULL OR ${subtreeConditionOf(c, 'v.reach_path', 'v.reach_depth', mode)})
         AND ${c}.base_currency = COALESCE(v.base, ${c}.base_currency)
         AND (v.min_checked IS NULL OR b.balance + b.credit_limit + v.min_checked >= 0)
         AND abs(b.balance + v.low) < ${limit} AND abs(b.balance + v.high) < ${limit}${fresh ? `
         AND NOT EXISTS (SELECT 1 FROM used WHERE used.holder_id = v.id)` : ''}`;
  const event = auditInsertSql(
    params,
    {
      id: 'p.audit_id',
      actorId: 'p.actor_id',
      action: `('balance.' || p.action)::varchar`,
      targetType: `'balance-operation'`,
      targetId: 'p.id::text',
      subjectPath: 'h.subject_path',
      // The entry's: rendered from it when read (balanceOperationChangesSql), not copied here.
      changes: 'NULL::jsonb',
      requestId: 'p.request_id::varchar',
      clientAddress: 'p.client_address::varchar',
    },
    'p JOIN h ON h.id = p.holder_id WHERE p.audited',
  );
  // A whole batch: its balance rows locked in id order before any is updated (lc, la; the
  // updates join them), as the transaction's lock takes them: only those of holders within the
  // caller's reach (a row out of reach is neither waited for nor held; its holder then fails).
  const reach = (c: string, mode: 'descendants' | 'self-and-descendants') => `(v.reach_path IS NULL OR ${subtreeConditionOf(c, 'v.reach_path', 'v.reach_depth', mode)})`;
  const locks = batchKey
    ? `
    lc AS MATERIALIZED (
      SELECT b.customer_id AS id FROM v JOIN customers h ON h.id = v.id JOIN customer_balances b ON b.customer_id = v.id
       WHERE NOT v.is_account AND ${reach('h', 'descendants')}
       ORDER BY b.customer_id FOR UPDATE OF b),
    la AS MATERIALIZED (
      SELECT b.account_id AS id FROM v JOIN accounts ac ON ac.id = v.id JOIN customers c ON c.id = ac.customer_id JOIN account_balances b ON b.account_id = v.id
       WHERE v.is_account AND ${reach('c', 'self-and-descendants')}
       ORDER BY b.account_id FOR UPDATE OF b),`
    : '';
  return `WITH ${timeout}v AS (SELECT v.* FROM ${timeout ? 't, ' : ''}${hv}),
    p AS (SELECT * FROM ${p}),${fresh ? `
    used AS (${fresh.used}),` : ''}${locks}
    hc AS (
      UPDATE customer_balances b SET balance = b.balance + v.total, version = b.version + v.n, updated_at = now()
        FROM v, customers h${batchKey ? ', lc' : ''}
       WHERE NOT v.is_account AND h.id = v.id AND b.customer_id = v.id${batchKey ? ' AND lc.id = v.id' : ''}${guard('h', 'descendants')}
      RETURNING b.customer_id AS id, b.balance - v.total AS before, h.base_currency, h.path AS subject_path, h.low_balance_threshold AS threshold
    ), ha AS (
      UPDATE account_balances b SET balance = b.balance + v.total, version = b.version + v.n, updated_at = now()
        FROM v, customers c, accounts ac${batchKey ? ', la' : ''}
       WHERE v.is_account AND b.account_id = v.id AND c.id = b.customer_id AND ac.id = v.id${batchKey ? ' AND la.id = v.id' : ''}${guard('c', 'self-and-descendants')}
      RETURNING b.account_id AS id, b.balance - v.total AS before, c.base_currency, c.path AS subject_path, ac.low_balance_threshold AS threshold
    ), h AS (SELECT * FROM hc UNION ALL SELECT * FROM ha),
    e AS (
      INSERT INTO ledger_entries AS e (id, customer_id, account_id, action, amount, currency, exchange_rate, converted_amount,
                                       balance_after, notes, actor_id, idempotency_key, external_reference, metadata, low_balance_threshold)
      SELECT p.id, CASE WHEN p.is_account THEN NULL ELSE h.id END, CASE WHEN p.is_account THEN h.id END, p.action, p.amount,
             COALESCE(p.currency, h.base_currency), p.rate, p.delta, h.before + p.prefix, p.notes, p.actor_id, p.key,
             p.reference, COALESCE(p.metadata, '{}')::jsonb, ${lowCrossingSql('h.before + p.prefix', 'p.delta', 'h.threshold')}
        FROM p JOIN h ON h.id = p.holder_id
       ORDER BY p.ord
      RETURNING ${LEDGER_COLUMNS}
    ),${fresh ? ` f AS (${fresh.insert}),` : ''}${
      // No claims to answer (a posting alone): no UPDATE of the keys, whose plan would read the table for none.
      answers.length
        ? `
    k AS (${completeClaimsSql(answered(), { callerId: 'r.caller_id', key: 'r.key', token: 'r.token' }, { status: 'r.status', body: 'r.body::jsonb', headers: `'{}'::jsonb`, ledgerEntryId: 'r.entry_id' })}),`
        : ''
    }
    a AS (${event})${
      batchKey
        ? `,
    ok AS (SELECT canopy_all_or_none((SELECT count(*) FROM h) = ${params.add(holders.length)}::bigint) AS passed),
    w AS (${
      // Made from ok: a data-modifying CTE always runs, so ok is always asked, whatever the plan of the SELECT below.
      completedKeySql(params, batchKey, 'ok')
    })`
        : ''
    }
    SELECT ${returning === 'ids' ? 'e.id, e.created_at' : '*'} FROM e${batchKey ? ' WHERE (SELECT passed FROM ok)' : ''}`;
}

/**
 * Every SQL text about the ledger: THE posting (balance updates, ledger entries, their audit
 * events and answers in one statement), the lock taken before deciding postings, the ledger
 * list (and, above, opening entries).
 */
@Injectable()
export class LedgerRepository {
  constructor(private readonly dataSource: DataSource) {}

  /**
   * Locks, in one statement, every holder named that lies within the reach of the caller
   * asking for it: customers strictly below it, accounts of it or below (or, with
   * `uncheckedReach`, whoever it is: the caller's service checked what it may charge).
   * Customers first, then accounts, each in id order, so that concurrent postings cannot
   * deadlock on each other. Locked is the holder's balance row (FOR UPDATE), which carries all
   * a posting decides on that can change (balance, credit limit, deletion: migration
   * 1764600000000-BalanceRows): a change of those waits for the posting, the posting for the
   * change, and then sees it.
   */
  async lockHolders(tx: Tx, wanted: Array<{ caller: Caller; kind: HolderKind; id: string; uncheckedReach?: boolean }>): Promise<LockedHolder[]> {
    const params = new SqlParams();
    const byCaller = (kind: HolderKind) => {
      const groups = new Map<string, { caller: Caller | null; ids: Set<string> }>();
      for (const w of wanted) {
        if (w.kind !== kind) continue;
        const groupKey = w.uncheckedReach ? '' : w.caller.customerId;
        const group = groups.get(groupKey) ?? { caller: w.uncheckedReach ? null : w.caller, ids: new Set<string>() };
        group.ids.add(w.id);
        groups.set(groupKey, group);
      }
      return [...groups.values()];
    };
    const reach = (alias: string, caller: Caller | null, mode: 'descendants' | 'self-and-descendants') =>
      caller ? ` AND ${subtreeCondition(alias, caller, params, mode)}` : '';
    const customers = byCaller('customer');
    const accounts = byCaller('account');
    const ids = (group: { ids: Set<string> }) => `${params.add([...group.ids])}::uuid[]`;
    const parts: string[] = [];
    if (customers.length) {
      parts.push(`lc AS (
        SELECT 'customer' AS kind, h.id, h.base_currency, b.balance, b.credit_limit, h.parent_id AS billing_id, h.path AS subject_path
          FROM customers h JOIN customer_balances b ON b.customer_id = h.id
         WHERE b.deleted_at IS NULL AND (${customers.map((g) => `(h.id = ANY (${ids(g)})${reach('h', g.caller, 'descendants')})`).join(' OR ')})
         ORDER BY h.id FOR UPDATE OF b)`);
    }
    if (accounts.length) {
      parts.push(`la AS (
        SELECT 'account' AS kind, h.id, c.base_currency, b.balance, b.credit_limit, h.customer_id AS billing_id, c.path AS subject_path
          FROM accounts h JOIN account_balances b ON b.account_id = h.id JOIN customers c ON c.id = h.customer_id
         WHERE b.deleted_at IS NULL
           AND (${accounts.map((g) => `(h.id = ANY (${ids(g)})${reach('c', g.caller, 'self-and-descendants')})`).join(' OR ')})
         ORDER BY h.id FOR UPDATE OF b)`);
    }
    if (!parts.length) return [];
    const rows: Array<{ kind: HolderKind; id: string; base_currency: string; balance: string; credit_limit: string; billing_id: string; subject_path: string }> =
      await preparedQuery(
        tx,
        `WITH ${parts.join(', ')}
         ${[customers.length ? 'SELECT * FROM lc' : '', accounts.length ? 'SELECT * FROM la' : ''].filter(Boolean).join(' UNION ALL ')}`,
        params.values,
      );
    return rows.map((r) => ({
      kind: r.kind,
      id: r.id,
      baseCurrency: r.base_currency,
      balance: r.balance,
      creditLimit: r.credit_limit,
      billingCustomerId: r.billing_id,
      subjectPath: r.subject_path,
    }));
  }

  /**
   * THE posting statement (see postingSql) in `tx`, or alone on the pool when `tx` is null
   * (entries on fresh keys: undefined when a concurrent request took a key or a reference, a
   * lock was held past the timeout or the statement met a deadlock, so that the transactional
   * posting gives the exact answer).
   * The entries written, in order (`returning: 'ids'`: only their ids and creation times,
   * all a set decided under lock needs back). `commit`: the statement commits `tx` (a pipelined
   * transaction's COMMIT sent with it, `Writes.pipelinedTransaction`).
   */
  async post(
    tx: Tx | null,
    holders: HolderChange[],
    entries: EntryRow[],
    answers: ClaimAnswer[],
    freshKeys: FreshKeys | null,
    returning: 'entries' | 'ids' = 'entries',
    commit = false,
  ): Promise<StoredLedgerRow[] | undefined> {
    const params = new SqlParams();
    const sql = postingSql(params, holders, entries, answers, freshKeys, returning);
    if (tx) return preparedQuery<StoredLedgerRow>(tx, sql, params.values, { commit });
    return this.alone(sql, params.values);
  }

  /**
   * THE posting statement run alone on the pool: its entries, or undefined when it wrote
   * nothing because the exact path must decide (a key or reference taken meanwhile, a lock held
   * too long, a deadlock or serialization failure, a batch's holder that did not pass).
   */
  private async alone(sql: string, values: unknown[]): Promise<StoredLedgerRow[] | undefined> {
    try {
      return await preparedQuery<StoredLedgerRow>(this.dataSource, sql, values);
    } catch (error) {
      if (EXACT_PATH_DECIDES.has(sqlState(error) ?? '')) return undefined;
      throw error;
    }
  }

  /**
   * A whole batch as THE posting statement alone, all or nothing: every holder's change
   * checked as `post` alone checks it (no known key per entry: the batch's one key, claimed
   * answered `batchKey`). The entries written, in order; undefined when nothing was: a holder
   * did not pass (a refusal, a 404, a conversion), the key is known (23505), a reference is
   * taken (23505) or the statement met a deadlock. The batch's transaction then gives the
   * exact answer. No lock timeout: a batch waits for the rows it needs as its transaction would.
   */
  async postBatch(holders: HolderChange[], entries: EntryRow[], batchKey: CompletedKey): Promise<StoredLedgerRow[] | undefined> {
    const params = new SqlParams();
    return this.alone(postingSql(params, holders, entries, [], null, 'entries', batchKey), params.values);
  }

  /**
   * The entries that already hold any of these external references on these holders (read
   * under the holders' locks, so no other posting can add one meanwhile), from the holders'
   * reference indexes.
   */
  async entriesWithReferences(tx: Tx, wanted: Array<{ kind: HolderKind; id: string; reference: string }>): Promise<Array<{ kind: HolderKind; holder_id: string; reference: string; id: string }>> {
    if (!wanted.length) return [];
    const params = new SqlParams();
    const of = (kind: HolderKind) => {
      const these = wanted.filter((w) => w.kind === kind);
      return `unnest(${array(params, these.map((w) => w.id), 'uuid')}, ${array(params, these.map((w) => w.reference), 'text')}) AS w(id, reference)`;
    };
    return preparedQuery(
      tx,
      `SELECT 'customer' AS kind, e.customer_id AS holder_id, e.external_reference AS reference, e.id
         FROM ${of('customer')} JOIN ledger_entries e ON e.customer_id = w.id AND e.external_reference = w.reference
        WHERE e.customer_id IS NOT NULL AND e.external_reference IS NOT NULL
       UNION ALL
       SELECT 'account', e.account_id, e.external_reference, e.id
         FROM ${of('account')} JOIN ledger_entries e ON e.account_id = w.id AND e.external_reference = w.reference
        WHERE e.account_id IS NOT NULL AND e.external_reference IS NOT NULL`,
      params.values,
    );
  }

  /** Entries by id, whoever may see them (the replay of a batch, which stored their ids). */
  async unscopedEntries(tx: Tx, entryIds: string[]): Promise<StoredLedgerRow[]> {
    return tx.query(`SELECT ${LEDGER_COLUMNS} FROM ledger_entries e WHERE e.id = ANY ($1::uuid[])`, [entryIds]);
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
    filter: { action?: string; from?: Date; to?: Date; externalReference?: string; after?: string },
    limit: number,
    params: SqlParams,
  ): Promise<Array<LedgerRow & Record<string, unknown>>> {
    const where = [`e.${kind === 'customer' ? 'customer_id' : 'account_id'} = ${params.add(holderId)}`];
    if (filter.action) where.push(`e.action = ${params.add(filter.action)}`);
    // Answered from ledger_entries_{customer,account}_reference (at most one row).
    if (filter.externalReference !== undefined) where.push(`e.external_reference = ${params.add(filter.externalReference)}`);
    if (filter.from) where.push(`e.created_at >= ${params.add(filter.from)}`);
    if (filter.to) where.push(`e.created_at < ${params.add(filter.to)}`);
    if (filter.after) where.push(filter.after);
    const actor = callerVisibleActorSql('e.actor_id', caller, params);
    return this.dataSource.query(
      `SELECT ${LEDGER_COLUMNS}, ${actor.visible} AS visible_actor, ${keyset.select()}
         FROM ledger_entries e
         ${actor.joins}
        WHERE ${where.join(' AND ')}
        ${keyset.orderAndLimit(limit, params)}`,
      params.values,
    );
  }
}
