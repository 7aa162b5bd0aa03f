import { Body, Controller, Delete, Get, HttpCode, Param, Put, Query } from '@nestjs/common';
import { ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import { CurrentCaller } from '../auth/current-caller.decorator';
import { ApiProblems } from '../common/openapi/api-problems.decorator';
import { DEFAULT_PAGE_SIZE } from '../common/pagination';
import { ValidationProblem } from '../common/problem/problem';
import { isCurrencyCode } from '../reference/currency-data';
import { Caller } from '../tree/caller';
import {
  ExchangeRateDto,
  ExchangeRateHistoryDto,
  ExchangeRateHistoryQueryDto,
  ExchangeRateListDto,
  ExchangeRateListQueryDto,
  SetExchangeRateDto,
  TableOwnerQueryDto,
} from './dto/exchange-rate.dto';
import { ExchangeRatesService } from './exchange-rates.service';

function currencyParam(value: string): string {
  if (!isCurrencyCode(value)) {
    throw new ValidationProblem([{ parameter: 'currency', detail: 'currency must be an ISO 4217 currency code (see /v1/currencies)' }]);
  }
  return value;
}

const CURRENCY_PARAM = { name: 'currency', example: 'EUR', description: 'ISO 4217 code.' };

@ApiTags('exchange-rates')
@Controller('v1/exchange-rates')
export class ExchangeRatesController {
  constructor(private readonly rates: ExchangeRatesService) {}

  @Get()
  @ApiOperation({ summary: 'The exchange-rate table in force (the caller’s, or a visible `customerId`’s), by currency code.' })
  @ApiOkResponse({ type: ExchangeRateListDto })
  @ApiProblems(400, 404)
  listExchangeRates(@CurrentCaller() caller: Caller, @Query() query: ExchangeRateListQueryDto): Promise<ExchangeRateListDto> {
    return this.rates.list(caller, query.limit ?? DEFAULT_PAGE_SIZE, query.cursor, query.customerId);
  }

  @Put(':currency')
  @ApiOperation({ summary: 'Set the rate of a currency: the value of 1 unit of it in the table owner’s base currency.' })
  @ApiParam(CURRENCY_PARAM)
  @ApiOkResponse({ type: ExchangeRateDto })
  @ApiProblems(400, 403, 404)
  setExchangeRate(
    @CurrentCaller() caller: Caller,
    @Param('currency') currency: string,
    @Query() query: TableOwnerQueryDto,
    @Body() body: SetExchangeRateDto,
  ): Promise<ExchangeRateDto> {
    return this.rates.set(caller, currencyParam(currency), body.rate, query.customerId);
  }

  @Delete(':currency')
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete the rate of a currency (kept in the history).' })
  @ApiParam(CURRENCY_PARAM)
  @ApiNoContentResponse()
  @ApiProblems(400, 403, 404)
  async deleteExchangeRate(
    @CurrentCaller() caller: Caller,
    @Param('currency') currency: string,
    @Query() query: TableOwnerQueryDto,
  ): Promise<void> {
    await this.rates.remove(caller, currencyParam(currency), query.customerId);
  }

  @Get(':currency/history')
  @ApiOperation({ summary: 'Every change of a currency’s rate with its time, newest first.' })
  @ApiParam(CURRENCY_PARAM)
  @ApiOkResponse({ type: ExchangeRateHistoryDto })
  @ApiProblems(400, 404)
  listExchangeRateHistory(
    @CurrentCaller() caller: Caller,
    @Param('currency') currency: string,
    @Query() query: ExchangeRateHistoryQueryDto,
  ): Promise<ExchangeRateHistoryDto> {
    return this.rates.history(caller, currencyParam(currency), query.limit ?? DEFAULT_PAGE_SIZE, query.cursor, query.customerId);
  }
}
