import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { JwtModule } from '@nestjs/jwt';
import { CallerRateLimiter } from '../common/rate-limit';
import { PostgresRateLimiters } from '../database/rate-limiter-store';
import { ApiKeysController } from './api-keys.controller';
import { ApiKeysRepository } from './api-keys.repository';
import { ApiKeysService } from './api-keys.service';
import { AuthController } from './auth.controller';
import { AuthenticationGuard } from './auth.guard';
import { AuthService } from './auth.service';
import { CallerResolver } from './caller.resolver';
import { CallersRepository } from './callers.repository';
import { JwtStrategy } from './jwt.strategy';
import { LoginLimiter } from './login-limiter';
import { PasswordHasher } from './password-hasher';
import { RefreshTokensRepository } from './refresh-tokens.repository';
import { TokenService } from './token.service';

@Module({
  imports: [JwtModule.register({})],
  controllers: [AuthController, ApiKeysController],
  providers: [
    { provide: APP_GUARD, useClass: AuthenticationGuard },
    ApiKeysRepository,
    ApiKeysService,
    AuthService,
    CallerRateLimiter,
    CallerResolver,
    CallersRepository,
    JwtStrategy,
    LoginLimiter,
    PasswordHasher,
    PostgresRateLimiters,
    RefreshTokensRepository,
    TokenService,
  ],
  // The repositories are exported for the customers module: deleting a customer and a
  // password change revoke its keys and sessions.
  exports: [ApiKeysRepository, LoginLimiter, PasswordHasher, RefreshTokensRepository, TokenService],
})
export class AuthModule {}
