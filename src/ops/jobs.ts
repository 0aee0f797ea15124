import { randomUUID } from 'node:crypto';

export type JobState = 'running' | 'done' | 'failed' | 'cancelled';

export interface JobView {
  jobId: string;
  kind: string;
  state: JobState;
  /** Work done so far (events examined, for a replay). */
  done: number;
  /** How much there is in all, when known up front (null: known when the job ends). */
  total: number | null;
  startedAt: number;
  finishedAt: number | null;
  result: unknown;
  error: string | null;
}

/** Jobs kept for GET /admin/jobs/{id}; the oldest finished one goes first past this. */
const KEPT_JOBS = 100;

/**
 * Background jobs of this process (a large event replay, a dead-letter replay by filter), kept in memory: an operator polls their
 * progress; a restart forgets them (the work already committed stands, and a replay is safe to rerun).
 * `stop()` aborts what still runs (on close, before the store closes).
 */
export type Jobs = ReturnType<typeof createJobs>;

export function createJobs(now: () => number = Date.now) {
  const jobs = new Map<string, { view: JobView; abort: AbortController }>();
  return {
    start<T>(kind: string, total: number | null, run: (progress: (done: number) => void, signal: AbortSignal) => Promise<T>): JobView {
      const abort = new AbortController();
      const view: JobView = { jobId: randomUUID(), kind, state: 'running', done: 0, total, startedAt: now(), finishedAt: null, result: null, error: null };
      jobs.set(view.jobId, { view, abort });
      for (const [id, job] of jobs) {
        if (jobs.size <= KEPT_JOBS) break;
        if (job.view.state !== 'running') jobs.delete(id);
      }
      run((done) => (view.done = done), abort.signal).then(
        (result) => Object.assign(view, { state: 'done', result, total: view.total ?? view.done, finishedAt: now() }),
        (error: unknown) =>
          Object.assign(view, abort.signal.aborted ? { state: 'cancelled' } : { state: 'failed', error: (error as { code?: string }).code ?? 'job_failed' }, { finishedAt: now() }),
      );
      return view;
    },
    get: (jobId: string): JobView | undefined => jobs.get(jobId)?.view,
    stop() {
      for (const job of jobs.values()) job.abort.abort();
    },
  };
}
