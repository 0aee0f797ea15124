import type { FastifyInstance } from 'fastify';
import type { Config } from '../config/config.js';
import type { RouteChanges } from './route-table.js';
import { ConfigError } from '../errors.js';
import { loadRoutesFile } from '../config/routes-file.js';

export type ReloadResult = ({ ok: true } & RouteChanges) | { ok: false; error: string };

/**
 * Re-reads ROUTES_FILE and puts it in force (SIGHUP, POST /admin/routes/reload). A file that does
 * not load is refused as a whole, with one log line naming what is wrong, and the routes in force
 * stay as they are. Reloads run one at a time.
 */
export function createRoutesReloader(app: FastifyInstance, config: Config, environment: NodeJS.ProcessEnv = process.env) {
  let running: Promise<ReloadResult> = Promise.resolve({ ok: true, added: [], removed: [], changed: [], kept: [] });
  const log = app.log.child({ component: 'routes' });
  const reloadOnce = async (): Promise<ReloadResult> => {
    const file = config.env.ROUTES_FILE;
    if (!file) return { ok: false, error: 'ROUTES_FILE is not set: the environment is the one route, and changes to it need a restart' };
    let routes;
    try {
      routes = loadRoutesFile(file, { environment, authDisabled: config.env.CAPILLARY_AUTH_DISABLED });
    } catch (error) {
      const message = error instanceof ConfigError ? error.message : 'could not read the routes file';
      log.error({ file, error: message }, 'routes file refused: the routes in force stay as they are');
      return { ok: false, error: message };
    }
    const changes = await app.routes.apply(routes);
    log.info({ file, ...changes }, 'routes reloaded');
    return { ok: true, ...changes };
  };
  return {
    reload(): Promise<ReloadResult> {
      running = running.then(reloadOnce, reloadOnce);
      return running;
    },
  };
}
