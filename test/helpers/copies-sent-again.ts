import type { FakeDcs } from './fake-dcs.js';

/** An extra copy Adobe got: the request that carried the earlier copy, and what may explain it. */
export interface CopySentAgain {
  key: string;
  /** The request (index in `dcs.requests`) that carried the earlier copy. */
  index: number;
  /** The request that carried the next copy. */
  againIn: number;
  /** Whether the store records the message as delivered twice (messagesRecordedDeliveredTwice): a delivery that outlived its lease. */
  recordedTwice: boolean;
}

/**
 * The copies Adobe got more than once after a store outage, with what the fault tests need to tell
 * why: every copy but the last of each message, the request carrying the next one, and whether the
 * relay's store recorded the message as delivered twice. The tests allow a copy only when its batch
 * was answered while the store was away (or just before); the rest of the record is there so that
 * a failure says which case it met.
 */
export function copiesSentAgain(dcs: Pick<FakeDcs, 'accepted'>, recordedTwice: ReadonlySet<string>): CopySentAgain[] {
  const copies = new Map<string, number[]>();
  for (const a of dcs.accepted) copies.set(a.key, [...(copies.get(a.key) ?? []), a.requestIndex]);
  return [...copies].flatMap(([key, requests]) =>
    requests.slice(0, -1).map((index, i) => ({ key, index, againIn: requests[i + 1]!, recordedTwice: recordedTwice.has(key) })),
  );
}

/**
 * The requests whose outcome may go unrecorded when the store goes away: those Adobe answered from
 * `awayFrom` on in `answered` (while the store was away, and one per delivery slot just before), and
 * earlier ones whose messages were still in flight in the store at that moment (a settlement that
 * lagged while another slot answered twice more). Only their messages may reach Adobe again.
 */
export function unrecordableRequests(dcs: Pick<FakeDcs, 'accepted'>, answered: readonly number[], awayFrom: number, inFlightAtOutage: ReadonlySet<string>): Set<number> {
  const answeredEarlier = new Set(answered.slice(0, awayFrom));
  const unsettled = dcs.accepted.filter((a) => inFlightAtOutage.has(a.key) && answeredEarlier.has(a.requestIndex)).map((a) => a.requestIndex);
  return new Set([...answered.slice(awayFrom), ...unsettled]);
}

/** How many messages these requests carried: the most extra copies a fault test allows. */
export function messagesIn(dcs: Pick<FakeDcs, 'requests'>, requests: ReadonlySet<number>): number {
  return [...requests].reduce((n, index) => n + dcs.requests[index]!.messages, 0);
}
