import type { CheckStatus, SetupReport } from './types.js';

/** The report as a table a person reads in a terminal: one block per route, a fix under each check that needs one. */
export function formatReport(report: SetupReport): string {
  const label: Record<CheckStatus, string> = { ok: 'ok', warn: 'WARN', fail: 'FAIL', skipped: 'skipped' };
  const nameWidth = Math.max(5, ...report.routes.flatMap((r) => r.checks.map((c) => c.name.length)));
  const lines: string[] = [];
  for (const route of report.routes) {
    lines.push(`route ${route.route}`);
    lines.push(`  ${'check'.padEnd(nameWidth)}  ${'status'.padEnd(7)}  detail`);
    for (const check of route.checks) {
      lines.push(`  ${check.name.padEnd(nameWidth)}  ${label[check.status].padEnd(7)}  ${check.detail}`);
      if (check.fix && (check.status === 'fail' || check.status === 'warn')) lines.push(`  ${''.padEnd(nameWidth)}  ${''.padEnd(7)}  fix: ${check.fix}`);
    }
    lines.push('');
  }
  const all = report.routes.flatMap((r) => r.checks);
  const count = (s: CheckStatus) => all.filter((c) => c.status === s).length;
  const fails = count('fail');
  lines.push(`${report.routes.length} route${report.routes.length === 1 ? '' : 's'}: ${count('ok')} ok, ${fails} failed, ${count('warn')} warnings, ${count('skipped')} skipped${fails > 0 ? ' (exit 1)' : ''}`);
  return `${lines.join('\n')}\n`;
}
