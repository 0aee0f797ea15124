import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { createThreadedSqliteStore } from '../../src/store/sqlite-thread.js';
import { describeStoreContract } from './store-contract.js';
import { describeStoreDataEdges } from './store-contract-data-edges.js';
import { describeStoreConsole } from './store-contract-console.js';
import { describeStoreRoutes } from './store-contract-routes.js';
import { describeStoreChunks } from './store-contract-chunks.js';

const dir = mkdtempSync(join(tmpdir(), 'relay-sqlite-thread-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const open = (name: string) => async () => createThreadedSqliteStore({ path: join(dir, `${name}-${++n}.db`), synchronous: 'full' });

describeStoreContract('SQLite on its thread', { open: open('contract') });
describeStoreDataEdges('SQLite on its thread', { open: open('edges') });
describeStoreConsole('SQLite on its thread', { open: open('console') });
describeStoreRoutes('SQLite on its thread', { open: open('routes') });
describeStoreChunks('SQLite on its thread', { open: open('chunks') });
