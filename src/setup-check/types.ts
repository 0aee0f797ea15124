/** The setup check's answer (issue 16): per route, named checks, each with a status, a detail and a fix. */
export const CHECK_NAMES = [
  'ims_token',
  'sandbox',
  'inlet',
  'event_dataset',
  'profile_dataset',
  'event_schema',
  'profile_schema',
  'tenant',
  'identity_namespaces',
  'field_coverage',
  'schema_validation',
] as const;
export type CheckName = (typeof CHECK_NAMES)[number];

export type CheckStatus = 'ok' | 'warn' | 'fail' | 'skipped';

export interface CheckResult {
  name: CheckName;
  status: CheckStatus;
  /** What was found, in a sentence. */
  detail: string;
  /** One line: what to do (empty when nothing is to be done). */
  fix: string;
}

export interface RouteReport {
  route: string;
  checks: CheckResult[];
}

export interface SetupReport {
  routes: RouteReport[];
}

/** 0 when nothing fails, 1 when a check fails (the CLI's exit code). */
export function exitCodeOf(report: SetupReport): 0 | 1 {
  return report.routes.some((r) => r.checks.some((c) => c.status === 'fail')) ? 1 : 0;
}
