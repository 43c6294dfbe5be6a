import { describe, expect, it } from 'vitest';
import { type LoggedEntry, checkEntry, isMismatch, isRederivable } from '../../src/cases/check.js';
import { type AnswerImage, answerDigest, requestDigest } from '../../src/lookups/digest.js';

const asked = [
  { ip: '10.0.0.1', at: 100 },
  { ip: '203.0.113.5', at: 100, port: 4000 },
  { ip: '10.0.0.2', at: 100 },
];
const answers: AnswerImage[] = [
  { mappingId: 1, userId: 'A', nat: null },
  { mappingId: 2, userId: 'B', nat: { kind: 'binding', id: 7 } },
  null,
];
const logged = (overrides: Partial<LoggedEntry> = {}): LoggedEntry => ({
  operation: 'whoHadMany',
  asked,
  asOf: null,
  requestDigest: requestDigest(asked, null),
  answerDigest: answerDigest(answers),
  ...overrides,
});

describe('checking a logged entry against its answers derived again', () => {
  it('matches the same answers, whatever order their keys were built in', () => {
    const rebuilt: AnswerImage[] = [
      { nat: null, userId: 'A', mappingId: 1 },
      { userId: 'B', nat: { id: 7, kind: 'binding' }, mappingId: 2 },
      null,
    ];
    expect(checkEntry(logged(), rebuilt)).toBe('match');
    expect(checkEntry(logged({ asked: asked.map((lookup) => ({ port: undefined, ...lookup })) }), answers)).toBe(
      'match',
    );
  });

  it('finds any answer changed: another holder, another NAT hop, none, a port required', () => {
    const changes: AnswerImage[][] = [
      [{ mappingId: 1, userId: 'Z', nat: null }, answers[1]!, null],
      [answers[0]!, { mappingId: 2, userId: 'B', nat: { kind: 'rule', id: 7 } }, null],
      [null, answers[1]!, null],
      [answers[0]!, { portRequired: 2 }, null],
      [answers[0]!, answers[1]!],
    ];
    for (const changed of changes) expect(checkEntry(logged(), changed)).toBe('answers-differ');
  });

  it('finds the request changed: an address, an instant, a port, the asOf, a lookup dropped', () => {
    const altered = [
      { asked: [{ ip: '10.0.0.9', at: 100 }, ...asked.slice(1)] },
      { asked: [{ ip: '10.0.0.1', at: 101 }, ...asked.slice(1)] },
      { asked: [asked[0], { ip: '203.0.113.5', at: 100 }, asked[2]] },
      { asOf: 1_800_000_000 },
      { asked: asked.slice(0, 2) },
    ];
    for (const change of altered) expect(checkEntry(logged(change), answers)).toBe('request-differs');
  });

  it("holds a single whoHad's stored answer to its digest", () => {
    const single = (answer: unknown) =>
      logged({
        operation: 'whoHad',
        asked: [asked[0]],
        requestDigest: requestDigest([asked[0]], null),
        answerDigest: answerDigest([answers[0]!]),
        answer,
      });
    expect(checkEntry(single({ mappingId: 1, userId: 'A', nat: null }), [answers[0]!])).toBe('match');
    expect(checkEntry(single({ mappingId: 1, userId: 'B', nat: null }), [answers[0]!])).toBe('answers-differ');
    expect(checkEntry(single(null), [answers[0]!])).toBe('answers-differ');
  });

  it('says what it could not check: no digests logged, nothing derived again', () => {
    expect(checkEntry(logged({ requestDigest: null, answerDigest: null }), answers)).toBe('no-digest');
    expect(checkEntry(logged(), null)).toBe('not-rederived');
    expect(isRederivable({ operation: 'ipHistory' }, false)).toBe(false);
    expect(isRederivable({ operation: 'whoHad' }, true)).toBe(false);
    expect(isRederivable({ operation: 'attribute' }, false)).toBe(true);
    expect(['match', 'no-digest', 'not-rederived'].some((check) => isMismatch(check as never))).toBe(false);
    expect(isMismatch('answers-differ') && isMismatch('request-differs')).toBe(true);
  });
});
