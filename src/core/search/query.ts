// The search term of POST /search (matrix-spec: search.yaml `search_term`) as a query any full-text
// engine can run (storage/types.ts SearchQuery). The syntax is the one Synapse accepts:
//   word        matches words starting with it (prefix match);
//   "a phrase"  matches those words in that order, exactly;
//   a OR b      either (case-insensitive `or` between two terms);
//   -word       leaves out events with that word (also -"a phrase").
// Everything else is plain text: punctuation separates words (as the index's tokenizer does), so
// nothing a user types is read as the engine's own syntax. A term with only negations matches nothing.
import type { SearchQuery, SearchTerm } from '../../storage/types.js';

/** Words as the index tokenizes them (FTS5 unicode61: letters, numbers and marks; all else separates). */
export function wordsOf(text: string): string[] {
  return text.toLowerCase().split(/[^\p{L}\p{N}\p{M}]+/u).filter((w) => w !== '');
}

export interface ParsedSearch {
  query: SearchQuery;
  /** search.yaml `highlights`: the words that make results match. */
  highlights: string[];
}

export function parseSearchTerm(term: string): ParsedSearch {
  const clauses: SearchTerm[][] = [];
  const not: SearchTerm[][] = [];
  const highlights = new Set<string>();
  const re = /(-)?(?:"([^"]*)"?|([^\s"]+))/gy;
  let orPending = false;
  let lastPositive: SearchTerm[] | undefined;
  let i = 0;
  while (i < term.length) {
    const ws = /\s+/y;
    ws.lastIndex = i;
    if (ws.exec(term)) {
      i = ws.lastIndex;
      if (i >= term.length) break;
    }
    re.lastIndex = i;
    const m = re.exec(term);
    if (!m) break;
    i = re.lastIndex;
    const negated = m[1] !== undefined;
    const phrase = m[2];
    const bare = m[3];
    if (!negated && bare !== undefined && bare.toLowerCase() === 'or' && lastPositive && !orPending) {
      orPending = true;
      continue;
    }
    const words = wordsOf(phrase ?? bare ?? '');
    if (words.length === 0) continue;
    const t: SearchTerm = { words, prefix: phrase === undefined };
    if (negated) {
      not.push([t]);
    } else {
      if (orPending && lastPositive) lastPositive.push(t);
      else {
        lastPositive = [t];
        clauses.push(lastPositive);
      }
      for (const w of words) highlights.add(w);
    }
    orPending = false;
  }
  // A trailing `or` was a word after all.
  if (orPending) {
    clauses.push([{ words: ['or'], prefix: true }]);
    highlights.add('or');
  }
  return { query: { clauses, not }, highlights: [...highlights] };
}
