/**
 * Text read from a file or another process (a record, a command line, a path, an error
 * quoting either) is shown through escapeText before it reaches a terminal: a user's record
 * or process must not put escape sequences (OSC, CSI: retitle, recolour, rewrite the screen)
 * or extra lines on root's terminal. The one escaping function of the human output.
 */

/**
 * C0 and C1 controls, DEL, the Unicode line and paragraph separators and the bidirectional
 * overrides and isolates (which reorder what a terminal shows).
 */
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
const CONTROL_BUT_NEWLINE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t', '\u001b': '\\e' };

function escapeChar(c: string): string {
  const named = NAMED[c];
  if (named !== undefined) return named;
  const code = c.charCodeAt(0);
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/**
 * `text` with every control character written as an escape (\e, \n, \t, \xNN, \uNNNN), so it
 * shows on one line and changes nothing on the terminal. `keepNewlines`: for multi-line cells
 * nsm itself builds (one line per value, each value escaped first).
 */
export function escapeText(text: string, options: { keepNewlines?: boolean } = {}): string {
  const re = options.keepNewlines ? CONTROL_BUT_NEWLINE : CONTROL;
  re.lastIndex = 0;
  return re.test(text) ? text.replace(re, escapeChar) : text;
}
