import { DynamicModule, Global, Module } from '@nestjs/common';
import { MetricsController } from './metrics.controller';
import { Metrics } from './metrics';
import { MetricsServer } from './metrics-server';

@Global()
@Module({})
export class MetricsModule {
  static forMetrics(metrics: Metrics): DynamicModule {
    return { module: MetricsModule, controllers: [MetricsController], providers: [{ provide: Metrics, useValue: metrics }, MetricsServer], exports: [Metrics] };
  }
}
