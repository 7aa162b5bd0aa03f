import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { Big, formatMoney, formatStoredMoney } from '../common/money';
import { Cursors, Page } from '../common/pagination';
import { CurrencyTable } from '../currencies/currency-table';
import { FindOptions, Visible } from '../database/access';
import { PointReads } from '../database/point-reads';
import { likePattern, returnedRows, SqlParams } from '../database/sql';
import type { Tx } from '../database/writes';
import { Caller } from '../tree/caller';
import { accountScope, branchCondition, subtreeCondition } from '../tree/scope';
import type { Metadata } from '../common/metadata';
import type { ListSort } from '../customers/dto/list-query';
import { isBalanceSort, ListFilters, listFilterConditions, sortKeysets } from '../customers/list-filters';
import { AccountDto, AccountStatus } from './dto/account.dto';
import { isoTime } from '../common/iso-time';

export interface AccountRow {
  id: string;
  customer_id: string;
  username: string;
  voip_password: string;
  tariff_id: string | null;
  time_zone: string;
  language: string;
  balance: string;
  credit_limit: string;
  /** null: no low-balance alert. */
  low_balance_threshold: string | null;
  max_sessions: number;
  status: AccountStatus;
  routing_group_id: string | null;
  version: number;
  created_at: Date;
  updated_at: Date;
  external_id: string | null;
  metadata: Metadata;
  /** Of the owning customer (never sent to clients): scope and audit events use it. */
  customer_path: string;
  /** The owning customer's base currency: the account's money is in it. */
  currency: string;
}

/**
 * Selected from ACCOUNTS: the account `a`, its balance row `ab` (migration
 * 1764600000000-BalanceRows: `version` is the account's plus its balance row's, `updatedAt`
 * the later of the two) and its customer `c`.
 */
const ACCOUNT_COLUMNS = `a.id, a.customer_id, a.username, a.voip_password, a.tariff_id, a.time_zone, a.language,
  ab.balance, a.credit_limit, a.low_balance_threshold, a.max_sessions, a.status, a.routing_group_id, a.version + ab.version AS version,
  a.created_at, GREATEST(a.updated_at, ab.updated_at) AS updated_at, a.external_id, a.metadata, c.path AS customer_path, c.base_currency AS currency`;

const ACCOUNTS = `accounts a JOIN account_balances ab ON ab.account_id = a.id JOIN customers c ON c.id = a.customer_id`;
const ACCOUNTS_BY_BALANCE = `account_balances ab JOIN accounts a ON a.id = ab.account_id JOIN customers c ON c.id = ab.customer_id`;

/**
 * A lock of `FindOptions` on ACCOUNTS: FOR UPDATE takes the account and its balance row (in
 * that order, as a posting does), so a change of an account waits for a posting on it in
 * progress and the posting for the change; FOR SHARE takes the account only.
 */
function accountLock(lock: FindOptions['lock']): string {
  if (lock === 'FOR UPDATE') return 'FOR UPDATE OF a, ab';
  return lock ? `${lock} OF a` : '';
}

/** Secrets (the web password hash, the VoIP password) never leave through here. */
export function toAccountDto(row: AccountRow, viewerTable: CurrencyTable): AccountDto {
  // Stored amounts are formatted from their text (formatStoredMoney); big.js only for the sum and
  // for a conversion into the viewer's currency (displayOf).
  const balance = formatStoredMoney(row.balance);
  const creditLimit = formatStoredMoney(row.credit_limit);
  const currency = row.currency;
  const display = viewerTable.displayOf(currency, { balance: row.balance, creditLimit: row.credit_limit }, { balance, creditLimit });
  return {
    id: row.id,
    customerId: row.customer_id,
    username: row.username,
    // Live accounts always have a tariff: a tariff in use cannot be deleted.
    tariffId: row.tariff_id!,
    timeZone: row.time_zone,
    language: row.language,
    balance,
    creditLimit,
    availableCredit: formatMoney(new Big(row.balance).plus(row.credit_limit)),
    lowBalanceThreshold: formatStoredMoney(row.low_balance_threshold),
    currency,
    display,
    maxSessions: row.max_sessions,
    status: row.status,
    routingGroupId: row.routing_group_id,
    externalId: row.external_id,
    metadata: row.metadata,
    createdAt: isoTime(row.created_at),
    updatedAt: isoTime(row.updated_at),
    version: row.version,
  };
}

/** What a new account is given besides its username and passwords: all alike for the accounts of a batch. */
export interface AccountSettings {
  tariffId: string;
  timeZone: string;
  language: string;
  /** The opening balance, 8 decimals (the account's balance row starts with it). */
  balance: string;
  creditLimit: string;
  /** null: no low-balance alert. */
  lowBalanceThreshold: string | null;
  maxSessions: number;
  status: AccountStatus;
  routingGroupId: string | null;
}

/** The columns of `accounts` that AccountSettings fill, in the order of `accountSettingsValues`. */
export const ACCOUNT_SETTINGS_COLUMNS = 'tariff_id, time_zone, language, opening_balance, credit_limit, max_sessions, status, routing_group_id, low_balance_threshold';

/** The values of ACCOUNT_SETTINGS_COLUMNS for an INSERT, as parameters added to `params`. */
export function accountSettingsValues(settings: AccountSettings, params: SqlParams): string {
  return [
    `${params.add(settings.tariffId)}::uuid`,
    params.add(settings.timeZone),
    params.add(settings.language),
    `${params.add(settings.balance)}::numeric`,
    `${params.add(settings.creditLimit)}::numeric`,
    `${params.add(settings.maxSessions)}::integer`,
    params.add(settings.status),
    `${params.add(settings.routingGroupId)}::uuid`,
    `${params.add(settings.lowBalanceThreshold)}::numeric`,
  ].join(', ');
}

/** What a new account is made of. */
export interface NewAccount extends AccountSettings {
  username: string;
  webPasswordHash: string;
  voipPassword: string;
  /** Default null. */
  externalId?: string | null;
  /** Default {}. */
  metadata?: Metadata;
}

/** A change to an account; absent (or null) fields stay as they are, except `routingGroupId: null`, which clears it. */
export interface AccountChanges {
  username?: string;
  webPasswordHash?: string;
  voipPassword?: string;
  tariffId?: string;
  timeZone?: string;
  language?: string;
  creditLimit?: string;
  /** null clears it. */
  lowBalanceThreshold?: string | null;
  maxSessions?: number;
  status?: AccountStatus;
  routingGroupId?: string | null;
  /** null clears it. */
  externalId?: string | null;
  /** Replaces the whole metadata. */
  metadata?: Metadata;
}

export interface AccountListFilter {
  /** The customer (the caller or one found visible) whose own accounts, or whose subtree's, are listed. */
  base: { id: string; path: string; depth: number };
  scope: 'own' | 'subtree';
  /** Part of the username, matched case-insensitively and literally. */
  usernameContains?: string;
  /** status, created range, balanceBelow, externalId, metadata (SPEC §15). */
  filters: ListFilters;
  /** Absent: oldest first. `name` sorts by username. */
  sort?: ListSort;
}

/** Account lists are oldest first by default, else in the order of `sort` (`name`: the username), the id breaking ties. */
const ACCOUNT_KEYSETS = sortKeysets(
  'accounts',
  'a',
  [
    { sql: 'a.created_at', type: 'timestamp' },
    { sql: 'a.id', type: 'uuid' },
  ],
  'a.username',
  'ab.balance',
);

/**
 * Every SQL text about accounts. An account is visible exactly when its customer lies in the
 * caller's subtree, the caller itself included: every query joins the customer and goes
 * through the scope helper. No rules here.
 */
@Injectable()
export class AccountsRepository implements Visible<AccountRow> {
  constructor(
    private readonly dataSource: DataSource,
    private readonly cursors: Cursors,
    private readonly pointReads: PointReads,
  ) {}

  /**
   * A live account of a live customer in the caller's subtree, or undefined (`requireAccess`
   * answers the 404); for an account principal, only itself (`accountScope`).
   */
  async findVisible(caller: Caller, id: string, found: FindOptions = {}): Promise<AccountRow | undefined> {
    const params = new SqlParams();
    const text = `SELECT ${ACCOUNT_COLUMNS} FROM ${ACCOUNTS}
        WHERE a.id = ${params.add(id)} AND a.deleted_at IS NULL
          AND ${accountScope('a', 'c', caller, params)}
        ${accountLock(found.lock)}`;
    // Outside a transaction (every GET), pipelined with the other point reads.
    const rows = await this.pointReads.lookup<AccountRow>(text, params.values, found);
    return rows[0];
  }

  /** A page of a customer's own accounts, or of its whole subtree's. */
  async list(caller: Caller, filter: AccountListFilter, cursor: string | undefined, limit: number): Promise<Page<AccountRow>> {
    const params = new SqlParams();
    // A customer's own accounts by balance are found from its balance rows (account_balances_customer,
    // walked in order), their customer through them: said of the account too, the planner would
    // square the condition's selectivity and sort instead. (An account never changes customer.)
    const byBalance = filter.scope !== 'subtree' && isBalanceSort(filter.sort);
    const where =
      filter.scope === 'subtree'
        ? [
            'a.deleted_at IS NULL',
            // The caller's own subtree needs its condition once: twice, the planner would square its selectivity.
            filter.base.id === caller.customerId
              ? subtreeCondition('c', caller, params, 'self-and-descendants')
              : branchCondition('c', caller, filter.base, params, 'self-and-descendants'),
          ]
        : [
            'a.deleted_at IS NULL',
            subtreeCondition('c', caller, params, 'self-and-descendants'),
            `${byBalance ? 'ab' : 'a'}.customer_id = ${params.add(filter.base.id)}`,
          ];
    if (filter.usernameContains) where.push(`a.username ILIKE ${params.add(likePattern(filter.usernameContains, 'contains'))}`);
    where.push(...listFilterConditions('a', 'ab.balance', filter.filters, params));
    const keyset = ACCOUNT_KEYSETS[filter.sort ?? 'default'];
    const after = await keyset.after(this.cursors, cursor, params);
    if (after) where.push(after);
    const rows: AccountRow[] = await this.dataSource.query(
      `SELECT ${ACCOUNT_COLUMNS}, ${keyset.select()}
         FROM ${byBalance ? ACCOUNTS_BY_BALANCE : ACCOUNTS}
        WHERE ${where.join(' AND ')} ${keyset.orderAndLimit(limit, params)}`,
      params.values,
    );
    return keyset.page(this.cursors, rows, limit, (row) => row);
  }

  /** The live account of this (visible) customer that has the external id, if any. */
  async withExternalId(caller: Caller, customerId: string, externalId: string, exceptId: string | null, tx?: Tx): Promise<string | undefined> {
    const params = new SqlParams();
    const rows: Array<{ id: string }> = await (tx ?? this.dataSource.manager).query(
      `SELECT a.id FROM accounts a JOIN customers c ON c.id = a.customer_id
        WHERE a.customer_id = ${params.add(customerId)} AND a.external_id = ${params.add(externalId)} AND a.deleted_at IS NULL
          AND (${params.add(exceptId)}::uuid IS NULL OR a.id <> ${params.add(exceptId)})
          AND ${subtreeCondition('c', caller, params, 'self-and-descendants')}`,
      params.values,
    );
    return rows[0]?.id;
  }

  /** Whether another live account uses this username. Usernames are unique over the whole tree, so this looks beyond the caller's scope on purpose. */
  async unscopedUsernameTaken(username: string, exceptId: string | null, tx: Tx): Promise<boolean> {
    const rows: unknown[] = await tx.query(
      `SELECT 1 FROM accounts WHERE username = $1 AND deleted_at IS NULL AND ($2::uuid IS NULL OR id <> $2)`,
      [username, exceptId],
    );
    return rows.length > 0;
  }

  /** A new account of a customer the caller sees; undefined when that customer is not (or no longer) visible. */
  async insert(caller: Caller, customerId: string, account: NewAccount, tx: Tx): Promise<AccountRow | undefined> {
    const params = new SqlParams();
    const rows: AccountRow[] = await tx.query(
      `WITH a AS (
         INSERT INTO accounts (customer_id, username, web_password_hash, voip_password, ${ACCOUNT_SETTINGS_COLUMNS}, external_id, metadata)
         SELECT o.id, ${params.add(account.username)}, ${params.add(account.webPasswordHash)}, ${params.add(account.voipPassword)},
                ${accountSettingsValues(account, params)},
                ${params.add(account.externalId ?? null)}, ${params.add(JSON.stringify(account.metadata ?? {}))}::jsonb
           FROM customers o
          WHERE o.id = ${params.add(customerId)} AND ${subtreeCondition('o', caller, params, 'self-and-descendants')}
         RETURNING *)
       -- Its balance row is written by the insert's trigger, after this statement: it starts as below.
       SELECT ${ACCOUNT_COLUMNS} FROM a JOIN customers c ON c.id = a.customer_id
         CROSS JOIN LATERAL (SELECT a.opening_balance AS balance, 0 AS version, NULL::timestamptz AS updated_at) ab`,
      params.values,
    );
    return rows[0];
  }

  /** Applies a change to an account the caller sees (version + 1); undefined when it is not visible. */
  async update(caller: Caller, id: string, changes: AccountChanges, tx: Tx): Promise<AccountRow | undefined> {
    const params = new SqlParams();
    const set: string[] = [];
    const put = (column: string, value: unknown, cast = '') => {
      if (value !== undefined && value !== null) set.push(`${column} = ${params.add(value)}${cast}`);
    };
    put('username', changes.username);
    put('web_password_hash', changes.webPasswordHash);
    put('voip_password', changes.voipPassword);
    put('tariff_id', changes.tariffId, '::uuid');
    put('time_zone', changes.timeZone);
    put('language', changes.language);
    put('credit_limit', changes.creditLimit, '::numeric');
    put('max_sessions', changes.maxSessions, '::integer');
    put('status', changes.status);
    if (changes.lowBalanceThreshold !== undefined) set.push(`low_balance_threshold = ${params.add(changes.lowBalanceThreshold)}::numeric`);
    if (changes.routingGroupId !== undefined) set.push(`routing_group_id = ${params.add(changes.routingGroupId)}::uuid`);
    if (changes.externalId !== undefined) set.push(`external_id = ${params.add(changes.externalId)}`);
    if (changes.metadata !== undefined) set.push(`metadata = ${params.add(JSON.stringify(changes.metadata))}::jsonb`);
    const rows = returnedRows<AccountRow>(
      await tx.query(
        `UPDATE accounts a SET ${[...set, 'version = a.version + 1', 'updated_at = now()'].join(', ')}
           FROM customers c, account_balances ab
          WHERE a.id = ${params.add(id)} AND a.deleted_at IS NULL AND c.id = a.customer_id AND ab.account_id = a.id
            AND ${subtreeCondition('c', caller, params, 'self-and-descendants')}
          RETURNING ${ACCOUNT_COLUMNS}`,
        params.values,
      ),
    );
    return rows[0];
  }

  /** Soft-deletes an account the caller sees: its username is free again; its ledger and audit history stay. */
  async softDelete(caller: Caller, id: string, tx: Tx): Promise<void> {
    const params = new SqlParams();
    await tx.query(
      `UPDATE accounts a SET deleted_at = now(), version = a.version + 1, updated_at = now()
         FROM customers c
        WHERE a.id = ${params.add(id)} AND a.deleted_at IS NULL AND c.id = a.customer_id
          AND ${subtreeCondition('c', caller, params, 'self-and-descendants')}`,
      params.values,
    );
  }
}
