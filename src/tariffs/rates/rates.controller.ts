import { Body, Controller, Delete, Get, Headers, HttpCode, Patch, Post, Put, Query, Res } from '@nestjs/common';
import { ExpensiveEndpoint } from '../../common/rate-limit';
import {
  ApiBody,
  ApiConsumes,
  ApiCreatedResponse,
  ApiExtraModels,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiProduces,
  ApiResponse,
  ApiTags,
  getSchemaPath,
} from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { Readable } from 'node:stream';
import { CurrentCaller } from '../../auth/current-caller.decorator';
import { BodyLimit } from '../../common/body-limit';
import { etagOf, expectedVersion } from '../../common/etag';
import { ApiProblems } from '../../common/openapi/api-problems.decorator';
import { ApiIfMatch } from '../../common/openapi/etag.decorators';
import { UuidParam } from '../../common/openapi/uuid-param';
import { DEFAULT_PAGE_SIZE } from '../../common/pagination';
import { PROBLEM_CONTENT_TYPE, ProblemError } from '../../common/problem/problem';
import { Caller } from '../../tree/caller';
import {
  CreateRateDto,
  RateDeckProblemDto,
  RateDeckQueryDto,
  RateDeckResultDto,
  RateDto,
  RateListQueryDto,
  RateLookupQueryDto,
  RatePageDto,
  UpdateRateDto,
} from './dto/rate.dto';
import { CSV_BODY_LIMIT, RATE_DECK_DESCRIPTION, RATE_DECK_HEADER } from './rate-deck';
import { RateDeckService } from './rate-deck.service';
import { RatesService } from './rates.service';

const CSV_CONTENT_TYPE = 'text/csv; charset=utf-8';

/**
 * Content negotiation for the rate list: CSV only when the client asks for `text/csv`
 * explicitly and does not prefer JSON; JSON otherwise (including no Accept at all).
 */
export function prefersCsv(accept: string | undefined): boolean {
  if (!accept) return false;
  let csv = 0;
  let json = 0;
  let wildcard = 0;
  for (const part of accept.toLowerCase().split(',')) {
    const [range, ...params] = part.split(';').map((p) => p.trim());
    const qParam = params.find((p) => p.startsWith('q='));
    const q = qParam ? Number(qParam.slice(2)) : 1;
    if (!(q > 0)) continue;
    if (range === 'text/csv') csv = Math.max(csv, q);
    else if (range === 'application/json') json = Math.max(json, q);
    else if (range === '*/*' || range === 'application/*' || range === 'text/*') wildcard = Math.max(wildcard, q);
  }
  return csv > 0 && csv > json && csv >= wildcard;
}

class UnsupportedMediaTypeProblem extends ProblemError {
  constructor() {
    super(415, 'unsupported-media-type', 'Unsupported Media Type', 'Send the rate deck as text/csv.');
  }
}

@ApiTags('rates')
@ApiExtraModels(RatePageDto, RateDeckProblemDto)
@Controller('v1/tariffs/:id/rates')
export class RatesController {
  constructor(
    private readonly rates: RatesService,
    private readonly decks: RateDeckService,
  ) {}

  @Get()
  @ApiOperation({
    summary: 'List the rates of a tariff, or export its whole rate deck as CSV.',
    description:
      'JSON (default): a page of rates sorted by prefix then effectiveFrom; `prefix` keeps the rates whose ' +
      'prefix starts with it.\n\nWith `Accept: text/csv`: the whole deck in one streamed CSV document ' +
      '(`limit` and `cursor` do not apply; `prefix` still filters). A client that stops reading has the export cut ' +
      'within the server\'s idle bound (60 s by default).\n\n' +
      RATE_DECK_DESCRIPTION,
  })
  @ApiProduces('application/json', 'text/csv')
  @ApiOkResponse({
    description: 'A page of rates (JSON) or the deck (CSV).',
    content: {
      'application/json': { schema: { $ref: getSchemaPath(RatePageDto) } },
      'text/csv': { schema: { type: 'string' }, example: `${RATE_DECK_HEADER}\n44,0.02,1,1,0.00,2025-01-01T00:00:00.000Z\n` },
    },
  })
  @ApiProblems(400, 404)
  async listRates(
    @CurrentCaller() caller: Caller,
    @UuidParam() id: string,
    @Query() query: RateListQueryDto,
    @Headers('accept') accept: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<RatePageDto | Readable> {
    void reply.header('vary', 'Accept');
    if (!prefersCsv(accept)) return this.rates.list(caller, id, query, query.limit ?? DEFAULT_PAGE_SIZE);
    const deck = await this.decks.exportDeck(caller, id, query.prefix);
    void reply.header('content-type', CSV_CONTENT_TYPE).header('content-disposition', `attachment; filename="rates-${id}.csv"`);
    return deck;
  }

  @Put()
  @ExpensiveEndpoint('rate-decks')
  @BodyLimit(CSV_BODY_LIMIT)
  @HttpCode(200)
  @ApiOperation({
    summary: 'Load a whole rate deck from CSV, atomically (replace or merge).',
    description:
      'The deck is loaded in one transaction: any bad row refuses the whole upload with a 400 listing the rows ' +
      'and reasons, and the rates stay as they were. At most 20 MiB (larger is a 413).\n\n' +
      RATE_DECK_DESCRIPTION,
  })
  @ApiConsumes('text/csv')
  @ApiBody({ schema: { type: 'string', example: `${RATE_DECK_HEADER}\n44,0.02,1,1,0,2025-01-01T00:00:00Z\n` } })
  @ApiOkResponse({ type: RateDeckResultDto })
  @ApiResponse({
    status: 400,
    description: 'The deck (or `mode`) is invalid: `errors` lists rows and reasons; nothing was changed.',
    content: { [PROBLEM_CONTENT_TYPE]: { schema: { $ref: getSchemaPath(RateDeckProblemDto) } } },
  })
  @ApiProblems(403, 404, 413, 415, 429)
  async uploadRateDeck(
    @CurrentCaller() caller: Caller,
    @UuidParam() id: string,
    @Query() query: RateDeckQueryDto,
    @Headers('content-type') contentType: string | undefined,
    @Body() body: unknown,
  ): Promise<RateDeckResultDto> {
    if (!/^text\/csv\s*(;|$)/i.test(contentType ?? '') || typeof body !== 'string') throw new UnsupportedMediaTypeProblem();
    return this.decks.importDeck(caller, id, body, query.mode ?? 'replace');
  }

  @Post()
  @ApiOperation({ summary: 'Add a rate to a tariff.' })
  @ApiCreatedResponse({ type: RateDto })
  @ApiProblems(400, 403, 404, 409)
  async createRate(
    @CurrentCaller() caller: Caller,
    @UuidParam() id: string,
    @Body() body: CreateRateDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<RateDto> {
    const rate = await this.rates.create(caller, id, body);
    void reply.header('etag', etagOf(rate.version)).header('location', `/v1/tariffs/${rate.tariffId}/rates/${rate.id}`);
    return rate;
  }

  // A static segment: find-my-way matches it before the `:rateId` routes below.
  @Get('lookup')
  @ApiOperation({
    summary: 'The rate that applies to a dialled number now.',
    description:
      'Among the rates already in effect (`effectiveFrom` ≤ now), the one with the longest prefix of the number; ' +
      'for that prefix, the latest `effectiveFrom`. A number no rate covers is a 404 problem of type `no-rate`.',
  })
  @ApiOkResponse({ type: RateDto })
  @ApiProblems(400, 404)
  lookupRate(@CurrentCaller() caller: Caller, @UuidParam() id: string, @Query() query: RateLookupQueryDto): Promise<RateDto> {
    return this.rates.lookup(caller, id, query.number);
  }

  @Get(':rateId')
  @ApiOperation({ summary: 'Get a rate.' })
  @ApiOkResponse({ type: RateDto })
  @ApiProblems(400, 404)
  async getRate(
    @CurrentCaller() caller: Caller,
    @UuidParam() id: string,
    @UuidParam('rateId') rateId: string,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<RateDto> {
    const rate = await this.rates.get(caller, id, rateId);
    void reply.header('etag', etagOf(rate.version));
    return rate;
  }

  @Patch(':rateId')
  @ApiOperation({ summary: 'Change a rate.' })
  @ApiIfMatch()
  @ApiOkResponse({ type: RateDto })
  @ApiProblems(400, 403, 404, 409, 412)
  async updateRate(
    @CurrentCaller() caller: Caller,
    @UuidParam() id: string,
    @UuidParam('rateId') rateId: string,
    @Body() body: UpdateRateDto,
    @Headers('if-match') ifMatch: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<RateDto> {
    const rate = await this.rates.update(caller, id, rateId, body, expectedVersion(ifMatch));
    void reply.header('etag', etagOf(rate.version));
    return rate;
  }

  @Delete(':rateId')
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete a rate.' })
  @ApiIfMatch()
  @ApiNoContentResponse()
  @ApiProblems(400, 403, 404, 412)
  async deleteRate(
    @CurrentCaller() caller: Caller,
    @UuidParam() id: string,
    @UuidParam('rateId') rateId: string,
    @Headers('if-match') ifMatch: string | undefined,
  ): Promise<void> {
    await this.rates.remove(caller, id, rateId, expectedVersion(ifMatch));
  }
}
