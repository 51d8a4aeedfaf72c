import { recordAudit } from '../audit/repository.js';
import type { Principal } from '../auth/principal.js';
import type { Database } from '../db/index.js';
import { conflict, invalid, notFound } from '../errors.js';
import * as repo from './repository.js';
import type { MetricRow, ScoreRow } from './repository.js';
import type { CreateMetricInput, ScoreInput } from './schemas.js';

/** A score's value as stored: a number for numeric and boolean (0/1) metrics, a category otherwise. */
export function storedValue(metric: MetricRow, value: ScoreInput['value']): { value: number | null; category: string | null } {
  const refuse = (message: string) =>
    invalid('invalid_score', message, { metric: metric.name, type: metric.type, ...(metric.categories ? { categories: metric.categories } : {}) });
  switch (metric.type) {
    case 'numeric':
      if (typeof value !== 'number') throw refuse(`"${metric.name}" is a numeric metric: the value is a number`);
      if (metric.min !== null && value < metric.min) throw refuse(`"${metric.name}" is at least ${metric.min}; ${value} is below`);
      if (metric.max !== null && value > metric.max) throw refuse(`"${metric.name}" is at most ${metric.max}; ${value} is above`);
      return { value, category: null };
    case 'boolean':
      if (typeof value !== 'boolean') throw refuse(`"${metric.name}" is a boolean metric: the value is true or false`);
      return { value: value ? 1 : 0, category: null };
    case 'categorical':
      if (typeof value !== 'string' || !metric.categories?.includes(value)) {
        throw refuse(`"${metric.name}" takes one of: ${metric.categories?.join(', ') ?? ''}`);
      }
      return { value: null, category: value };
  }
}

/** Custom evaluation metrics and the scores executions get by them. */
export class MetricService {
  constructor(private readonly db: Database) {}

  async requireMetric(name: string): Promise<MetricRow> {
    const metric = await repo.findMetric(this.db, name);
    if (!metric) throw notFound('metric_not_found', `no metric named "${name}"; define it with POST /metrics`, { metric: name });
    return metric;
  }

  async create(actor: Principal, input: CreateMetricInput): Promise<MetricRow> {
    return this.db.transaction(async (tx) => {
      if (await repo.findMetric(tx, input.name)) throw conflict('metric_exists', `a metric named "${input.name}" exists already`, { metric: input.name });
      const metric = await repo.insertMetric(tx, {
        name: input.name,
        type: input.type,
        min: input.min ?? null,
        max: input.max ?? null,
        categories: input.categories ?? null,
        description: input.description ?? null,
        created_by: actor.name,
      });
      await recordAudit(tx, actor, {
        action: 'metric.created',
        targetId: metric.id,
        details: { name: metric.name, type: metric.type, min: metric.min, max: metric.max, categories: metric.categories },
      });
      return metric;
    });
  }

  list(f: { after?: string | undefined; limit: number }): Promise<MetricRow[]> {
    return repo.listMetrics(this.db, f);
  }

  /**
   * Scores an execution by a metric, checked against the metric's definition.
   * The same source scoring the same metric again replaces its score.
   */
  async score(actor: Principal, executionId: string, input: ScoreInput): Promise<{ score: ScoreRow; created: boolean }> {
    const metric = await this.requireMetric(input.metric);
    const { value, category } = storedValue(metric, input.value);
    return this.db.transaction(async (tx) => {
      if (!(await repo.lockExecution(tx, executionId))) throw notFound('execution_not_found', `no execution ${executionId}`, { execution: executionId });
      const existed = await repo.scoreExists(tx, executionId, metric.id, input.source);
      const score = await repo.upsertScore(tx, { executionId, metric, value, category, source: input.source, comment: input.comment ?? null, scoredBy: actor.name });
      return { score, created: !existed };
    });
  }
}
