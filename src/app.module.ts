import { DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER, APP_PIPE } from '@nestjs/core';
import { AppConfig } from './config/config';
import { ConfigModule } from './config/config.module';
import { ProblemFilter } from './common/problem/problem.filter';
import { ProblemValidationPipe } from './common/problem/validation.pipe';
import { AccountsModule } from './accounts/accounts.module';
import { AuditModule } from './audit/audit.module';
import { AuthModule } from './auth/auth.module';
import { BalancesModule } from './balances/balances.module';
import { IdempotencyModule } from './common/idempotency/idempotency.module';
import { PaginationModule } from './common/pagination';
import { CurrenciesModule } from './currencies/currencies.module';
import { CustomersModule } from './customers/customers.module';
import { DatabaseModule } from './database/database.module';
import { DataSource } from './database/pool';
import { EventsModule } from './events/events.module';
import { HealthModule } from './health/health.module';
import { Metrics } from './metrics/metrics';
import { MetricsModule } from './metrics/metrics.module';
import { PermissionsModule } from './permissions/permissions.module';
import { ReferenceModule } from './reference/reference.module';
import { SystemModule } from './system/system.module';
import { TariffsModule } from './tariffs/tariffs.module';
import { UsageModule } from './usage/usage.module';
import { WebhooksModule } from './webhooks/webhooks.module';

@Module({})
export class AppModule {
  static register(config: AppConfig, dataSource: DataSource, metrics: Metrics): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forConfig(config),
        DatabaseModule.forDataSource(dataSource),
        PaginationModule,
        HealthModule,
        MetricsModule.forMetrics(metrics),
        ReferenceModule,
        AuditModule,
        IdempotencyModule,
        AuthModule,
        CustomersModule,
        AccountsModule,
        CurrenciesModule,
        BalancesModule,
        PermissionsModule,
        SystemModule,
        TariffsModule,
        UsageModule,
        EventsModule,
        WebhooksModule,
      ],
      providers: [
        { provide: APP_FILTER, useClass: ProblemFilter },
        { provide: APP_PIPE, useClass: ProblemValidationPipe },
      ],
    };
  }
}
