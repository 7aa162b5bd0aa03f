import { Module } from '@nestjs/common';
import { CustomersModule } from '../customers/customers.module';
import { WebhookDeliveriesPruner } from './deliveries-pruner';
import { WebhookDeliveriesRepository } from './webhook-deliveries.repository';
import { WebhookEndpointsRepository } from './webhook-endpoints.repository';
import { WebhookEndpointsService } from './webhook-endpoints.service';
import { WebhookRuntime } from './webhook-runtime';
import { WebhooksController } from './webhooks.controller';

@Module({
  imports: [CustomersModule],
  controllers: [WebhooksController],
  providers: [WebhookEndpointsRepository, WebhookDeliveriesRepository, WebhookEndpointsService, WebhookRuntime, WebhookDeliveriesPruner],
})
export class WebhooksModule {}
