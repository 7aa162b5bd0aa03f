import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { AuditService } from '../audit/audit.service';
import { LoginLimiter } from '../auth/login-limiter';
import { PasswordHasher } from '../auth/password-hasher';
import { currentRequest } from '../common/request-context';
import { ConversionService } from '../currencies/conversion.service';
import { assertVersion } from '../common/etag';
import { PreconditionFailedProblem, ProblemError, ValidationProblem } from '../common/problem/problem';
import { ALL_PERMISSIONS } from '../permissions/permission.catalogue';
import { Caller } from '../tree/caller';
import { notVisible } from '../tree/scope';
import { CUSTOMER_COLUMNS, CustomerRow, CustomersRepository, toCustomerDto } from './customers.repository';
import { MeDto, UpdateMeDto } from './dto/me.dto';
import { returnedRows } from '../database/sql';

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
    private readonly dataSource: DataSource,
    private readonly customers: CustomersRepository,
    private readonly hasher: PasswordHasher,
    private readonly conversion: ConversionService,
    private readonly limiter: LoginLimiter,
    private readonly audit: AuditService,
  ) {}

  async get(caller: Caller): Promise<MeDto> {
    const row = await this.customers.findVisible(caller, caller.customerId, 'self-and-descendants');
    if (!row) throw notVisible();
    return this.toMe(row, caller);
  }

  async update(caller: Caller, input: UpdateMeDto, expectedVersion?: number): Promise<MeDto> {
    const current = await this.customers.findVisible(caller, caller.customerId, 'self-and-descendants');
    if (!current) throw notVisible();
    assertVersion(expectedVersion, current.version);
    let passwordHash: string | null = null;
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
      const clientAddress = currentRequest()?.clientAddress ?? 'unknown';
      await this.limiter.beginAttempt(current.web_login, clientAddress);
      if (!(await this.hasher.verify(await this.customers.passwordHash(current.id), input.currentPassword))) {
        throw new ValidationProblem([{ pointer: '/currentPassword', detail: 'currentPassword is incorrect' }]);
      }
      await this.limiter.recordSuccess(current.web_login, clientAddress);
      passwordHash = await this.hasher.hash(input.newPassword);
    }
    const row = await this.dataSource.transaction(async (m) => {
      const rows = returnedRows<CustomerRow>(await m.query(
        `UPDATE customers c SET web_password_hash = COALESCE($2, web_password_hash), time_zone = COALESCE($3, time_zone),
                language = COALESCE($4, language), auth_epoch = auth_epoch + $5, version = version + 1, updated_at = now()
          WHERE id = $1 AND deleted_at IS NULL AND ($6::integer IS NULL OR version = $6) RETURNING ${CUSTOMER_COLUMNS}`,
        [caller.customerId, passwordHash, input.timeZone ?? null, input.language ?? null, passwordHash ? 1 : 0, expectedVersion ?? null],
      ));
      // Changed since the check above: the If-Match no longer holds.
      if (!rows.length) throw new PreconditionFailedProblem();
      if (passwordHash) {
        await m.query(`UPDATE refresh_tokens SET revoked_at = now() WHERE customer_id = $1 AND revoked_at IS NULL`, [caller.customerId]);
      }
      await this.audit.record(m, {
        actorId: caller.customerId,
        action: 'me.update',
        targetType: 'customer',
        targetId: caller.customerId,
        subjectPath: current.path,
        changes: { before: auditView(current), after: { ...auditView(rows[0]), ...(passwordHash ? { webPassword: '***' } : {}) } },
      });
      return rows[0];
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
