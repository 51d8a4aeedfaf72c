import type { Database } from '../db/index.js';
import type { DeploymentService } from '../deployments/service.js';
import { notFound } from '../errors.js';
import * as metricsRepo from '../metrics/repository.js';
import type { ScoreRow } from '../metrics/repository.js';
import type { MetricService } from '../metrics/service.js';
import * as prompts from '../prompts/repository.js';
import type { ListExecutionsQuery } from './schemas.js';
import type { ExecutionDetailRow, ExecutionRow, ExecutionStore } from './store/index.js';

/** Reading logged executions back: lists with filters, and one execution with its scores. */
export class ExecutionQueries {
  constructor(
    private readonly db: Database,
    private readonly store: ExecutionStore,
    private readonly deployments: DeploymentService,
    private readonly metrics: MetricService,
  ) {}

  async list(q: ListExecutionsQuery, before: [string, string] | undefined, limit: number): Promise<ExecutionRow[]> {
    if (q.environment) this.deployments.assertEnvironment(q.environment);
    let promptId: string | undefined;
    let versionId: string | undefined;
    if (q.prompt !== undefined) {
      const prompt = await prompts.findPrompt(this.db, q.prompt);
      if (!prompt) throw notFound('prompt_not_found', `no prompt named "${q.prompt}"`, { prompt: q.prompt });
      promptId = prompt.id;
      if (q.version !== undefined) {
        const version = await prompts.getVersion(this.db, prompt.id, q.version);
        if (!version) throw notFound('version_not_found', `"${q.prompt}" has no version ${q.version}`, { prompt: q.prompt, version: q.version });
        versionId = version.id;
      }
    }
    const metricId = q.metric === undefined ? undefined : (await this.metrics.requireMetric(q.metric)).id;
    return this.store.list(this.db, {
      promptId,
      versionId,
      environment: q.environment,
      from: q.from,
      to: q.to,
      status: q.status,
      qualityMin: q.quality_min,
      qualityMax: q.quality_max,
      metricId,
      metricMin: q.metric_min,
      metricMax: q.metric_max,
      before,
      limit,
    });
  }

  async get(id: string): Promise<ExecutionDetailRow & { scores: ScoreRow[] }> {
    const execution = await this.store.get(this.db, id);
    if (!execution) throw notFound('execution_not_found', `no execution ${id}`, { execution: id });
    return { ...execution, scores: await metricsRepo.scoresOf(this.db, id) };
  }
}
