import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ensureBuilt } from '../helpers/relay-process.js';
import { validateExperienceEvent, validateProfile } from '../helpers/xdm-validator.js';

const root = join(import.meta.dirname, '..', '..');
const fixtures = join(root, 'test', 'fixtures', 'capillary');

function preview(args: string[], env: Record<string, string> = {}) {
  ensureBuilt();
  return spawnSync(process.execPath, [join(root, 'dist', 'src', 'cli', 'map-preview.js'), ...args], {
    env: { PATH: process.env['PATH'] ?? '', ...env },
    encoding: 'utf8',
  });
}

describe('npm run map (mapping preview)', () => {
  it('prints valid XDM messages for every shared sample, with profile records when a profile dataset is set', () => {
    const files = ['customer-added', 'points-issued', 'points-redeemed', 'reward-issued', 'tier-upgraded', 'transaction-added'].map((n) => join(fixtures, `${n}.json`));
    const result = preview(files, { AEP_PROFILE_DATASET_ID: 'profile-ds', AEP_PROFILE_SCHEMA_ID: 'https://ns.adobe.com/acme/schemas/profile' });
    expect(result.status).toBe(0);
    const previews = result.stdout.trim().split(/\n(?=\{)/).map((chunk) => JSON.parse(chunk) as { status: string; messages: { kind: string; message: { body: { xdmEntity: Record<string, unknown> } } }[] });
    expect(previews).toHaveLength(6);
    for (const p of previews) {
      expect(p.status).toBe('mapped');
      for (const m of p.messages) {
        const errors = m.kind === 'event' ? validateExperienceEvent(m.message.body.xdmEntity) : validateProfile(m.message.body.xdmEntity);
        expect(errors).toEqual([]);
      }
    }
    expect(previews.some((p) => p.messages.some((m) => m.kind === 'profile'))).toBe(true);
  });

  it('says why a body is not an event, and exits non-zero', () => {
    const result = preview([join(root, 'package.json')]);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('no eventId');
  });
});
