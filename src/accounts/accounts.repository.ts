import { Injectable } from '@nestjs/common';
import { SqlParams } from '../database/sql';
import { DataSource, EntityManager } from 'typeorm';
import { Big, formatMoney } from '../common/money';
import { CurrencyTable } from '../currencies/currency-table';
import { Caller } from '../tree/caller';
import { subtreeCondition } from '../tree/scope';
import { AccountDto, AccountStatus } from './dto/account.dto';

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
  max_sessions: number;
  status: AccountStatus;
  routing_group_id: string | null;
  version: number;
  created_at: Date;
  updated_at: Date;
  /** Of the owning customer (never sent to clients): scope and audit events use it. */
  customer_path: string;
  /** The owning customer's base currency: the account's money is in it. */
  currency: string;
}

/** Selected from `accounts a JOIN customers c ON c.id = a.customer_id`. */
export const ACCOUNT_COLUMNS = `a.id, a.customer_id, a.username, a.voip_password, a.tariff_id, a.time_zone, a.language,
  a.balance, a.credit_limit, a.max_sessions, a.status, a.routing_group_id, a.version, a.created_at, a.updated_at,
  c.path AS customer_path, c.base_currency AS currency`;

/** Secrets (the web password hash, the VoIP password) never leave through here. */
export function toAccountDto(row: AccountRow, viewerTable: CurrencyTable): AccountDto {
  const balance = new Big(row.balance);
  const creditLimit = new Big(row.credit_limit);
  const currency = row.currency.trim();
  const shown = (amount: Big) => {
    const converted = viewerTable.tryConvert(amount, currency, viewerTable.baseCurrency);
    return converted === null ? null : formatMoney(converted);
  };
  return {
    id: row.id,
    customerId: row.customer_id,
    username: row.username,
    // Live accounts always have a tariff: a tariff in use cannot be deleted.
    tariffId: row.tariff_id!,
    timeZone: row.time_zone,
    language: row.language,
    balance: formatMoney(balance),
    creditLimit: formatMoney(creditLimit),
    availableCredit: formatMoney(balance.plus(creditLimit)),
    currency,
    display: { currency: viewerTable.baseCurrency, balance: shown(balance), creditLimit: shown(creditLimit) },
    maxSessions: row.max_sessions,
    status: row.status,
    routingGroupId: row.routing_group_id,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
    version: row.version,
  };
}

/**
 * Queries on accounts. An account is visible exactly when its customer lies in the caller's
 * subtree, the caller itself included: every query joins the customer and goes through the
 * scope helper. No rules here.
 */
@Injectable()
export class AccountsRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** A live account of a live customer in the caller's subtree, or undefined (404). */
  async findVisible(
    caller: Caller,
    id: string,
    manager: EntityManager = this.dataSource.manager,
    lock: '' | 'FOR UPDATE' = '',
  ): Promise<AccountRow | undefined> {
    const params = new SqlParams();
    const rows: AccountRow[] = await manager.query(
      `SELECT ${ACCOUNT_COLUMNS} FROM accounts a JOIN customers c ON c.id = a.customer_id
        WHERE a.id = ${params.add(id)} AND a.deleted_at IS NULL
          AND ${subtreeCondition('c', caller, params, 'self-and-descendants')}
        ${lock ? `${lock} OF a` : ''}`,
      params.values,
    );
    return rows[0];
  }

  async usernameTaken(username: string, exceptId: string | null, manager: EntityManager): Promise<boolean> {
    const rows: unknown[] = await manager.query(
      `SELECT 1 FROM accounts WHERE username = $1 AND deleted_at IS NULL AND ($2::uuid IS NULL OR id <> $2)`,
      [username, exceptId],
    );
    return rows.length > 0;
  }
}
