import { Body, Controller, Delete, Get, Headers, HttpCode, Patch, Post, Query, Res, UseGuards } from '@nestjs/common';
import { ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { CurrentCaller } from '../auth/current-caller.decorator';
import { etagOf, expectedVersion } from '../common/etag';
import { ApiProblems } from '../common/openapi/api-problems.decorator';
import { ApiIfMatch } from '../common/openapi/etag.decorators';
import { UuidParam } from '../common/openapi/uuid-param';
import { DEFAULT_PAGE_SIZE } from '../common/pagination';
import { ExpensiveEndpoint } from '../common/rate-limit';
import { Caller } from '../tree/caller';
import { AccountsService } from './accounts.service';
import { ApiMetadataFilter } from '../customers/dto/list-query';
import { ListQueryGuard } from '../customers/list-query.guard';
import { ACCOUNT_LIST_PARAMETERS, AccountDto, AccountListQueryDto, AccountPageDto, CreateAccountDto, UpdateAccountDto } from './dto/account.dto';

const ETAG_HEADER = { ETag: { schema: { type: 'string' } } };

@ApiTags('accounts')
@Controller('v1/accounts')
export class AccountsController {
  constructor(private readonly accounts: AccountsService) {}

  @Post()
  @ApiOperation({
    summary: 'Create an account for the caller (or for a visible `customerId`).',
    description: '`webPassword` and `voipPassword` are write-only: never returned, masked in audit events.',
  })
  @ApiCreatedResponse({ type: AccountDto, headers: ETAG_HEADER })
  @ApiProblems(400, 403, 404, 409)
  async createAccount(
    @CurrentCaller() caller: Caller,
    @Body() body: CreateAccountDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<AccountDto> {
    const account = await this.accounts.create(caller, body);
    void reply.header('etag', etagOf(account.version)).header('location', `/v1/accounts/${account.id}`);
    return account;
  }

  @Get()
  // Subtree lists and balance sorts read a whole scope (docs/integrators.md, "Lists"): limited per caller like customer lists.
  @ExpensiveEndpoint('account-lists')
  @ApiOperation({
    summary: 'List the caller’s own accounts, a visible customer’s (`customerId`), or a whole subtree’s (`scope=subtree`).',
    description:
      'Oldest first by default, or `sort=name|createdAt|balance` (`name`: the username; `-` for descending); a cursor works only with the sort it came from. ' +
      'Filters (all must match): `q`, `status`, `createdFrom`/`createdTo`, `balanceBelow`, `externalId`, `metadata[key]=value`. Any other parameter is a 400 naming it.',
  })
  @UseGuards(new ListQueryGuard(ACCOUNT_LIST_PARAMETERS))
  @ApiMetadataFilter()
  @ApiOkResponse({ type: AccountPageDto })
  @ApiProblems(400, 404, 429)
  listAccounts(@CurrentCaller() caller: Caller, @Query() query: AccountListQueryDto): Promise<AccountPageDto> {
    return this.accounts.list(caller, query, query.limit ?? DEFAULT_PAGE_SIZE);
  }

  @Get(':id')
  @ApiOperation({ summary: 'Get an account of the caller or of its subtree.' })
  @ApiOkResponse({ type: AccountDto, headers: ETAG_HEADER })
  @ApiProblems(400, 404)
  async getAccount(
    @CurrentCaller() caller: Caller,
    @UuidParam() id: string,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<AccountDto> {
    const account = await this.accounts.get(caller, id);
    void reply.header('etag', etagOf(account.version));
    return account;
  }

  @Patch(':id')
  @ApiOperation({ summary: 'Change an account. `balance` is not writable: use balance operations.' })
  @ApiIfMatch()
  @ApiOkResponse({ type: AccountDto, headers: ETAG_HEADER })
  @ApiProblems(400, 403, 404, 409, 412)
  async updateAccount(
    @CurrentCaller() caller: Caller,
    @UuidParam() id: string,
    @Body() body: UpdateAccountDto,
    @Headers('if-match') ifMatch: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<AccountDto> {
    const account = await this.accounts.update(caller, id, body, expectedVersion(ifMatch));
    void reply.header('etag', etagOf(account.version));
    return account;
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete an account (its username becomes free; its ledger is kept).' })
  @ApiIfMatch()
  @ApiNoContentResponse()
  @ApiProblems(400, 403, 404, 412)
  async deleteAccount(
    @CurrentCaller() caller: Caller,
    @UuidParam() id: string,
    @Headers('if-match') ifMatch: string | undefined,
  ): Promise<void> {
    await this.accounts.remove(caller, id, expectedVersion(ifMatch));
  }
}
