import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { AuditService } from '../audit/audit.service';
import { PasswordHasher } from '../auth/password-hasher';
import { appendOpeningBalance } from '../balances/ledger';
import { assertVersion } from '../common/etag';
import { Big, formatMoney } from '../common/money';
import { Cursors, cursorTimestamp, Page } from '../common/pagination';
import { RoutingGroupsService } from '../system/routing-groups.service';
import { ConflictProblem, ValidationProblem } from '../common/problem/problem';
import { ConversionService } from '../currencies/conversion.service';
import { CustomersRepository } from '../customers/customers.repository';
import { isUniqueViolation, returnedRows, SqlParams } from '../database/sql';
import { Caller, requirePermission } from '../tree/caller';
import { notVisible, subtreeCondition } from '../tree/scope';
import { ACCOUNT_COLUMNS, AccountRow, AccountsRepository, toAccountDto } from './accounts.repository';
import { AccountDto, AccountListQueryDto, CreateAccountDto, UpdateAccountDto } from './dto/account.dto';

const usernameTaken = () =>
  new ConflictProblem('username-taken', 'Username taken', 'Another live account already uses this username.', {
    errors: [{ pointer: '/username', detail: 'username is already in use' }],
  });

/** What an audit event records of an account: never a password, a hash or a path. */
function auditView(row: AccountRow): Record<string, unknown> {
  return {
    customerId: row.customer_id,
    username: row.username,
    tariffId: row.tariff_id,
    timeZone: row.time_zone,
    language: row.language,
    creditLimit: formatMoney(row.credit_limit),
    maxSessions: row.max_sessions,
    status: row.status,
    routingGroupId: row.routing_group_id,
  };
}

/** accounts.create, and balances.operate for an opening balance (a ledger entry like any other, SPEC §6). */
function requireCreateRights(caller: Caller, input: CreateAccountDto): void {
  requirePermission(caller, 'accounts.create');
  if (input.balance !== undefined && !new Big(input.balance).eq(0)) requirePermission(caller, 'balances.operate');
}

/** Accounts (SPEC §7): end users of a customer, managed by it and everyone above it. */
@Injectable()
export class AccountsService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly accounts: AccountsRepository,
    private readonly customers: CustomersRepository,
    private readonly hasher: PasswordHasher,
    private readonly conversion: ConversionService,
    private readonly audit: AuditService,
    private readonly cursors: Cursors,
    private readonly routingGroups: RoutingGroupsService,
  ) {}

  async create(caller: Caller, input: CreateAccountDto): Promise<AccountDto> {
    // The cheap checks come before the expensive hash (SPEC §11), and again under lock below.
    if (!(await this.customers.findVisible(caller, input.customerId ?? caller.customerId, 'self-and-descendants'))) throw notVisible();
    requireCreateRights(caller, input);
    const webPasswordHash = await this.hasher.hash(input.webPassword);
    try {
      return await this.dataSource.transaction(async (m) => {
        // FOR SHARE: the customer cannot be deleted while its new account is being added.
        const customer = await this.customers.findVisible(caller, input.customerId ?? caller.customerId, 'self-and-descendants', m, 'FOR SHARE');
        if (!customer) throw notVisible();
        requireCreateRights(caller, input);
        await this.assertTariffOwnedBy(input.tariffId, customer.id, m);
        if (input.routingGroupId) await this.routingGroups.assertExists(input.routingGroupId, '/routingGroupId', m);
        const balance = new Big(input.balance ?? '0');
        const creditLimit = new Big(input.creditLimit ?? '0');
        if (balance.plus(creditLimit).lt(0)) {
          throw new ValidationProblem([{ pointer: '/balance', detail: 'balance may not be below -creditLimit' }]);
        }
        if (await this.accounts.usernameTaken(input.username, null, m)) throw usernameTaken();
        const rows: AccountRow[] = await m.query(
          `WITH a AS (
             INSERT INTO accounts (customer_id, username, web_password_hash, voip_password, tariff_id, time_zone, language,
                                   balance, credit_limit, max_sessions, status, routing_group_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING *)
           SELECT ${ACCOUNT_COLUMNS} FROM a JOIN customers c ON c.id = a.customer_id`,
          [
            customer.id,
            input.username,
            webPasswordHash,
            input.voipPassword,
            input.tariffId,
            input.timeZone ?? customer.time_zone,
            input.language ?? customer.language,
            balance.toFixed(8),
            creditLimit.toFixed(8),
            input.maxSessions ?? 1,
            input.status ?? 'active',
            input.routingGroupId ?? null,
          ],
        );
        const created = rows[0];
        await appendOpeningBalance(m, { kind: 'account', id: created.id }, balance, created.currency.trim(), caller.customerId);
        await this.audit.record(m, {
          actorId: caller.customerId,
          action: 'account.create',
          targetType: 'account',
          targetId: created.id,
          subjectPath: created.customer_path,
          changes: {
            after: { ...auditView(created), balance: formatMoney(balance), webPassword: '***', voipPassword: '***' },
          },
        });
        return toAccountDto(created, await this.conversion.viewerTable(caller, m));
      });
    } catch (error) {
      throw isUniqueViolation(error, 'accounts_live_username') ? usernameTaken() : error;
    }
  }

  async get(caller: Caller, id: string): Promise<AccountDto> {
    const row = await this.accounts.findVisible(caller, id);
    if (!row) throw notVisible('account');
    return toAccountDto(row, await this.conversion.viewerTable(caller));
  }

  async list(caller: Caller, query: AccountListQueryDto, limit: number): Promise<Page<AccountDto>> {
    const base = query.customerId ? await this.customers.findVisible(caller, query.customerId, 'self-and-descendants') : undefined;
    if (query.customerId && !base) throw notVisible();
    const params = new SqlParams();
    const where = ['a.deleted_at IS NULL', subtreeCondition('c', caller, params, 'self-and-descendants')];
    if (query.scope === 'subtree') {
      where.push(`c.path LIKE ${params.add((base?.path ?? caller.path) + '%')}`);
    } else {
      where.push(`a.customer_id = ${params.add(base?.id ?? caller.customerId)}`);
    }
    if (query.q) {
      where.push(`a.username ILIKE ${params.add('%' + query.q.replace(/[\\%_]/g, (ch) => '\\' + ch) + '%')}`);
    }
    const after = await this.cursors.decode<[string, string]>('accounts', query.cursor, ['timestamp', 'uuid']);
    if (after) where.push(`(a.created_at, a.id) > (${params.add(after[0])}::timestamptz, ${params.add(after[1])}::uuid)`);
    const rows: Array<AccountRow & { cursor_time: string }> = await this.dataSource.query(
      `SELECT ${ACCOUNT_COLUMNS}, ${cursorTimestamp('a.created_at')} AS cursor_time
         FROM accounts a JOIN customers c ON c.id = a.customer_id
        WHERE ${where.join(' AND ')}
        ORDER BY a.created_at, a.id LIMIT ${params.add(limit + 1)}`,
      params.values,
    );
    const table = await this.conversion.viewerTable(caller);
    return this.cursors.page('accounts', rows, limit, (row) => toAccountDto(row, table), (row) => [row.cursor_time, row.id]);
  }

  async update(caller: Caller, id: string, input: UpdateAccountDto, expectedVersion?: number): Promise<AccountDto> {
    if (input.webPassword) {
      // The cheap checks come before the expensive hash (SPEC §11), and again under lock below.
      if (!(await this.accounts.findVisible(caller, id))) throw notVisible('account');
      requirePermission(caller, 'accounts.update');
    }
    const webPasswordHash = input.webPassword ? await this.hasher.hash(input.webPassword) : undefined;
    try {
      return await this.dataSource.transaction(async (m) => {
        const row = await this.accounts.findVisible(caller, id, m, 'FOR UPDATE');
        if (!row) throw notVisible('account');
        requirePermission(caller, 'accounts.update');
        assertVersion(expectedVersion, row.version);
        if (input.tariffId && input.tariffId !== row.tariff_id) await this.assertTariffOwnedBy(input.tariffId, row.customer_id, m);
        if (input.routingGroupId && input.routingGroupId !== row.routing_group_id) {
          await this.routingGroups.assertExists(input.routingGroupId, '/routingGroupId', m);
        }
        if (input.username && input.username !== row.username && (await this.accounts.usernameTaken(input.username, row.id, m))) {
          throw usernameTaken();
        }
        const rows = returnedRows<AccountRow>(
          await m.query(
            `WITH a AS (
               UPDATE accounts SET
                 username = COALESCE($2, username), web_password_hash = COALESCE($3, web_password_hash),
                 voip_password = COALESCE($4, voip_password), tariff_id = COALESCE($5, tariff_id),
                 time_zone = COALESCE($6, time_zone), language = COALESCE($7, language),
                 credit_limit = COALESCE($8::numeric, credit_limit), max_sessions = COALESCE($9, max_sessions),
                 status = COALESCE($10, status),
                 routing_group_id = CASE WHEN $11 THEN NULL ELSE COALESCE($12, routing_group_id) END,
                 version = version + 1, updated_at = now()
               WHERE id = $1 RETURNING *)
             SELECT ${ACCOUNT_COLUMNS} FROM a JOIN customers c ON c.id = a.customer_id`,
            [
              row.id,
              input.username ?? null,
              webPasswordHash ?? null,
              input.voipPassword ?? null,
              input.tariffId ?? null,
              input.timeZone ?? null,
              input.language ?? null,
              input.creditLimit ?? null,
              input.maxSessions ?? null,
              input.status ?? null,
              input.routingGroupId === null,
              input.routingGroupId ?? null,
            ],
          ),
        );
        const updated = rows[0];
        await this.audit.record(m, {
          actorId: caller.customerId,
          action: 'account.update',
          targetType: 'account',
          targetId: row.id,
          subjectPath: row.customer_path,
          changes: {
            before: auditView(row),
            after: {
              ...auditView(updated),
              ...(webPasswordHash ? { webPassword: '***' } : {}),
              ...(input.voipPassword !== undefined ? { voipPassword: '***' } : {}),
            },
          },
        });
        return toAccountDto(updated, await this.conversion.viewerTable(caller, m));
      });
    } catch (error) {
      throw isUniqueViolation(error, 'accounts_live_username') ? usernameTaken() : error;
    }
  }

  /** Soft delete: the username is free again; the ledger and audit history stay. */
  async remove(caller: Caller, id: string, expectedVersion?: number): Promise<void> {
    await this.dataSource.transaction(async (m) => {
      const row = await this.accounts.findVisible(caller, id, m, 'FOR UPDATE');
      if (!row) throw notVisible('account');
      requirePermission(caller, 'accounts.delete');
      assertVersion(expectedVersion, row.version);
      await m.query(`UPDATE accounts SET deleted_at = now(), version = version + 1, updated_at = now() WHERE id = $1`, [row.id]);
      await this.audit.record(m, {
        actorId: caller.customerId,
        action: 'account.delete',
        targetType: 'account',
        targetId: row.id,
        subjectPath: row.customer_path,
        changes: { before: { ...auditView(row), balance: formatMoney(row.balance) }, after: null },
      });
    });
  }

  /** FOR KEY SHARE: the tariff cannot be deleted while an account is being put on it. */
  private async assertTariffOwnedBy(tariffId: string, customerId: string, m: EntityManager): Promise<void> {
    const rows: unknown[] = await m.query(`SELECT 1 FROM tariffs WHERE id = $1 AND owner_id = $2 FOR KEY SHARE`, [tariffId, customerId]);
    if (!rows.length) {
      throw new ValidationProblem([{ pointer: '/tariffId', detail: 'tariffId must name a tariff owned by the account’s customer' }]);
    }
  }
}
