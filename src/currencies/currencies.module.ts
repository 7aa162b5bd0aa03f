import { Global, Module } from '@nestjs/common';
import { CustomersModule } from '../customers/customers.module';
import { ConversionService } from './conversion.service';
import { ExchangeRatesController } from './exchange-rates.controller';
import { ExchangeRatesRepository } from './exchange-rates.repository';
import { ExchangeRatesService } from './exchange-rates.service';

/** Exchange-rate tables and the one conversion service everything else uses. */
@Global()
@Module({
  imports: [CustomersModule],
  controllers: [ExchangeRatesController],
  providers: [ExchangeRatesRepository, ConversionService, ExchangeRatesService],
  exports: [ConversionService],
})
export class CurrenciesModule {}
