import { Body, Controller, Delete, Get, Headers, HttpCode, Patch, Post, Query, Res } from '@nestjs/common';
import { ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { CurrentCaller } from '../auth/current-caller.decorator';
import { etagOf, expectedVersion } from '../common/etag';
import { ApiProblems } from '../common/openapi/api-problems.decorator';
import { ApiIfMatch } from '../common/openapi/etag.decorators';
import { UuidParam } from '../common/openapi/uuid-param';
import { DEFAULT_PAGE_SIZE } from '../common/pagination';
import { Caller } from '../tree/caller';
import { CreateTariffDto, TariffDto, TariffListQueryDto, TariffPageDto, UpdateTariffDto } from './dto/tariff.dto';
import { TariffsService } from './tariffs.service';

@ApiTags('tariffs')
@Controller('v1/tariffs')
export class TariffsController {
  constructor(private readonly tariffs: TariffsService) {}

  @Post()
  @ApiOperation({ summary: 'Create a tariff for the caller or a visible `ownerId`.' })
  @ApiCreatedResponse({ type: TariffDto })
  @ApiProblems(400, 403, 404, 409)
  async createTariff(
    @CurrentCaller() caller: Caller,
    @Body() body: CreateTariffDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<TariffDto> {
    const tariff = await this.tariffs.create(caller, body);
    void reply.header('etag', etagOf(tariff.version)).header('location', `/v1/tariffs/${tariff.id}`);
    return tariff;
  }

  @Get()
  @ApiOperation({ summary: 'List tariffs owned by the caller or its subtree.' })
  @ApiOkResponse({ type: TariffPageDto })
  @ApiProblems(400, 404)
  listTariffs(@CurrentCaller() caller: Caller, @Query() query: TariffListQueryDto): Promise<TariffPageDto> {
    return this.tariffs.list(caller, query, query.limit ?? DEFAULT_PAGE_SIZE);
  }

  @Get(':id')
  @ApiOperation({ summary: 'Get a tariff.' })
  @ApiOkResponse({ type: TariffDto })
  @ApiProblems(400, 404)
  async getTariff(
    @CurrentCaller() caller: Caller,
    @UuidParam() id: string,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<TariffDto> {
    const tariff = await this.tariffs.get(caller, id);
    void reply.header('etag', etagOf(tariff.version));
    return tariff;
  }

  @Patch(':id')
  @ApiOperation({ summary: 'Change a tariff (its currency is fixed).' })
  @ApiIfMatch()
  @ApiOkResponse({ type: TariffDto })
  @ApiProblems(400, 403, 404, 409, 412)
  async updateTariff(
    @CurrentCaller() caller: Caller,
    @UuidParam() id: string,
    @Body() body: UpdateTariffDto,
    @Headers('if-match') ifMatch: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<TariffDto> {
    const tariff = await this.tariffs.update(caller, id, body, expectedVersion(ifMatch));
    void reply.header('etag', etagOf(tariff.version));
    return tariff;
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete a tariff (refused while assigned).' })
  @ApiIfMatch()
  @ApiNoContentResponse()
  @ApiProblems(400, 403, 404, 409, 412)
  async deleteTariff(
    @CurrentCaller() caller: Caller,
    @UuidParam() id: string,
    @Headers('if-match') ifMatch: string | undefined,
  ): Promise<void> {
    await this.tariffs.remove(caller, id, expectedVersion(ifMatch));
  }
}
