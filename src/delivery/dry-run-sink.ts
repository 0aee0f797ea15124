import { createHash } from 'node:crypto';
import { mkdir, open, readFile, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import type { ClaimedMessage, MessageOutcome, Sink } from './types.js';

const keyOf = (body: string) => createHash('sha256').update(body).digest('base64');

/**
 * The sink used when no AEP inlet is configured: writes each DCS message it would send, one JSON
 * object a line, and reports it delivered. It remembers what the file already holds, so a message
 * redelivered after a crash (written, then killed before the store recorded it) is written once.
 */
export async function createDryRunSink(deps: { file: string; logger: Logger }): Promise<Sink> {
  await mkdir(dirname(deps.file), { recursive: true });
  const written = new Set<string>();
  let existing = '';
  try {
    existing = await readFile(deps.file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  for (const line of existing.split('\n')) if (line.trim() !== '') written.add(keyOf(line));
  const handle: FileHandle = await open(deps.file, 'a');
  // A kill -9 mid-write can leave a torn last line: start on a fresh line so the next is intact.
  let needsNewline = existing.length > 0 && !existing.endsWith('\n');
  deps.logger.info({ file: deps.file, alreadyWritten: written.size }, 'dry-run: messages are written to a file, nothing is sent to Adobe');

  return {
    name: 'dry-run',
    async send(batch: ClaimedMessage[]): Promise<MessageOutcome[]> {
      const lines: string[] = [];
      for (const message of batch) {
        const key = keyOf(message.body);
        if (written.has(key)) continue;
        written.add(key);
        lines.push(message.body);
      }
      try {
        if (lines.length > 0) {
          await handle.appendFile((needsNewline ? '\n' : '') + lines.join('\n') + '\n');
          needsNewline = false;
        }
      } catch (error) {
        for (const line of lines) written.delete(keyOf(line));
        const detail = (error as Error).message;
        return batch.map((m) => ({ id: m.id, outcome: 'retry', reason: 'network', detail: `dry-run file: ${detail}` }));
      }
      return batch.map((m) => ({ id: m.id, outcome: 'delivered' }));
    },
    async readiness() {
      return { ok: true };
    },
    async close() {
      await handle.close().catch(() => undefined);
    },
  };
}
