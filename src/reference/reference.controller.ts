import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Public } from '../auth/public.decorator';
import { allCurrencies } from './currency-data';
import { languages, timeZonesNow } from './reference-data';
import { CurrencyListDto, LanguageListDto, TimeZoneListDto } from './reference.dto';

@ApiTags('reference')
@Public()
@Controller('v1')
export class ReferenceController {
  @Get('time-zones')
  @ApiOperation({ summary: 'Every IANA time zone the runtime knows, with its current UTC offset.' })
  @ApiOkResponse({ type: TimeZoneListDto })
  listTimeZones(): TimeZoneListDto {
    return { items: timeZonesNow(), nextCursor: null };
  }

  @Get('languages')
  @ApiOperation({ summary: 'The supported UI languages (BCP 47).' })
  @ApiOkResponse({ type: LanguageListDto })
  listLanguages(): LanguageListDto {
    return { items: languages(), nextCursor: null };
  }

  @Get('currencies')
  @ApiOperation({ summary: 'ISO 4217 currencies with their minor units.' })
  @ApiOkResponse({ type: CurrencyListDto })
  listCurrencies(): CurrencyListDto {
    return { items: [...allCurrencies()], nextCursor: null };
  }
}
