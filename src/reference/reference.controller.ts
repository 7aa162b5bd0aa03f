import { Controller, Get, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Public } from '../auth/public.decorator';
import { ApiProblems } from '../common/openapi/api-problems.decorator';
import { SchemaSerialized } from '../common/openapi/response-schemas';
import { Cursors, DEFAULT_PAGE_SIZE, PageQueryDto } from '../common/pagination';
import { allCurrencies } from './currency-data';
import { languages, timeZonesNow } from './reference-data';
import { CurrencyListDto, LanguageListDto, TimeZoneListDto } from './reference.dto';

@ApiTags('reference')
@Public()
@Controller('v1')
export class ReferenceController {
  constructor(private readonly cursors: Cursors) {}

  @Get('time-zones')
  @ApiOperation({ summary: 'Every IANA time zone the runtime knows, with its current UTC offset, by name.' })
  @ApiOkResponse({ type: TimeZoneListDto })
  @ApiProblems(400)
  @SchemaSerialized()
  listTimeZones(@Query() query: PageQueryDto): Promise<TimeZoneListDto> {
    return this.cursors.pageOf('time-zones', timeZonesNow(), (z) => z.name, query.limit ?? DEFAULT_PAGE_SIZE, query.cursor);
  }

  @Get('languages')
  @ApiOperation({ summary: 'The supported UI languages (BCP 47).' })
  @ApiOkResponse({ type: LanguageListDto })
  @ApiProblems(400)
  @SchemaSerialized()
  listLanguages(@Query() query: PageQueryDto): Promise<LanguageListDto> {
    return this.cursors.pageOf('languages', languages(), (l) => l.code, query.limit ?? DEFAULT_PAGE_SIZE, query.cursor);
  }

  @Get('currencies')
  @ApiOperation({ summary: 'ISO 4217 currencies with their minor units, by code.' })
  @ApiOkResponse({ type: CurrencyListDto })
  @ApiProblems(400)
  @SchemaSerialized()
  listCurrencies(@Query() query: PageQueryDto): Promise<CurrencyListDto> {
    return this.cursors.pageOf('currencies', allCurrencies(), (c) => c.code, query.limit ?? DEFAULT_PAGE_SIZE, query.cursor);
  }
}
