// Search term parsing (src/core/search/query.ts) and its FTS5 form (src/storage/sqlite/search.ts).
import { parseSearchTerm, wordsOf } from '../../../src/core/search/query.js';
import { ftsQuery } from '../../../src/storage/sqlite/search.js';

const fts = (term: string) => ftsQuery(parseSearchTerm(term).query);

describe('parseSearchTerm', () => {
  it('makes every plain word a prefix match, all of them required', () => {
    expect(parseSearchTerm('Hello world')).toEqual({
      query: { clauses: [[{ words: ['hello'], prefix: true }], [{ words: ['world'], prefix: true }]], not: [] },
      highlights: ['hello', 'world'],
    });
    expect(fts('Hello world')).toBe('("hello"*) AND ("world"*)');
  });

  it('reads quoted phrases exactly, OR between terms, and -negations', () => {
    expect(fts('"big cake" OR pie -lemon')).toBe('(("big cake" OR "pie"*)) NOT (("lemon"*))');
    expect(parseSearchTerm('"big cake" or pie -lemon').highlights).toEqual(['big', 'cake', 'pie']);
    expect(fts('-"sour cream" milk')).toBe('(("milk"*)) NOT (("sour cream"))');
  });

  it('treats punctuation and engine syntax as separators, never as syntax', () => {
    expect(fts('e-mail')).toBe('("e mail"*)');
    // A bare token with punctuation inside is its words in a row (as "e-mail" above).
    expect(fts('NEAR(a b) * ^x')).toBe('("near a"*) AND ("b"*) AND ("x"*)');
    expect(fts('"unclosed quote')).toBe('("unclosed quote")');
    expect(fts('a "" b')).toBe('("a"*) AND ("b"*)');
  });

  it('keeps an `or` that joins nothing as a word', () => {
    expect(fts('or cats')).toBe('("or"*) AND ("cats"*)');
    expect(fts('cats or')).toBe('("cats"*) AND ("or"*)');
  });

  it('matches nothing when there is no positive term', () => {
    expect(fts('-spam')).toBeUndefined();
    expect(fts('   ')).toBeUndefined();
    expect(fts('!!!')).toBeUndefined();
  });

  it('splits words like the index tokenizer (letters, numbers, marks; case-folded)', () => {
    expect(wordsOf('Café au-lait 42x_y')).toEqual(['café', 'au', 'lait', '42x', 'y']);
  });
});
