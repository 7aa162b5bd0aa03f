import { Body, Controller, Delete, Get, Headers, HttpCode, Patch, Post, Query, Res, UseGuards } from '@nestjs/common';
import { ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { CurrentCaller } from '../auth/current-caller.decorator';
import { etagOf, expectedVersion } from '../common/etag';
import { ApiProblems } from '../common/openapi/api-problems.decorator';
import { ApiIfMatch } from '../common/openapi/etag.decorators';
import { SchemaSerialized } from '../common/openapi/response-schemas';
import { UuidParam } from '../common/openapi/uuid-param';
import { DEFAULT_PAGE_SIZE } from '../common/pagination';
import { ExpensiveEndpoint } from '../common/rate-limit';
import { Caller } from '../tree/caller';
import { CustomersService } from './customers.service';
import { CreateCustomerDto, CUSTOMER_LIST_PARAMETERS, CustomerDto, CustomerListQueryDto, CustomerPageDto, UpdateCustomerDto } from './dto/customer.dto';
import { ApiMetadataFilter } from './dto/list-query';
import { ListQueryGuard } from './list-query.guard';

@ApiTags('customers')
@Controller('v1/customers')
export class CustomersController {
  constructor(private readonly customers: CustomersService) {}

  @Post()
  @ApiOperation({ summary: 'Create a sub-customer of the caller (or of a visible `parentId`).' })
  @ApiCreatedResponse({ type: CustomerDto, headers: { ETag: { schema: { type: 'string' } } } })
  @ApiProblems(400, 403, 404, 409, 422)
  async createCustomer(
    @CurrentCaller() caller: Caller,
    @Body() body: CreateCustomerDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<CustomerDto> {
    const customer = await this.customers.create(caller, body);
    void reply.header('etag', etagOf(customer.version)).header('location', `/v1/customers/${customer.id}`);
    return customer;
  }

  @Get()
  @ExpensiveEndpoint('customer-lists')
  @ApiOperation({
    summary: 'List direct sub-customers, another visible customer’s (`parentId`), or the whole subtree (`scope=subtree`).',
    description:
      'Filters (all must match): `q`, `status`, `createdFrom`/`createdTo`, `balanceBelow`, `externalId`, `metadata[key]=value`. ' +
      'Tree order by default, or `sort=name|createdAt|balance` (`-` for descending); a cursor works only with the sort it came from. ' +
      'Any other parameter is a 400 naming it.',
  })
  @UseGuards(new ListQueryGuard(CUSTOMER_LIST_PARAMETERS))
  @ApiMetadataFilter()
  @ApiOkResponse({ type: CustomerPageDto })
  @ApiProblems(400, 404, 429)
  @SchemaSerialized()
  listCustomers(@CurrentCaller() caller: Caller, @Query() query: CustomerListQueryDto): Promise<CustomerPageDto> {
    return this.customers.list(caller, query, query.limit ?? DEFAULT_PAGE_SIZE);
  }

  @Get(':id')
  @ApiOperation({ summary: 'Get a customer of the caller’s subtree (or the caller itself).' })
  @ApiOkResponse({ type: CustomerDto, headers: { ETag: { schema: { type: 'string' } } } })
  @ApiProblems(400, 404)
  @SchemaSerialized()
  async getCustomer(
    @CurrentCaller() caller: Caller,
    @UuidParam() id: string,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<CustomerDto> {
    const customer = await this.customers.get(caller, id);
    void reply.header('etag', etagOf(customer.version));
    return customer;
  }

  @Patch(':id')
  @ApiOperation({ summary: 'Change a sub-customer. `balance` is not writable: use balance operations.' })
  @ApiIfMatch()
  @ApiOkResponse({ type: CustomerDto, headers: { ETag: { schema: { type: 'string' } } } })
  @ApiProblems(400, 403, 404, 409, 412)
  async updateCustomer(
    @CurrentCaller() caller: Caller,
    @UuidParam() id: string,
    @Body() body: UpdateCustomerDto,
    @Headers('if-match') ifMatch: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<CustomerDto> {
    const customer = await this.customers.update(caller, id, body, expectedVersion(ifMatch));
    void reply.header('etag', etagOf(customer.version));
    return customer;
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete a sub-customer (refused while it has live sub-customers or accounts).' })
  @ApiIfMatch()
  @ApiNoContentResponse()
  @ApiProblems(400, 403, 404, 409, 412)
  async deleteCustomer(
    @CurrentCaller() caller: Caller,
    @UuidParam() id: string,
    @Headers('if-match') ifMatch: string | undefined,
  ): Promise<void> {
    await this.customers.remove(caller, id, expectedVersion(ifMatch));
  }
}
