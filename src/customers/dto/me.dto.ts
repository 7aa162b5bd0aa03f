import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, MaxLength, MinLength } from 'class-validator';
import { IsLanguage, IsTimeZone } from '../../common/validation';
import { PERMISSIONS } from '../../permissions/permission.catalogue';
import { CustomerDto } from './customer.dto';

export class MeDto extends CustomerDto {
  @ApiProperty({ enum: ['customer'], description: 'A customer’s session (login or API key).' })
  kind!: 'customer';

  @ApiProperty({ enum: Object.keys(PERMISSIONS), isArray: true, description: 'Effective permissions.' })
  permissions!: string[];
}

/** An account principal's own record (self-care, `POST /v1/auth/account-login`): nothing of its customer but its currency. */
export class AccountMeDto {
  @ApiProperty({ enum: ['account'], description: 'An account’s self-care session.' })
  kind!: 'account';
  @ApiProperty({ format: 'uuid' })
  id!: string;
  @ApiProperty({ example: 'alice@sip.example' })
  username!: string;
  @ApiProperty({ example: 'Europe/Paris' })
  timeZone!: string;
  @ApiProperty({ example: 'en' })
  language!: string;
  @ApiProperty({ example: '12.50000000', description: 'In `currency`.' })
  balance!: string;
  @ApiProperty({ example: '0.00000000' })
  creditLimit!: string;
  @ApiProperty({ example: '12.50000000', description: 'balance + creditLimit.' })
  availableCredit!: string;
  @ApiProperty({ example: 'USD', description: 'The account’s money is in its customer’s base currency.' })
  currency!: string;
  @ApiProperty({ enum: ['active', 'blocked'] })
  status!: string;
  @ApiProperty({ type: String, format: 'date-time' })
  createdAt!: string;
  @ApiProperty({ type: String, format: 'date-time' })
  updatedAt!: string;
  @ApiProperty()
  version!: number;
}

export class UpdateMeDto {
  @ApiPropertyOptional({ writeOnly: true, description: 'Required with newPassword.' })
  @IsOptional()
  @IsString()
  @MaxLength(256)
  currentPassword?: string;

  @ApiPropertyOptional({ minLength: 8, maxLength: 256, writeOnly: true, description: 'Changing it ends every session; log in again.' })
  @IsOptional()
  @IsString()
  @MinLength(8)
  @MaxLength(256)
  newPassword?: string;

  @ApiPropertyOptional({ example: 'Europe/Paris' })
  @IsOptional()
  @IsTimeZone()
  timeZone?: string;

  @ApiPropertyOptional({ example: 'en' })
  @IsOptional()
  @IsLanguage()
  language?: string;
}
