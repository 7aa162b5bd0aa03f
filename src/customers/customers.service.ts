import { Injectable } from '@nestjs/common';
import { TariffsRepository } from '../tariffs/tariffs.repository';
import { RefreshTokensRepository } from '../auth/refresh-tokens.repository';
import { ApiKeysRepository } from '../auth/api-keys.repository';
import { PasswordHasher } from '../auth/password-hasher';
import { appendOpeningBalance } from '../balances/ledger';
import { Big, formatStoredMoney } from '../common/money';
import { Page } from '../common/pagination';
import { ConflictProblem, ProblemError, ValidationProblem } from '../common/problem/problem';
import { ConversionService } from '../currencies/conversion.service';
import { AccessOptions, notADescendant, requireAccess } from '../database/access';
import { isUniqueViolation } from '../database/sql';
import { Writes } from '../database/writes';
import { Permission } from '../permissions/permission.catalogue';
import { RoutingGroupsService } from '../system/routing-groups.service';
import { SystemSettingsService } from '../system/system-settings.service';
import { Caller, requirePermission } from '../tree/caller';
import { notVisible } from '../tree/scope';
import { listFiltersOf } from './list-filters';
import { externalIdTaken } from './external-id';
import { ContactProfile, CustomerRow, CustomersRepository, toCustomerDto } from './customers.repository';
import { CreateCustomerDto, CustomerDto, CustomerListQueryDto, UpdateCustomerDto } from './dto/customer.dto';

const selfChange = () => notADescendant('A customer cannot change or delete its own record here; use PATCH /v1/me.');

const loginTaken = () =>
  new ConflictProblem('login-taken', 'Login taken', 'Another live customer already uses this web login.', {
    errors: [{ pointer: '/webLogin', detail: 'webLogin is already in use' }],
  });
const nameTaken = () =>
  new ConflictProblem('name-taken', 'Name taken', 'A sibling customer already has this name.', {
    errors: [{ pointer: '/name', detail: 'name is already used by a sibling' }],
  });
const tariffNotOwned = () =>
  new ValidationProblem([{ pointer: '/tariffId', detail: 'tariffId must name a tariff owned by the customer’s parent' }]);

/** What an audit event records of a customer (never its path, hash or internal ids). */
function auditView(row: CustomerRow): Record<string, unknown> {
  return {
    name: row.name,
    tariffId: row.tariff_id,
    timeZone: row.time_zone,
    language: row.language,
    webLogin: row.web_login,
    baseCurrency: row.base_currency,
    creditLimit: row.credit_limit,
    lowBalanceThreshold: formatStoredMoney(row.low_balance_threshold),
    status: row.status,
    routingGroupId: row.routing_group_id,
    externalId: row.external_id,
    metadata: row.metadata,
    companyName: row.company_name,
    email: row.email,
    phone: row.phone,
    address: row.address,
    taxId: row.tax_id,
  };
}

/** The profile fields of a body, as given (absent stays absent, null clears). */
function profileOf(input: CreateCustomerDto | UpdateCustomerDto): ContactProfile {
  return { companyName: input.companyName, email: input.email, phone: input.phone, address: input.address, taxId: input.taxId };
}

/** customers.create, and balances.operate for an opening balance (a ledger entry like any other, SPEC §6). */
function requireCreateRights(caller: Caller, input: CreateCustomerDto): void {
  requirePermission(caller, 'customers.create');
  if (input.balance !== undefined && !new Big(input.balance).eq(0)) requirePermission(caller, 'balances.operate');
}

function translateUniqueViolation(error: unknown): unknown {
  if (isUniqueViolation(error, 'customers_live_login')) return loginTaken();
  if (isUniqueViolation(error, 'customers_live_sibling_name')) return nameTaken();
  return error;
}

/** A concurrent request took the external id between the check and the write: name the winner when it can be read. */
async function externalIdRace(error: unknown, lookup: () => Promise<string | undefined>): Promise<unknown> {
  if (!isUniqueViolation(error, 'customers_live_external_id')) return error;
  return externalIdTaken(await lookup().catch(() => undefined));
}

@Injectable()
export class CustomersService {
  constructor(
    private readonly writes: Writes,
    private readonly customers: CustomersRepository,
    private readonly hasher: PasswordHasher,
    private readonly conversion: ConversionService,
    private readonly settings: SystemSettingsService,
    private readonly routingGroups: RoutingGroupsService,
    private readonly tariffs: TariffsRepository,
    private readonly refreshTokens: RefreshTokensRepository,
    private readonly apiKeys: ApiKeysRepository,
  ) {}

  async create(caller: Caller, input: CreateCustomerDto): Promise<CustomerDto> {
    const parentId = input.parentId ?? caller.customerId;
    // The cheap checks come before the expensive hash (SPEC §11), and again under lock below.
    await requireAccess(this.customers, caller, parentId, { what: 'customer' });
    requireCreateRights(caller, input);
    const passwordHash = await this.hasher.hash(input.webPassword);
    try {
      return await this.writes.change(caller.customerId, async (tx) => {
        const parent = await requireAccess(this.customers, caller, parentId, { tx, lock: 'FOR SHARE', what: 'customer' });
        requireCreateRights(caller, input);
        const settings = await this.settings.current(tx);
        if (parent.depth + 1 >= settings.maxDepth) {
          throw new ProblemError(422, 'max-depth-exceeded', 'Tree too deep', `The tree may have at most ${settings.maxDepth} levels.`, {
            maxDepth: settings.maxDepth,
          });
        }
        if (!(await this.tariffs.isOwnedBy(caller, input.tariffId, parent.id, tx))) throw tariffNotOwned();
        if (input.routingGroupId) await this.routingGroups.assertExists(input.routingGroupId, '/routingGroupId', tx);
        const balance = new Big(input.balance ?? '0');
        const creditLimit = new Big(input.creditLimit ?? '0');
        if (balance.plus(creditLimit).lt(0)) {
          throw new ValidationProblem([{ pointer: '/balance', detail: 'balance may not be below -creditLimit' }]);
        }
        if (await this.customers.unscopedLoginTaken(input.webLogin, null, tx)) throw loginTaken();
        if (await this.customers.siblingNameTaken(caller, parent.id, input.name, null, tx)) throw nameTaken();
        if (input.externalId) {
          const existing = await this.customers.siblingWithExternalId(caller, parent.id, input.externalId, null, tx);
          if (existing) throw externalIdTaken(existing);
        }
        const created = await this.customers.insertChild(
          caller,
          parent.id,
          {
            name: input.name,
            tariffId: input.tariffId,
            timeZone: input.timeZone ?? settings.defaultTimeZone ?? parent.time_zone,
            language: input.language ?? settings.defaultLanguage ?? parent.language,
            webLogin: input.webLogin,
            passwordHash,
            baseCurrency: input.baseCurrency ?? settings.defaultBaseCurrency ?? parent.base_currency,
            balance: balance.toFixed(8),
            creditLimit: creditLimit.toFixed(8),
            lowBalanceThreshold: input.lowBalanceThreshold ?? null,
            status: input.status ?? 'active',
            permissions: settings.defaultPermissions,
            routingGroupId: input.routingGroupId ?? null,
            externalId: input.externalId ?? null,
            metadata: input.metadata ?? {},
            profile: profileOf(input),
          },
          tx,
        );
        if (!created) throw notVisible(); // the parent is locked above: cannot happen
        await appendOpeningBalance(tx, { kind: 'customer', id: created.id }, balance, created.base_currency, caller.customerId);
        return {
          result: toCustomerDto(created, caller, await this.conversion.viewerTable(caller, tx)),
          audit: {
            action: 'customer.create',
            targetType: 'customer',
            targetId: created.id,
            subjectPath: created.path,
            after: { ...auditView(created), webPassword: '***' },
          },
        };
      });
    } catch (error) {
      throw await externalIdRace(translateUniqueViolation(error), () =>
        this.customers.siblingWithExternalId(caller, parentId, input.externalId!, null),
      );
    }
  }

  async get(caller: Caller, id: string): Promise<CustomerDto> {
    const row = await requireAccess(this.customers, caller, id, { what: 'customer' });
    return toCustomerDto(row, caller, await this.conversion.viewerTable(caller));
  }

  async list(caller: Caller, query: CustomerListQueryDto, limit: number): Promise<Page<CustomerDto>> {
    const base = query.parentId ? await requireAccess(this.customers, caller, query.parentId, { what: 'customer' }) : caller;
    const scope = query.scope === 'subtree' ? 'subtree' : 'children';
    const page = await this.customers.list(
      caller,
      {
        base: { id: query.parentId ?? caller.customerId, path: base.path, depth: base.depth },
        scope,
        nameContains: query.q,
        filters: listFiltersOf(query),
        sort: query.sort,
      },
      query.cursor,
      limit,
    );
    const table = await this.conversion.viewerTable(caller);
    return {
      items: page.items.map((row) => toCustomerDto(row, caller, table, scope === 'subtree' ? row.depth - caller.depth : undefined)),
      nextCursor: page.nextCursor,
    };
  }

  async update(caller: Caller, id: string, input: UpdateCustomerDto, expectedVersion?: number): Promise<CustomerDto> {
    // The cheap checks come before the expensive hash (SPEC §11), and again under lock below.
    if (input.webPassword) await this.requireDescendant(caller, id, 'customers.update');
    const passwordHash = input.webPassword ? await this.hasher.hash(input.webPassword) : undefined;
    try {
      return await this.writes.change(caller.customerId, async (tx) => {
        const row = await this.requireDescendant(caller, id, 'customers.update', { tx, lock: 'FOR UPDATE', version: expectedVersion });
        if (input.tariffId && input.tariffId !== row.tariff_id && !(await this.tariffs.isOwnedBy(caller, input.tariffId, row.parent_id!, tx))) {
          throw tariffNotOwned();
        }
        if (input.webLogin && (await this.customers.unscopedLoginTaken(input.webLogin, row.id, tx))) throw loginTaken();
        if (input.name && (await this.customers.siblingNameTaken(caller, row.parent_id!, input.name, row.id, tx))) throw nameTaken();
        if (input.externalId) {
          const existing = await this.customers.siblingWithExternalId(caller, row.parent_id!, input.externalId, row.id, tx);
          if (existing) throw externalIdTaken(existing);
        }
        if (input.routingGroupId) await this.routingGroups.assertExists(input.routingGroupId, '/routingGroupId', tx);
        // A new password or a suspension ends the customer's sessions (SPEC §2).
        const cutsAccess = passwordHash !== undefined || (input.status === 'suspended' && row.status !== 'suspended');
        const updated = await this.customers.update(
          caller,
          row.id,
          {
            name: input.name,
            tariffId: input.tariffId,
            timeZone: input.timeZone,
            language: input.language,
            webLogin: input.webLogin,
            passwordHash,
            creditLimit: input.creditLimit,
            lowBalanceThreshold: input.lowBalanceThreshold,
            status: input.status,
            routingGroupId: input.routingGroupId,
            endSessions: cutsAccess,
            externalId: input.externalId,
            // null clears it, like {}.
            metadata: input.metadata === null ? {} : input.metadata,
            profile: profileOf(input),
          },
          tx,
        );
        if (!updated) throw notVisible(); // locked above: cannot happen
        // The row was found visible above: its tokens are revoked by id.
        if (cutsAccess) await this.refreshTokens.unscopedRevoke({ customerId: row.id }, tx);
        return {
          result: toCustomerDto(updated, caller, await this.conversion.viewerTable(caller, tx)),
          audit: {
            action: 'customer.update',
            targetType: 'customer',
            targetId: row.id,
            subjectPath: row.path,
            before: auditView(row),
            after: { ...auditView(updated), ...(passwordHash ? { webPassword: '***' } : {}) },
          },
        };
      });
    } catch (error) {
      throw await externalIdRace(translateUniqueViolation(error), async () => {
        const row = await this.customers.findVisible(caller, id);
        return row?.parent_id ? this.customers.siblingWithExternalId(caller, row.parent_id, input.externalId!, row.id) : undefined;
      });
    }
  }

  async remove(caller: Caller, id: string, expectedVersion?: number): Promise<void> {
    await this.writes.change(caller.customerId, async (tx) => {
      const row = await this.requireDescendant(caller, id, 'customers.delete', { tx, lock: 'FOR UPDATE', version: expectedVersion });
      const { subCustomers, accounts } = await this.customers.liveContents(caller, row.id, tx);
      if (subCustomers > 0 || accounts > 0) {
        throw new ConflictProblem(
          'customer-not-empty',
          'Customer not empty',
          `The customer still has ${subCustomers} live sub-customer(s) and ${accounts} live account(s); delete them first.`,
          { subCustomers, accounts },
        );
      }
      // Its access ends with it: refresh tokens and API keys are revoked (the row was found visible above).
      await this.refreshTokens.unscopedRevoke({ customerId: row.id }, tx);
      await this.apiKeys.unscopedRevokeAllOf(tx, row.id);
      await this.customers.softDelete(caller, row.id, tx);
      return {
        result: undefined,
        audit: { action: 'customer.delete', targetType: 'customer', targetId: row.id, subjectPath: row.path, before: auditView(row), after: null },
      };
    });
  }

  /**
   * A strict descendant, for a change: the caller's own record is visible (it always sees
   * itself) but not changeable here, a 403 that comes where its 404 would; then the right,
   * then the version.
   */
  private async requireDescendant(caller: Caller, id: string, permission: Permission, options: Omit<AccessOptions, 'permission' | 'mode'> = {}): Promise<CustomerRow> {
    if (id.toLowerCase() === caller.customerId.toLowerCase()) throw selfChange();
    return requireAccess(this.customers, caller, id, { ...options, permission, mode: 'descendants', what: 'customer' });
  }
}
