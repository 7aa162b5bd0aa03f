import { ApiProperty } from '@nestjs/swagger';
import { ArrayMaxSize, IsArray, IsIn } from 'class-validator';
import { ALL_PERMISSIONS } from '../permission.catalogue';

export class PermissionInfoDto {
  @ApiProperty({ enum: ALL_PERMISSIONS })
  name!: string;
  @ApiProperty()
  description!: string;
}

export class PermissionCatalogueDto {
  @ApiProperty({ type: [PermissionInfoDto] })
  items!: PermissionInfoDto[];
  @ApiProperty({ type: String, nullable: true })
  nextCursor!: string | null;
}

export class ReplacePermissionsDto {
  @ApiProperty({ enum: ALL_PERMISSIONS, isArray: true, description: 'The complete new set of grants (at most the caller’s own rights).' })
  @IsArray()
  @ArrayMaxSize(ALL_PERMISSIONS.length)
  @IsIn(ALL_PERMISSIONS, { each: true, message: 'each value in permissions must be a permission from /v1/permissions' })
  permissions!: string[];
}

export class CustomerPermissionsDto {
  @ApiProperty({ format: 'uuid' })
  customerId!: string;
  @ApiProperty({ enum: ALL_PERMISSIONS, isArray: true, description: 'What was granted to the customer.' })
  permissions!: string[];
  @ApiProperty({ enum: ALL_PERMISSIONS, isArray: true, description: 'What it may actually do: its grants ∩ its parent’s effective rights.' })
  effective!: string[];
}
