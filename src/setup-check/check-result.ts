import { PlatformApiError } from '../adobe/platform/platform-error.js';
import type { CheckName, CheckResult, CheckStatus } from './types.js';

export const result = (name: CheckName, status: CheckStatus, detail: string, fix = ''): CheckResult => ({ name, status, detail, fix });

/** What Adobe's gateway codes mean for the credential (the shared notes), as a fix. */
const GATEWAY_FIXES: Record<string, string> = {
  '403025': 'the credential (its Developer Console project) is not entitled to Experience Platform: add the AEP API to the project',
  '403027': 'the credential has no Experience Platform product profile: add one in the Admin Console',
  '403003': 'ADOBE_CLIENT_ID is not a valid API key for Platform',
  '401013': 'Platform refused the IMS token: check ADOBE_IMS_URL and the credential',
};

/**
 * A Platform error as a check's outcome. Not found is the caller's to word. Forbidden: the relay
 * cannot see, so it cannot tell (warn, naming the permission to grant); Platform down or slow: warn
 * too (the relay still delivers, with the standard schemas); anything else fails.
 */
export function fromPlatformError(name: CheckName, error: unknown, what: string, permission: string): CheckResult {
  if (!(error instanceof PlatformApiError)) return result(name, 'fail', `could not read ${what}: ${error instanceof Error ? error.message : 'unknown error'}`, 'see the relay log (component platform)');
  const code = error.errorCode ? ` ${error.errorCode}` : '';
  switch (error.code) {
    case 'PLATFORM_FORBIDDEN':
      return result(name, 'warn', `cannot read ${what}: Platform answered 403${code}`, GATEWAY_FIXES[error.errorCode ?? ''] ?? `grant the credential's role "${permission}" on this sandbox (Admin Console, Permissions)`);
    case 'PLATFORM_UNAVAILABLE':
    case 'PLATFORM_TIMEOUT':
      return result(name, 'warn', `could not read ${what}: ${error.message}`, 'run the check again once Platform answers (status.adobe.com)');
    case 'PLATFORM_UNAUTHORIZED':
      return result(name, 'fail', `Platform refused the IMS token reading ${what} (401${code})`, GATEWAY_FIXES['401013']!);
    default:
      return result(name, 'fail', `could not read ${what}: ${error.message}`, GATEWAY_FIXES[error.errorCode ?? ''] ?? 'check AEP_PLATFORM_URL and the credential');
  }
}

export const isNotFound = (error: unknown) => error instanceof PlatformApiError && error.code === 'PLATFORM_NOT_FOUND';
