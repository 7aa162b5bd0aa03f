import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, MaxLength, MinLength } from 'class-validator';
import { IsLanguage, IsTimeZone } from '../../common/validation';
import { PERMISSIONS } from '../../permissions/permission.catalogue';
import { CustomerDto } from './customer.dto';

export class MeDto extends CustomerDto {
  @ApiProperty({ enum: Object.keys(PERMISSIONS), isArray: true, description: 'Effective permissions.' })
  permissions!: string[];
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
