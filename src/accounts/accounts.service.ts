import { Injectable } from '@nestjs/common';
import { TariffsRepository } from '../tariffs/tariffs.repository';
import { PasswordHasher } from '../auth/password-hasher';
import { appendOpeningBalance } from '../balances/ledger';
import { Big, formatMoney } from '../common/money';
import { Page } from '../common/pagination';
import { ConflictProblem, ValidationProblem } from '../common/problem/problem';
import { ConversionService } from '../currencies/conversion.service';
import { CustomersRepository } from '../customers/customers.repository';
import { listFiltersOf } from '../customers/list-filters';
import { externalIdTaken } from '../customers/external-id';
import { requireAccess } from '../database/access';
import { isUniqueViolation } from '../database/sql';
import { Writes } from '../database/writes';
import { RoutingGroupsService } from '../system/routing-groups.service';
import { Caller, requirePermission } from '../tree/caller';
import { notVisible } from '../tree/scope';
import { AccountRow, AccountSettings, AccountsRepository, toAccountDto } from './accounts.repository';
import { BATCH_ACCOUNT_FIELDS } from './dto/account-batch.dto';
import { AccountDto, AccountListQueryDto, CreateAccountDto, UpdateAccountDto } from './dto/account.dto';

const usernameTaken = () =>
  new ConflictProblem('username-taken', 'Username taken', 'Another live account already uses this username.', {
    errors: [{ pointer: '/username', detail: 'username is already in use' }],
  });
export const tariffNotOwned = () =>
  new ValidationProblem([{ pointer: '/tariffId', detail: 'tariffId must name a tariff owned by the account’s customer' }]);

const translateUniqueViolation = (error: unknown): unknown => (isUniqueViolation(error, 'accounts_live_username') ? usernameTaken() : error);

/** A concurrent request took the external id between the check and the write: name the winner when it can be read. */
async function externalIdRace(error: unknown, lookup: () => Promise<string | undefined>): Promise<unknown> {
  if (!isUniqueViolation(error, 'accounts_live_external_id')) return error;
  return externalIdTaken(await lookup().catch(() => undefined));
}

/** What an audit event records of an account: never a password, a hash or a path. */
function auditView(row: AccountRow): Record<string, unknown> {
  return {
    customerId: row.customer_id,
    username: row.username,
    tariffId: row.tariff_id,
    timeZone: row.time_zone,
    language: row.language,
    creditLimit: formatMoney(row.credit_limit),
    lowBalanceThreshold: row.low_balance_threshold === null ? null : formatMoney(row.low_balance_threshold),
    maxSessions: row.max_sessions,
    status: row.status,
    routingGroupId: row.routing_group_id,
    externalId: row.external_id,
    metadata: row.metadata,
  };
}

/** accounts.create, and balances.operate for a non-zero opening balance (a ledger entry like any other, SPEC §6); for one account as for a batch. */
export function requireCreateRights(caller: Caller, input: { balance?: string }): void {
  requirePermission(caller, 'accounts.create');
  if (input.balance !== undefined && !new Big(input.balance).eq(0)) requirePermission(caller, 'balances.operate');
}

/** A new account's settings from the request (one account's or a batch's), its customer's defaults filling the gaps. */
export function accountSettings(
  input: Pick<CreateAccountDto, (typeof BATCH_ACCOUNT_FIELDS)[number]>,
  customer: { time_zone: string; language: string },
  balance: Big,
  creditLimit: Big,
): AccountSettings {
  return {
    tariffId: input.tariffId,
    timeZone: input.timeZone ?? customer.time_zone,
    language: input.language ?? customer.language,
    balance: balance.toFixed(8),
    creditLimit: creditLimit.toFixed(8),
    lowBalanceThreshold: input.lowBalanceThreshold ?? null,
    maxSessions: input.maxSessions ?? 1,
    status: input.status ?? 'active',
    routingGroupId: input.routingGroupId ?? null,
  };
}

/** Accounts (SPEC §7): end users of a customer, managed by it and everyone above it. */
@Injectable()
export class AccountsService {
  constructor(
    private readonly writes: Writes,
    private readonly accounts: AccountsRepository,
    private readonly customers: CustomersRepository,
    private readonly hasher: PasswordHasher,
    private readonly conversion: ConversionService,
    private readonly routingGroups: RoutingGroupsService,
    private readonly tariffs: TariffsRepository,
  ) {}

  async create(caller: Caller, input: CreateAccountDto): Promise<AccountDto> {
    const customerId = input.customerId ?? caller.customerId;
    // The cheap checks come before the expensive hash (SPEC §11), and again under lock below.
    await requireAccess(this.customers, caller, customerId, { what: 'customer' });
    requireCreateRights(caller, input);
    const webPasswordHash = await this.hasher.hash(input.webPassword);
    try {
      return await this.writes.change(caller.customerId, async (tx) => {
        // FOR SHARE: the customer cannot be deleted while its new account is being added.
        const customer = await requireAccess(this.customers, caller, customerId, { tx, lock: 'FOR SHARE', what: 'customer' });
        requireCreateRights(caller, input);
        if (!(await this.tariffs.isOwnedBy(caller, input.tariffId, customer.id, tx))) throw tariffNotOwned();
        if (input.routingGroupId) await this.routingGroups.assertExists(input.routingGroupId, '/routingGroupId', tx);
        const balance = new Big(input.balance ?? '0');
        const creditLimit = new Big(input.creditLimit ?? '0');
        if (balance.plus(creditLimit).lt(0)) {
          throw new ValidationProblem([{ pointer: '/balance', detail: 'balance may not be below -creditLimit' }]);
        }
        if (await this.accounts.unscopedUsernameTaken(input.username, null, tx)) throw usernameTaken();
        if (input.externalId) {
          const existing = await this.accounts.withExternalId(caller, customer.id, input.externalId, null, tx);
          if (existing) throw externalIdTaken(existing);
        }
        const created = await this.accounts.insert(
          caller,
          customer.id,
          {
            username: input.username,
            webPasswordHash,
            voipPassword: input.voipPassword,
            ...accountSettings(input, customer, balance, creditLimit),
            externalId: input.externalId ?? null,
            metadata: input.metadata ?? {},
          },
          tx,
        );
        if (!created) throw notVisible(); // the customer is locked above: cannot happen
        await appendOpeningBalance(tx, { kind: 'account', id: created.id }, balance, created.currency, caller.customerId);
        return {
          result: toAccountDto(created, await this.conversion.viewerTable(caller, tx)),
          audit: {
            action: 'account.create',
            targetType: 'account',
            targetId: created.id,
            subjectPath: created.customer_path,
            after: { ...auditView(created), balance: formatMoney(balance), webPassword: '***', voipPassword: '***' },
          },
        };
      });
    } catch (error) {
      throw await externalIdRace(translateUniqueViolation(error), () =>
        this.accounts.withExternalId(caller, customerId, input.externalId!, null),
      );
    }
  }

  async get(caller: Caller, id: string): Promise<AccountDto> {
    const row = await requireAccess(this.accounts, caller, id, { what: 'account' });
    return toAccountDto(row, await this.conversion.viewerTable(caller));
  }

  async list(caller: Caller, query: AccountListQueryDto, limit: number): Promise<Page<AccountDto>> {
    const base = query.customerId ? await requireAccess(this.customers, caller, query.customerId, { what: 'customer' }) : caller;
    const page = await this.accounts.list(
      caller,
      {
        base: { id: query.customerId ?? caller.customerId, path: base.path, depth: base.depth },
        scope: query.scope === 'subtree' ? 'subtree' : 'own',
        usernameContains: query.q,
        filters: listFiltersOf(query),
        sort: query.sort,
      },
      query.cursor,
      limit,
    );
    const table = await this.conversion.viewerTable(caller);
    return { items: page.items.map((row) => toAccountDto(row, table)), nextCursor: page.nextCursor };
  }

  async update(caller: Caller, id: string, input: UpdateAccountDto, expectedVersion?: number): Promise<AccountDto> {
    // The cheap checks come before the expensive hash (SPEC §11), and again under lock below.
    if (input.webPassword) await requireAccess(this.accounts, caller, id, { permission: 'accounts.update', what: 'account' });
    const webPasswordHash = input.webPassword ? await this.hasher.hash(input.webPassword) : undefined;
    try {
      return await this.writes.change(caller.customerId, async (tx) => {
        const row = await requireAccess(this.accounts, caller, id, {
          tx,
          lock: 'FOR UPDATE',
          permission: 'accounts.update',
          version: expectedVersion,
          what: 'account',
        });
        if (input.tariffId && input.tariffId !== row.tariff_id && !(await this.tariffs.isOwnedBy(caller, input.tariffId, row.customer_id, tx))) {
          throw tariffNotOwned();
        }
        if (input.routingGroupId && input.routingGroupId !== row.routing_group_id) {
          await this.routingGroups.assertExists(input.routingGroupId, '/routingGroupId', tx);
        }
        if (input.username && input.username !== row.username && (await this.accounts.unscopedUsernameTaken(input.username, row.id, tx))) {
          throw usernameTaken();
        }
        if (input.externalId) {
          const existing = await this.accounts.withExternalId(caller, row.customer_id, input.externalId, row.id, tx);
          if (existing) throw externalIdTaken(existing);
        }
        const updated = await this.accounts.update(
          caller,
          row.id,
          {
            username: input.username,
            webPasswordHash,
            voipPassword: input.voipPassword,
            tariffId: input.tariffId,
            timeZone: input.timeZone,
            language: input.language,
            creditLimit: input.creditLimit,
            lowBalanceThreshold: input.lowBalanceThreshold,
            maxSessions: input.maxSessions,
            status: input.status,
            routingGroupId: input.routingGroupId,
            externalId: input.externalId,
            // null clears it, like {}.
            metadata: input.metadata === null ? {} : input.metadata,
          },
          tx,
        );
        if (!updated) throw notVisible('account'); // locked above: cannot happen
        return {
          result: toAccountDto(updated, await this.conversion.viewerTable(caller, tx)),
          audit: {
            action: 'account.update',
            targetType: 'account',
            targetId: row.id,
            subjectPath: row.customer_path,
            before: auditView(row),
            after: {
              ...auditView(updated),
              ...(webPasswordHash ? { webPassword: '***' } : {}),
              ...(input.voipPassword !== undefined ? { voipPassword: '***' } : {}),
            },
          },
        };
      });
    } catch (error) {
      throw await externalIdRace(translateUniqueViolation(error), async () => {
        const row = await this.accounts.findVisible(caller, id);
        return row ? this.accounts.withExternalId(caller, row.customer_id, input.externalId!, row.id) : undefined;
      });
    }
  }

  /** Soft delete: the username is free again; the ledger and audit history stay. */
  async remove(caller: Caller, id: string, expectedVersion?: number): Promise<void> {
    await this.writes.change(caller.customerId, async (tx) => {
      const row = await requireAccess(this.accounts, caller, id, {
        tx,
        lock: 'FOR UPDATE',
        permission: 'accounts.delete',
        version: expectedVersion,
        what: 'account',
      });
      await this.accounts.softDelete(caller, row.id, tx);
      return {
        result: undefined,
        audit: {
          action: 'account.delete',
          targetType: 'account',
          targetId: row.id,
          subjectPath: row.customer_path,
          before: { ...auditView(row), balance: formatMoney(row.balance) },
          after: null,
        },
      };
    });
  }
}
