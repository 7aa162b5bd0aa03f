import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { formatStoredMoney } from '../common/money';
import { Cursors, Page } from '../common/pagination';
import { CurrencyTable } from '../currencies/currency-table';
import { FindOptions, Visible } from '../database/access';
import { GenericPlans } from '../database/generic-plans';
import { PointReads } from '../database/point-reads';
import { poolQuery } from '../database/prepared';
import { likePattern, returnedRows, SqlParams } from '../database/sql';
import type { Tx } from '../database/writes';
import { Caller } from '../tree/caller';
import { branchCondition, subtreeCondition } from '../tree/scope';
import type { Metadata } from '../common/metadata';
import { AddressViewDto } from './dto/contact.dto';
import { CustomerDto, CustomerStatus } from './dto/customer.dto';
import type { ListSort } from './dto/list-query';
import { isBalanceSort, ListFilters, listFilterConditions, sortKeysets } from './list-filters';
import { isoOfTimestamptz } from '../database/types';

export interface CustomerRow {
  id: string;
  node_id: string;
  parent_id: string | null;
  path: string;
  depth: number;
  name: string;
  tariff_id: string | null;
  time_zone: string;
  language: string;
  web_login: string;
  base_currency: string;
  balance: string;
  credit_limit: string;
  status: CustomerStatus;
  routing_group_id: string | null;
  auth_epoch: number;
  version: number;
  /** timestamptz as text (`isoOfTimestamptz` writes it). */
  created_at: string;
  updated_at: string;
  external_id: string | null;
  metadata: Metadata;
  company_name: string | null;
  email: string | null;
  phone: string | null;
  address: Partial<AddressViewDto> | null;
  tax_id: string | null;
  /** `balance + credit_limit`, summed by the database (exact). */
  available_credit: string;
  low_balance_threshold: string | null;
}

/**
 * The columns of a customer record (what `toCustomerDto` shows), from `customers c` with its
 * balance row `cb` (CUSTOMERS): the balance lives in `customer_balances` (migration
 * 1764600000000-BalanceRows), so the record's `version` is the customer's plus its balance
 * row's, and `updatedAt` the later of the two. Money comes as PostgreSQL prints NUMERIC(38,8) and is formatted from that text
 * (`formatStoredMoney`): formatted in SQL it cost 0.67 ms of PostgreSQL CPU per list page of 51
 * (a third of the page's statement), through big.js most of the page's money work in Node.
 * Timestamps come as text too (`::text`, the same characters), written as ISO 8601 without a Date.
 */
const RECORD_COLUMNS = `c.id, c.parent_id, c.depth, c.name, c.tariff_id, c.time_zone, c.language,
  c.web_login, c.base_currency, cb.balance, c.credit_limit, c.status, c.routing_group_id, c.version + cb.version AS version,
  c.created_at::text AS created_at, GREATEST(c.updated_at, cb.updated_at)::text AS updated_at, c.external_id, c.metadata, c.company_name, c.email, c.phone, c.address, c.tax_id,
  cb.balance + c.credit_limit AS available_credit, c.low_balance_threshold`;

/**
 * Every column of a customer row: RECORD_COLUMNS, what a record shows (all a list page reads:
 * each text field costs node-postgres a decode of its own, most of a page row's cost in Node,
 * and a page's order and cursor carry the path as its key column), and what only the server uses.
 */
const CUSTOMER_COLUMNS = `c.node_id, c.path, c.auth_epoch, ${RECORD_COLUMNS}`;

/** A customer as a list page reads it (RECORD_COLUMNS): all `toCustomerDto` needs. */
export type CustomerRecordRow = Omit<CustomerRow, 'node_id' | 'path' | 'auth_epoch'>;

/** A customer `c` and its balance row `cb`. */
const CUSTOMERS = `customers c JOIN customer_balances cb ON cb.customer_id = c.id`;

/**
 * A lock of `FindOptions` on CUSTOMERS: FOR UPDATE takes both rows (the customer first), so a
 * change of a customer waits for a posting on it in progress and the posting for the change;
 * FOR SHARE (keeping a customer while something is added under it) takes the customer only.
 */
function customerLock(lock: FindOptions['lock']): string {
  if (lock === 'FOR SHARE') return 'FOR SHARE OF c';
  return lock ?? '';
}

/**
 * The shape a viewer sees: its own record has no parent (SPEC §1), and money is also shown
 * in the viewer's base currency with the viewer's own table (`viewerTable`).
 */
export function toCustomerDto(row: CustomerRecordRow, caller: Caller, viewerTable: CurrencyTable, relativeDepth?: number): CustomerDto {
  const currency = row.base_currency;
  const balance = formatStoredMoney(row.balance);
  const creditLimit = formatStoredMoney(row.credit_limit);
  const display = viewerTable.displayOf(currency, { balance: row.balance, creditLimit: row.credit_limit }, { balance, creditLimit });
  return {
    id: row.id,
    parentId: row.id === caller.customerId ? null : row.parent_id,
    name: row.name,
    tariffId: row.tariff_id,
    timeZone: row.time_zone,
    language: row.language,
    webLogin: row.web_login,
    baseCurrency: row.base_currency,
    balance,
    creditLimit,
    availableCredit: formatStoredMoney(row.available_credit),
    lowBalanceThreshold: formatStoredMoney(row.low_balance_threshold),
    display,
    status: row.status,
    routingGroupId: row.routing_group_id,
    externalId: row.external_id,
    metadata: row.metadata,
    companyName: row.company_name,
    email: row.email,
    phone: row.phone,
    address: addressView(row.address),
    taxId: row.tax_id,
    // Always present, undefined when not asked for: one object shape for every row (a spread of
    // an optional part made each row a slower object to build and to serialize); the serializer
    // leaves an undefined property out.
    depth: relativeDepth,
    createdAt: isoOfTimestamptz(row.created_at),
    updatedAt: isoOfTimestamptz(row.updated_at),
    version: row.version,
  };
}

/** A stored address with every line present (null when not given). */
function addressView(address: Partial<AddressViewDto> | null): AddressViewDto | null {
  if (!address) return null;
  return {
    line1: address.line1 ?? null,
    line2: address.line2 ?? null,
    city: address.city ?? null,
    region: address.region ?? null,
    postalCode: address.postalCode ?? null,
    country: address.country ?? '',
  };
}

/** The contact and billing profile (SPEC §15); on a change, absent fields stay and null clears. */
export interface ContactProfile {
  companyName?: string | null;
  email?: string | null;
  phone?: string | null;
  address?: Partial<AddressViewDto> | null;
  taxId?: string | null;
}

/** What a new customer is made of; its place in the tree comes from the parent row. */
export interface NewCustomer {
  name: string;
  tariffId: string;
  timeZone: string;
  language: string;
  webLogin: string;
  passwordHash: string;
  baseCurrency: string;
  /** The opening balance (also kept as `opening_balance`), 8 decimals. */
  balance: string;
  creditLimit: string;
  /** null: no low-balance alert. */
  lowBalanceThreshold: string | null;
  status: CustomerStatus;
  permissions: string[];
  routingGroupId: string | null;
  externalId: string | null;
  metadata: Metadata;
  profile: ContactProfile;
}

/** A change to a customer; absent (or null) fields stay as they are, except `routingGroupId: null`, which clears it. */
export interface CustomerChanges {
  name?: string;
  tariffId?: string;
  timeZone?: string;
  language?: string;
  webLogin?: string;
  passwordHash?: string;
  creditLimit?: string;
  /** null clears it. */
  lowBalanceThreshold?: string | null;
  status?: CustomerStatus;
  routingGroupId?: string | null;
  /** Ends the customer's access tokens (they carry the epoch they were issued in). */
  endSessions?: boolean;
  /** null clears it. */
  externalId?: string | null;
  /** Replaces the whole metadata. */
  metadata?: Metadata;
  profile?: ContactProfile;
}

export interface CustomerListFilter {
  /** The customer whose children (or subtree) are listed: the caller or a customer found visible. */
  base: { id: string; path: string; depth: number };
  scope: 'children' | 'subtree';
  /** Part of the name, matched case-insensitively and literally. */
  nameContains?: string;
  /** status, created range, balanceBelow, externalId, metadata (SPEC §15). */
  filters: ListFilters;
  /** Absent: tree order. */
  sort?: ListSort;
}

/**
 * Customer lists are in tree order by default (the path is unique; children and subtree lists
 * share cursors), else in the order of `sort`, the id breaking ties.
 */
const CUSTOMER_KEYSETS = sortKeysets('customers', 'c', [{ sql: 'c.path', type: 'string' }], 'c.name', 'cb.balance');

/**
 * Every SQL text about customers. Methods take the caller first and apply its scope
 * themselves (the one subtree condition of src/tree/scope.ts); the few that deliberately
 * look beyond it say so in their name (`unscoped…`). No rules here.
 */
@Injectable()
export class CustomersRepository implements Visible<CustomerRow> {
  constructor(
    private readonly dataSource: DataSource,
    private readonly cursors: Cursors,
    private readonly genericPlans: GenericPlans,
    private readonly pointReads: PointReads,
  ) {}

  /** A live customer in the caller's scope, or undefined (`requireAccess` answers the 404). */
  async findVisible(caller: Caller, id: string, found: FindOptions = {}): Promise<CustomerRow | undefined> {
    const params = new SqlParams();
    const text = `SELECT ${CUSTOMER_COLUMNS} FROM ${CUSTOMERS}
        WHERE c.id = ${params.add(id)} AND ${subtreeCondition('c', caller, params, found.mode ?? 'self-and-descendants')} ${customerLock(found.lock)}`;
    // Outside a transaction (every GET), a named prepared statement pipelined with the other
    // requests' point reads: parsed once per connection, and its plan (the primary key, the path
    // a filter) is the same for any values.
    const rows = await this.pointReads.lookup<CustomerRow>(text, params.values, found);
    return rows[0];
  }

  /** The caller's own password hash, read only where a password is checked (never with the record). */
  async ownPasswordHash(caller: Caller): Promise<string> {
    const rows: Array<{ web_password_hash: string }> = await this.dataSource.query(`SELECT web_password_hash FROM customers WHERE id = $1`, [
      caller.customerId,
    ]);
    return rows[0].web_password_hash;
  }

  /** A page of the children or of the subtree of a customer the caller sees (never the caller itself). */
  async list(caller: Caller, filter: CustomerListFilter, cursor: string | undefined, limit: number): Promise<Page<CustomerRecordRow>> {
    const params = new SqlParams();
    const narrowing = listFilterConditions('c', 'cb.balance', filter.filters, params);
    if (filter.nameContains) narrowing.push(`c.name ILIKE ${params.add(likePattern(filter.nameContains, 'contains'))}`);
    // A plain page (no filter, no `q`, tree order: a portal's tree view, page after page) has one
    // right plan, the walk of the path index over the subtree's range (or of the children's
    // index): it is planned once per connection (GenericPlans), its prefix written as a range,
    // which a generic plan can walk the index with. Any other shape is planned for its values
    // (which index serves a filter or a sort depends on how large the subtree is).
    const plain = narrowing.length === 0 && !filter.sort;
    const form = plain ? 'range' : 'like';
    const scope =
      filter.scope === 'subtree'
        ? // The caller's own subtree needs its condition once: twice, the planner would square its selectivity.
          filter.base.id === caller.customerId
          ? subtreeCondition('c', caller, params, 'descendants', form)
          : branchCondition('c', caller, filter.base, params, 'descendants', form)
        : // The children of a visible customer are visible: the scope is checked on the parent, and the
          // children are found by parent_id alone, which the planner estimates well enough to walk the
          // (parent_id, <sort key>, id) indexes in order (a path range on the children, multiplied by
          // parent_id, made it expect a few dozen rows and sort them all instead).
          // By balance, said of the balance row (the same parent: customers do not move), so that the
          // walk is of customer_balances_children; said of both, the planner would square its selectivity.
          `${isBalanceSort(filter.sort) ? 'cb' : 'c'}.parent_id = (SELECT p.id FROM customers p WHERE p.id = ${params.add(filter.base.id)} AND ${subtreeCondition('p', caller, params, 'self-and-descendants', form)}) AND c.deleted_at IS NULL`;
    const where = [scope, ...narrowing];
    const keyset = CUSTOMER_KEYSETS[filter.sort ?? 'default'];
    const after = await keyset.after(this.cursors, cursor, params);
    if (after) where.push(after);
    const text = `SELECT ${RECORD_COLUMNS}, ${keyset.select()} FROM ${CUSTOMERS}
        WHERE ${where.join(' AND ')} ${keyset.orderAndLimit(limit, params)}`;
    const rows: CustomerRecordRow[] = plain
      ? await this.genericPlans.query<CustomerRecordRow>(text, params.values)
      : await poolQuery<CustomerRecordRow>(this.dataSource, text, params.values);
    return keyset.page(this.cursors, rows, limit, (row) => row);
  }

  /** The live child of this (visible) parent that has the external id, if any (its siblings are visible with it). */
  async siblingWithExternalId(caller: Caller, parentId: string, externalId: string, exceptId: string | null, tx?: Tx): Promise<string | undefined> {
    const params = new SqlParams();
    const rows: Array<{ id: string }> = await (tx ?? this.dataSource.manager).query(
      `SELECT c.id FROM customers c
        WHERE c.parent_id = ${params.add(parentId)} AND c.external_id = ${params.add(externalId)}
          AND (${params.add(exceptId)}::uuid IS NULL OR c.id <> ${params.add(exceptId)})
          AND ${subtreeCondition('c', caller, params, 'descendants')}`,
      params.values,
    );
    return rows[0]?.id;
  }

  /**
   * Whether another live customer uses this login (case-insensitive). Logins are unique over
   * the whole tree, so this looks beyond the caller's scope on purpose.
   */
  async unscopedLoginTaken(login: string, exceptId: string | null, tx: Tx): Promise<boolean> {
    const rows: unknown[] = await tx.query(
      `SELECT 1 FROM customers WHERE lower(web_login) = lower($1) AND deleted_at IS NULL AND ($2::uuid IS NULL OR id <> $2)`,
      [login, exceptId],
    );
    return rows.length > 0;
  }

  /** Whether another live child of this (visible) parent has the name. */
  async siblingNameTaken(caller: Caller, parentId: string, name: string, exceptId: string | null, tx: Tx): Promise<boolean> {
    const params = new SqlParams();
    const rows: unknown[] = await tx.query(
      `SELECT 1 FROM customers c
        WHERE c.parent_id = ${params.add(parentId)} AND c.name = ${params.add(name)}
          AND (${params.add(exceptId)}::uuid IS NULL OR c.id <> ${params.add(exceptId)})
          AND ${subtreeCondition('c', caller, params, 'descendants')}`,
      params.values,
    );
    return rows.length > 0;
  }

  /** A new child of a parent the caller sees; undefined when that parent is not (or no longer) visible. */
  async insertChild(caller: Caller, parentId: string, customer: NewCustomer, tx: Tx): Promise<CustomerRow | undefined> {
    const params = new SqlParams();
    const rows: CustomerRow[] = await tx.query(
      `WITH parent AS (
         SELECT p.id, p.path, p.depth FROM customers p
          WHERE p.id = ${params.add(parentId)} AND ${subtreeCondition('p', caller, params, 'self-and-descendants')}),
       next AS (SELECT nextval(pg_get_serial_sequence('customers', 'node_id')) AS node_id FROM parent),
       c AS (INSERT INTO customers (node_id, parent_id, path, depth, name, tariff_id, time_zone, language, web_login,
                                   web_password_hash, base_currency, opening_balance, credit_limit, status,
                                   permissions, routing_group_id, low_balance_threshold, external_id, metadata,
                                   company_name, email, phone, address, tax_id)
       OVERRIDING SYSTEM VALUE
       SELECT next.node_id, parent.id, parent.path || next.node_id || '/', parent.depth + 1,
              ${params.add(customer.name)}, ${params.add(customer.tariffId)}, ${params.add(customer.timeZone)},
              ${params.add(customer.language)}, ${params.add(customer.webLogin)}, ${params.add(customer.passwordHash)},
              ${params.add(customer.baseCurrency)}, ${params.add(customer.balance)}::numeric,
              ${params.add(customer.creditLimit)}::numeric, ${params.add(customer.status)}, ${params.add(customer.permissions)}::text[],
              ${params.add(customer.routingGroupId)}::uuid, ${params.add(customer.lowBalanceThreshold)}::numeric,
              ${params.add(customer.externalId)}, ${params.add(JSON.stringify(customer.metadata))}::jsonb,
              ${params.add(customer.profile.companyName ?? null)}, ${params.add(customer.profile.email ?? null)},
              ${params.add(customer.profile.phone ?? null)}, ${params.add(customer.profile.address ? JSON.stringify(customer.profile.address) : null)}::jsonb,
              ${params.add(customer.profile.taxId ?? null)}
         FROM parent, next
       RETURNING *)
       -- Its balance row is written by the insert's trigger, after this statement: it starts as below.
       SELECT ${CUSTOMER_COLUMNS} FROM c CROSS JOIN LATERAL (SELECT c.opening_balance AS balance, 0 AS version, NULL::timestamptz AS updated_at) cb`,
      params.values,
    );
    return rows[0];
  }

  /** Applies a change to a customer the caller sees (version + 1); undefined when it is not visible. */
  async update(caller: Caller, id: string, changes: CustomerChanges, tx: Tx): Promise<CustomerRow | undefined> {
    const params = new SqlParams();
    const set: string[] = [];
    const put = (column: string, value: unknown, cast = '') => {
      if (value !== undefined && value !== null) set.push(`${column} = ${params.add(value)}${cast}`);
    };
    put('name', changes.name);
    put('tariff_id', changes.tariffId);
    put('time_zone', changes.timeZone);
    put('language', changes.language);
    put('web_login', changes.webLogin);
    put('web_password_hash', changes.passwordHash);
    put('credit_limit', changes.creditLimit, '::numeric');
    put('status', changes.status);
    if (changes.lowBalanceThreshold !== undefined) set.push(`low_balance_threshold = ${params.add(changes.lowBalanceThreshold)}::numeric`);
    if (changes.routingGroupId !== undefined) set.push(`routing_group_id = ${params.add(changes.routingGroupId)}::uuid`);
    if (changes.endSessions) set.push('auth_epoch = auth_epoch + 1');
    const clearable = (column: string, value: unknown, cast = '') => {
      if (value !== undefined) set.push(`${column} = ${params.add(value)}${cast}`);
    };
    clearable('external_id', changes.externalId);
    if (changes.metadata !== undefined) set.push(`metadata = ${params.add(JSON.stringify(changes.metadata))}::jsonb`);
    const profile = changes.profile ?? {};
    clearable('company_name', profile.companyName);
    clearable('email', profile.email);
    clearable('phone', profile.phone);
    clearable('address', profile.address === undefined ? undefined : profile.address === null ? null : JSON.stringify(profile.address), '::jsonb');
    clearable('tax_id', profile.taxId);
    const rows = returnedRows<CustomerRow>(
      await tx.query(
        `UPDATE customers c SET ${[...set, 'version = c.version + 1', 'updated_at = now()'].join(', ')}
           FROM customer_balances cb
          WHERE cb.customer_id = c.id AND c.id = ${params.add(id)} AND ${subtreeCondition('c', caller, params, 'self-and-descendants')}
          RETURNING ${CUSTOMER_COLUMNS}`,
        params.values,
      ),
    );
    return rows[0];
  }

  /** What still lives under a customer the caller sees: a customer with either cannot be deleted. */
  async liveContents(caller: Caller, id: string, tx: Tx): Promise<{ subCustomers: number; accounts: number }> {
    const params = new SqlParams();
    const rows: Array<{ sub_customers: string; accounts: string }> = await tx.query(
      `SELECT (SELECT count(*) FROM customers k WHERE k.parent_id = c.id AND k.deleted_at IS NULL) AS sub_customers,
              (SELECT count(*) FROM accounts a WHERE a.customer_id = c.id AND a.deleted_at IS NULL) AS accounts
         FROM customers c WHERE c.id = ${params.add(id)} AND ${subtreeCondition('c', caller, params, 'self-and-descendants')}`,
      params.values,
    );
    return { subCustomers: Number(rows[0]?.sub_customers ?? 0), accounts: Number(rows[0]?.accounts ?? 0) };
  }

  /**
   * Soft-deletes a customer the caller sees: its login and name become free, its access
   * tokens die with the epoch (its service revokes refresh tokens and API keys); its ledger
   * and audit history stay.
   */
  async softDelete(caller: Caller, id: string, tx: Tx): Promise<void> {
    const params = new SqlParams();
    await tx.query(
      `UPDATE customers c SET deleted_at = now(), auth_epoch = auth_epoch + 1, version = version + 1, updated_at = now()
        WHERE c.id = ${params.add(id)} AND ${subtreeCondition('c', caller, params, 'self-and-descendants')}`,
      params.values,
    );
  }
}
