// roff text for the man pages scripts/man.mjs writes (test/unit/roff.test.ts renders it with groff).

/**
 * Text for a roff text line: groff(7): "\" starts an escape (printed as \e), "-" is a hyphen
 * that may not render as the ASCII minus a pasted option needs (\-), and a line starting with
 * "." or "'" is a request unless protected by \&. Non-ASCII characters as \[uXXXX], so that
 * the pages need no input encoding (preconv).
 */
export function esc(text) {
  const body = text
    .replace(/\\/g, '\\e')
    .replace(/-/g, '\\-')
    .replace(/[^\x00-\x7f]/gu, (ch) => `\\[u${ch.codePointAt(0).toString(16).toUpperCase().padStart(4, '0')}]`);
  return /^[.']/.test(body) ? `\\&${body}` : body;
}
