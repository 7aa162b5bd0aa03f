import { Module } from '@nestjs/common';
import { CustomersModule } from '../customers/customers.module';
import { RateDeckService } from './rates/rate-deck.service';
import { RatesController } from './rates/rates.controller';
import { RatesService } from './rates/rates.service';
import { TariffsController } from './tariffs.controller';
import { TariffsService } from './tariffs.service';

@Module({
  imports: [CustomersModule],
  controllers: [TariffsController, RatesController],
  providers: [TariffsService, RatesService, RateDeckService],
  exports: [TariffsService],
})
export class TariffsModule {}
