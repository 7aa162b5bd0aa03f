import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { PasswordHasher } from '../auth/password-hasher';
import { ConversionService } from '../currencies/conversion.service';
import { assertVersion } from '../common/etag';
import { PreconditionFailedProblem, ValidationProblem } from '../common/problem/problem';
import { ALL_PERMISSIONS } from '../permissions/permission.catalogue';
import { Caller } from '../tree/caller';
import { notVisible } from '../tree/scope';
import { CUSTOMER_COLUMNS, CustomerRow, CustomersRepository, toCustomerDto } from './customers.repository';
import { MeDto, UpdateMeDto } from './dto/me.dto';
import { returnedRows } from '../database/sql';

/** Self-service: the caller's own record, and what its parent does not control. */
@Injectable()
export class MeService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly customers: CustomersRepository,
    private readonly hasher: PasswordHasher,
    private readonly conversion: ConversionService,
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
    if (input.newPassword !== undefined) {
      if (input.currentPassword === undefined) {
        throw new ValidationProblem([{ pointer: '/currentPassword', detail: 'currentPassword is required to set newPassword' }]);
      }
      if (!(await this.hasher.verify(await this.customers.passwordHash(current.id), input.currentPassword))) {
        throw new ValidationProblem([{ pointer: '/currentPassword', detail: 'currentPassword is incorrect' }]);
      }
      passwordHash = await this.hasher.hash(input.newPassword);
    } else if (input.currentPassword !== undefined) {
      throw new ValidationProblem([{ pointer: '/newPassword', detail: 'newPassword is required with currentPassword' }]);
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
