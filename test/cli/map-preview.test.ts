import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
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

  describe('--route <id>: one route of ROUTES_FILE, with its output and its org check', () => {
    const dir = mkdtempSync(join(tmpdir(), 'map-preview-routes-'));
    const routesFile = join(dir, 'routes.yaml');
    writeFileSync(
      routesFile,
      `routes:
  brand-x:
    CAPILLARY_ORG_IDS: "51186"
    DRY_RUN_FILE: ${join(dir, 'x.ndjson')}
  brand-s:
    CAPILLARY_ORG_IDS: "1231"
    AEP_OUTPUT: source
    DRY_RUN_FILE: ${join(dir, 's.ndjson')}
  brand-r:
    CAPILLARY_ORG_IDS: "1231"
    AEP_OUTPUT: raw
    DRY_RUN_FILE: ${join(dir, 'r.ndjson')}
`,
    );
    const transaction = join(fixtures, 'transaction-added.json'); // org 1231
    const run = (args: string[]) => {
      const result = preview(args, { ROUTES_FILE: routesFile });
      return { ...result, json: result.status === 0 ? (JSON.parse(result.stdout) as { route: string; status: string; messages: { kind: string; message: Record<string, unknown> }[] }) : undefined };
    };

    it("shows a source route's transaction payload, in the shape of Adobe's Capillary source", () => {
      const { status, json } = run(['--route', 'brand-s', transaction]);
      expect(status).toBe(0);
      expect(json).toMatchObject({ route: 'brand-s', status: 'mapped' });
      expect(json!.messages.map((m) => m.kind)).toEqual(['event']);
      expect(Object.keys(json!.messages[0]!.message).sort()).toEqual(['_id', 'commerce', 'identityMap', 'productLineItems', 'timestamp']);
    });

    it("shows a raw route's message as the body as received", () => {
      const { json } = run(['--route', 'brand-r', transaction]);
      expect(json!.messages.map((m) => m.message)).toEqual([JSON.parse(readFileSync(transaction, 'utf8'))]);
    });

    it("shows an event of another org as held, with nothing to send", () => {
      const { json } = run(['--route', 'brand-x', transaction]);
      expect(json).toMatchObject({ route: 'brand-x', status: 'held', messages: [] });
    });

    it('asks for a route when ROUTES_FILE is set, and names the routes for an unknown one', () => {
      const without = run([transaction]);
      expect(without.status).toBe(64);
      expect(without.stderr).toContain('--route');
      const unknown = run(['--route', 'brand-zzz', transaction]);
      expect(unknown.status).toBe(64);
      expect(unknown.stderr).toContain('brand-x, brand-s, brand-r');
    });
  });
});
