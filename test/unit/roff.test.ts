/**
 * The man pages' text escaping (scripts/roff.mjs): whatever a declaration's text holds
 * (backslashes, a leading dot or apostrophe, options, non-ASCII), groff prints it back as it
 * was, with no warning and no character lost to a request or an escape.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs build script, no types
import { esc } from '../../scripts/roff.mjs';

const hasGroff = existsSync('/usr/bin/groff');

/** `text` as one line of a page's DESCRIPTION, rendered by groff: [stdout without the page frame, stderr]. */
function render(text: string): [string, string] {
  const page = `.TH T 1\n.nh\n.SH NAME\nt \\- t\n.SH DESCRIPTION\n${esc(text)}\n`;
  const r = spawnSync('groff', ['-man', '-ww', '-Tutf8', '-P', '-cbou', '-rLL=200n'], { input: page, encoding: 'utf8' });
  const body = r.stdout.slice(r.stdout.indexOf('DESCRIPTION') + 'DESCRIPTION'.length).split('\n').map((l) => l.trim()).filter(Boolean)[0] ?? '';
  return [body, r.stderr];
}

describe.skipIf(!hasGroff)(`roff escaping${hasGroff ? '' : ' (skipped: no groff; Debian: apt-get install groff-base)'}`, () => {
  const texts = [
    '.namespaces[] | select(.nprocs == 0)',
    "'quoted' at the start",
    'C:\\path\\n and \\fBnot bold\\fR',
    'nsm exec web -- ip -br addr --json',
    'caf\u00e9 \u2014 \u2026 \u00d7',
  ];
  for (const text of texts) {
    it(`prints back ${JSON.stringify(text)}`, () => {
      const [out, err] = render(text);
      expect(err).toBe('');
      expect(out).toBe(text);
    });
  }
});
