import { DynamicModule, Global, Module } from '@nestjs/common';
import { MetricsController } from './metrics.controller';
import { Metrics } from './metrics';

@Global()
@Module({})
export class MetricsModule {
  static forMetrics(metrics: Metrics): DynamicModule {
    return { module: MetricsModule, controllers: [MetricsController], providers: [{ provide: Metrics, useValue: metrics }], exports: [Metrics] };
  }
}
