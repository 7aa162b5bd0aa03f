import { Body, Controller, Header, Headers, Post, Res } from '@nestjs/common';
import { ApiCreatedResponse, ApiExtraModels, ApiOperation, ApiProduces, ApiTags, getSchemaPath } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { CurrentCaller } from '../auth/current-caller.decorator';
import { IdempotentReplay } from '../common/idempotency/idempotency.interceptor';
import { ApiProblems } from '../common/openapi/api-problems.decorator';
import { UuidParam } from '../common/openapi/uuid-param';
import { ExpensiveEndpoint } from '../common/rate-limit';
import { prefersCsv } from '../tariffs/rates/rates.controller';
import { Caller } from '../tree/caller';
import { AccountBatchesService } from './account-batches.service';
import { AccountBatchDto, CardDto, CreateAccountBatchDto } from './dto/account-batch.dto';

const CSV_CONTENT_TYPE = 'text/csv; charset=utf-8';
export const CARDS_CSV_HEADER = 'id,username,pin';
const EXAMPLE_CARD = { id: '3f0c6a52-8d0e-4c55-9a43-1b6f0e7d2a10', username: 'card-000001', pin: '04718265' };

/** The batch as CSV: a header line, then one line per card (ids, usernames and PINs never need quoting). */
export function cardsCsv(batch: AccountBatchDto): string {
  const lines = [CARDS_CSV_HEADER];
  for (const card of batch.items) lines.push(`${card.id},${card.username},${card.pin ?? ''}`);
  return lines.join('\n') + '\n';
}

/**
 * What an idempotent replay holds and answers: the batch without its PINs (`pin: null`),
 * always as JSON. The PINs were delivered once and are stored nowhere in clear.
 */
export function withoutPins(body: unknown): AccountBatchDto {
  let items: CardDto[] = [];
  if (typeof body === 'string') {
    items = body
      .split('\n')
      .slice(1)
      .filter((line) => line.length > 0)
      .map((line) => {
        const [id, username] = line.split(',');
        return { id, username, pin: null };
      });
  } else if (body && typeof body === 'object' && Array.isArray((body as AccountBatchDto).items)) {
    items = (body as AccountBatchDto).items.map(({ id, username }) => ({ id, username, pin: null }));
  }
  return { count: items.length, items };
}

@ApiTags('accounts')
@ApiExtraModels(AccountBatchDto)
@Controller('v1/customers/:id/account-batches')
export class AccountBatchesController {
  constructor(private readonly batches: AccountBatchesService) {}

  @Post()
  @ExpensiveEndpoint('account-batches')
  @Header('Cache-Control', 'no-store')
  // The PINs are never stored, so never replayed; a replay still needs the right.
  @IdempotentReplay({ permission: 'accounts.create', store: withoutPins })
  @ApiOperation({
    summary: 'Create a batch of prepaid-card accounts (1–10,000) with generated usernames and random PINs, all or none.',
    description:
      'Each account gets the username `usernamePrefix` + a sequence number zero-padded to at least 6 digits (`card-000001`), ' +
      'numbered after the highest number a live account with that prefix already has (or from `firstNumber`), and a random PIN ' +
      '(`pinLength` digits, default 8, from a cryptographic generator) as both its VoIP and web password. Everything else is as for ' +
      '`POST /v1/accounts`, the same for every account. All or none, in one transaction: a username already taken is a ' +
      '`409 username-taken` naming it, and nothing is written. A non-zero `balance` is each account’s opening ledger entry and ' +
      'needs `balances.operate`.\n\n' +
      '**The PINs are in this answer only**: JSON, or CSV (`id,username,pin`) with `Accept: text/csv`. They are not in the audit ' +
      'trail or the logs, and an idempotent replay (same `Idempotency-Key` and body) answers the batch as JSON with `pin: null` ' +
      '(and only while the caller still holds `accounts.create`). A client that lost the answer sets new passwords with PATCH or ' +
      'deletes the accounts.',
  })
  @ApiProduces('application/json', 'text/csv')
  @ApiCreatedResponse({
    description: 'The new accounts, in sequence order.',
    content: {
      'application/json': {
        schema: { $ref: getSchemaPath(AccountBatchDto) },
        example: { count: 2, items: [EXAMPLE_CARD, { id: 'a41d7c0e-59b2-4f7e-8c1d-2e6f3b9a8d45', username: 'card-000002', pin: '93305127' }] },
      },
      'text/csv': {
        schema: { type: 'string' },
        example: `${CARDS_CSV_HEADER}\n${EXAMPLE_CARD.id},${EXAMPLE_CARD.username},${EXAMPLE_CARD.pin}\n`,
      },
    },
  })
  @ApiProblems(400, 403, 404, 409, 429)
  async createAccountBatch(
    @CurrentCaller() caller: Caller,
    @UuidParam() id: string,
    @Body() body: CreateAccountBatchDto,
    @Headers('accept') accept: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<AccountBatchDto | string> {
    const batch = await this.batches.create(caller, id, body);
    void reply.header('vary', 'Accept');
    if (!prefersCsv(accept)) return batch;
    void reply.header('content-type', CSV_CONTENT_TYPE).header('content-disposition', `attachment; filename="${body.usernamePrefix}cards.csv"`);
    return cardsCsv(batch);
  }
}
