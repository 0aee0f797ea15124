import { join } from 'node:path';

/**
 * The repository's root, for whatever bench or test file imports it: support/ sits one folder below
 * the root when run from source (tsx, vitest) and two when built (dist/support/), whichever folder
 * of bench/ the importer has moved to.
 */
export const ROOT = join(import.meta.dirname, import.meta.dirname.includes(join('dist', 'support')) ? '../..' : '..');
