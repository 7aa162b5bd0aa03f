import { Injectable } from '@nestjs/common';
import { RefreshTokensRepository } from '../auth/refresh-tokens.repository';
import { LoginLimiter } from '../auth/login-limiter';
import { PasswordHasher } from '../auth/password-hasher';
import { assertVersion } from '../common/etag';
import { Big, formatMoney } from '../common/money';
import { ProblemError, ValidationProblem } from '../common/problem/problem';
import { ConversionService } from '../currencies/conversion.service';
import { FindOptions, requireAccess } from '../database/access';
import { Writes } from '../database/writes';
import { ALL_PERMISSIONS } from '../permissions/permission.catalogue';
import { AccountCaller, Caller, isAccountCaller } from '../tree/caller';
import { notVisible } from '../tree/scope';
import { CustomerRow, CustomersRepository, toCustomerDto } from './customers.repository';
import { AccountMeDto, MeDto, UpdateMeDto } from './dto/me.dto';
import { MeRepository, OwnAccountRow } from './me.repository';
import { isoTime } from '../common/iso-time';

const passwordSessionRequired = () =>
  new ProblemError(
    403,
    'password-session-required',
    'Password session required',
    'A password can only be changed in a session opened with the password (POST /v1/auth/login), not with an API key.',
  );

/** What an audit event records of a change to oneself (never a password or a hash). */
const auditView = (row: CustomerRow) => ({ timeZone: row.time_zone, language: row.language });

/** Self-service: the caller's own record, and what its parent does not control. */
@Injectable()
export class MeService {
  constructor(
    private readonly writes: Writes,
    private readonly customers: CustomersRepository,
    private readonly hasher: PasswordHasher,
    private readonly conversion: ConversionService,
    private readonly limiter: LoginLimiter,
    private readonly refreshTokens: RefreshTokensRepository,
    private readonly ownAccounts: MeRepository,
  ) {}

  async get(caller: Caller): Promise<MeDto | AccountMeDto> {
    if (isAccountCaller(caller)) return toAccountMe(await this.findOwnAccount(caller));
    return this.toMe(await requireAccess(this.customers, caller, caller.customerId, { what: 'customer' }), caller);
  }

  /** `clientAddress` is where the request came from: a guess of the current password counts against it. */
  async update(caller: Caller, input: UpdateMeDto, expectedVersion: number | undefined, clientAddress: string): Promise<MeDto | AccountMeDto> {
    if (isAccountCaller(caller)) return this.updateAccount(caller, input, expectedVersion, clientAddress);
    // The cheap checks come before the password's (SPEC §11), and again under lock below.
    const current = await requireAccess(this.customers, caller, caller.customerId, { version: expectedVersion, what: 'customer' });
    let passwordHash: string | undefined;
    if (input.newPassword !== undefined || input.currentPassword !== undefined) {
      // A key (a machine) never changes the password of the customer it acts for.
      if (caller.authMethod !== 'password') throw passwordSessionRequired();
      if (input.currentPassword === undefined) {
        throw new ValidationProblem([{ pointer: '/currentPassword', detail: 'currentPassword is required to set newPassword' }]);
      }
      if (input.newPassword === undefined) {
        throw new ValidationProblem([{ pointer: '/newPassword', detail: 'newPassword is required with currentPassword' }]);
      }
      // A guess of the current password is a login attempt: same limiter, same keys (SPEC §2).
      await this.limiter.beginAttempt(current.web_login, clientAddress);
      if (!(await this.hasher.verify(await this.customers.ownPasswordHash(caller), input.currentPassword))) {
        throw new ValidationProblem([{ pointer: '/currentPassword', detail: 'currentPassword is incorrect' }]);
      }
      await this.limiter.recordSuccess(current.web_login, clientAddress);
      passwordHash = await this.hasher.hash(input.newPassword);
    }
    const row = await this.writes.change(caller.customerId, async (tx) => {
      // Changed since the check above: the If-Match no longer holds (412).
      const before = await requireAccess(this.customers, caller, caller.customerId, { tx, lock: 'FOR UPDATE', version: expectedVersion, what: 'customer' });
      const after = await this.customers.update(
        caller,
        caller.customerId,
        { passwordHash, timeZone: input.timeZone, language: input.language, endSessions: passwordHash !== undefined },
        tx,
      );
      if (!after) throw notVisible(); // locked above: cannot happen
      // A new password ends the other sessions too (SPEC §2).
      if (passwordHash) await this.refreshTokens.revokeOwn(caller, { tx });
      return {
        result: after,
        audit: {
          action: 'me.update',
          targetType: 'customer',
          targetId: caller.customerId,
          subjectPath: before.path,
          before: auditView(before),
          after: { ...auditView(after), ...(passwordHash ? { webPassword: '***' } : {}) },
        },
      };
    });
    return this.toMe(row, caller);
  }

  private async toMe(row: CustomerRow, caller: Caller): Promise<MeDto> {
    return {
      kind: 'customer',
      ...toCustomerDto(row, caller, await this.conversion.viewerTable(caller)),
      permissions: ALL_PERMISSIONS.filter((p) => caller.permissions.has(p)),
    };
  }

  private async findOwnAccount(caller: AccountCaller, options: FindOptions & { version?: number } = {}): Promise<OwnAccountRow> {
    const row = await this.ownAccounts.findOwnAccount(caller, options);
    // Deleted between the guard and here: the same 404 as any object gone.
    if (!row) throw notVisible('account');
    if (options.version !== undefined) assertVersion(options.version, row.version);
    return row;
  }

  /**
   * An account principal's own changes (SPEC §2): its password (the current one required;
   * a wrong one counts against the login limiter under its username), time zone, language.
   * The actor of the audit event is the account itself; customers above it see it there.
   */
  private async updateAccount(caller: AccountCaller, input: UpdateMeDto, expectedVersion: number | undefined, clientAddress: string): Promise<AccountMeDto> {
    const current = await this.findOwnAccount(caller, { version: expectedVersion });
    let passwordHash: string | undefined;
    if (input.newPassword !== undefined || input.currentPassword !== undefined) {
      if (input.currentPassword === undefined) {
        throw new ValidationProblem([{ pointer: '/currentPassword', detail: 'currentPassword is required to set newPassword' }]);
      }
      if (input.newPassword === undefined) {
        throw new ValidationProblem([{ pointer: '/newPassword', detail: 'newPassword is required with currentPassword' }]);
      }
      const limiterKey = `account:${current.username}`;
      await this.limiter.beginAttempt(limiterKey, clientAddress);
      const hash = await this.ownAccounts.ownAccountPasswordHash(caller);
      if (!hash || !(await this.hasher.verify(hash, input.currentPassword))) {
        throw new ValidationProblem([{ pointer: '/currentPassword', detail: 'currentPassword is incorrect' }]);
      }
      await this.limiter.recordSuccess(limiterKey, clientAddress);
      passwordHash = await this.hasher.hash(input.newPassword);
    }
    const row = await this.writes.change(caller.customerId, async (tx) => {
      const before = await this.findOwnAccount(caller, { tx, lock: 'FOR UPDATE', version: expectedVersion });
      const after = await this.ownAccounts.updateOwnAccount(caller, { passwordHash, timeZone: input.timeZone, language: input.language }, tx);
      if (!after) throw notVisible('account'); // locked above: cannot happen
      // A new password ends its other sessions too (its auth epoch moved: access tokens end as well).
      if (passwordHash) await this.refreshTokens.revokeOwn(caller, { tx });
      return {
        result: after,
        audit: {
          // An account changing itself is an account update (the event `account.updated`).
          action: 'account.update',
          targetType: 'account',
          targetId: caller.accountId,
          subjectPath: before.customer_path,
          before: accountAuditView(before),
          after: { ...accountAuditView(after), ...(passwordHash ? { webPassword: '***' } : {}) },
        },
      };
    });
    return toAccountMe(row);
  }
}

const accountAuditView = (row: OwnAccountRow) => ({ timeZone: row.time_zone, language: row.language });

function toAccountMe(row: OwnAccountRow): AccountMeDto {
  const balance = new Big(row.balance);
  const creditLimit = new Big(row.credit_limit);
  return {
    kind: 'account',
    id: row.id,
    username: row.username,
    timeZone: row.time_zone,
    language: row.language,
    balance: formatMoney(balance),
    creditLimit: formatMoney(creditLimit),
    availableCredit: formatMoney(balance.plus(creditLimit)),
    currency: row.currency,
    status: row.status,
    createdAt: isoTime(row.created_at),
    updatedAt: isoTime(row.updated_at),
    version: row.version,
  };
}
