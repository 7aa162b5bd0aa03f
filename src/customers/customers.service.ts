import { Injectable } from '@nestjs/common';
import { DataSource, EntityManager } from 'typeorm';
import { AuditService } from '../audit/audit.service';
import { PasswordHasher } from '../auth/password-hasher';
import { appendOpeningBalance } from '../balances/ledger';
import { assertVersion } from '../common/etag';
import { Big } from '../common/money';
import { Cursors, Page } from '../common/pagination';
import { ConversionService } from '../currencies/conversion.service';
import { RoutingGroupsService } from '../system/routing-groups.service';
import { SystemSettingsService } from '../system/system-settings.service';
import { ConflictProblem, ProblemError, ValidationProblem } from '../common/problem/problem';
import { Caller, requirePermission } from '../tree/caller';
import { notVisible, subtreeCondition } from '../tree/scope';
import { CUSTOMER_COLUMNS, CustomerRow, CustomersRepository, toCustomerDto } from './customers.repository';
import { CreateCustomerDto, CustomerDto, CustomerListQueryDto, UpdateCustomerDto } from './dto/customer.dto';
import { isUniqueViolation, returnedRows, SqlParams } from '../database/sql';

const selfChange = () =>
  new ProblemError(403, 'not-a-descendant', 'Forbidden', 'A customer cannot change or delete its own record here; use PATCH /v1/me.');

const loginTaken = () =>
  new ConflictProblem('login-taken', 'Login taken', 'Another live customer already uses this web login.', {
    errors: [{ pointer: '/webLogin', detail: 'webLogin is already in use' }],
  });
const nameTaken = () =>
  new ConflictProblem('name-taken', 'Name taken', 'A sibling customer already has this name.', {
    errors: [{ pointer: '/name', detail: 'name is already used by a sibling' }],
  });

/** What an audit event records of a customer (never its path, hash or internal ids). */
function auditView(row: CustomerRow): Record<string, unknown> {
  return {
    name: row.name,
    tariffId: row.tariff_id,
    timeZone: row.time_zone,
    language: row.language,
    webLogin: row.web_login,
    baseCurrency: row.base_currency.trim(),
    creditLimit: row.credit_limit,
    status: row.status,
    routingGroupId: row.routing_group_id,
  };
}

/** customers.create, and balances.operate for an opening balance (a ledger entry like any other, SPEC §6). */
function requireCreateRights(caller: Caller, input: CreateCustomerDto): void {
  requirePermission(caller, 'customers.create');
  if (input.balance !== undefined && !new Big(input.balance).eq(0)) requirePermission(caller, 'balances.operate');
}

@Injectable()
export class CustomersService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly customers: CustomersRepository,
    private readonly hasher: PasswordHasher,
    private readonly conversion: ConversionService,
    private readonly audit: AuditService,
    private readonly settings: SystemSettingsService,
    private readonly routingGroups: RoutingGroupsService,
    private readonly cursors: Cursors,
  ) {}

  async create(caller: Caller, input: CreateCustomerDto): Promise<CustomerDto> {
    // The cheap checks come before the expensive hash (SPEC §11), and again under lock below.
    if (!(await this.customers.findVisible(caller, input.parentId ?? caller.customerId, 'self-and-descendants'))) throw notVisible();
    requireCreateRights(caller, input);
    const passwordHash = await this.hasher.hash(input.webPassword);
    try {
      return await this.dataSource.transaction(async (m) => {
        const parent = input.parentId
          ? await this.customers.findVisible(caller, input.parentId, 'self-and-descendants', m, 'FOR SHARE')
          : await this.customers.findVisible(caller, caller.customerId, 'self-and-descendants', m, 'FOR SHARE');
        if (!parent) throw notVisible();
        requireCreateRights(caller, input);
        const settings = await this.settings.current(m);
        if (parent.depth + 1 >= settings.maxDepth) {
          throw new ProblemError(422, 'max-depth-exceeded', 'Tree too deep', `The tree may have at most ${settings.maxDepth} levels.`, {
            maxDepth: settings.maxDepth,
          });
        }
        await this.assertTariffOwnedBy(input.tariffId, parent.id, m);
        if (input.routingGroupId) await this.routingGroups.assertExists(input.routingGroupId, '/routingGroupId', m);
        const balance = new Big(input.balance ?? '0');
        const creditLimit = new Big(input.creditLimit ?? '0');
        if (balance.plus(creditLimit).lt(0)) {
          throw new ValidationProblem([{ pointer: '/balance', detail: 'balance may not be below -creditLimit' }]);
        }
        if (await this.customers.loginTaken(input.webLogin, null, m)) throw loginTaken();
        if (await this.customers.siblingNameTaken(parent.id, input.name, null, m)) throw nameTaken();
        const rows: CustomerRow[] = await m.query(
          `WITH next AS (SELECT nextval(pg_get_serial_sequence('customers', 'node_id')) AS node_id)
           INSERT INTO customers AS c (node_id, parent_id, path, depth, name, tariff_id, time_zone, language, web_login,
                                  web_password_hash, base_currency, balance, opening_balance, credit_limit, status, permissions,
                                  routing_group_id)
           OVERRIDING SYSTEM VALUE
           SELECT node_id, $1, $2 || node_id || '/', $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, $12, $13, $14, $15 FROM next
           RETURNING ${CUSTOMER_COLUMNS}`,
          [
            parent.id,
            parent.path,
            parent.depth + 1,
            input.name,
            input.tariffId,
            input.timeZone ?? settings.defaultTimeZone ?? parent.time_zone,
            input.language ?? settings.defaultLanguage ?? parent.language,
            input.webLogin,
            passwordHash,
            input.baseCurrency ?? settings.defaultBaseCurrency ?? parent.base_currency.trim(),
            balance.toFixed(8),
            creditLimit.toFixed(8),
            input.status ?? 'active',
            settings.defaultPermissions,
            input.routingGroupId ?? null,
          ],
        );
        const created = rows[0];
        await appendOpeningBalance(m, { kind: 'customer', id: created.id }, balance, created.base_currency.trim(), caller.customerId);
        await this.audit.record(m, {
          actorId: caller.customerId,
          action: 'customer.create',
          targetType: 'customer',
          targetId: created.id,
          subjectPath: created.path,
          changes: { after: { ...auditView(created), webPassword: '***' } },
        });
        return toCustomerDto(created, caller, await this.conversion.viewerTable(caller, m));
      });
    } catch (error) {
      throw this.translateUniqueViolation(error);
    }
  }

  async get(caller: Caller, id: string): Promise<CustomerDto> {
    const row = await this.customers.findVisible(caller, id, 'self-and-descendants');
    if (!row) throw notVisible();
    return toCustomerDto(row, caller, await this.conversion.viewerTable(caller));
  }

  async list(caller: Caller, query: CustomerListQueryDto, limit: number): Promise<Page<CustomerDto>> {
    const base = query.parentId ? await this.customers.findVisible(caller, query.parentId, 'self-and-descendants') : undefined;
    if (query.parentId && !base) throw notVisible();
    const basePath = base?.path ?? caller.path;
    const params = new SqlParams();
    const where = [subtreeCondition('c', caller, params, 'descendants')];
    if (query.scope === 'subtree') {
      where.push(`c.path LIKE ${params.add(basePath + '%')} AND c.path <> ${params.add(basePath)}`);
    } else {
      where.push(`c.parent_id = ${params.add(base?.id ?? caller.customerId)}`);
    }
    if (query.q) {
      where.push(`c.name ILIKE ${params.add('%' + query.q.replace(/[\\%_]/g, (ch) => '\\' + ch) + '%')}`);
    }
    const after = await this.cursors.decode<[string]>('customers', query.cursor, ['uuid']);
    if (after) {
      // The cursor names the last customer seen; it must still lie in the caller's scope (a
      // customer deleted since, or a cursor of another caller's list, is a 400).
      const badCursor = () => new ValidationProblem([{ parameter: 'cursor', detail: 'cursor is not a cursor this list issued' }]);
      const cursorParams = new SqlParams();
      const found: Array<{ path: string }> = await this.dataSource.query(
        `SELECT c.path FROM customers c WHERE c.id = ${cursorParams.add(after[0])} AND c.path LIKE ${cursorParams.add(caller.path + '%')}`,
        cursorParams.values,
      );
      if (!found.length) throw badCursor();
      where.push(`c.path > ${params.add(found[0].path)}`);
    }
    const rows: CustomerRow[] = await this.dataSource.query(
      `SELECT ${CUSTOMER_COLUMNS} FROM customers c WHERE ${where.join(' AND ')} ORDER BY c.path LIMIT ${params.add(limit + 1)}`,
      params.values,
    );
    const table = await this.conversion.viewerTable(caller);
    return this.cursors.page(
      'customers',
      rows,
      limit,
      (row) => toCustomerDto(row, caller, table, query.scope === 'subtree' ? row.depth - caller.depth : undefined),
      (row) => [row.id],
    );
  }

  async update(caller: Caller, id: string, input: UpdateCustomerDto, expectedVersion?: number): Promise<CustomerDto> {
    if (input.webPassword) {
      // The cheap checks come before the expensive hash (SPEC §11), and again under lock below.
      await this.findDescendantForChange(caller, id, this.dataSource.manager, '');
      requirePermission(caller, 'customers.update');
    }
    const passwordHash = input.webPassword ? await this.hasher.hash(input.webPassword) : undefined;
    try {
      return await this.dataSource.transaction(async (m) => {
        const row = await this.findDescendantForChange(caller, id, m);
        requirePermission(caller, 'customers.update');
        assertVersion(expectedVersion, row.version);
        if (input.tariffId && input.tariffId !== row.tariff_id) await this.assertTariffOwnedBy(input.tariffId, row.parent_id!, m);
        if (input.webLogin && (await this.customers.loginTaken(input.webLogin, row.id, m))) throw loginTaken();
        if (input.name && (await this.customers.siblingNameTaken(row.parent_id!, input.name, row.id, m))) throw nameTaken();
        if (input.routingGroupId) await this.routingGroups.assertExists(input.routingGroupId, '/routingGroupId', m);
        const cutsAccess = passwordHash !== undefined || (input.status === 'suspended' && row.status !== 'suspended');
        const rows = returnedRows<CustomerRow>(await m.query(
          `UPDATE customers c SET
             name = COALESCE($2, name), tariff_id = COALESCE($3, tariff_id), time_zone = COALESCE($4, time_zone),
             language = COALESCE($5, language), web_login = COALESCE($6, web_login),
             web_password_hash = COALESCE($7, web_password_hash), credit_limit = COALESCE($8::numeric, credit_limit),
             status = COALESCE($9, status), auth_epoch = auth_epoch + $10,
             routing_group_id = CASE WHEN $11 THEN $12::uuid ELSE routing_group_id END,
             version = version + 1, updated_at = now()
           WHERE id = $1 RETURNING ${CUSTOMER_COLUMNS}`,
          [
            row.id,
            input.name ?? null,
            input.tariffId ?? null,
            input.timeZone ?? null,
            input.language ?? null,
            input.webLogin ?? null,
            passwordHash ?? null,
            input.creditLimit ?? null,
            input.status ?? null,
            cutsAccess ? 1 : 0,
            input.routingGroupId !== undefined,
            input.routingGroupId ?? null,
          ],
        ));
        if (cutsAccess) await this.revokeSessions(row.id, m);
        await this.audit.record(m, {
          actorId: caller.customerId,
          action: 'customer.update',
          targetType: 'customer',
          targetId: row.id,
          subjectPath: row.path,
          changes: {
            before: auditView(row),
            after: { ...auditView(rows[0]), ...(passwordHash ? { webPassword: '***' } : {}) },
          },
        });
        return toCustomerDto(rows[0], caller, await this.conversion.viewerTable(caller, m));
      });
    } catch (error) {
      throw this.translateUniqueViolation(error);
    }
  }

  async remove(caller: Caller, id: string, expectedVersion?: number): Promise<void> {
    await this.dataSource.transaction(async (m) => {
      const row = await this.findDescendantForChange(caller, id, m);
      requirePermission(caller, 'customers.delete');
      assertVersion(expectedVersion, row.version);
      const subCustomers = await this.customers.countLiveChildren(row.id, m);
      const accounts = await this.customers.countLiveAccounts(row.id, m);
      if (subCustomers > 0 || accounts > 0) {
        throw new ConflictProblem(
          'customer-not-empty',
          'Customer not empty',
          `The customer still has ${subCustomers} live sub-customer(s) and ${accounts} live account(s); delete them first.`,
          { subCustomers, accounts },
        );
      }
      await m.query(
        `UPDATE customers SET deleted_at = now(), auth_epoch = auth_epoch + 1, version = version + 1, updated_at = now() WHERE id = $1`,
        [row.id],
      );
      await this.revokeSessions(row.id, m);
      await m.query(`UPDATE api_keys SET revoked_at = now() WHERE customer_id = $1 AND revoked_at IS NULL`, [row.id]);
      await this.audit.record(m, {
        actorId: caller.customerId,
        action: 'customer.delete',
        targetType: 'customer',
        targetId: row.id,
        subjectPath: row.path,
        changes: { before: auditView(row), after: null },
      });
    });
  }

  /** Visible and a strict descendant (the caller itself is visible, but not changeable here). */
  private async findDescendantForChange(caller: Caller, id: string, m: EntityManager, lock: '' | 'FOR UPDATE' = 'FOR UPDATE'): Promise<CustomerRow> {
    const row = await this.customers.findVisible(caller, id, 'self-and-descendants', m, lock);
    if (!row) throw notVisible();
    if (row.id === caller.customerId) throw selfChange();
    return row;
  }

  private async assertTariffOwnedBy(tariffId: string, ownerId: string, m: EntityManager): Promise<void> {
    // The lock keeps a concurrent DELETE of the tariff waiting until this customer is
    // written (it then counts it: 409), instead of failing our insert on the foreign key.
    const rows: unknown[] = await m.query(`SELECT 1 FROM tariffs WHERE id = $1 AND owner_id = $2 FOR KEY SHARE`, [tariffId, ownerId]);
    if (!rows.length) {
      throw new ValidationProblem([{ pointer: '/tariffId', detail: 'tariffId must name a tariff owned by the customer’s parent' }]);
    }
  }

  private async revokeSessions(customerId: string, m: EntityManager): Promise<void> {
    await m.query(`UPDATE refresh_tokens SET revoked_at = now() WHERE customer_id = $1 AND revoked_at IS NULL`, [customerId]);
  }

  private translateUniqueViolation(error: unknown): unknown {
    if (isUniqueViolation(error, 'customers_live_login')) return loginTaken();
    if (isUniqueViolation(error, 'customers_live_sibling_name')) return nameTaken();
    return error;
  }
}
