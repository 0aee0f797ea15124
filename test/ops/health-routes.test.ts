import { afterEach, describe, expect, it } from 'vitest';
import { READINESS_TTL_MS } from '../../src/ops/health-routes.js';
import { buildTestApp, type TestApp } from '../helpers/build-app.js';

let t: TestApp | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

describe('GET /readyz', () => {
  it('runs its store check at most once per second however often it is called (it is public)', async () => {
    let clock = 1_000_000;
    t = await buildTestApp({}, { now: () => clock });
    const store = t.app.store;
    const checkWritable = store.checkWritable.bind(store);
    let checks = 0;
    store.checkWritable = async () => {
      checks += 1;
      return checkWritable();
    };
    const answers = await Promise.all(Array.from({ length: 50 }, () => t!.app.inject({ method: 'GET', url: '/readyz' })));
    expect(answers.every((a) => a.statusCode === 200)).toBe(true);
    expect(answers).toHaveLength(50);
    expect(checks).toBe(1);
    clock += READINESS_TTL_MS - 1;
    await t.app.inject({ method: 'GET', url: '/readyz' });
    expect(checks).toBe(1);
    clock += 1;
    await t.app.inject({ method: 'GET', url: '/readyz' });
    expect(checks).toBe(2);
  });
});
