// One table of filter cases (event_filter.yaml: `*` is the only wildcard, in types/not_types only;
// senders are exact user IDs) that both filter paths must agree on: the in-memory eventMatches
// (core/filters.ts) and the SQL of /messages (storage). Each case names the sample events it lets through.
import type { RoomEventFilter } from '../../src/core/filters.js';

export const ALICE = '@alice:test.local';
export const BOB = '@bob:test.local';

/** Sample messages: a key, its type and its sender (types with GLOB/LIKE metacharacters included). */
export const SAMPLE_EVENTS = [
  { key: 'message', type: 'm.room.message', sender: ALICE },
  { key: 'question', type: 'm.room.?essage', sender: ALICE },
  { key: 'bracket', type: 'm.room.[x]', sender: BOB },
  { key: 'star', type: 'org.example.*star', sender: BOB },
  { key: 'percent', type: 'org.example.100%_done', sender: ALICE },
  { key: 'reaction', type: 'm.reaction', sender: BOB },
] as const;

export type SampleKey = (typeof SAMPLE_EVENTS)[number]['key'];
const ALL: SampleKey[] = SAMPLE_EVENTS.map((e) => e.key);

export const FILTER_CASES: { name: string; filter: RoomEventFilter; passes: SampleKey[] }[] = [
  { name: 'not_senders ["@*"] is an exact ID: excludes nobody', filter: { not_senders: ['@*'] }, passes: ALL },
  { name: 'senders ["@*"] is an exact ID: allows nobody', filter: { senders: ['@*'] }, passes: [] },
  { name: 'senders by exact ID', filter: { senders: [BOB] }, passes: ['bracket', 'star', 'reaction'] },
  { name: 'not_senders by exact ID', filter: { not_senders: [BOB] }, passes: ['message', 'question', 'percent'] },
  { name: '? is literal in not_types', filter: { not_types: ['m.room.?essage*'] }, passes: ['message', 'bracket', 'star', 'percent', 'reaction'] },
  { name: '? is literal in types', filter: { types: ['m.room.?essage'] }, passes: ['question'] },
  { name: '[...] is literal in types', filter: { types: ['m.room.[x]'] }, passes: ['bracket'] },
  { name: '[x] does not match x', filter: { types: ['m.room.[x]*'] }, passes: ['bracket'] },
  { name: '* matches any run, including a literal *', filter: { types: ['*star'] }, passes: ['star'] },
  { name: '* in the middle', filter: { types: ['m.*.message'] }, passes: ['message'] },
  { name: '% and _ are literal', filter: { types: ['org.example.100%_done'] }, passes: ['percent'] },
  { name: '% is not a wildcard', filter: { types: ['org.example.%'] }, passes: [] },
  { name: 'prefix wildcard', filter: { types: ['m.room.*'] }, passes: ['message', 'question', 'bracket'] },
  { name: 'not_types wins over types', filter: { types: ['m.room.*'], not_types: ['m.room.message'] }, passes: ['question', 'bracket'] },
  { name: 'not_types ["*"] excludes everything', filter: { not_types: ['*'] }, passes: [] },
  { name: 'types and senders together', filter: { types: ['m.*'], senders: [ALICE] }, passes: ['message', 'question'] },
];
