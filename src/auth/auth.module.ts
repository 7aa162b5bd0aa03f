import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { JwtModule } from '@nestjs/jwt';
import { CallerRateLimiter } from '../common/rate-limit';
import { PassportModule } from '@nestjs/passport';
import { ApiKeysController } from './api-keys.controller';
import { ApiKeysService } from './api-keys.service';
import { AuthController } from './auth.controller';
import { AuthenticationGuard } from './auth.guard';
import { AuthService } from './auth.service';
import { CallerResolver } from './caller.resolver';
import { JwtStrategy } from './jwt.strategy';
import { LoginLimiter } from './login-limiter';
import { PasswordHasher } from './password-hasher';
import { TokenService } from './token.service';

@Module({
  imports: [PassportModule, JwtModule.register({})],
  controllers: [AuthController, ApiKeysController],
  providers: [
    { provide: APP_GUARD, useClass: AuthenticationGuard },
    ApiKeysService,
    AuthService,
    CallerRateLimiter,
    CallerResolver,
    JwtStrategy,
    LoginLimiter,
    PasswordHasher,
    TokenService,
  ],
  exports: [LoginLimiter, PasswordHasher, TokenService],
})
export class AuthModule {}
