import { Controller, Get, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentCaller } from '../auth/current-caller.decorator';
import { ApiProblems } from '../common/openapi/api-problems.decorator';
import { UuidParam } from '../common/openapi/uuid-param';
import { Caller } from '../tree/caller';
import { StatementDto, StatementQueryDto } from './dto/statement.dto';
import { StatementsService } from './statements.service';

const DESCRIPTION =
  'The month runs from local midnight of its first day to local midnight of the next month’s first day in the holder’s time zone (`from`, `to`: those instants in UTC, daylight-saving changes included). `totals` sums the month’s ledger entries per action, signed as on the entries (debits and usage negative); `openingBalance` + Σ `totals` = `closingBalance`, and a month’s closing balance is the next month’s opening balance. `usage` counts the calls charged to the holder in the month and their seconds. All amounts in the holder’s currency. A month in the future is empty.';

@ApiTags('balances')
@Controller('v1')
export class StatementsController {
  constructor(private readonly statements: StatementsService) {}

  @Get('customers/:id/statement')
  @ApiOperation({ summary: 'A customer’s monthly statement (itself or a customer below it).', description: DESCRIPTION })
  @ApiOkResponse({ type: StatementDto })
  @ApiProblems(400, 404)
  getCustomerStatement(@CurrentCaller() caller: Caller, @UuidParam() id: string, @Query() query: StatementQueryDto): Promise<StatementDto> {
    return this.statements.ofCustomer(caller, id, query.month);
  }

  @Get('accounts/:id/statement')
  @ApiOperation({ summary: 'An account’s monthly statement (an account of the caller or of a customer below it).', description: DESCRIPTION })
  @ApiOkResponse({ type: StatementDto })
  @ApiProblems(400, 404)
  getAccountStatement(@CurrentCaller() caller: Caller, @UuidParam() id: string, @Query() query: StatementQueryDto): Promise<StatementDto> {
    return this.statements.ofAccount(caller, id, query.month);
  }
}
