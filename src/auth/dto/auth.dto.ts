import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, MaxLength, MinLength } from 'class-validator';

export class LoginDto {
  @ApiProperty({ example: 'root', maxLength: 64 })
  @IsString()
  @MinLength(1)
  @MaxLength(64)
  login!: string;

  @ApiProperty({ example: 'correct horse battery staple', maxLength: 256 })
  @IsString()
  @MinLength(1)
  @MaxLength(256)
  password!: string;
}

export class AccountLoginDto {
  @ApiProperty({ description: 'The account’s SIP username (exact).', example: 'alice-1001', maxLength: 64 })
  @IsString()
  @MinLength(1)
  @MaxLength(64)
  username!: string;

  @ApiProperty({ description: 'The account’s web password.', example: 'correct horse battery staple', maxLength: 256 })
  @IsString()
  @MinLength(1)
  @MaxLength(256)
  password!: string;
}

export class RefreshDto {
  @ApiProperty()
  @IsString()
  @MinLength(1)
  @MaxLength(256)
  refreshToken!: string;
}

export class LogoutDto {
  @ApiPropertyOptional({ description: 'Revoke this token’s chain only; without it every refresh token of the caller is revoked.' })
  @IsOptional()
  @IsString()
  @MaxLength(256)
  refreshToken?: string;
}

export class ApiKeyTokenDto {
  @ApiProperty({ description: 'An API key secret as returned once by POST /v1/api-keys.' })
  @IsString()
  @MinLength(1)
  @MaxLength(256)
  apiKey!: string;
}

export class TokenPairDto {
  @ApiProperty()
  accessToken!: string;
  @ApiProperty({ enum: ['Bearer'] })
  tokenType!: 'Bearer';
  @ApiProperty({ description: 'Access-token lifetime in seconds.', example: 900 })
  expiresIn!: number;
  @ApiProperty()
  refreshToken!: string;
}
