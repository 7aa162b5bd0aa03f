import { Body, Controller, Header, HttpCode, Post, Req } from '@nestjs/common';
import { ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { ApiProblems } from '../common/openapi/api-problems.decorator';
import { Caller } from '../tree/caller';
import { AuthService } from './auth.service';
import { CurrentCaller } from './current-caller.decorator';
import { AccountLoginDto, ApiKeyTokenDto, LoginDto, LogoutDto, RefreshDto, TokenPairDto } from './dto/auth.dto';
import { Public } from './public.decorator';
import { TokenService } from './token.service';

@ApiTags('auth')
@Controller('v1/auth')
export class AuthController {
  constructor(
    private readonly auth: AuthService,
    private readonly tokens: TokenService,
  ) {}

  @Public()
  @Post('login')
  @HttpCode(200)
  @Header('Cache-Control', 'no-store')
  @ApiOperation({ summary: 'Log in with web login and password.', description: 'Wrong login and wrong password give the same 401. Repeated failures per login or per client address answer 429 with Retry-After.' })
  @ApiOkResponse({ type: TokenPairDto })
  @ApiProblems(400, 401, 429)
  login(@Body() body: LoginDto, @Req() request: FastifyRequest): Promise<TokenPairDto> {
    return this.auth.login(body.login, body.password, request.ip);
  }

  @Public()
  @Post('account-login')
  @HttpCode(200)
  @Header('Cache-Control', 'no-store')
  @ApiOperation({
    summary: 'Log in as an account (self-care) with its SIP username and web password.',
    description:
      'Returns the same token pair as a customer login, for an **account principal**: it sees only itself — ' +
      '`GET`/`PATCH /v1/me`, `GET /v1/accounts/{its id}` with its ledger (`/balance-operations`) and statement, ' +
      'and its own calls (`GET /v1/calls`, `GET /v1/calls/{id}`, only its own charge). Every other object is a 404, every other action a 403. ' +
      'Wrong username and wrong password give the same 401, as do a blocked account and one whose customer (or any customer above) is suspended. ' +
      'Repeated failures per username or per client address answer 429 with Retry-After. Refresh and logout work as for customers.',
  })
  @ApiOkResponse({ type: TokenPairDto })
  @ApiProblems(400, 401, 429)
  accountLogin(@Body() body: AccountLoginDto, @Req() request: FastifyRequest): Promise<TokenPairDto> {
    return this.auth.accountLogin(body.username, body.password, request.ip);
  }

  @Public()
  @Post('refresh')
  @HttpCode(200)
  @Header('Cache-Control', 'no-store')
  @ApiOperation({ summary: 'Rotate a refresh token.', description: 'The old token stops working; presenting it again revokes the whole chain.' })
  @ApiOkResponse({ type: TokenPairDto })
  @ApiProblems(400, 401)
  async refresh(@Body() body: RefreshDto): Promise<TokenPairDto> {
    return (await this.tokens.rotate(body.refreshToken)).pair;
  }

  @Post('logout')
  @HttpCode(204)
  @ApiOperation({ summary: 'Revoke refresh tokens (one chain, or all of the caller’s).' })
  @ApiNoContentResponse()
  @ApiProblems(400)
  async logout(@CurrentCaller() caller: Caller, @Body() body: LogoutDto): Promise<void> {
    await this.tokens.revoke(caller, body.refreshToken);
  }

  @Public()
  @Post('token')
  @HttpCode(200)
  @Header('Cache-Control', 'no-store')
  @ApiOperation({ summary: 'Exchange an API key for an access token.', description: 'Failed exchanges are limited per client address (429 with Retry-After).' })
  @ApiOkResponse({ type: TokenPairDto })
  @ApiProblems(400, 401, 429)
  exchangeApiKey(@Body() body: ApiKeyTokenDto, @Req() request: FastifyRequest): Promise<TokenPairDto> {
    return this.auth.exchangeApiKey(body.apiKey, request.ip);
  }
}
