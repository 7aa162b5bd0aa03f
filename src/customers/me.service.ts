import { Injectable } from '@nestjs/common';
import { RefreshTokensRepository } from '../auth/refresh-tokens.repository';
import { LoginLimiter } from '../auth/login-limiter';
import { PasswordHasher } from '../auth/password-hasher';
import { ProblemError, ValidationProblem } from '../common/problem/problem';
import { ConversionService } from '../currencies/conversion.service';
import { requireAccess } from '../database/access';
import { Writes } from '../database/writes';
import { ALL_PERMISSIONS } from '../permissions/permission.catalogue';
import { Caller } from '../tree/caller';
import { notVisible } from '../tree/scope';
import { CustomerRow, CustomersRepository, toCustomerDto } from './customers.repository';
import { MeDto, UpdateMeDto } from './dto/me.dto';

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
  ) {}

  async get(caller: Caller): Promise<MeDto> {
    return this.toMe(await requireAccess(this.customers, caller, caller.customerId, { what: 'customer' }), caller);
  }

  /** `clientAddress` is where the request came from: a guess of the current password counts against it. */
  async update(caller: Caller, input: UpdateMeDto, expectedVersion: number | undefined, clientAddress: string): Promise<MeDto> {
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
      ...toCustomerDto(row, caller, await this.conversion.viewerTable(caller)),
      permissions: ALL_PERMISSIONS.filter((p) => caller.permissions.has(p)),
    };
  }
}
