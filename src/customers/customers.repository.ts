import { Injectable } from '@nestjs/common';
import { SqlParams } from '../database/sql';
import { DataSource, EntityManager } from 'typeorm';
import { Big, formatMoney } from '../common/money';
import { CurrencyTable } from '../currencies/currency-table';
import { Caller } from '../tree/caller';
import { ScopeMode, subtreeCondition } from '../tree/scope';
import { CustomerDto, CustomerStatus } from './dto/customer.dto';

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
  created_at: Date;
  updated_at: Date;
}

export const CUSTOMER_COLUMNS = `c.id, c.node_id, c.parent_id, c.path, c.depth, c.name, c.tariff_id, c.time_zone, c.language,
  c.web_login, c.base_currency, c.balance, c.credit_limit, c.status, c.routing_group_id, c.auth_epoch, c.version,
  c.created_at, c.updated_at`;

/**
 * The shape a viewer sees: its own record has no parent (SPEC §1), and money is also shown
 * in the viewer's base currency with the viewer's own table (`viewerTable`).
 */
export function toCustomerDto(row: CustomerRow, caller: Caller, viewerTable: CurrencyTable, relativeDepth?: number): CustomerDto {
  const balance = new Big(row.balance);
  const creditLimit = new Big(row.credit_limit);
  const currency = row.base_currency.trim();
  const shown = (amount: Big) => {
    const converted = viewerTable.tryConvert(amount, currency, viewerTable.baseCurrency);
    return converted === null ? null : formatMoney(converted);
  };
  return {
    id: row.id,
    parentId: row.id === caller.customerId ? null : row.parent_id,
    name: row.name,
    tariffId: row.tariff_id,
    timeZone: row.time_zone,
    language: row.language,
    webLogin: row.web_login,
    baseCurrency: row.base_currency.trim(),
    balance: formatMoney(balance),
    creditLimit: formatMoney(creditLimit),
    availableCredit: formatMoney(balance.plus(creditLimit)),
    display: { currency: viewerTable.baseCurrency, balance: shown(balance), creditLimit: shown(creditLimit) },
    status: row.status,
    routingGroupId: row.routing_group_id,
    ...(relativeDepth !== undefined ? { depth: relativeDepth } : {}),
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
    version: row.version,
  };
}

/** Queries on customers, always through the scope helper. No rules here. */
@Injectable()
export class CustomersRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** A live customer in the caller's scope, or undefined (the caller answers 404). */
  async findVisible(
    caller: Caller,
    id: string,
    mode: ScopeMode,
    manager: EntityManager = this.dataSource.manager,
    lock: '' | 'FOR UPDATE' | 'FOR SHARE' = '',
  ): Promise<CustomerRow | undefined> {
    const params = new SqlParams();
    const rows: CustomerRow[] = await manager.query(
      `SELECT ${CUSTOMER_COLUMNS} FROM customers c
        WHERE c.id = ${params.add(id)} AND ${subtreeCondition('c', caller, params, mode)} ${lock}`,
      params.values,
    );
    return rows[0];
  }

  /** The password hash, read only where a password is checked (never with the record). */
  async passwordHash(id: string): Promise<string> {
    const rows: Array<{ web_password_hash: string }> = await this.dataSource.query(`SELECT web_password_hash FROM customers WHERE id = $1`, [id]);
    return rows[0].web_password_hash;
  }

  async countLiveChildren(id: string, manager: EntityManager): Promise<number> {
    const rows: Array<{ n: string }> = await manager.query(
      `SELECT count(*) AS n FROM customers WHERE parent_id = $1 AND deleted_at IS NULL`,
      [id],
    );
    return Number(rows[0].n);
  }

  /** Live accounts owned by the customer (a customer with accounts cannot be deleted). */
  async countLiveAccounts(id: string, manager: EntityManager): Promise<number> {
    const rows: Array<{ n: string }> = await manager.query(
      `SELECT count(*) AS n FROM accounts WHERE customer_id = $1 AND deleted_at IS NULL`,
      [id],
    );
    return Number(rows[0].n);
  }

  async loginTaken(login: string, exceptId: string | null, manager: EntityManager): Promise<boolean> {
    const rows: unknown[] = await manager.query(
      `SELECT 1 FROM customers WHERE lower(web_login) = lower($1) AND deleted_at IS NULL AND ($2::uuid IS NULL OR id <> $2)`,
      [login, exceptId],
    );
    return rows.length > 0;
  }

  async siblingNameTaken(parentId: string, name: string, exceptId: string | null, manager: EntityManager): Promise<boolean> {
    const rows: unknown[] = await manager.query(
      `SELECT 1 FROM customers WHERE parent_id = $1 AND name = $2 AND deleted_at IS NULL AND ($3::uuid IS NULL OR id <> $3)`,
      [parentId, name, exceptId],
    );
    return rows.length > 0;
  }
}
