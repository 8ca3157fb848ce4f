/**
 * Words too common to search by: they would match nearly everything and make every keyword
 * summary say yes. English articles, conjunctions and prepositions (most shared names are
 * English), kept short on purpose: "vol", "live", "part" still distinguish.
 */
const STOP_WORDS = new Set([
  'a',
  'an',
  'and',
  'are',
  'as',
  'at',
  'be',
  'by',
  'for',
  'from',
  'in',
  'is',
  'it',
  'of',
  'on',
  'or',
  'the',
  'to',
  'with',
]);

/** Longest keyword kept, in characters (longer ones are cut: a hash of a word is enough). */
export const MAX_KEYWORD_CHARS = 48;
/** Most keywords taken from one text. */
export const MAX_KEYWORDS_PER_TEXT = 64;

/** Anything that is not a letter, a combining mark or a digit separates words. */
const SEPARATORS = /[^\p{L}\p{M}\p{N}]+/u;

/**
 * The search keywords of a text, the same on every node: Unicode NFKC (so full-width, ligature
 * and compatibility forms meet their plain forms), lower case, NFKC again (lower-casing can
 * un-normalise), split on everything but letters, marks and digits, stop words dropped,
 * duplicates dropped, order kept. "Field Recordings Vol 3.flac" → field, recordings, vol, 3, flac.
 */
export function keywords(text: string): string[] {
  const folded = text.normalize('NFKC').toLowerCase().normalize('NFKC');
  const out: string[] = [];
  const seen = new Set<string>();
  for (const raw of folded.split(SEPARATORS)) {
    if (raw === '' || STOP_WORDS.has(raw)) continue;
    const word = [...raw].slice(0, MAX_KEYWORD_CHARS).join('');
    if (seen.has(word)) continue;
    seen.add(word);
    out.push(word);
    if (out.length >= MAX_KEYWORDS_PER_TEXT) break;
  }
  return out;
}
